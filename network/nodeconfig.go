package network

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/votechain/votechain/ballot"
)

// Settings is a set of changes to a Fabric YAML file, keyed by dotted path
// ("peer.tls.enabled"). Values are encoded as YAML.
type Settings map[string]any

// PatchYAML reads Fabric's sample file src, applies the settings and writes the
// result to dst. Comments and every other key of Fabric's file are kept, so the
// node runs with Fabric's defaults except where the project says otherwise.
func PatchYAML(src, dst string, s Settings) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("read Fabric sample config: %w (run `make fabric-bin`, which copies it next to the binaries)", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("parse %s: %w", src, err)
	}
	if len(doc.Content) != 1 {
		return fmt.Errorf("%s: expected one YAML document", src)
	}
	for path, value := range s {
		if err := setPath(doc.Content[0], strings.Split(path, "."), value); err != nil {
			return fmt.Errorf("%s: set %s: %w", filepath.Base(src), path, err)
		}
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, out, 0o644)
}

// setPath sets the value at keys inside mapping node m, creating missing keys.
func setPath(m *yaml.Node, keys []string, value any) error {
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("%q is not a mapping", keys[0])
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != keys[0] {
			continue
		}
		if len(keys) == 1 {
			return m.Content[i+1].Encode(value)
		}
		return setPath(m.Content[i+1], keys[1:], value)
	}
	key := &yaml.Node{Kind: yaml.ScalarNode, Value: keys[0]}
	child := &yaml.Node{Kind: yaml.MappingNode}
	m.Content = append(m.Content, key, child)
	if len(keys) == 1 {
		return child.Encode(value)
	}
	return setPath(child, keys[1:], value)
}

// ExternalBuilder describes the project's chaincode-as-a-service builder.
type ExternalBuilder struct {
	Name string `yaml:"name"`
	Path string `yaml:"path"`
}

// PeerSettings are the project's changes to Fabric's core.yaml for the peer of
// the i-th organisation in PeerOrgs, listening on its host in hosts.
func PeerSettings(l Layout, ports Ports, hosts Placement, i int, builderDir string) Settings {
	o := PeerOrgs()[i]
	listen, ccListen, ops := ports.Peer(i)
	node := l.PeerNode(o)
	host := hosts.Peer(i)
	addr := host.Join(listen)
	var bootstrap []string
	for j := range PeerOrgs() {
		if j != i {
			other, _, _ := ports.Peer(j)
			bootstrap = append(bootstrap, hosts.Peer(j).Join(other))
		}
	}
	return Settings{
		"peer.id":                      o.PeerHost(),
		"peer.listenAddress":           addr,
		"peer.address":                 addr,
		"peer.chaincodeListenAddress":  host.Join(ccListen),
		"peer.chaincodeAddress":        host.Join(ccListen),
		"peer.localMspId":              o.MSPID,
		"peer.mspConfigPath":           filepath.Join(node, "msp"),
		"peer.fileSystemPath":          l.NodeDataDir(o.PeerHost()),
		"peer.gossip.bootstrap":        strings.Join(bootstrap, " "),
		"peer.gossip.externalEndpoint": addr,
		"peer.gossip.endpoint":         addr,
		"peer.tls.enabled":             true,
		"peer.tls.cert.file":           filepath.Join(node, "tls", "server.crt"),
		"peer.tls.key.file":            filepath.Join(node, "tls", "server.key"),
		// All peer organisations' TLS CAs, so gossip trusts the other org at once.
		"peer.tls.rootcert.file":       l.TLSRootBundle(),
		"peer.tls.clientRootCAs.files": []string{l.TLSRootBundle()},
		"ledger.snapshots.rootDir":     filepath.Join(l.NodeDataDir(o.PeerHost()), "snapshots"),
		"operations.listenAddress":     host.Join(ops),
		"metrics.provider":             "prometheus",
		// No Docker: an empty endpoint makes the peer create no Docker client,
		// and chaincode runs as a service through the project's builder.
		"vm.endpoint":                "",
		"chaincode.externalBuilders": []ExternalBuilder{{Name: "votechain-ccaas", Path: builderDir}},
		// Large vote batches take longer to endorse than Fabric's default allows.
		"chaincode.executetimeout": "120s",
		// Fabric 3.1 lets the chaincode read many keys in one exchange and send
		// its writes in one; the peer keeps both off unless told. The sizes
		// exceed the most keys one CommitBatch reads or writes (MaxBatchVotes
		// nullifiers, with room for a roll entry per vote), so each is one
		// exchange.
		"chaincode.runtimeParams.useWriteBatch":          true,
		"chaincode.runtimeParams.maxSizeWriteBatch":      MaxChaincodeBatchKeys,
		"chaincode.runtimeParams.useGetMultipleKeys":     true,
		"chaincode.runtimeParams.maxSizeGetMultipleKeys": MaxChaincodeBatchKeys,
		// No history database: nothing in the project reads a key's history
		// (the shim's GetHistoryForKey), and the peer would index every key
		// each transaction writes in it, a LevelDB write per vote that grows
		// as large as the state database (docs/ledger.md).
		"ledger.history.enableHistoryDatabase": false,
		// The chaincode reads a state's batch records whole in one range
		// query (its results, the finalise's totals); the peer ends a range
		// query silently after totalQueryLimit results.
		"ledger.state.totalQueryLimit": ballot.MaxStateBatches,
	}
}

// MaxChaincodeBatchKeys is the most keys the peer takes in one batched
// read or write exchange with the chaincode: above 2 × ballot.MaxBatchVotes + 2.
const MaxChaincodeBatchKeys = 25_000

// PeerConnectionSettings are the project's changes to how a peer keeps in
// touch with the other nodes, applied over PeerSettings.
//
// Blocks (peer.deliveryclient): with BFT the peer takes blocks from one
// orderer and block headers from the others; if the headers run ahead for
// BlockCensorshipTimeout it switches to another orderer. Fabric's 30 s would
// let one silent orderer stall the peer's commits for 30 s; 5 s stays inside
// the SmartBFT request timeout.
//
// Gossip: a 3.1.1 peer that has just joined the channel probes the other
// organisation's anchor peer before its own channel policies are in place,
// the probe fails, and gossip tries a failed peer again only after
// reconnectInterval (25 s), while the gateway cannot find the second
// endorser. Trying again every second makes bring-up take seconds, not 30.
func PeerConnectionSettings() Settings {
	return Settings{
		"peer.deliveryclient.blockCensorshipTimeoutKey": BlockCensorshipTimeout.String(),
		"peer.deliveryclient.reConnectBackoffThreshold": "5s", // retry a lost orderer quickly
		"peer.gossip.reconnectInterval":                 "1s",
	}
}

// BlockCensorshipTimeout: see PeerConnectionSettings.
const BlockCensorshipTimeout = 5 * time.Second

// OrdererSettings are the project's changes to Fabric's orderer.yaml for
// orderer i: TLS everywhere (trusting both organisations' orderer TLS CAs),
// no system channel (the channel participation API creates the channel),
// cluster traffic on the main listener, an admin endpoint that only its own
// organisation's orderer admin may call; all on its host in hosts.
func OrdererSettings(l Layout, ports Ports, hosts Placement, i int) Settings {
	listen, admin, ops := ports.Orderer(i)
	host := hosts.Orderer(i)
	node := l.OrdererNode(i)
	org := OrdererOrg(i)
	tls := func(f string) string { return filepath.Join(node, "tls", f) }
	adminCA := filepath.Join(l.ordererOrg(org), "users", "Admin@"+org.OrdererDomain, "tls", "ca.crt")
	data := l.NodeDataDir(OrdererProcess(i))
	return Settings{
		"General.ListenAddress":                   host.Addr,
		"General.ListenPort":                      listen,
		"General.TLS.Enabled":                     true,
		"General.TLS.PrivateKey":                  tls("server.key"),
		"General.TLS.Certificate":                 tls("server.crt"),
		"General.TLS.RootCAs":                     []string{l.OrdererTLSRoots()},
		"General.Cluster.ClientCertificate":       tls("server.crt"),
		"General.Cluster.ClientPrivateKey":        tls("server.key"),
		"General.Cluster.RootCAs":                 []string{l.OrdererTLSRoots()},
		"General.BootstrapMethod":                 "none",
		"General.LocalMSPDir":                     filepath.Join(node, "msp"),
		"General.LocalMSPID":                      org.OrdererMSPID,
		"FileLedger.Location":                     data,
		"Consensus.WALDir":                        filepath.Join(data, "wal"),
		"Consensus.SnapDir":                       filepath.Join(data, "snapshot"),
		"Operations.ListenAddress":                host.Join(ops),
		"Metrics.Provider":                        "prometheus",
		"Admin.ListenAddress":                     host.Join(admin),
		"Admin.TLS.Enabled":                       true,
		"Admin.TLS.PrivateKey":                    tls("server.key"),
		"Admin.TLS.Certificate":                   tls("server.crt"),
		"Admin.TLS.RootCAs":                       []string{tls("ca.crt")},
		"Admin.TLS.ClientAuthRequired":            true,
		"Admin.TLS.ClientRootCAs":                 []string{adminCA},
		"ChannelParticipation.Enabled":            true,
		"ChannelParticipation.MaxRequestBodySize": "64 MB",
		// Fabric's defaults, set here because BFTMaxBlockBytes is sized
		// against them.
		"General.MaxRecvMsgSize":      OrdererMaxMessageBytes,
		"General.MaxSendMsgSize":      OrdererMaxMessageBytes,
		"General.Cluster.DialTimeout": OrdererDialTimeout.String(),
	}
}

// OrdererDialTimeout bounds an orderer's connection to another orderer,
// its TLS handshake included (General.Cluster.DialTimeout; Fabric's default
// is 5 s). An orderer that is paused or hung accepts the TCP connection and
// never completes the handshake, so every dial to it waits the whole
// timeout: SmartBFT's synchronisation, which asks every orderer for its
// height before it returns, and a consensus message to it whose stream must
// be made again. Under SmartBFT a follower synchronises as it learns of the
// next view, and one that spent 5 s doing so entered the view after the
// others' request deadline had ended it (docs/ledger.md, "SmartBFT under
// roll-sized load"). Orderers on one machine or a LAN finish a handshake in
// milliseconds; a loaded machine delays it by scheduling, well under this.
const OrdererDialTimeout = 2 * time.Second

// NodePprofEnv names the environment variable that turns on the Go pprof
// HTTP service (net/http/pprof) of every peer and orderer the project starts
// locally (localnet, `make up`, the bench), each on 127.0.0.1 at its port in
// the plan (Ports.PeerPprof, Ports.OrdererPprof). Off unless it is "1" or
// "true": the service serves profiles and goroutine dumps to anyone on the
// host, so it is for profiling runs only (docs/operations.md).
const NodePprofEnv = "VOTECHAIN_NODE_PPROF"

// NodePprofFromEnv reports whether NodePprofEnv asks for the nodes' pprof.
func NodePprofFromEnv() bool {
	switch strings.ToLower(os.Getenv(NodePprofEnv)) {
	case "1", "true":
		return true
	}
	return false
}

// PeerPprofSettings turn on the pprof service of the i-th organisation's
// peer on 127.0.0.1 at Ports.PeerPprof; applied over PeerSettings.
func PeerPprofSettings(ports Ports, i int) Settings {
	return Settings{
		"peer.profile.enabled":       true,
		"peer.profile.listenAddress": Host{Addr: "127.0.0.1"}.Join(ports.PeerPprof(i)),
	}
}

// OrdererPprofSettings turn on orderer i's pprof service on 127.0.0.1 at
// Ports.OrdererPprof, its own port (an orderer whose pprof port is taken
// panics); applied over OrdererSettings.
func OrdererPprofSettings(ports Ports, i int) Settings {
	return Settings{
		"General.Profile.Enabled": true,
		"General.Profile.Address": Host{Addr: "127.0.0.1"}.Join(ports.OrdererPprof(i)),
	}
}

// The Go collector's targets (GOGC) for the Fabric nodes and chaincode
// servers the project starts: a heap may grow to 1+N/100 times its live data
// between collections. Against Go's default, 100, these took the ledger
// side's CPU per committed vote to 0.90x (BenchmarkLedgerGrowthCPU, two BFT
// networks side by side; chaincode and orderers gained most); 400 for the
// peers too gained a little more (0.86-0.90x) but grew their heaps, the
// largest, 2.5x instead of 1.6x (docs/ledger.md).
const (
	PeerGCPercent      = 200
	OrdererGCPercent   = 400
	ChaincodeGCPercent = 400
)

// OrdererLogSpec is the orderers' Fabric logging spec (FABRIC_LOGGING_SPEC)
// unless the operator sets one: INFO, but WARNING for SmartBFT's chain
// logger. At INFO it writes a line for every block an orderer delivers and,
// each time a lagging orderer catches up by synchronising, the last block's
// whole proposal as decimal bytes: 5–36 MB a line, 55 times for one orderer
// in one `make bench` run (its log 506 MB, its memory 2.0 GB against the
// others' 1.1–1.5). Its warnings and errors still show.
const OrdererLogSpec = "orderer.consensus.smartbft.chain=warning:info"

// OrdererEnv is NodeEnv for an orderer, with FABRIC_LOGGING_SPEC set to
// OrdererLogSpec unless the operator's environment already sets it.
func OrdererEnv(extra ...string) []string {
	if os.Getenv("FABRIC_LOGGING_SPEC") == "" {
		extra = append(extra, "FABRIC_LOGGING_SPEC="+OrdererLogSpec)
	}
	return NodeEnv(OrdererGCPercent, extra...)
}

// NodeGODEBUG is the Go runtime setting (GODEBUG) the project gives the
// Fabric nodes and chaincode servers: memory the runtime hands back to the
// kernel is released with MADV_FREE instead of MADV_DONTNEED, so the kernel
// takes those pages only when it is short of memory, and until then the
// process uses them again without a page fault. Idle for two minutes, a
// node's collector shrinks its heap and hands back hundreds of megabytes;
// the next surge of votes takes them again. On a VM whose host reclaims the
// guest's freed memory, a page fault costs ~16 µs of CPU (against well
// under 1 µs on bare metal), and a BFT network driven again after 150 s
// idle spent 1.45-1.52x the ledger CPU per vote of the drive before the
// pause; with this setting 1.05-1.16x (docs/ledger.md, "Page faults on a
// VM that takes memory back"). What it costs: the resident size the kernel
// reports keeps those pages until it needs them.
const NodeGODEBUG = "madvdontneed=0"

// NodeEnv is extra followed by GOGC=gcPercent and GODEBUG=NodeGODEBUG, the
// environment the project adds to a node's or chaincode server's own. A
// GOGC or GODEBUG already in the operator's environment wins: the node
// inherits it and NodeEnv adds none of that name.
func NodeEnv(gcPercent int, extra ...string) []string {
	if os.Getenv("GOGC") == "" {
		extra = append(extra, fmt.Sprintf("GOGC=%d", gcPercent))
	}
	if os.Getenv("GODEBUG") == "" {
		extra = append(extra, "GODEBUG="+NodeGODEBUG)
	}
	return extra
}
