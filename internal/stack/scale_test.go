package stack

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/gateway/dedup"
	"github.com/votechain/votechain/internal/proc"
	"github.com/votechain/votechain/internal/proc/proctest"
	"github.com/votechain/votechain/internal/rundir/rundirtest"
	"github.com/votechain/votechain/test-network/nettest"
)

// TestResolveShape: zero fields come from the recorded shape, else the
// defaults; a system cannot change its kind of Redis; numbers are bounded.
func TestResolveShape(t *testing.T) {
	cfg := Config{}
	if err := resolveShape(&cfg, nil); err != nil || cfg.Gateways != 1 || cfg.Batchers != 1 || cfg.Redis != RedisSingle {
		t.Fatalf("defaults: %+v, %v; want one gateway, one batcher, a single Redis", cfg, err)
	}
	rec := &shape{Gateways: 2, Batchers: 3, Redis: RedisCluster}
	cfg = Config{Batchers: 1}
	if err := resolveShape(&cfg, rec); err != nil || cfg.Gateways != 2 || cfg.Batchers != 1 || cfg.Redis != RedisCluster {
		t.Fatalf("from the record: %+v, %v; want 2 gateways, the given 1 batcher, the cluster", cfg, err)
	}
	rundirtest.Project(t) // make's targets are named only in the project
	cfg = Config{Dir: DefaultDir, Redis: RedisSingle}
	if err := resolveShape(&cfg, rec); err == nil || !strings.Contains(err.Error(), "`make down WIPE=1`") {
		t.Errorf("make's cluster system turned single: %v; want a refusal saying to wipe with make down WIPE=1", err)
	}
	for _, bad := range []Config{{Gateways: maxScale + 1}, {Batchers: maxScale + 1}, {Redis: "sentinel"}} {
		if err := resolveShape(&bad, nil); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// TestHAProxyConfig: HAProxy listens on the gateway's address, checks every
// gateway's /readyz, never re-sends a request a gateway took, and ends a
// soft stop within the gateways' grace, the longest a vote's Accept takes
// (17.004 s over a single Redis, 72.504 s over a Redis Cluster at the
// default flags) and haproxyStopMargin: 59.004 s and 114.504 s for 40 s
// (it was a fixed 15 s whatever the gateways' --shutdown-timeout, then
// their grace and haproxyStopMargin, 42 s, which cut a vote waiting for a
// Redis failover unanswered). It waits for a gateway's answer the longest
// a vote takes there, its ledger read of 30 s, its Accept and 2 s, at
// least 60 s: 104.504 s over a Cluster (60 s cut such a vote unanswered).
func TestHAProxyConfig(t *testing.T) {
	if cfg := HAProxyConfig("127.0.0.1", 27380, []int{27360, 27361}, 40*time.Second, 17004*time.Millisecond); !strings.Contains(cfg, "hard-stop-after 59004ms\n") || !strings.Contains(cfg, "timeout server 60000ms\n") {
		t.Errorf("over a single Redis:\n%s\nwant hard-stop-after 59004ms, timeout server 60000ms", cfg)
	}
	cfg := HAProxyConfig("127.0.0.1", 27380, []int{27360, 27361}, 40*time.Second, 72504*time.Millisecond)
	for _, want := range []string{
		"bind 127.0.0.1:27380",
		"option httpchk GET /readyz",
		"timeout check 2500ms",
		"server gateway0 127.0.0.1:27360 check",
		"server gateway1 127.0.0.1:27361 check",
		"option redispatch",
		"source 127.0.0.1",
		"hard-stop-after 114504ms",
		"timeout server 104504ms",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("configuration lacks %q:\n%s", want, cfg)
		}
	}
	if strings.Contains(cfg, "retry-on") {
		t.Error("retry-on would re-send requests a gateway may have stored")
	}
}

// TestHAProxyConnectsFromTheTrustedAddress runs Debian's haproxy with
// HAProxyConfig on a loopback address other than 127.0.0.1, as make up
// HOSTS=… places the clients, before a gateway stand-in there: the
// stand-in sees HAProxy's connections (health checks and requests) come
// from that address, the one the gateways trust as a proxy, and the
// client's own address in X-Forwarded-For.
func TestHAProxyConnectsFromTheTrustedAddress(t *testing.T) {
	if _, err := os.Stat(haproxyBin()); err != nil {
		t.Fatalf("haproxy not found (%v): make test installs it (make deps)", err)
	}
	const addr, client = "127.0.0.7", "127.0.0.8"
	base := nettest.PortBase(t)
	type seen struct{ remote, forwarded string }
	got := make(chan seen, 16)
	gw, err := net.Listen("tcp", net.JoinHostPort(addr, strconv.Itoa(base+1)))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/vote" {
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			got <- seen{host, r.Header.Get("X-Forwarded-For")}
		}
	})}
	go srv.Serve(gw)
	t.Cleanup(func() { srv.Close() })

	cfg := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(HAProxyConfig(addr, base, []int{base + 1}, 1500*time.Millisecond, 15004*time.Millisecond)), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(haproxyBin(), "-db", "-f", cfg)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(client)}}).DialContext}}
	url := "http://" + net.JoinHostPort(addr, strconv.Itoa(base)) + "/vote"
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 200 through HAProxy in 15 s (last: %v)\n%s", err, out.String())
		}
	}
	s := <-got
	if s.remote != addr || s.forwarded != client {
		t.Errorf("the gateway saw a request from %s with X-Forwarded-For %q; want from %s (HAProxy) for %s", s.remote, s.forwarded, addr, client)
	}
}

// TestLedgerPriority: the ledger side (batchers, explorer) runs at the
// ledger priority, niced or SCHED_IDLE, the intake (Redis, gateways,
// HAProxy) at the caller's; out-of-range niceness is refused.
func TestLedgerPriority(t *testing.T) {
	for _, prio := range []proc.Priority{{Nice: 10}, proc.PriorityIdle()} {
		cfg := Config{Dir: t.TempDir(), PortBase: 27000, BinDir: "bin", FabricBin: "bin/fabric", Builder: "network/builder",
			Election: "config/election.json", Gateways: 2, Batchers: 2, LedgerPriority: prio}
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, sp := range s.services() {
			kind := strings.TrimRight(sp.Name, "0123456789")
			seen[kind] = true
			want := proc.PriorityNormal()
			if kind == "batcher" || kind == "explorer" {
				want = prio
			}
			if sp.Priority != want {
				t.Errorf("%s: priority %s, want %s", sp.Name, sp.Priority, want)
			}
		}
		for _, kind := range []string{"batcher", "explorer", "gateway", "redis", "haproxy"} {
			if !seen[kind] {
				t.Errorf("no %s among the services %v", kind, seen)
			}
		}
	}
	cfg := Config{Dir: t.TempDir(), PortBase: 27000, BinDir: "bin", FabricBin: "bin/fabric", Builder: "network/builder", Election: "config/election.json"}
	for _, bad := range []int{-1, 20} {
		cfg.LedgerPriority = proc.Priority{Nice: bad}
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "0 (off) to 19") {
			t.Errorf("niceness %d: %v; want a refusal naming the range", bad, err)
		}
	}
}

// TestHAProxyFollowsTheGatewaysShutdownTimeout: the configuration Up
// writes bounds HAProxy's soft stop by the gateways' --shutdown-timeout,
// the longest a vote's Accept takes (17.004 s over the stand-in system's
// single Redis at the default flags) and haproxyStopMargin:
// GATEWAY_SHUTDOWN_TIMEOUT when set, else the default the gateway binary's
// --help states (a stand-in's 7s here; the caller's GATEWAY_ settings are
// cleared first); a value the gateways would refuse is refused. The Accept
// is the one at the Redis flags the gateways read from GATEWAY_*:
// GATEWAY_REDIS_TIMEOUT=5s makes it 35.004 s, GATEWAY_REDIS_REPLICAS=1
// 72.504 s (the bound was the default flags' whatever they set). The
// configuration
// of an HAProxy that runs is left as it is: the one stopping it reads.
func TestHAProxyFollowsTheGatewaysShutdownTimeout(t *testing.T) {
	s, dir, _ := standInGatewayStack(t, 2)
	written := func() string {
		t.Helper()
		data, err := os.ReadFile(haproxyConfigFile(dir))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	ctx := context.Background()
	if err := s.writeHAProxy(ctx); err != nil {
		t.Fatal(err)
	}
	if cfg := written(); !strings.Contains(cfg, "hard-stop-after 26004ms\n") {
		t.Errorf("with the gateways' default of 7s:\n%s\nwant hard-stop-after 26004ms", cfg)
	}
	for _, c := range []struct{ env, value, want string }{
		{"GATEWAY_REDIS_TIMEOUT", "5s", "hard-stop-after 44004ms\n"}, // 7 s, 5 s + 5 s + 4 ms + 5 s + 4 × 5 s and 2 s
		{"GATEWAY_REDIS_REPLICAS", "1", "hard-stop-after 81504ms\n"}, // calls of 13.1 s
	} {
		t.Run(c.env, func(t *testing.T) {
			t.Setenv(c.env, c.value)
			if err := s.writeHAProxy(ctx); err != nil {
				t.Fatal(err)
			}
			if cfg := written(); !strings.Contains(cfg, c.want) {
				t.Errorf("with %s=%s:\n%s\nwant %s", c.env, c.value, cfg, c.want)
			}
			t.Setenv(c.env, "x")
			if err := s.writeHAProxy(ctx); err == nil || !strings.Contains(err.Error(), c.env) {
				t.Errorf("with %s=x: %v; want a refusal naming it", c.env, err)
			}
		})
	}
	t.Setenv("GATEWAY_SHUTDOWN_TIMEOUT", "30s")
	if err := s.writeHAProxy(ctx); err != nil {
		t.Fatal(err)
	}
	if cfg := written(); !strings.Contains(cfg, "hard-stop-after 49004ms\n") {
		t.Errorf("with GATEWAY_SHUTDOWN_TIMEOUT=30s:\n%s\nwant hard-stop-after 49004ms", cfg)
	}
	t.Setenv("GATEWAY_SHUTDOWN_TIMEOUT", "-1s")
	if err := s.writeHAProxy(ctx); err == nil || !strings.Contains(err.Error(), "GATEWAY_SHUTDOWN_TIMEOUT") {
		t.Errorf("with GATEWAY_SHUTDOWN_TIMEOUT=-1s: %v; want a refusal naming it", err)
	}
	t.Setenv("GATEWAY_SHUTDOWN_TIMEOUT", "60s")
	s.pids[haproxyName] = proctest.Sleeper(t, t.TempDir(), "haproxy")
	if err := s.writeHAProxy(ctx); err != nil {
		t.Fatal(err)
	}
	if cfg := written(); !strings.Contains(cfg, "hard-stop-after 49004ms\n") {
		t.Errorf("rewritten while HAProxy runs:\n%s\nwant it kept (hard-stop-after 49004ms)", cfg)
	}
}

// TestGatewayRedisClusterNeedsACluster: Up refuses GATEWAY_REDIS_CLUSTER=true
// over the system's single Redis before it starts or writes anything (the
// gateways would take the server for a Redis Cluster and fail; the stack
// only took a Cluster's longer Accept for their stop), saying to unset it
// or to run the system over a Redis Cluster, with the wipe first; over the
// stack's Redis Cluster it stays accepted (the bound is the Cluster's
// anyway), and GATEWAY_REDIS_CLUSTER=false is accepted over either. The
// refusal comes before Up looks for the packages it runs (none is on the
// test's PATH): it checked them first, and said redis-server was missing.
func TestGatewayRedisClusterNeedsACluster(t *testing.T) {
	single, dir, bin := standInGatewayStack(t, 1)
	cluster, err := New(Config{Dir: t.TempDir(), PortBase: single.cfg.PortBase, BinDir: bin, FabricBin: dir, Builder: dir, Election: dir, Redis: RedisCluster})
	if err != nil {
		t.Fatal(err)
	}
	singleAccept, clusterAccept := dedup.Config{}.MaxAcceptTime(false), dedup.Config{}.MaxAcceptTime(true)
	t.Setenv("GATEWAY_REDIS_CLUSTER", "true")
	t.Setenv("PATH", t.TempDir())
	err = single.Up(context.Background())
	for _, want := range []string{"GATEWAY_REDIS_CLUSTER=true", "single server", "unset it", "down --wipe` first if the system ran before", "then `bin/votechain --dir " + dir + " --port-base"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("up over a single Redis with GATEWAY_REDIS_CLUSTER=true: %v; want a refusal saying %q", err, want)
		}
	}
	if err != nil && !strings.HasSuffix(err.Error(), " up --redis cluster`") {
		t.Errorf("up over a single Redis with GATEWAY_REDIS_CLUSTER=true: %v; want it to end with the up over a Redis Cluster", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "shape.json")); err == nil {
		t.Error("the refused up wrote shape.json: it refuses only after it started its work")
	}
	if d, err := cluster.gatewayMaxAccept(); err != nil || d != clusterAccept {
		t.Errorf("over the stack's Redis Cluster with GATEWAY_REDIS_CLUSTER=true: %v, %v; want accepted, %v", d, err, clusterAccept)
	}
	t.Setenv("GATEWAY_REDIS_CLUSTER", "false")
	for s, want := range map[*Stack]time.Duration{single: singleAccept, cluster: clusterAccept} {
		if d, err := s.gatewayMaxAccept(); err != nil || d != want {
			t.Errorf("over a %s Redis with GATEWAY_REDIS_CLUSTER=false: %v, %v; want accepted, %v", s.cfg.Redis, d, err, want)
		}
	}
}

// TestStopDocsFollowTheFormulas: the numbers docs/operations.md and
// README.md give for a stop are the code's, at the gateways' default
// --shutdown-timeout (15 s) and Redis flags: HAProxy's hard-stop-after and
// timeout server, the gateways' longest Accept and stop margin, and the
// worst waits of make down (a process is given 5 s after its SIGKILL;
// HAProxy its margin, 5 s after SIGTERM and 5 s after SIGKILL).
func TestStopDocsFollowTheFormulas(t *testing.T) {
	const shutdown, afterKill = 15 * time.Second, 5 * time.Second
	single, cluster := dedup.Config{}.MaxAcceptTime(false), dedup.Config{}.MaxAcceptTime(true)
	secs := func(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }
	for file, wants := range map[string][]string{
		"docs/operations.md": {
			"`hard-stop-after " + haproxyHardStopAfter(shutdown, single) + "`",
			"`" + haproxyHardStopAfter(shutdown, cluster) + "` over a Cluster",
			"`" + haproxyServerTimeout(cluster) + "` over a Cluster",
			"at least " + strings.TrimSuffix(haproxyServerTimeout(single), "000ms") + " s",
			secs(single) + " on a single Redis", secs(cluster) + " on a Redis Cluster",
			secs(gatewayStopMargin(single)) + " over a single Redis", secs(gatewayStopMargin(cluster)) + " over a Redis Cluster",
			"plus " + secs(gatewayStopMargin(single)) + " (" + secs(single) + ", 30 s and 7 s)",
			"plus " + secs(gatewayStopMargin(cluster)) + " (" + secs(cluster) + ",\n30 s and 7 s)",
		},
		"README.md": {
			fmt.Sprintf("(%d s: its 15 s `--shutdown-timeout`, a %s margin", (shutdown+gatewayStopMargin(single)+afterKill).Round(time.Second)/time.Second, secs(gatewayStopMargin(single))),
			"plus " + secs(gatewayStopMargin(cluster)) + " and 5 s",
			"HAProxy's up to " + secs(haproxyStopMargin+shutdown+cluster+haproxyStopMargin+5*time.Second+afterKill),
		},
	} {
		data, err := os.ReadFile(filepath.Join("..", "..", file))
		if err != nil {
			t.Fatal(err)
		}
		doc := strings.Join(strings.Fields(string(data)), " ")
		for _, want := range wants {
			if want = strings.Join(strings.Fields(want), " "); !strings.Contains(doc, want) {
				t.Errorf("%s lacks %q", file, want)
			}
		}
	}
}
