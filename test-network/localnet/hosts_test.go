package localnet_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/bench/ledgerload"
	"github.com/votechain/votechain/internal/proc"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/stack"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/network/fabricclient"
	"github.com/votechain/votechain/test-network/localnet"
	"github.com/votechain/votechain/test-network/nettest"
)

// The vote run's helper process: the test binary again, started in the
// clients' namespace with the batcher's connection profile in this variable.
const voteRunEnv = "VOTECHAIN_TEST_VOTE_RUN_PROFILE"

const voteRunVotes = 400

// hostsVotes is the roll size of TestOrganisationsOnSeparateHosts, and the
// votes it casts through the gateway: one per voter.
const hostsVotes = 300

// TestOrganisationsOnSeparateHosts runs the whole system across network
// namespaces, one per organisation and one for the clients, each with its
// own address on a private bridge: the stack's usual bring-up (the
// consortium on the organisations' hosts; Redis, the election set-up, the
// batcher, the gateway, the explorer and the monitoring on the clients'
// host), votes cast over HTTP to the gateway from outside the clients'
// namespace and counted on the Observers' peer, and a teardown that stops
// every process and leaves no namespace or link behind.
func TestOrganisationsOnSeparateHosts(t *testing.T) {
	if os.Getenv(voteRunEnv) != "" {
		t.Skip("inside the vote run's helper process")
	}
	if why := nettest.SeparateHostsSkip(); why != "" {
		t.Skip(why) // before Config reserves a port range and builds the commands
	}
	cfg := nettest.Config(t)
	m := nettest.SeparateHosts(t, cfg.PortBase)
	bin := filepath.Dir(cfg.Chaincode) // the test's run folder, with the chaincode's copy
	nettest.Commands(t, bin, "batcher", "gateway", "explorer")
	sys, err := stack.New(stack.Config{
		Dir: filepath.Join(bin, "system"), PortBase: cfg.PortBase, BinDir: bin, FabricBin: cfg.FabricBin, Builder: cfg.Builder,
		Election: filepath.Join(nettest.RepoRoot(t), "config", "election.json"), Window: time.Hour,
		Voters: hostsVotes, Log: cfg.Log, Hosts: m.Hosts, Netns: m.Netns, Bundles: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	n := sys.Network()
	t.Cleanup(func() { _ = sys.Down(false) }) // before the namespaces go (cleanups run last first)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	began := time.Now()
	if err := sys.Up(ctx); err != nil {
		t.Fatalf("system up across namespaces: %v", err)
	}
	t.Logf("system up across %d namespaces in %.1f s (bridge %s, %s)", len(m.Netns), time.Since(began).Seconds(), m.Bridge, m.Subnet)

	st := n.Status(ctx)
	services := sys.Status()
	t.Run("each node runs in its organisation's namespace", func(t *testing.T) {
		for _, p := range st.Processes {
			if !p.Running {
				t.Errorf("%s is not running", p.Name)
				continue
			}
			got, err := nettest.Namespace(p.PID)
			if err != nil {
				t.Fatal(err)
			}
			if want := m.Netns[hostOf(p.Name, m.Hosts).Name]; got != want {
				t.Errorf("%s (pid %d) runs in namespace %q, want %q", p.Name, p.PID, got, want)
			}
			if want := hostOf(p.Name, m.Hosts).Join(p.Port); p.Addr != want {
				t.Errorf("%s listens on %s, want %s", p.Name, p.Addr, want)
			}
		}
		if len(st.Processes) != network.OrdererCount+2*len(network.PeerOrgs()) {
			t.Errorf("%d processes, want orderers, peers and chaincode services", len(st.Processes))
		}
	})

	t.Run("the application runs in the clients' namespace on their address", func(t *testing.T) {
		clients := m.Hosts.Clients
		if sys.Clients() != clients {
			t.Fatalf("the stack's clients' host is %v, want %v", sys.Clients(), clients)
		}
		for _, p := range services {
			if !p.Running {
				t.Errorf("%s is not running", p.Name)
				continue
			}
			if got, err := nettest.Namespace(p.PID); err != nil || got != m.Netns[clients.Name] {
				t.Errorf("%s (pid %d) runs in namespace %q (%v), want %q", p.Name, p.PID, got, err, m.Netns[clients.Name])
			}
			c, err := net.DialTimeout("tcp", clients.Join(p.Port), 2*time.Second) // from the test's namespace, over the bridge
			if err != nil {
				t.Errorf("%s: nothing answers on %s: %v", p.Name, clients.Join(p.Port), err)
				continue
			}
			c.Close()
		}
		if !slices.ContainsFunc(services, func(p stack.ServiceStatus) bool { return p.Name == "gateway" }) ||
			!slices.ContainsFunc(services, func(p stack.ServiceStatus) bool { return p.Name == "batcher0" }) {
			t.Errorf("services %+v: want a gateway and a batcher", services)
		}
		for _, u := range []string{sys.GatewayURL(), sys.ExplorerURL(), sys.PrometheusURL(), "redis://" + sys.RedisAddr()} {
			if !strings.Contains(u, "//"+clients.Addr+":") {
				t.Errorf("service at %s, want on the clients' address %s", u, clients.Addr)
			}
		}
	})

	t.Run("TLS certificates name their host", func(t *testing.T) {
		for _, o := range network.PeerOrgs() {
			cert := readCert(t, filepath.Join(n.Layout().PeerNode(o), "tls", "server.crt"))
			h := m.Hosts.Org(o)
			if !slices.Contains(cert.DNSNames, h.Name) || !slices.ContainsFunc(cert.IPAddresses, func(ip net.IP) bool { return ip.String() == h.Addr }) {
				t.Errorf("%s peer certificate names %v %v, want %s and %s", o.Name, cert.DNSNames, cert.IPAddresses, h.Name, h.Addr)
			}
			if slices.ContainsFunc(cert.IPAddresses, func(ip net.IP) bool { return ip.IsLoopback() }) {
				t.Errorf("%s peer certificate names a loopback address: %v", o.Name, cert.IPAddresses)
			}
		}
	})

	t.Run("each host's bundle holds what it runs and no other's keys", func(t *testing.T) {
		for _, p := range st.Processes {
			h := hostOf(p.Name, m.Hosts)
			bundle := n.Layout().Bundle(h.Name)
			if cfgPath := processEnv(t, p.PID)["FABRIC_CFG_PATH"]; !strings.HasPrefix(p.Name, "cc.") && !strings.HasPrefix(cfgPath, bundle+"/") {
				t.Errorf("%s runs with FABRIC_CFG_PATH %q, not from its host's bundle %s", p.Name, cfgPath, bundle)
			}
		}
		for _, h := range m.Hosts.Hosts() {
			bundle := n.Layout().Bundle(h.Name)
			var own []string // the folders whose keys this host may hold: its organisations' and its components' users'
			for _, o := range network.PeerOrgs() {
				if m.Hosts.Org(o) == h {
					own = append(own, "/"+o.Domain+"/", "/"+o.OrdererDomain+"/")
				}
			}
			if h == m.Hosts.Clients {
				for _, c := range []network.Component{network.Batcher, network.Gateway, network.Explorer} {
					i := slices.IndexFunc(network.PeerOrgs(), func(o network.Org) bool { return o.Name == c.Org })
					own = append(own, fmt.Sprintf("/users/%s@%s/", c.User, network.PeerOrgs()[i].Domain))
				}
			}
			for _, key := range privateKeys(t, bundle) {
				if !slices.ContainsFunc(own, func(d string) bool { return strings.Contains(key, d) }) {
					t.Errorf("bundle of %s holds %s, a key of another organisation, component or a CA", h.Name, key)
				}
			}
			if h != m.Hosts.Clients {
				for _, script := range []string{network.BundleRunScript, network.BundleSetupScript} {
					if out, err := exec.Command("sh", "-n", filepath.Join(bundle, script)).CombinedOutput(); err != nil {
						t.Errorf("%s of %s: %v\n%s", script, h.Name, err, out)
					}
				}
			}
		}
		for _, c := range []network.Component{network.Batcher, network.Gateway, network.Explorer} {
			bundle := n.Layout().Bundle(network.ClientsHost)
			p, err := network.LoadProfile(network.Layout{Dir: bundle}.ComponentProfile(c.Name))
			if err != nil {
				t.Fatal(err)
			}
			if p.Consensus != n.Consensus() {
				t.Errorf("%s profile in the clients' bundle records consensus %q, want %q", c.Name, p.Consensus, n.Consensus())
			}
			for _, f := range p.Files() {
				if _, err := os.Stat(f); err != nil || !strings.HasPrefix(f, bundle+"/") {
					t.Errorf("%s profile in the clients' bundle names %s, not a file of the bundle (%v)", c.Name, f, err)
				}
			}
		}
	})

	t.Run("votes through the gateway are counted once on the Observers' peer", func(t *testing.T) {
		castThroughGateway(ctx, t, sys)
	})

	exes := map[int]string{} // each application process's executable, to tell it from a reused PID
	for _, p := range services {
		exes[p.PID], _ = os.Readlink(fmt.Sprintf("/proc/%d/exe", p.PID))
	}
	if err := sys.Down(false); err != nil {
		t.Fatal(err)
	}
	for _, p := range st.Processes {
		if proc.Alive(p.PID, procBin(cfg, p.Name)) {
			t.Errorf("%s (pid %d) still running after down", p.Name, p.PID)
		}
	}
	for _, p := range services {
		if proc.Alive(p.PID, exes[p.PID]) {
			t.Errorf("%s (pid %d) still running after down", p.Name, p.PID)
		}
	}
	if err := m.Remove(); err != nil {
		t.Fatal(err)
	}
	if left := m.Leftovers(); len(left) > 0 {
		t.Fatalf("after teardown still there: %v", left)
	}
}

// castThroughGateway casts one vote per voter of the system's roll over
// HTTP to its gateway from the test's namespace (across the bridge, as a
// voter's device would), waits for every accepted vote's receipt, and
// checks that the Observers' peer, on its own host, counts exactly the
// accepted votes, each once, and that every receipt verifies against the
// ledger's record of its batch.
func castThroughGateway(ctx context.Context, t *testing.T, sys *stack.Stack) {
	t.Helper()
	observers := nettest.Dial(t, sys.Network(), network.Observers.Name, fabricclient.WithUser("Admin")).Ballot()
	e, err := observers.Election(ctx)
	if err != nil {
		t.Fatal(err)
	}
	voters := nettest.ReadRollCSV(t, sys.RollCSV())
	began := time.Now()
	accepted := map[string]bool{}
	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(16)
	for i, v := range voters {
		c := e.Contests[0]
		body := map[string]string{"voter_id": v.ID, "credential": v.Credential, "state": v.State, "choice": c.Choices[i%len(c.Choices)]}
		if len(e.Contests) > 1 {
			body["contest"] = c.ID
		}
		g.Go(func() error {
			id, err := postVote(ctx, sys.GatewayURL(), body)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if accepted[id] {
				return fmt.Errorf("vote id %s accepted twice", id)
			}
			accepted[id] = true
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	castIn := time.Since(began)

	receipts := waitCounted(ctx, t, sys.GatewayURL(), accepted)
	nettest.SyncPeers(t, sys.Network()) // receipts follow the Commission's peer's commits
	var votes []ballot.Vote
	records := map[string]ballot.BatchRecord{}
	for _, r := range receipts {
		key := fmt.Sprintf("%s/%d", r.State, r.Seq)
		rec, ok := records[key]
		if !ok {
			if rec, err = observers.Batch(ctx, r.State, r.Seq); err != nil {
				t.Fatalf("batch %s on the Observers' peer: %v", key, err)
			}
			records[key] = rec
		}
		if err := r.Audit(rec); err != nil {
			t.Fatalf("receipt of %s does not verify against the Observers' ledger: %v", r.VoteID, err)
		}
		votes = append(votes, *r.Vote)
	}
	nettest.CheckCountedOnce(t, observers, votes) // every 202 counted once, and nothing else
	t.Logf("%d votes posted to %s from the test's namespace: %d accepted (202) in %.1f s, %d counted on the Observers' peer in %d batches, every receipt verified, %.1f s in all",
		len(voters), sys.GatewayURL(), len(accepted), castIn.Seconds(), len(votes), len(records), time.Since(began).Seconds())
	if len(accepted) != len(voters) {
		t.Fatalf("%d of %d votes accepted", len(accepted), len(voters))
	}
}

// postVote posts one vote and returns its id; a 503 (nothing stored) is
// retried, any other answer but 202 is an error.
func postVote(ctx context.Context, gateway string, body map[string]string) (string, error) {
	data, _ := json.Marshal(body)
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, gateway+"/api/v1/vote", bytes.NewReader(data))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		var out struct {
			VoteID string `json:"vote_id"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusAccepted && err == nil:
			return out.VoteID, nil
		case resp.StatusCode == http.StatusServiceUnavailable && attempt < 50:
			time.Sleep(100 * time.Millisecond)
		default:
			return "", fmt.Errorf("vote of %s: status %d, %v", body["voter_id"], resp.StatusCode, err)
		}
	}
}

// waitCounted polls the gateway for each vote's receipt until all are
// counted, and returns them.
func waitCounted(ctx context.Context, t *testing.T, gateway string, ids map[string]bool) []ballot.Receipt {
	t.Helper()
	var done []ballot.Receipt
	left := maps.Clone(ids)
	deadline := time.Now().Add(2 * time.Minute)
	for len(left) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d votes not counted after 2 minutes", len(left), len(ids))
		}
		for id := range left {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, gateway+"/api/v1/votes/"+id, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var r ballot.Receipt
			if resp.StatusCode == http.StatusOK {
				err = json.NewDecoder(resp.Body).Decode(&r)
			}
			resp.Body.Close()
			if err != nil {
				t.Fatalf("receipt of %s: %v", id, err)
			}
			if r.Status == ballot.ReceiptCounted {
				done = append(done, r)
				delete(left, id)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return done
}

// voteRun sets an election up and runs the vote run helper in the clients'
// namespace with the batcher's profile from the clients' bundle, then checks
// the Observers' peer counts every vote it committed.
func voteRun(ctx context.Context, t *testing.T, n *localnet.Network, m *nettest.Machines) {
	t.Helper()
	e := nettest.Election([]string{"CA", "NY"}, []string{"alice", "bob"})
	// The batcher's profile as the clients' host has it, in its bundle.
	batcherProfile := network.Layout{Dir: n.Layout().Bundle(network.ClientsHost)}.ComponentProfile(network.Batcher.Name)
	p, err := network.LoadProfile(batcherProfile)
	if err != nil {
		t.Fatal(err)
	}
	cn, err := network.CommonName(p.Orgs[network.Batcher.Org].Users[network.Batcher.User].Cert)
	if err != nil {
		t.Fatal(err)
	}
	e.Batchers = []string{cn}
	nettest.SetupElection(t, n, e)

	run := exec.CommandContext(ctx, "ip", "netns", "exec", m.Netns[network.ClientsHost],
		os.Args[0], "-test.run", "^TestVoteRunHelper$", "-test.count=1", "-test.v")
	run.Env = append(os.Environ(), voteRunEnv+"="+batcherProfile)
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("vote run in namespace %s: %v\n%s", m.Netns[network.ClientsHost], err, out)
	}
	res := voteRunResult(t, out)
	t.Logf("vote run from %s: %d votes in %d transactions, %d counted, %.0f votes/s, %d errors",
		m.Netns[network.ClientsHost], res.AllVotes, res.Txs, res.Counted, res.VotesPerS, res.Errors)
	if res.Errors != 0 || res.AllVotes < voteRunVotes || res.Counted != res.AllVotes {
		t.Fatalf("vote run: %d votes committed, %d counted, %d errors (%s); want ≥ %d, all counted, none failed",
			res.AllVotes, res.Counted, res.Errors, res.FirstError, voteRunVotes)
	}
	// The Observers read the count on their own peer, on their own host,
	// once it holds the blocks the vote run saw committed on the Commission's.
	nettest.SyncPeers(t, n)
	observers := nettest.Dial(t, n, network.Observers.Name, fabricclient.WithUser("Admin")).Ballot()
	got, err := observers.Results(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Counted != uint64(res.Counted) {
		t.Fatalf("the Observers' peer counts %d votes, the vote run committed %d", got.Counted, res.Counted)
	}
}

// TestBundlesBringUpAcrossNamespaces is the operators' bring-up on
// separate machines, each namespace standing in for one: the network is
// only generated (vcnet bundles), each organisation's host starts its
// nodes with its bundle's run.sh and its admin joins the channel and
// installs, approves and commits the chaincode with its setup.sh; then
// the probe through the Commission admin's bundled profile, and a vote
// run from the clients' host with its bundle.
func TestBundlesBringUpAcrossNamespaces(t *testing.T) {
	if os.Getenv(voteRunEnv) != "" {
		t.Skip("inside the vote run's helper process")
	}
	if why := nettest.SeparateHostsSkip(); why != "" {
		t.Skip(why) // before Config reserves a port range and builds the commands
	}
	cfg := nettest.Config(t)
	m := nettest.SeparateHosts(t, cfg.PortBase)
	cfg.Hosts, cfg.Bundles = m.Hosts, true
	n, err := localnet.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	began := time.Now()
	if err := n.Generate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n.Up(ctx); err == nil || !strings.Contains(err.Error(), "generated for other machines") {
		t.Fatalf("up on a generated network: %v; want refused", err)
	}
	ports := n.Ports()
	type started struct {
		id  proc.ID
		bin string
	}
	var nodes []started
	start := func(h network.Host, node string, port int) {
		t.Helper()
		log, err := os.Create(filepath.Join(n.Layout().LogDir(), node+".log"))
		if err != nil {
			t.Fatal(err)
		}
		defer log.Close()
		cmd := exec.Command("ip", "netns", "exec", m.Netns[h.Name], "sh", filepath.Join(n.Layout().Bundle(h.Name), network.BundleRunScript), node)
		cmd.Env = append(os.Environ(), "FABRIC_BIN="+cfg.FabricBin, "BALLOTCC="+cfg.Chaincode)
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		id, err := proc.Identify(cmd.Process.Pid) // before cmd.Wait can reap it
		if err != nil {
			t.Fatal(err)
		}
		go cmd.Wait()
		bin := procBin(cfg, node)
		nodes = append(nodes, started{id, bin})
		t.Cleanup(func() { _, _ = proc.Stop(id, bin, 10*time.Second) })
		waitListening(t, h.Join(port), log.Name())
	}
	setup := func(h network.Host, step, done string) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			cmd := exec.CommandContext(ctx, "ip", "netns", "exec", m.Netns[h.Name], "sh", filepath.Join(n.Layout().Bundle(h.Name), network.BundleSetupScript), step)
			cmd.Env = append(os.Environ(), "FABRIC_BIN="+cfg.FabricBin)
			out, err := cmd.CombinedOutput()
			if err == nil || done != "" && strings.Contains(string(out), done) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("setup.sh %s on %s: %v\n%s", step, h.Name, err, out)
			}
			time.Sleep(time.Second) // the ordering service is still forming
		}
	}
	if err := os.MkdirAll(n.Layout().LogDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < network.OrdererCount; i++ {
		listen, _, _ := ports.Orderer(i)
		start(m.Hosts.Orderer(i), network.OrdererProcess(i), listen)
	}
	for i, o := range network.PeerOrgs() {
		listen, _, _ := ports.Peer(i)
		start(m.Hosts.Peer(i), network.PeerProcess(o), listen)
	}
	for _, o := range network.PeerOrgs() {
		setup(m.Hosts.Org(o), "join", "")
	}
	for _, o := range network.PeerOrgs() {
		setup(m.Hosts.Org(o), "chaincode", "redefine uncommitted sequence")
	}
	setup(m.Hosts.Org(network.Commission), "commit", "new definition must be sequence")
	for i, o := range network.PeerOrgs() {
		start(m.Hosts.Peer(i), network.ChaincodeProcess(o), ports.ChaincodeServer(i, 0))
	}
	admin, err := network.LoadProfile(network.Layout{Dir: n.Layout().Bundle(network.Commission.HostName())}.ComponentProfile(network.Admin.Name))
	if err != nil {
		t.Fatal(err)
	}
	if err := localnet.ProbeProfile(ctx, admin, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("probe through the Commission admin's bundled profile: %v", err)
	}
	t.Logf("network up from its bundles across %d namespaces in %.1f s", len(m.Netns), time.Since(began).Seconds())

	voteRun(ctx, t, n, m)

	for _, p := range nodes {
		if _, err := proc.Stop(p.id, p.bin, 10*time.Second); err != nil {
			t.Error(err)
		}
	}
	if err := m.Remove(); err != nil {
		t.Fatal(err)
	}
	if left := m.Leftovers(); len(left) > 0 {
		t.Fatalf("after teardown still there: %v", left)
	}
}

// waitListening waits until addr accepts connections.
func waitListening(t *testing.T, addr, log string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s after 30 s; last lines of %s:\n%s", addr, log, proc.Tail(log, 15))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestVoteRunHelper is the vote run itself, as a separate process that the
// test above starts in the clients' namespace; on its own it skips.
func TestVoteRunHelper(t *testing.T) {
	path := os.Getenv(voteRunEnv)
	if path == "" {
		t.Skip("helper of TestOrganisationsOnSeparateHosts")
	}
	profile, err := network.LoadProfile(path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := fabricclient.Dial(t.Context(), profile, network.Batcher.Org, fabricclient.WithUser(network.Batcher.User))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ledger := conn.Ballot()
	e, err := ledger.Election(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ledgerload.Run(ctx, ledger, e, ledgerload.Drive{VotesPerTx: 50, InFlight: 4, Duration: time.Minute,
		StopAfter: voteRunVotes, SeqBase: ledgerload.SeqBaseFor(time.Now())})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(res)
	fmt.Printf("%s %s\n", voteRunEnv, data)
}

func voteRunResult(t *testing.T, out []byte) ledgerload.DriveResult {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), voteRunEnv+" "); ok {
			var res ledgerload.DriveResult
			if err := json.Unmarshal([]byte(rest), &res); err != nil {
				t.Fatal(err)
			}
			return res
		}
	}
	t.Fatalf("the vote run printed no result:\n%s", out)
	return ledgerload.DriveResult{}
}

// hostOf is the host a process of the network runs on.
func hostOf(process string, hosts network.Placement) network.Host {
	for i := 0; i < network.OrdererCount; i++ {
		if process == network.OrdererProcess(i) {
			return hosts.Orderer(i)
		}
	}
	for _, o := range network.PeerOrgs() {
		if strings.HasSuffix(process, "."+o.Name) { // peer.X, cc.X
			return hosts.Org(o)
		}
	}
	return network.Host{}
}

// privateKeys lists the private key files under dir.
func privateKeys(t *testing.T, dir string) []string {
	t.Helper()
	var keys []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if filepath.Base(filepath.Dir(path)) == "keystore" || strings.HasSuffix(path, ".key") || d.Name() == "priv_sk" {
			keys = append(keys, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// processEnv reads a process's environment.
func processEnv(t *testing.T, pid int) map[string]string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range strings.Split(string(data), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

func procBin(cfg localnet.Config, process string) string {
	switch {
	case strings.HasPrefix(process, "orderer"):
		return filepath.Join(cfg.FabricBin, "orderer")
	case strings.HasPrefix(process, "peer."):
		return filepath.Join(cfg.FabricBin, "peer")
	}
	return cfg.Chaincode
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s holds no PEM block", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// TestBundlesHoldTheClientsRedisUsers: the clients' bundle carries its
// Redis users (the ACL file redis-server loads, one private password file
// per component, none of them in the ACL file), and the organisations'
// bundles none.
func TestBundlesHoldTheClientsRedisUsers(t *testing.T) {
	cfg := nettest.Config(t)
	hosts, err := network.ParseSpread("commission=10.0.0.2,observers=10.0.0.3,clients=10.0.0.4")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Hosts, cfg.Bundles = hosts, true
	n, err := localnet.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := n.Generate(ctx); err != nil {
		t.Fatal(err)
	}
	acl := redisserver.ACL{Dir: filepath.Join(n.Layout().Bundle(network.ClientsHost), network.BundleRedisDir)}
	aclFile, err := os.ReadFile(acl.File())
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range redisserver.Users() {
		pw, err := acl.Password(u)
		if err != nil || len(pw) < 32 {
			t.Fatalf("%s's password: %q, %v; want one in the clients' bundle", u, pw, err)
		}
		if st, err := os.Stat(acl.PasswordFile(u)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s's password file: %v, %v; want mode 600", u, st, err)
		}
		if !strings.Contains(string(aclFile), "user "+u+" on #") || strings.Contains(string(aclFile), pw) {
			t.Errorf("the ACL file does not name %s by its password's hash alone:\n%s", u, aclFile)
		}
	}
	exporter, err := os.ReadFile(acl.ExporterPasswordFile())
	if err != nil || !strings.Contains(string(exporter), "redis://10.0.0.4:"+fmt.Sprint(n.Ports().Redis())) {
		t.Errorf("the exporter's password file %s, %v; want the clients' Redis address", exporter, err)
	}
	for _, o := range network.PeerOrgs() {
		if _, err := os.Stat(filepath.Join(n.Layout().Bundle(o.HostName()), network.BundleRedisDir)); err == nil {
			t.Errorf("the %s bundle holds Redis users", o.Name)
		}
	}
}
