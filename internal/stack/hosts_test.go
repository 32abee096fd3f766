package stack

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/monitor"
	"github.com/votechain/votechain/network"
)

// TestApplicationOnTheClientsHost: with the organisations and the clients
// on hosts of their own, every application process of the scaled-out shape
// runs on the clients' address and in their namespace, names no loopback
// address in its arguments, and Prometheus scrapes each Fabric node on its
// organisation's host.
func TestApplicationOnTheClientsHost(t *testing.T) {
	hosts, err := network.Spread("10.213.9.2", "10.213.9.3", "10.213.9.4")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Dir: t.TempDir(), PortBase: planBase, BinDir: "bin", FabricBin: "fabric", Builder: "builder",
		Election: "election.json", Gateways: 2, Batchers: 2, Redis: RedisCluster,
		Hosts: hosts, Netns: map[string]string{network.ClientsHost: "vc9-clients"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Clients() != hosts.Clients {
		t.Fatalf("clients' host %v, want %v", s.Clients(), hosts.Clients)
	}
	specs := s.services()
	for _, sp := range specs {
		if sp.Addr != hosts.Clients.Addr || sp.Netns != "vc9-clients" {
			t.Errorf("%s on %q in namespace %q, want %s in vc9-clients", sp.Name, sp.Addr, sp.Netns, hosts.Clients.Addr)
		}
		if args := strings.Join(sp.Args, " "); strings.Contains(args, "127.0.0.1") || strings.Contains(args, "localhost") {
			t.Errorf("%s names a loopback address: %s", sp.Name, args)
		}
	}
	if n := len(specs); n != 2*ClusterMasters+1+2+2+1+1+1 { // Redis nodes, exporter, batchers, gateways, explorer, HAProxy, Prometheus
		t.Errorf("%d application processes, want 14", n)
	}
	for _, u := range []string{s.GatewayURL(), s.ExplorerURL(), s.PrometheusURL(), s.RedisAddr()} {
		if !strings.Contains(u, hosts.Clients.Addr+":") || strings.Contains(u, "127.0.0.1") {
			t.Errorf("service at %s, want on %s only", u, hosts.Clients.Addr)
		}
	}
	if cfg := HAProxyConfig(s.Clients().Addr, planBase+380, []int{planBase + 360, planBase + 361}, 15*time.Second, 15*time.Second); strings.Contains(cfg, "127.0.0.1") {
		t.Errorf("HAProxy configuration names 127.0.0.1:\n%s", cfg)
	}
	mon := s.monitor()
	if mon.Addr != hosts.Clients.Addr {
		t.Errorf("Prometheus on %q, want %s", mon.Addr, hosts.Clients.Addr)
	}
	for _, tg := range mon.Targets {
		want := hosts.Clients.Addr
		if h, ok := hosts.Process(tg.Instance); ok {
			want = h.Addr
		}
		if tg.Addr != want {
			t.Errorf("target %s scraped on %q, want %s", tg.Instance, tg.Addr, want)
		}
	}
	if !slices.ContainsFunc(mon.Targets, func(tg monitor.Target) bool { return tg.Instance == network.PeerProcess(network.Observers) }) {
		t.Errorf("no target for the Observers' peer in %v", mon.Targets)
	}
}

// TestGatewaysLinkToTheExplorer: every gateway the stack starts is given
// the URL of the explorer it starts (--explorer-url), where that explorer
// listens, a URL the gateway accepts, so the voter page of `make up` links
// to the explorer's results and verification pages.
func TestGatewaysLinkToTheExplorer(t *testing.T) {
	s, err := New(Config{Dir: t.TempDir(), PortBase: planBase, BinDir: "bin", FabricBin: "fabric", Builder: "builder",
		Election: "election.json", Gateways: 2, Batchers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.CheckExplorerURL("--explorer-url", s.ExplorerURL()); err != nil {
		t.Fatal(err)
	}
	gateways := 0
	for _, sp := range s.votechain() {
		switch sp.Name {
		case "explorer":
			if listen := argOf(sp.Args, "--listen"); "http://"+listen != s.ExplorerURL() {
				t.Errorf("the explorer listens on %s; the gateways are given %s", listen, s.ExplorerURL())
			}
		case "gateway0", "gateway1":
			gateways++
			if got := argOf(sp.Args, "--explorer-url"); got != s.ExplorerURL() {
				t.Errorf("%s is given --explorer-url %q; want %s", sp.Name, got, s.ExplorerURL())
			}
		}
	}
	if gateways != 2 {
		t.Errorf("%d gateways, want 2", gateways)
	}
}

// TestGatewaysTrustHAProxy: behind HAProxy (several gateways) every
// gateway is given --trusted-proxies as the gateway takes it (cli.Prefixes),
// one prefix holding the address HAProxy connects from, the clients' host's
// (its `source`), on one machine and with hosts of their own; a lone
// gateway, reached by clients directly, trusts no proxy.
func TestGatewaysTrustHAProxy(t *testing.T) {
	spread, err := network.Spread("10.213.9.2", "10.213.9.3", "fd00:213::4")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		hosts    network.Placement
		gateways int
	}{
		{network.OneHost(), 2},
		{spread, 3},
		{network.OneHost(), 1},
	} {
		s, err := New(Config{Dir: t.TempDir(), PortBase: planBase, BinDir: "bin", FabricBin: "fabric", Builder: "builder",
			Election: "election.json", Gateways: c.gateways, Batchers: 1, Hosts: c.hosts})
		if err != nil {
			t.Fatal(err)
		}
		source := netip.MustParseAddr(s.Clients().Addr)
		gateways := 0
		for _, sp := range s.votechain() {
			if !strings.HasPrefix(sp.Name, "gateway") {
				continue
			}
			gateways++
			given := argOf(sp.Args, "--trusted-proxies")
			if c.gateways == 1 {
				if slices.Contains(sp.Args, "--trusted-proxies") {
					t.Errorf("a lone gateway is given --trusted-proxies %q; want none", given)
				}
				continue
			}
			proxies, err := cli.Prefixes("--trusted-proxies", given)
			if err != nil || len(proxies) != 1 || !proxies[0].Contains(source) {
				t.Errorf("%s (of %d, clients on %s) is given --trusted-proxies %q: %v, %v; want one prefix holding %s", sp.Name, c.gateways, source, given, proxies, err, source)
			}
		}
		if gateways != c.gateways {
			t.Errorf("%d gateways, want %d", gateways, c.gateways)
		}
	}
}

// argOf is the value following flag in args ("" if none).
func argOf(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// TestGatewaysStartWhenReady: the stack counts a gateway started only once
// it answers /readyz 200 (it answers 503 starting until it has read the
// election record), for one gateway and for several;
// every other service, HAProxy among them, once its port accepts.
func TestGatewaysStartWhenReady(t *testing.T) {
	for _, gateways := range []int{1, 2} {
		s, err := New(Config{Dir: t.TempDir(), PortBase: planBase, BinDir: "bin", FabricBin: "fabric", Builder: "builder",
			Election: "election.json", Gateways: gateways, Batchers: 1})
		if err != nil {
			t.Fatal(err)
		}
		ready := 0
		for _, sp := range s.services() {
			// StopWithin is 0 in every spec (proc.Start's default); a
			// gateway's is set by startIfStopped once it has recorded its
			// --shutdown-timeout (gatewayStopGrace).
			want, stop := "", time.Duration(0)
			if isGateway(sp.Name) {
				want, ready = "/readyz", ready+1
			}
			if sp.Ready != want || sp.StopWithin != stop {
				t.Errorf("%d gateways: %s is ready on %q, stopped within %v; want %q, %v", gateways, sp.Name, sp.Ready, sp.StopWithin, want, stop)
			}
		}
		if ready != gateways {
			t.Errorf("%d gateways: %d gateway specs", gateways, ready)
		}
	}
}
