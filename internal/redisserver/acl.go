package redisserver

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/votechain/votechain/internal/privatefile"
)

// The ACL users. Each component connects as its own user, which may run
// only the commands it needs on the keys it owns (gateway/votequeue's
// layout); the default user's password is unknown to all (see Ensure), so a
// connection without a component's password can do nothing but AUTH.
const (
	// UserGateway accepts votes: the only user that may add to votes:{S}.
	UserGateway = "gateway"
	// UserBatcher drains the streams (read, acknowledge, delete; never add),
	// writes receipts and its own lease, journal and lag keys.
	UserBatcher = "batcher"
	// UserRoll loads the roll and rebuilds Bloom filters (`roll load`,
	// `roll rebuild-bloom`, the system's election set-up).
	UserRoll = "roll"
	// UserExporter is the Prometheus exporter's: server statistics only, no
	// key at all.
	UserExporter = "exporter"
	// UserAdmin is the operator's (redis-cli) and the tests' set-up: every
	// command on every key.
	UserAdmin = "admin"
	// UserReplica is how a Redis Cluster replica authenticates to its
	// master (masteruser): replication commands only, no key.
	UserReplica = "replica"
	// UserAOF starts quiet-time AOF rewrites (internal/aofrewrite, run by
	// the batchers): INFO and BGREWRITEAOF, and on a cluster the slot
	// map to find the masters; no key at all.
	UserAOF = "aof"
)

// Users lists every ACL user, in the order of the ACL file.
func Users() []string {
	return []string{UserGateway, UserBatcher, UserRoll, UserExporter, UserAdmin, UserReplica, UserAOF}
}

// common are the command categories a component may use on its own keys:
// reads, writes, streams, scripts (each command a script runs is checked
// against the same rules) and transactions, never @dangerous or @admin ones
// (FLUSHALL, KEYS, CONFIG, DEBUG, ...), except what a Redis Cluster client
// reads to route its commands (the slot map, the command table). No
// component uses stream consumer groups (batchers read with XREAD), so
// their commands are refused: a consumer group on votes:{S} would only hold
// a pending list nobody acknowledges.
const common = "-@all +@read +@write +@stream +@scripting +@transaction +@connection -@dangerous -@admin " + noConsumerGroups + " +cluster|slots +cluster|shards +cluster|nodes +cluster|info +command"

// noConsumerGroups removes the stream consumer-group commands.
const noConsumerGroups = "-xgroup -xreadgroup -xack -xclaim -xautoclaim -xpending"

// rules are each user's rules after its password. Key patterns follow
// votequeue's layout (votes:{S}, roll:{S}, ...) and the batcher's own keys.
func rules(user string) string {
	switch user {
	case UserGateway:
		// ROLE: on a cluster the gateway accepts a vote only while the
		// master of its slot has a replica online (gateway/dedup).
		return "resetchannels " + common + " +role ~votes:* ~roll:* ~pending:* ~bloom:* ~dupes:* ~review:* ~receipt:* ~lag:* ~log:* ~loghead:*"
	case UserBatcher:
		// XADD only to its dead-letter streams (the selector); votes:{S} it
		// may read, acknowledge and delete from, but never add to.
		return "resetchannels " + common + " -xadd -xsetid ~votes:* ~pending:* ~receipt:* ~lease:* ~leasetoken:* ~batchseq:* ~journal:* ~deadletter:* ~lag:* ~batchers (~deadletter:* +xadd)"
	case UserRoll:
		return "resetchannels " + common + " -xadd ~roll:* ~pending:* ~bloom:*"
	case UserExporter:
		return "resetchannels resetkeys -@all +@connection +info +dbsize +config|get +client|list +client|info +slowlog|get +slowlog|len +latency|latest +memory|stats +module|list +cluster|info +select"
	case UserAdmin:
		return "allchannels allkeys +@all"
	case UserReplica:
		return "resetchannels resetkeys -@all +psync +replconf +ping"
	case UserAOF:
		return "resetchannels resetkeys -@all +@connection +info +bgrewriteaof +cluster|slots +cluster|shards +cluster|nodes +cluster|info +command"
	}
	return ""
}

// ACL is the system's Redis users: one password file per user (mode 0600,
// 256 bits from crypto/rand, hex) and the ACL file redis-server loads, all
// in Dir (mode 0700).
type ACL struct{ Dir string }

// File is the ACL file (--aclfile).
func (a ACL) File() string { return filepath.Join(a.Dir, "users.acl") }

// PasswordFile is the file holding user's password.
func (a ACL) PasswordFile(user string) string { return filepath.Join(a.Dir, user+".password") }

// Password reads user's password.
func (a ACL) Password(user string) (string, error) {
	b, err := os.ReadFile(a.PasswordFile(user))
	if err != nil {
		return "", fmt.Errorf("redis password of %s: %w", user, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// ExporterPasswordFile is the exporter's password in the form
// prometheus-redis-exporter's -redis.password-file takes: a JSON object
// from the Redis URI to the password.
func (a ACL) ExporterPasswordFile() string { return filepath.Join(a.Dir, "exporter.json") }

// Ensure creates the passwords that are missing and writes the ACL file
// from them: the default user off, then every user of Users with its
// rules and the SHA-256 of its password (the file never holds a password);
// the exporter's password file for the Redis servers at addrs (every node
// of a cluster); and the cluster nodes' ReplicationFile. It is idempotent,
// so a restarted system keeps its passwords. Before writing each file it
// removes the copies of it that earlier writes killed outright left, each
// holding a password, logging on log a warning naming each one removed or
// that could not be removed; a nil log discards them.
func (a ACL) Ensure(log *slog.Logger, addrs ...string) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(a.Dir, 0o700); err != nil {
		return err
	}
	// The default user gets a password nobody knows (the SHA-256 of 256
	// random bits that are thrown away), so no connection can use it. It
	// cannot simply be "off": redis-server 7.0 replays the AOF as the
	// default user and re-checks its permissions at each EXEC, so with the
	// default user off or restricted every transaction in the AOF (each
	// intake script's effects) would be dropped on restart.
	var unknown [32]byte
	if _, err := rand.Read(unknown[:]); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "user default on #%x allkeys allchannels +@all\n", sha256.Sum256(unknown[:]))
	for _, u := range Users() {
		pw, err := a.Password(u)
		if errors.Is(err, fs.ErrNotExist) {
			pw, err = a.create(u, log)
		}
		if err != nil {
			return err
		}
		sum := sha256.Sum256([]byte(pw))
		fmt.Fprintf(&b, "user %s on #%s %s\n", u, hex.EncodeToString(sum[:]), rules(u))
	}
	if err := writePrivate(a.File(), []byte(b.String()), log); err != nil {
		return err
	}
	pw, err := a.Password(UserExporter)
	if err != nil {
		return err
	}
	uris := map[string]string{}
	for _, addr := range addrs {
		uris["redis://"+addr] = pw
	}
	exp, err := json.Marshal(uris)
	if err != nil {
		return err
	}
	if err := writePrivate(a.ExporterPasswordFile(), exp, log); err != nil {
		return err
	}
	rpw, err := a.Password(UserReplica)
	if err != nil {
		return err
	}
	return writePrivate(a.ReplicationFile(), []byte(fmt.Sprintf("masteruser %s\nmasterauth %s\n", UserReplica, rpw)), log)
}

// ReplicationFile is the redis-server configuration file (mode 0600) a
// cluster node reads first: the user and password it replicates as when it
// is a replica (masteruser, masterauth), kept off the command line.
func (a ACL) ReplicationFile() string { return filepath.Join(a.Dir, "replication.conf") }

// create makes user's password file (writePrivate, logging on log).
func (a ACL) create(user string, log *slog.Logger) (string, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	pw := hex.EncodeToString(raw[:])
	return pw, writePrivate(a.PasswordFile(user), []byte(pw+"\n"), log)
}

// writePrivate writes data to path (privatefile.WriteData), first removing
// the copies of it that earlier writes killed outright left, each holding a
// password (privatefile.RemoveStale, RemoveOlderCopy; logged on log).
func writePrivate(path string, data []byte, log *slog.Logger) error {
	privatefile.RemoveStale(path, log)
	privatefile.RemoveOlderCopy(path, log)
	return privatefile.WriteData(path, data)
}
