package stack

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/gateway/dedup"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/privatefile"
	"github.com/votechain/votechain/internal/proc"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/network/fabricclient"
)

// The system's shape: how many gateways and batchers run, and whether Redis
// is one server or a cluster. The defaults are one of each and a single
// server; with several gateways HAProxy takes the gateway's address and
// spreads requests over them.
const (
	RedisSingle  = "single"
	RedisCluster = "cluster"
)

// ClusterMasters is the Redis Cluster's size: three masters, each with one
// replica.
const ClusterMasters = 3

// Ports of the scaled-out shape, inside the port plan's B..B+399 (the
// network's own ports stop at B+125, the application's start at B+379).
func (s *Stack) clusterPort(i int) int    { return s.cfg.PortBase + 340 + i } // node i
func (s *Stack) clusterBusPort(i int) int { return s.cfg.PortBase + 350 + i } // node i's cluster bus
func (s *Stack) gatewayPort(i int) int { // gateway i behind HAProxy
	if s.cfg.Gateways == 1 {
		return s.ports.Gateway()
	}
	return s.cfg.PortBase + 360 + i
}

// shape is what Up records of the configuration, so later commands (down,
// status, finalise, a plain `make up`) find the same processes.
type shape struct {
	Gateways int    `json:"gateways"`
	Batchers int    `json:"batchers"`
	Redis    string `json:"redis"`
}

const maxScale = 8 // gateways and batchers: the ports reserved for each

// resolveShape fills the zero fields of cfg from the recorded shape, else
// the defaults, and checks them.
func resolveShape(cfg *Config, recorded *shape) error {
	if recorded != nil {
		if cfg.Gateways == 0 {
			cfg.Gateways = recorded.Gateways
		}
		if cfg.Batchers == 0 {
			cfg.Batchers = recorded.Batchers
		}
		if cfg.Redis == "" {
			cfg.Redis = recorded.Redis
		}
	}
	if cfg.Gateways <= 0 {
		cfg.Gateways = 1
	}
	if cfg.Batchers <= 0 {
		cfg.Batchers = 1
	}
	if cfg.Redis == "" {
		cfg.Redis = RedisSingle
	}
	if cfg.Gateways > maxScale || cfg.Batchers > maxScale {
		return fmt.Errorf("%d gateways, %d batchers: at most %d of each", cfg.Gateways, cfg.Batchers, maxScale)
	}
	if err := ValidRedis(cfg.Redis); err != nil {
		return err
	}
	if recorded != nil && recorded.Redis != "" && recorded.Redis != cfg.Redis {
		return fmt.Errorf("the system in %s keeps its votes in a %s Redis; it cannot become %s: wipe it first with %s", cfg.Dir, recorded.Redis, cfg.Redis, Command(cfg.Dir, cfg.PortBase, "down", "--wipe"))
	}
	return nil
}

// ValidRedis refuses a Redis mode other than RedisSingle, RedisCluster and
// "" (the system's own, else single).
func ValidRedis(mode string) error {
	if mode != "" && mode != RedisSingle && mode != RedisCluster {
		return fmt.Errorf("redis %q: want %s or %s", mode, RedisSingle, RedisCluster)
	}
	return nil
}

func (s *Stack) shapeFile() string { return s.path("shape.json") }

func readShape(path string) (*shape, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var sh shape
	if err := json.Unmarshal(data, &sh); err != nil {
		return nil, damaged(path, err)
	}
	return &sh, nil
}

// saveShape records the shape; a running system must be stopped to change
// its numbers (its HAProxy and Prometheus configurations name them).
func (s *Stack) saveShape() error {
	now := shape{Gateways: s.cfg.Gateways, Batchers: s.cfg.Batchers, Redis: s.cfg.Redis}
	if old, err := readShape(s.shapeFile()); err == nil && old != nil && *old != now && s.anyRunning() {
		return fmt.Errorf("the system runs with %d gateways, %d batchers; stop it with %s to change the numbers", old.Gateways, old.Batchers, Command(s.cfg.Dir, s.cfg.PortBase, "down"))
	}
	if err := s.makeRunDir(); err != nil {
		return err
	}
	data, _ := json.Marshal(now)
	return privatefile.WriteData(s.shapeFile(), data) // whole or not at all, as stack.json
}

func (s *Stack) anyRunning() bool {
	for _, st := range s.Status() {
		if st.Running {
			return true
		}
	}
	return false
}

// RedisEndpoint is the system's Redis: the server, or every cluster node.
func (s *Stack) RedisEndpoint() redisserver.Endpoint {
	if s.cfg.Redis != RedisCluster {
		return redisserver.Endpoint{Addrs: []string{s.Clients().Join(s.ports.Redis())}}
	}
	e := redisserver.Endpoint{Cluster: true}
	for i := 0; i < 2*ClusterMasters; i++ {
		e.Addrs = append(e.Addrs, s.Clients().Join(s.clusterPort(i)))
	}
	return e
}

// redisSpecs are the Redis processes: "redis", or cluster nodes
// "redis0".."redis5" (the first three start as masters).
func (s *Stack) redisSpecs() []proc.Spec {
	bin, _ := exec.LookPath("redis-server")
	if s.cfg.Redis != RedisCluster {
		return []proc.Spec{{
			Name: "redis", Bin: bin, Port: s.ports.Redis(), Dir: s.path("redis"),
			Args: redisserver.Args(s.Clients().Addr, s.ports.Redis(), s.path("redis"), s.RedisACL().File()),
		}}
	}
	var specs []proc.Spec
	for i := 0; i < 2*ClusterMasters; i++ {
		dir := s.path("redis", fmt.Sprintf("node%d", i))
		specs = append(specs, proc.Spec{
			Name: fmt.Sprintf("redis%d", i), Bin: bin, Port: s.clusterPort(i), Dir: dir,
			Args: redisserver.ClusterArgs(s.Clients().Addr, s.clusterPort(i), s.clusterBusPort(i), dir, s.RedisACL()),
		})
	}
	return specs
}

// waitRedis waits until every Redis process answers PING (after a restart
// they listen at once but answer LOADING while they replay their AOF),
// then, on a cluster, creates it (the first time) and waits until it is ok
// with every replica online.
func (s *Stack) waitRedis(ctx context.Context) error {
	pw, err := s.RedisACL().Password(redisserver.UserAdmin)
	if err != nil {
		return err
	}
	connect := func(addr string) *redis.Client {
		return redis.NewClient(&redis.Options{Addr: addr, Username: redisserver.UserAdmin, Password: pw})
	}
	var nodes []redisserver.Node
	for i, addr := range s.RedisEndpoint().Addrs {
		if err := waitPing(ctx, connect(addr)); err != nil {
			log := redisserver.LogFile(s.redisSpecs()[i].Dir)
			return fmt.Errorf("redis at %s is not ready: %w; last lines of %s:\n%s", addr, err, log, proc.Tail(log, 15))
		}
		nodes = append(nodes, redisserver.Node{Addr: addr, BusPort: s.clusterBusPort(i)})
	}
	if s.cfg.Redis != RedisCluster {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return redisserver.CreateCluster(ctx, nodes, ClusterMasters, connect)
}

func waitPing(ctx context.Context, rdb *redis.Client) error {
	defer rdb.Close()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		err := rdb.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// haproxySpec is the load balancer in front of several gateways, on the
// gateway's address of the port plan. It stops first (the last started but
// Prometheus) and softly (haproxyStopSteps), so that the gateways get their
// SIGTERM with nothing in flight from it.
func (s *Stack) haproxySpec() proc.Spec {
	return proc.Spec{Name: haproxyName, Bin: haproxyBin(), Port: s.ports.Gateway(),
		Args: []string{"-f", haproxyConfigFile(s.cfg.Dir)}}
}

// haproxyName is HAProxy's name among the services and in stack.json.
const haproxyName = "haproxy"

// haproxyConfigFile is the configuration of the HAProxy of the system in
// the run folder dir: the one it runs with (writeHAProxy writes it only
// while none runs).
func haproxyConfigFile(dir string) string { return filepath.Join(dir, "haproxy", "haproxy.cfg") }

// haproxyStopMargin is what HAProxy's soft stop is given beyond the
// gateways' --shutdown-timeout (its hard-stop-after), and what stopping it
// waits beyond that before its hard stop: time for the last answers to
// pass through and for HAProxy to exit.
const haproxyStopMargin = 2 * time.Second

// haproxyUnboundedSoftStop is how long stopping an HAProxy waits for its
// soft stop when its configuration sets no hard-stop-after (one written by
// an older version, whose soft stop waits for idle keep-alive connections
// up to the client timeout, 60 s): the bound the last such versions set,
// the gateways' default --shutdown-timeout.
const haproxyUnboundedSoftStop = 15 * time.Second

// haproxyStopSteps is how Down and StopRecorded stop the HAProxy whose
// configuration is the file config (stopSteps): SIGUSR1, its soft stop
// (SIGTERM is HAProxy's hard stop, which cuts the requests in flight: a
// vote stored with no 202 to its voter), after which it stops listening,
// finishes the requests in flight while the gateways behind it still
// answer, and exits within the configuration's hard-stop-after; then, if
// it still runs haproxyStopMargin after that (a configuration without
// hard-stop-after: haproxyUnboundedSoftStop), SIGTERM, which closes what
// holds it (idle keep-alive connections); then SIGKILL 5 s later.
func haproxyStopSteps(config string) []proc.StopStep {
	return []proc.StopStep{
		{Signal: syscall.SIGUSR1, Wait: haproxySoftStop(config) + haproxyStopMargin},
		{Signal: syscall.SIGTERM, Wait: 5 * time.Second},
	}
}

// haproxySoftStop is the hard-stop-after the HAProxy configuration file
// config sets; haproxyUnboundedSoftStop for one that sets none or cannot
// be read.
func haproxySoftStop(config string) time.Duration {
	data, err := os.ReadFile(config)
	if err != nil {
		return haproxyUnboundedSoftStop
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "hard-stop-after" {
			if d, err := time.ParseDuration(f[1]); err == nil {
				return d
			}
		}
	}
	return haproxyUnboundedSoftStop
}

// haproxyHardStopAfter is HAProxy's hard-stop-after for gateways whose
// --shutdown-timeout is gatewayShutdown and whose longest Accept is
// maxAccept (gatewayMaxAccept), in HAProxy's syntax (whole milliseconds):
// their sum, so that a vote sent just before the stop gets its answer (202
// or 503) rather than a cut connection whatever its Redis calls wait for,
// and haproxyStopMargin. Without it idle keep-alive connections would hold
// HAProxy's soft stop up to the client timeout (60 s).
func haproxyHardStopAfter(gatewayShutdown, maxAccept time.Duration) string {
	return fmt.Sprintf("%dms", (gatewayShutdown + maxAccept + haproxyStopMargin).Milliseconds())
}

// gatewayLedgerRead is the longest a gateway's read of the election record
// from the ledger takes (the Fabric client's evaluate timeout,
// fabricclient.DefaultEvaluateTimeout, which the gateway keeps): a vote
// may wait for it before its Accept.
const gatewayLedgerRead = fabricclient.DefaultEvaluateTimeout

// haproxyServerTimeout is HAProxy's timeout server for gateways whose
// longest Accept is maxAccept, in HAProxy's syntax: the longest a vote's
// request takes in the gateway, its read of the election record
// (gatewayLedgerRead) and its Accept, and haproxyStopMargin for its answer,
// so that HAProxy never answers 504 for a vote the gateway may still store
// and answer; at least 60 s, what the other routes had.
func haproxyServerTimeout(maxAccept time.Duration) string {
	return fmt.Sprintf("%dms", max(60*time.Second, gatewayLedgerRead+maxAccept+haproxyStopMargin).Milliseconds())
}

// gatewayAcceptFlags registers on fs, at the gateway's defaults, the
// gateway's flags that bound its Accept, into c and cluster:
// --redis-timeout, --redis-replicas (-1: 1 on a Redis Cluster, 0 on a
// single server), --redis-replica-timeout, --redis-failover-wait,
// --linger, --ledger-check-timeout and --redis-cluster (one address that is
// a Redis Cluster). gatewayMaxAccept reads them; the tests hold them to the
// gateway's --help.
func gatewayAcceptFlags(fs *flag.FlagSet, c *dedup.Config, cluster *bool) {
	d := dedup.DefaultConfig()
	fs.DurationVar(&c.CallTimeout, "redis-timeout", d.CallTimeout, "")
	fs.IntVar(&c.Replicas, "redis-replicas", -1, "")
	fs.DurationVar(&c.ReplicaTimeout, "redis-replica-timeout", d.ReplicaTimeout, "")
	fs.DurationVar(&c.FailoverWait, "redis-failover-wait", d.FailoverWait, "")
	fs.DurationVar(&c.Linger, "linger", d.Linger, "")
	fs.DurationVar(&c.LedgerTimeout, "ledger-check-timeout", d.LedgerTimeout, "")
	fs.BoolVar(cluster, "redis-cluster", false, "")
}

// gatewayMaxAccept is the longest Accept (dedup.Config.MaxAcceptTime) of
// the gateways Up starts, over the system's Redis, at the Redis flags they
// read from GATEWAY_* (cli.ApplyEnv; the stack gives none of them on their
// command line), the gateway's defaults for those unset
// (gatewayAcceptFlags; a --linger of 0, never to the gateway, counts as
// dedup's 4 ms here: 4 ms more). A value no such flag takes is refused,
// naming the variable; so is GATEWAY_REDIS_CLUSTER=true over a single
// Redis, which the gateways would take for a Redis Cluster and could not
// use (on the stack's Redis Cluster it changes nothing: the gateways are
// given every node's address). Up asks it before it starts anything.
func (s *Stack) gatewayMaxAccept() (time.Duration, error) {
	var c dedup.Config
	var cluster bool
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	gatewayAcceptFlags(fs, &c, &cluster)
	if err := cli.ApplyEnv(fs, "GATEWAY"); err != nil {
		return 0, fmt.Errorf("the gateways' longest Accept, which their stop waits for: %w", err)
	}
	if cluster && s.cfg.Redis != RedisCluster {
		env := cli.EnvName("GATEWAY", "redis-cluster")
		return 0, fmt.Errorf("%s=%s: the system's Redis is a single server, which the gateways would take for a Redis Cluster and could not use: unset it, or run the system over a Redis Cluster (its gateways need no %s there): with %s first if the system ran before (it keeps its kind of Redis until then), then %s",
			env, os.Getenv(env), env, Command(s.cfg.Dir, s.cfg.PortBase, "down", "--wipe"), Command(s.cfg.Dir, s.cfg.PortBase, "up", "--redis", RedisCluster))
	}
	return c.MaxAcceptTime(s.cfg.Redis == RedisCluster), nil
}

// gatewayShutdownTimeout is the --shutdown-timeout of the gateways Up
// starts, which the stack does not give on their command line:
// GATEWAY_SHUTDOWN_TIMEOUT, which they read (cli.ApplyEnv), else the
// default the gateway binary's --help states.
func (s *Stack) gatewayShutdownTimeout(ctx context.Context) (time.Duration, error) {
	const name = "shutdown-timeout"
	source := cli.EnvName("GATEWAY", name)
	value, ok := os.LookupEnv(source)
	if !ok {
		bin := filepath.Join(s.cfg.BinDir, "gateway")
		flags, err := cli.CommandFlags(ctx, bin)
		if err != nil {
			return 0, fmt.Errorf("the gateways' --%s, HAProxy's soft-stop bound: %w (run `make build`)", name, err)
		}
		i := slices.IndexFunc(flags, func(f cli.HelpFlag) bool { return f.Name == name })
		if i < 0 {
			return 0, fmt.Errorf("%s --help lists no --%s, HAProxy's soft-stop bound: run `make build`", bin, name)
		}
		source, value = bin+" --help", flags[i].Default
	}
	d, err := time.ParseDuration(value)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s gives the gateways' --%s %q: want a duration of at least 0, such as 15s", source, name, value)
	}
	return d, nil
}

// haproxyBin finds Debian's haproxy (in /usr/sbin, often not on a user's PATH).
func haproxyBin() string {
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p
	}
	return "/usr/sbin/haproxy"
}

// haproxyCheckTimeout is how long HAProxy waits for a gateway's /readyz: a
// little over the gateway's own bound on it (httpapi's ReadyTimeout, 2 s,
// on its ping of Redis), so the gateway's answer decides. HAProxy's
// default, the check interval (500 ms), took both gateways out of rotation
// whenever /readyz answered slower than that on a busy machine, and every
// vote in flight then got a 503 (TestScaleOutWithFaults, 2026-12-02: both
// gateways out at once six times in an 86 s run, 180 votes met errors).
// /readyz then also read the election record from the ledger, the slow
// part; it no longer does: a vote's intake does not wait for the ledger, so
// a slow ledger is no reason to stop sending votes (the gateway probes the
// ledger in the background and reports it, httpapi's ledgerProbe). A
// gateway that is gone still fails its check at once (connection refused).
const haproxyCheckTimeout = "2500ms"

// HAProxyConfig is the load balancer's configuration on addr (the clients'
// host's address, 127.0.0.1 on one machine) for gateways on ports there
// whose --shutdown-timeout is gatewayShutdown and whose longest Accept is
// maxAccept (gatewayMaxAccept); its soft stop ends within
// haproxyHardStopAfter, and it waits for a gateway's answer up to
// haproxyServerTimeout:
// round robin, each gateway checked on /readyz every 500 ms (out after two
// failures, back after two successes; a check waits up to haproxyCheckTimeout
// for the answer), a request whose connection fails
// sent to another gateway (retries, redispatch); a request a gateway took
// and then lost is never re-sent (the vote may be stored), the client gets
// the 502 or 504. The client's address goes along in X-Forwarded-For, and
// HAProxy connects to the gateways from addr, the address they trust as a
// proxy (--trusted-proxies): Linux would give a connection to any 127.x
// address the source 127.0.0.1, and with the clients on 127.0.0.4 the
// gateways then ignored X-Forwarded-For and saw every voter as one client.
func HAProxyConfig(addr string, listen int, ports []int, gatewayShutdown, maxAccept time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
    maxconn 4096
    hard-stop-after %s

defaults
    mode http
    timeout connect 1s
    timeout client 60s
    timeout server %s
    retries 3
    option redispatch
    option forwardfor

frontend votechain
    bind %s
    default_backend gateways

backend gateways
    balance roundrobin
    source %s
    option httpchk GET /readyz
    http-check expect status 200
    timeout check %s
    default-server inter 500ms fall 2 rise 2
`, haproxyHardStopAfter(gatewayShutdown, maxAccept), haproxyServerTimeout(maxAccept), net.JoinHostPort(addr, strconv.Itoa(listen)), addr, haproxyCheckTimeout)
	for i, p := range ports {
		fmt.Fprintf(&b, "    server gateway%d %s check\n", i, net.JoinHostPort(addr, strconv.Itoa(p)))
	}
	return b.String()
}

// writeHAProxy writes the load balancer's configuration, unless HAProxy
// runs: the file is then the configuration it runs with, whose
// hard-stop-after stopping it waits for (haproxyStopSteps).
func (s *Stack) writeHAProxy(ctx context.Context) error {
	if proc.Running(s.pids[haproxyName], haproxyBin()) {
		return nil
	}
	shutdown, err := s.gatewayShutdownTimeout(ctx)
	if err != nil {
		return err
	}
	accept, err := s.gatewayMaxAccept()
	if err != nil {
		return err
	}
	var ports []int
	for i := 0; i < s.cfg.Gateways; i++ {
		ports = append(ports, s.gatewayPort(i))
	}
	path := haproxyConfigFile(s.cfg.Dir)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(HAProxyConfig(s.Clients().Addr, s.ports.Gateway(), ports, shutdown, accept)), 0o644)
}
