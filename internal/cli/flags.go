package cli

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"

	"github.com/votechain/votechain/explorer/logmonitor"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/network/fabricclient"
)

// The flags several commands share are registered here, once, with one
// spelling and one default each. Every default address is the port plan's
// for the default port base (network.DefaultPortBase), so commands run with
// their defaults reach the system `make up` started, and one another.

func defaultPorts() network.Ports { return network.Ports{Base: network.DefaultPortBase} }

// DefaultRedisAddr is the Redis of the default port plan (B+379).
func DefaultRedisAddr() string { return fmt.Sprintf("127.0.0.1:%d", defaultPorts().Redis()) }

// DefaultGatewayAddr is the gateway's listen address in the default port
// plan (B+380).
func DefaultGatewayAddr() string { return fmt.Sprintf("127.0.0.1:%d", defaultPorts().Gateway()) }

// CheckGatewayURL is CheckBaseURL for a gateway (such as --gateway).
func CheckGatewayURL(flagName, value string) error {
	return CheckBaseURL(flagName, value, "the gateway's", DefaultGatewayAddr())
}

// CheckExplorerURL refuses, as a usage error naming flagName (e.g.
// "--explorer-url"), an explorer base URL that CheckBaseURL refuses, or
// that has a query or a fragment (pages are linked below its path) or a
// user name or password (every voter shown a link would see it).
func CheckExplorerURL(flagName, value string) error {
	if err := CheckBaseURL(flagName, value, "the explorer's", DefaultExplorerAddr()); err != nil {
		return err
	}
	u, _ := url.Parse(value) // CheckBaseURL parsed it
	switch {
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.HasSuffix(value, "#"):
		return Usagef("%s %q has a query or a fragment: give the explorer's base URL alone, such as http://%s", flagName, value, DefaultExplorerAddr())
	case u.User != nil:
		return Usagef("%s %q names a user: every voter would see it; give the explorer's base URL without one", flagName, value)
	}
	return nil
}

// CheckBaseURL refuses, as a usage error naming flagName (e.g.
// "--prometheus"), a value that is not a base URL with an http or https
// scheme and a host: "127.0.0.1:27380" alone parses as a scheme and a
// path. The message asks for whose base URL ("the gateway's",
// "Prometheus's") with its scheme, such as http://addr (the service's
// address in the default port plan).
func CheckBaseURL(flagName, value, whose, addr string) error {
	u, err := url.Parse(value)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return Usagef("%s %q is not a URL: give %s base URL with its scheme, such as http://%s", flagName, value, whose, addr)
	}
	return nil
}

// noAnswer is an error worded for the user, of a request the gateway did
// not answer: errors.Is finds logmonitor.ErrNoAnswer in it.
type noAnswer struct{ error }

func (noAnswer) Is(target error) bool { return target == logmonitor.ErrNoAnswer }

// GatewayUnreachable describes err, from a request to the gateway at base,
// when no answer came (a *url.Error: the connection refused, the time up):
// it names the gateway, the cause and the fixes, starting the system or
// giving flagName another gateway's URL, and is logmonitor.ErrNoAnswer. Any
// other error (an answer's status, a body that does not decode) is
// returned as it is.
func GatewayUnreachable(err error, base, flagName string) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	return noAnswer{fmt.Errorf("the gateway at %s did not answer (%v): is the system up? `make up` starts it; else give %s the URL of a running gateway", base, ue.Err, flagName)}
}

// gatewayTimedOut is the error of a request to the gateway at base (given
// by flagName) that its time limit, limit (given by limitFlag), ended
// before the answer was in: it names the gateway, the limit and the fixes,
// more time or another gateway. It is logmonitor.ErrNoAnswer.
func gatewayTimedOut(base, flagName string, limit time.Duration, limitFlag string) error {
	return noAnswer{fmt.Errorf("the gateway at %s did not answer within %s: is it overloaded or stuck? its log may say why; give %s more time, or give %s the URL of another running gateway", base, limit, limitFlag, flagName)}
}

// errGatewayLimit is the cause of a context AskGateway's limit ended.
var errGatewayLimit = errors.New("the gateway's time limit")

// AskGateway runs ask, a request to the gateway at base (given by
// flagName), with ctx limited to limit (given by limitFlag), and words the
// error ask returns: gatewayTimedOut's when the limit ended the request,
// else GatewayUnreachable's (which keeps an answer's own errors as they
// are); both are logmonitor.ErrNoAnswer, so AskGateway can be a
// logmonitor.Gateway's Ask. ask reads the whole answer it needs
// before it returns.
func AskGateway(ctx context.Context, base, flagName string, limit time.Duration, limitFlag string, ask func(context.Context) error) error {
	ctx, cancel := context.WithTimeoutCause(ctx, limit, errGatewayLimit)
	defer cancel()
	err := ask(ctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(context.Cause(ctx), errGatewayLimit):
		return gatewayTimedOut(base, flagName, limit, limitFlag)
	}
	return GatewayUnreachable(err, base, flagName)
}

// DefaultExplorerAddr is the explorer's listen address in the default port
// plan (B+390).
func DefaultExplorerAddr() string { return fmt.Sprintf("127.0.0.1:%d", defaultPorts().Explorer()) }

// DefaultPrometheusAddr is the system's Prometheus's listen address in the
// default port plan (B+395).
func DefaultPrometheusAddr() string { return fmt.Sprintf("127.0.0.1:%d", defaultPorts().Prometheus()) }

// DefaultProfile is the connection profile `make up` writes for component c.
func DefaultProfile(c network.Component) string {
	return network.Layout{Dir: filepath.Join(".run", "network")}.ComponentProfile(c.Name)
}

// RedisPasswordEnv holds a Redis password that overrides the password file.
const RedisPasswordEnv = "REDIS_PASSWORD"

// DefaultRedisACLDir is where `make up` keeps the Redis ACL users' password
// files (redisserver.ACL, mode 0600).
func DefaultRedisACLDir() string { return filepath.Join(".run", "secrets", "redis") }

// Redis is how a command reaches Redis: --redis-addr (one server, or a
// comma-separated list of Redis Cluster nodes), --redis-cluster (a cluster
// reached through one seed address), the ACL user --redis-user (each
// component has its own, redisserver.User*) and its password, from
// $REDIS_PASSWORD if set, else from --redis-password-file (never a flag's
// value: the command line is visible to every user of the machine).
type Redis struct {
	Addr         string
	Cluster      bool
	User         string
	PasswordFile string
}

// RedisFlags registers --redis-addr, --redis-cluster, --redis-user (default
// user, the command's ACL user) and --redis-password-file (default user's
// file in DefaultRedisACLDir, as `make up` writes it) on fs.
func RedisFlags(fs *flag.FlagSet, user string) *Redis {
	r := &Redis{}
	fs.StringVar(&r.Addr, "redis-addr", DefaultRedisAddr(), "Redis address, or comma-separated Redis Cluster node addresses (run it with appendonly yes, appendfsync always)")
	fs.BoolVar(&r.Cluster, "redis-cluster", false, "--redis-addr is a Redis Cluster (implied by several addresses)")
	fs.StringVar(&r.User, "redis-user", user, "Redis ACL user to connect as")
	fs.StringVar(&r.PasswordFile, "redis-password-file", filepath.Join(DefaultRedisACLDir(), user+".password"),
		"file holding the Redis user's password (mode 0600; $"+RedisPasswordEnv+", if set, wins)")
	return r
}

// Endpoint is the server or cluster the flags name.
func (r *Redis) Endpoint() (redisserver.Endpoint, error) {
	e, err := redisserver.ParseEndpoint(r.Addr, r.Cluster)
	if err != nil {
		return e, Usagef("--redis-addr: %v", err)
	}
	return e, nil
}

// Options returns the client options (redisserver.Endpoint.Options): the
// addresses, the user and its password.
func (r *Redis) Options() (*redis.UniversalOptions, error) {
	e, err := r.Endpoint()
	if err != nil {
		return nil, err
	}
	password := os.Getenv(RedisPasswordEnv)
	if password == "" {
		b, err := os.ReadFile(r.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("redis password of user %s: %w (start the system with `make up`, or set --redis-password-file or $%s)", r.User, err, RedisPasswordEnv)
		}
		password = strings.TrimSpace(string(b))
	}
	return e.Options(r.User, password), nil
}

// Connect returns a client (one server's or a cluster's) that has answered
// a PING, or an error saying how to fix the address.
func (r *Redis) Connect(ctx context.Context) (redis.UniversalClient, error) {
	opts, err := r.Options()
	if err != nil {
		return nil, err
	}
	rdb := redisserver.NewClient(opts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("redis at %s: %w (start the system with `make up`, or set --redis-addr)", r.Addr, err)
	}
	return rdb, nil
}

// RedisLogger adapts slog to go-redis's internal logger (redis.SetLogger,
// which a main package may call once), so the client's own messages are
// structured too.
type RedisLogger struct{ Log *slog.Logger }

// Printf logs one go-redis message at warn level.
func (r RedisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.Log.WarnContext(ctx, "redis client", "msg", fmt.Sprintf(format, v...))
}

// SilenceRedis turns go-redis's internal logger off (redis.SetLogger, for
// the whole process): a command's main calls it when the command reports
// the errors its Redis calls return, which that logger would print again
// before them as lines of its own (a connection pool's "failed to dial"
// for each attempt on a Redis not running). A server keeps the logger,
// through RedisLogger.
func SilenceRedis() { redis.SetLogger(&logging.VoidLogger{}) }

// Ledger is how a command reaches the consortium: the connection profile,
// the organisation and enrolled user to act as and, for a command that
// reads (PeerFlag), the organisation whose peer to read through.
type Ledger struct {
	Profile string
	Org     string
	User    string
	// Peer, if set, is the organisation whose peer to connect to instead
	// of Org's, the identity staying Org's User (fabricclient.WithPeer):
	// any organisation's peer answers a read. Empty: Org's peer.
	Peer string
}

// LedgerFlags registers --profile, --org and --user on fs, with the
// defaults of component c: its own profile (which holds only its identity,
// see network.Component), its organisation and its user.
func LedgerFlags(fs *flag.FlagSet, c network.Component) *Ledger {
	l := &Ledger{}
	fs.StringVar(&l.Profile, "profile", DefaultProfile(c), "connection profile of the consortium holding this component's identity, written by make up")
	fs.StringVar(&l.Org, "org", c.Org, "organisation whose peer and identity to use: Commission or Observers")
	fs.StringVar(&l.User, "user", c.User, "enrolled user of --org")
	return l
}

// PeerUsage is --peer's usage (PeerFlag).
const PeerUsage = "organisation whose peer to read the ledger through, Commission or Observers (default: --org's), still as --org's --user: read the other organisation's copy of the ledger, to check a finding there, with the same read-only identity"

// PeerFlag registers --peer on fs into l.Peer (default empty: --org's
// peer), for a command that only reads the ledger: with the default
// profile, which holds one read-only identity, it is how that identity
// reads the other organisation's copy. Check refuses a --peer that names
// no organisation of the consortium.
func (l *Ledger) PeerFlag(fs *flag.FlagSet) {
	fs.StringVar(&l.Peer, "peer", "", PeerUsage)
}

// PeerOrg is the organisation whose peer l connects to: Peer, else Org.
func (l *Ledger) PeerOrg() string {
	if l.Peer != "" {
		return l.Peer
	}
	return l.Org
}

// CheckOrg refuses, as a usage error naming flagName and the consortium's
// organisations (network.PeerOrgs, spelt as they are), an org that is none
// of them: --org, or a command's --peer.
func CheckOrg(flagName, org string) error {
	var names []string
	for _, o := range network.PeerOrgs() {
		if o.Name == org {
			return nil
		}
		names = append(names, o.Name)
	}
	return Usagef("%s %q is not an organisation of the consortium: want %s", flagName, org, strings.Join(names, " or "))
}

// Dial loads the profile and connects to the peer of PeerOrg as Org's
// user, ctx bounding the dial as fabricclient.Dial says (not the Conn,
// which lasts until Close). An organisation or user the profile lacks is
// an error naming the profile and the one that holds every identity make
// up enrolled.
func (l *Ledger) Dial(ctx context.Context, opts ...fabricclient.Option) (*fabricclient.Conn, error) {
	profile, err := network.LoadProfile(l.Profile)
	if err != nil {
		return nil, err
	}
	own := []fabricclient.Option{fabricclient.WithUser(l.User)}
	if l.Peer != "" {
		own = append(own, fabricclient.WithPeer(l.Peer))
	}
	conn, err := fabricclient.Dial(ctx, profile, l.Org, append(own, opts...)...)
	if errors.Is(err, network.ErrNotInProfile) {
		all := network.Layout{Dir: filepath.Join(".run", "network")}.Profile()
		return nil, fmt.Errorf("--profile %s: %w (a component's own profile holds its identity alone; %s, which make up writes, holds every organisation's users)", l.Profile, err, all)
	}
	return conn, err
}

// Network is where a command runs the consortium: --port-base (the port
// plan's B; 0, when the flag is not given, is the base the system's folder
// recorded, network.DefaultPortBase for a new system) and --fabric-bin (the
// Fabric binaries `make fabric-bin` builds).
type Network struct {
	PortBase  int
	FabricBin string
}

// NetworkFlags registers --port-base and --fabric-bin on fs.
func NetworkFlags(fs *flag.FlagSet) *Network {
	n := &Network{}
	fs.IntVar(&n.PortBase, "port-base", 0, fmt.Sprintf("first port of the port plan (default: the one the system in --dir recorded; %d for a new system)", network.DefaultPortBase))
	fs.StringVar(&n.FabricBin, "fabric-bin", filepath.Join("bin", "fabric"), "folder of the Fabric binaries and sample config")
	return n
}

// Check refuses, as a usage error naming the flag, a --port-base given whose
// port plan does not fit (network.Ports.Validate).
func (n *Network) Check() error {
	if n.PortBase == 0 {
		return nil // the recorded base, checked when it is read
	}
	if err := (network.Ports{Base: n.PortBase}).Validate(); err != nil {
		return Usagef("--port-base: %v", err)
	}
	return nil
}

// Log is a command's logging: --log-level and --log-format.
type Log struct {
	Level  string
	Format string
}

// LogFlags registers --log-level and --log-format on fs.
func LogFlags(fs *flag.FlagSet) *Log {
	l := &Log{}
	fs.StringVar(&l.Level, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&l.Format, "log-format", "text", "log format: text (key=value) or json")
	return l
}

// Logger returns the slog logger the flags describe, writing to w.
func (l *Log) Logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(l.Level)); err != nil {
		return nil, Usagef("--log-level %q: want debug, info, warn or error", l.Level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch l.Format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, Usagef("--log-format %q: want text or json", l.Format)
}

// SecretEnv is the environment variable that may hold the election secret
// (hex) when no secret file is given. The secret is never a flag's value:
// the command line is visible to every user of the machine.
const SecretEnv = "VOTECHAIN_ELECTION_SECRET"

// minSecret is the shortest secret accepted: 128 bits.
const minSecret = 16

// secretForm is what an election secret's file or variable must hold.
var secretForm = fmt.Sprintf("the secret in hex, at least %d bytes (a new one: `openssl rand -hex 32 > election.secret`, mode 0600)", minSecret)

// DefaultSecretFile is where `make up` keeps the election secret of the
// system it starts (relative to the project's folder).
func DefaultSecretFile() string { return filepath.Join(".run", "election.secret") }

// SecretFlag registers --secret-file on fs; LoadSecret reads the secret.
func SecretFlag(fs *flag.FlagSet) *string {
	return fs.String("secret-file", "", "file holding the election secret in hex (else $"+SecretEnv+", else "+DefaultSecretFile()+", make up's, if it exists)")
}

// LoadSecret reads the election secret (hex, surrounding space ignored):
// the file's contents if file is set, else the SecretEnv variable if set,
// else DefaultSecretFile's contents if it exists.
func LoadSecret(file string) ([]byte, error) {
	text, from := os.Getenv(SecretEnv), "$"+SecretEnv
	if file == "" && strings.TrimSpace(text) == "" {
		if _, err := os.Stat(DefaultSecretFile()); err == nil {
			file = DefaultSecretFile()
		}
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("election secret: %w", err)
		}
		text, from = string(b), file
	}
	text = strings.TrimSpace(text)
	switch {
	case text == "" && file != "":
		return nil, fmt.Errorf("election secret file %s is empty: it must hold %s", file, secretForm)
	case text == "":
		return nil, fmt.Errorf("election secret: none given: set --secret-file or $%s (make up keeps its system's in %s; it must hold %s)", SecretEnv, DefaultSecretFile(), secretForm)
	}
	secret, err := hex.DecodeString(text)
	if err != nil {
		return nil, fmt.Errorf("election secret in %s is not hex (%v): it must hold %s", from, err, secretForm)
	}
	if len(secret) < minSecret {
		return nil, fmt.Errorf("election secret in %s has %d bytes: it must hold %s", from, len(secret), secretForm)
	}
	return secret, nil
}
