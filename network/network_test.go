package network

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestPatchYAMLKeepsOtherKeysAndSetsNestedOnes(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "core.yaml")
	orig := "# comment\npeer:\n  id: jdoe\n  tls:\n    enabled: false\n    cert: {file: a.pem}\nvm:\n  endpoint: unix:///var/run/docker.sock\n"
	if err := os.WriteFile(src, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "out", "core.yaml")
	err := PatchYAML(src, dst, Settings{
		"peer.tls.enabled":    true,
		"vm.endpoint":         "",
		"peer.gossip.new.key": []string{"x", "y"},
	})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Peer struct {
			ID  string `yaml:"id"`
			TLS struct {
				Enabled bool              `yaml:"enabled"`
				Cert    map[string]string `yaml:"cert"`
			} `yaml:"tls"`
			Gossip struct {
				New struct {
					Key []string `yaml:"key"`
				} `yaml:"new"`
			} `yaml:"gossip"`
		} `yaml:"peer"`
		VM map[string]string `yaml:"vm"`
	}
	if err := yaml.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Peer.ID != "jdoe" || got.Peer.TLS.Cert["file"] != "a.pem" {
		t.Errorf("untouched keys changed: %+v", got.Peer)
	}
	if !got.Peer.TLS.Enabled || got.VM["endpoint"] != "" || len(got.Peer.Gossip.New.Key) != 2 {
		t.Errorf("settings not applied: %s", data)
	}
	if !bytes.Contains(data, []byte("# comment")) {
		t.Error("comments of Fabric's file were dropped")
	}
}

func TestPatchYAMLRefusesPathThroughScalar(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "o.yaml")
	os.WriteFile(src, []byte("General:\n  ListenPort: 7050\n"), 0o644)
	if err := PatchYAML(src, filepath.Join(dir, "x.yaml"), Settings{"General.ListenPort.x": 1}); err == nil {
		t.Fatal("setting a key below a scalar succeeded")
	}
	if err := PatchYAML(filepath.Join(dir, "missing.yaml"), filepath.Join(dir, "x.yaml"), nil); err == nil {
		t.Fatal("missing sample file accepted")
	}
}

func TestChaincodePackageIsDeterministic(t *testing.T) {
	a, err := NewChaincodePackage("ballot_abc", "127.0.0.1:27120")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewChaincodePackage("ballot_abc", "127.0.0.1:27120")
	c, _ := NewChaincodePackage("ballot_abc", "127.0.0.1:27121")
	if a.ID() != b.ID() {
		t.Errorf("same inputs gave ids %s and %s", a.ID(), b.ID())
	}
	if a.ID() == c.ID() {
		t.Error("different addresses gave the same package id")
	}
	if !regexp.MustCompile(`^ballot_abc:[0-9a-f]{64}$`).MatchString(a.ID()) {
		t.Errorf("package id %q not label:sha256", a.ID())
	}
	files := untar(t, a.Data)
	if string(files["metadata.json"]) != `{"label":"ballot_abc","type":"ccaas"}` {
		t.Errorf("metadata.json = %s", files["metadata.json"])
	}
	code := untar(t, files["code.tar.gz"])
	if !bytes.Contains(code["connection.json"], []byte(`"address":"127.0.0.1:27120"`)) {
		t.Errorf("connection.json = %s", code["connection.json"])
	}
}

func untar(t *testing.T, data []byte) map[string][]byte {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name], _ = io.ReadAll(tr)
	}
}

func TestPortPlanHasNoOverlaps(t *testing.T) {
	p := Ports{Base: DefaultPortBase}
	seen := map[int]string{}
	add := func(port int, what string) {
		if prev, ok := seen[port]; ok {
			t.Errorf("port %d used by %s and %s", port, prev, what)
		}
		seen[port] = what
	}
	for _, np := range append(p.NetworkPorts(), p.PprofPorts()...) {
		add(np.Port, np.Process+" "+np.Role)
	}
	for i := range PeerOrgs() {
		for slot := 0; slot < 2; slot++ {
			add(p.ChaincodeServer(i, slot), "chaincode server")
		}
	}
	add(p.Redis(), "redis")
	add(p.Gateway(), "gateway")
	add(p.Explorer(), "explorer")
	for port := range seen {
		if port < p.Base || port >= p.Base+400 {
			t.Errorf("port %d outside the instance's range of 400", port)
		}
	}
}

// PeerOrgs are the Commission then the Observers, and a caller's edit of
// the slice it returned does not reach the next call.
func TestPeerOrgsIsANewSliceEachCall(t *testing.T) {
	orgs := PeerOrgs()
	if len(orgs) != 2 || orgs[0] != Commission || orgs[1] != Observers {
		t.Fatalf("PeerOrgs() = %+v, want Commission then Observers", orgs)
	}
	orgs[0], orgs[1] = orgs[1], orgs[0]
	if again := PeerOrgs(); again[0] != Commission || again[1] != Observers {
		t.Errorf("a caller's change to PeerOrgs' slice shows in the next call: %s then %s", again[0].Name, again[1].Name)
	}
}

// The organisations a batch's endorsement is asked of are exactly those the
// endorsement policy requires, all of them (AND).
func TestEndorsingMSPsAreThePolicys(t *testing.T) {
	msps := EndorsingMSPs()
	if !strings.HasPrefix(EndorsementPolicy, "AND(") {
		t.Fatalf("policy %s: not an AND of organisations; EndorsingMSPs would ask too many", EndorsementPolicy)
	}
	if n := strings.Count(EndorsementPolicy, ".peer'"); n != len(msps) {
		t.Errorf("policy %s names %d organisations, EndorsingMSPs %d (%v)", EndorsementPolicy, n, len(msps), msps)
	}
	for _, msp := range msps {
		if !strings.Contains(EndorsementPolicy, "'"+msp+".peer'") {
			t.Errorf("%s endorses, but policy %s does not name it", msp, EndorsementPolicy)
		}
	}
}

func TestNodeEnvAddsGOGCAndGODEBUGUnlessTheOperatorSetsThem(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GODEBUG", "")
	if got, want := fmt.Sprint(NodeEnv(PeerGCPercent, "A=1")), fmt.Sprintf("[A=1 GOGC=%d GODEBUG=madvdontneed=0]", PeerGCPercent); got != want {
		t.Fatalf("NodeEnv = %s, want %s", got, want)
	}
	t.Setenv("GOGC", "150")
	if got := fmt.Sprint(NodeEnv(PeerGCPercent, "A=1")); got != "[A=1 GODEBUG=madvdontneed=0]" {
		t.Fatalf("with GOGC in the environment NodeEnv = %s, want [A=1 GODEBUG=madvdontneed=0] (the node inherits the operator's GOGC)", got)
	}
	t.Setenv("GODEBUG", "gctrace=1")
	if got := fmt.Sprint(NodeEnv(PeerGCPercent, "A=1")); got != "[A=1]" {
		t.Fatalf("with GOGC and GODEBUG in the environment NodeEnv = %s, want [A=1] (the node inherits the operator's)", got)
	}
}

func TestOrdererEnvSetsTheLogSpecUnlessTheOperatorDoes(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GODEBUG", "x=1")
	t.Setenv("FABRIC_LOGGING_SPEC", "")
	if got, want := fmt.Sprint(OrdererEnv("A=1")), fmt.Sprintf("[A=1 FABRIC_LOGGING_SPEC=%s GOGC=%d]", OrdererLogSpec, OrdererGCPercent); got != want {
		t.Fatalf("OrdererEnv = %s, want %s", got, want)
	}
	t.Setenv("FABRIC_LOGGING_SPEC", "debug")
	if got, want := fmt.Sprint(OrdererEnv("A=1")), fmt.Sprintf("[A=1 GOGC=%d]", OrdererGCPercent); got != want {
		t.Fatalf("with FABRIC_LOGGING_SPEC in the environment OrdererEnv = %s, want %s (the orderer inherits the operator's)", got, want)
	}
}

// A dead SmartBFT leader loses no request (every orderer holds each), so its
// failover spans the followers' heartbeat timeout and a stalled successor's
// request timeout; a dead Raft orderer loses what it held: nothing to wait for.
func TestConsensusFailover(t *testing.T) {
	if got, least := BFT.Failover(), BFTLeaderHeartbeatTimeout+BFTRequestTimeout; got < least {
		t.Errorf("BFT failover %v, want at least the heartbeat and request timeouts (%v)", got, least)
	}
	if got := Raft.Failover(); got != 0 {
		t.Errorf("Raft failover %v, want 0", got)
	}
	if got := Consensus("").Failover(); got != 0 {
		t.Errorf("failover of a profile without consensus %v, want Raft's 0", got)
	}
}
