package network

import (
	"fmt"
	"time"
)

// Channel and chaincode names used across the project.
const (
	ChannelName   = "election"
	ChaincodeName = "ballot"
	// EndorsementPolicy requires a peer of BOTH organisations to endorse every
	// transaction, so neither the Commission nor the Observers can write alone.
	EndorsementPolicy = "AND('CommissionMSP.peer','ObserversMSP.peer')"
)

// EndorsingMSPs are the organisations whose peers EndorsementPolicy
// requires: every peer organisation.
func EndorsingMSPs() []string {
	orgs := PeerOrgs()
	out := make([]string, len(orgs))
	for i, o := range orgs {
		out[i] = o.MSPID
	}
	return out
}

// Block cutting for large vote batches. A batch of 500 votes is ~160 KB, and
// the batcher keeps ~16 in flight, so a block usually closes on the timeout
// with a few MB of votes. The absolute limit leaves room for a 10,000-vote
// batch (~3.3 MB) plus transaction overhead. Under SmartBFT the leader waits
// the whole BatchTimeout before each proposal that is not full (after each
// decision, with requests already waiting), so a transaction waits in the
// leader's pool up to BatchTimeout plus a consensus round: half of it on
// average, at any rate below a backlog. 100 ms rather than 200 ms
// (BenchmarkDrainCost, a network per run, 200/100 ms alternating with the
// order swapped, 4 pairs, loaded machine, 2026-12-01): 202→commit p50/p95 at
// 5,000 votes/s 856/1,685 → 561/986 ms (medians; p95 lower in each pair,
// 0.26-0.88x), at 1,000 votes/s 427/701 → 304/579 ms (p95 lower in 3 of 4);
// the request pool's mean 169-269 → 107-121 ms at 5,000/s. Blocks rose from
// 2.2-2.6 to 2.6-2.7 a second at 5,000/s and from 3.1-4.3 to 4.4-4.6 at 1,000/s
// (the batcher's ticks, not the timer, set the blocks there), and the
// ledger-side CPU per vote did not measurably change: 1.02x at 5,000/s,
// 1.04x at 1,000/s, 0.95x at the ceiling drive and 0.99x in a 40,000-vote
// drain (medians, pairs 0.73-1.18x), where the leader's shorter cycle still
// takes several transactions a block. Raft's block timer is the same
// setting: on a Raft network (DRAIN_CONSENSUS=raft, 200/100 ms alternating,
// 4 pairs, load 5-10) the ceiling drive's ledger CPU per vote was 1.00x and a
// drain's 0.95x, with 1.56x the blocks a second draining. 50 ms gains nothing more and costs
// CPU (same benchmark, 100/50 ms alternating, 4 pairs, load 5-17): 202→commit
// p50/p95 at 5,000 votes/s 0.94x/1.00x, at 1,000 votes/s 0.99x/1.33x, with
// ledger-side CPU per vote 1.04x and 1.09x (each pair higher at 1,000/s),
// 1.14x at the ceiling drive (each pair higher; the orderers' 1.21x) and
// 1.07x in 40,000-vote drains: more, smaller blocks under backlog, as
// measured before the batcher shared transactions on ticks (+20% at the
// ceiling, +20-35% at 1,000 votes/s).
// Nor does a block close on fewer transactions: MaxMessageCount 4 (same
// benchmark, runs alternating, before shared transactions) took a vote's
// 202→commit p50 at 1,000 votes/s from 535-631 to 462-464 ms but cut 2.2x
// the blocks, +55-65% ledger CPU per vote (0.51-0.56 → 0.84 core-s per 1,000
// votes: a block costs the ledger side ~40 ms of CPU besides its
// transactions' ~16 ms each; docs/ledger.md, "The ledger's cost per block",
// splits it by process and component), with no change at the ceiling.
const (
	BatchTimeout      = "100ms"
	MaxMessageCount   = 100
	PreferredMaxBytes = "16 MB"
	AbsoluteMaxBytes  = "64 MB"
)

// BFTMaxBlockBytes is the channel's AbsoluteMaxBytes and PreferredMaxBytes
// under SmartBFT, which cuts a block on AbsoluteMaxBytes alone (a Raft
// channel keeps the limits above). A SmartBFT view change carries each
// orderer's last decided block and its proposal in flight in its view data,
// and the new leader sends the view data it collected (a quorum of three, or
// all four) in one message. gRPC refuses a message above
// OrdererMaxMessageBytes; the view change then never completes, and nothing
// is ordered again: a benchmark's roll load, with blocks of 12-24 MB, built
// a 110,048,811-byte new-view message and stalled for good (docs/ledger.md,
// "SmartBFT under roll-sized load"), and blocks could reach 64 MB. So two
// blocks from each of the four orderers must fit: 8 × 12 MiB = 96 MiB,
// leaving 4 MiB for headers and signatures. A block still takes 8 of the
// roll's 1.5 MB transactions (the roll keeps eight in flight) or 18 of the
// batcher's largest (10,000 votes, 3.3 MB), and one transaction may be
// 12 MB.
const BFTMaxBlockBytes = "12 MB"

// OrdererMaxMessageBytes is the largest gRPC message an orderer sends or
// takes, between orderers too (General.MaxSendMsgSize and MaxRecvMsgSize,
// OrdererSettings; Fabric's default).
const OrdererMaxMessageBytes = 100 << 20

// Org is one organisation of the consortium: it runs a peer under its peer
// MSP and OrderersPerOrg orderers under its own orderer MSP (a separate CA),
// so each organisation administers its own ordering nodes.
type Org struct {
	Name          string // "Commission"
	MSPID         string // "CommissionMSP"
	Domain        string // "commission.votechain.test"
	OrdererMSPID  string // "CommissionOrdererMSP"
	OrdererDomain string // "orderer.commission.votechain.test"
}

// PeerHost is the host name of the organisation's single peer.
func (o Org) PeerHost() string { return "peer0." + o.Domain }

// Consortium members: the election commission (runs gateway and batcher and
// holds the election admin identity) and the independent observers.
var (
	Commission = Org{Name: "Commission", MSPID: "CommissionMSP", Domain: "commission.votechain.test",
		OrdererMSPID: "CommissionOrdererMSP", OrdererDomain: "orderer.commission.votechain.test"}
	Observers = Org{Name: "Observers", MSPID: "ObserversMSP", Domain: "observers.votechain.test",
		OrdererMSPID: "ObserversOrdererMSP", OrdererDomain: "orderer.observers.votechain.test"}
)

// PeerOrgs returns the consortium's organisations, Commission then
// Observers, in a new slice at each call, so no caller can change the list
// (or its order, which numbers peers and orderers) for the others. It
// copies the package vars Commission and Observers as they are at the
// call, which a caller may still change: callers take the slice once per
// use, so one use sees one list.
func PeerOrgs() []Org { return []Org{Commission, Observers} }

// The ordering service: four orderers, two run by each organisation. With
// BFT the block signature quorum is 3 of 4, so neither organisation can
// order (or censor, or reorder) alone; Raft runs on the same four nodes.
const (
	OrderersPerOrg = 2
	OrdererCount   = OrderersPerOrg * 2
)

// OrdererOrg is the organisation that runs orderer i: orderer0 and orderer1
// the Commission, orderer2 and orderer3 the Observers.
func OrdererOrg(i int) Org { return PeerOrgs()[i/OrderersPerOrg] }

// OrdererHost is the host name of orderer i.
func OrdererHost(i int) string { return fmt.Sprintf("orderer%d.%s", i, OrdererOrg(i).OrdererDomain) }

// Consensus is the ordering service's consensus protocol.
type Consensus string

const (
	// BFT is SmartBFT: tolerates one of the four orderers being faulty in
	// any way (crashed, silent, lying); blocks carry 3 of 4 orderer signatures.
	BFT Consensus = "bft"
	// Raft is etcdraft: tolerates one crashed orderer, but trusts the leader.
	Raft Consensus = "raft"
	// DefaultConsensus is what a new network runs unless configured: BFT,
	// because no single organisation should be able to censor or reorder
	// votes, and on this machine its ledger ceiling came out at about 0.8 of
	// Raft's (README, the consortium).
	DefaultConsensus = BFT
)

// Failover is how long ordering may stall while it replaces a failed
// orderer with every transaction it accepted still to be ordered: what a
// client should wait out before it takes a stall for a lost transaction.
// Under SmartBFT every orderer holds every request (the peers' gateways send
// each one to all four), so a dead leader loses none: followers replace it
// after BFTLeaderHeartbeatTimeout, and a new leader that stalls in turn
// after BFTRequestTimeout. Under Raft a transaction dies with the orderer
// that held it uncut, so there is nothing to wait for: 0.
func (c Consensus) Failover() time.Duration {
	if c == BFT {
		return BFTLeaderHeartbeatTimeout + BFTRequestTimeout
	}
	return 0
}

// ParseConsensus accepts "bft" or "raft"; an empty string is DefaultConsensus.
func ParseConsensus(s string) (Consensus, error) {
	switch c := Consensus(s); c {
	case "":
		return DefaultConsensus, nil
	case BFT, Raft:
		return c, nil
	}
	return "", fmt.Errorf("unknown consensus %q: choose %q or %q", s, BFT, Raft)
}

// DefaultPortBase is where the network's ports start unless configured.
const DefaultPortBase = 27000

// Ports is the port plan of one network instance: every port is the base plus
// a fixed offset, so parallel instances (tests, CI) only need distinct bases.
type Ports struct{ Base int }

// Validate refuses a base whose plan would use privileged ports or run past
// the last port (the plan's ports lie within 400 of the base).
func (p Ports) Validate() error {
	if p.Base <= 1024 || p.Base > 65000 {
		return fmt.Errorf("port base %d out of range: choose 1025..65000", p.Base)
	}
	return nil
}

// Orderer returns the client/cluster, admin and operations ports of orderer i.
func (p Ports) Orderer(i int) (listen, admin, ops int) {
	return p.Base + 50 + i, p.Base + 60 + i, p.Base + 70 + i
}

// Peer returns the listen, chaincode-listen and operations ports of the peer
// of the i-th organisation in PeerOrgs.
func (p Ports) Peer(i int) (listen, chaincode, ops int) {
	return p.Base + 100 + 10*i, p.Base + 101 + 10*i, p.Base + 102 + 10*i
}

// OrdererPprof and PeerPprof are the nodes' Go pprof ports, bound only
// when the operator asks for profiling (NodePprofEnv).
func (p Ports) OrdererPprof(i int) int { return p.Base + 80 + i }
func (p Ports) PeerPprof(i int) int    { return p.Base + 103 + 10*i }

// ChaincodeServer returns the listen port of the i-th organisation's chaincode
// service in the given slot. Deploys alternate between slot 0 and 1 so a new
// chaincode version starts before the old one stops.
func (p Ports) ChaincodeServer(i, slot int) int { return p.Base + 120 + 2*i + slot }

// Application ports, for the components that run beside the network.
func (p Ports) Redis() int    { return p.Base + 379 }
func (p Ports) Gateway() int  { return p.Base + 380 }
func (p Ports) Explorer() int { return p.Base + 390 }

// Monitoring ports: Prometheus and the Redis exporter it scrapes.
func (p Ports) Prometheus() int    { return p.Base + 395 }
func (p Ports) RedisExporter() int { return p.Base + 396 }

// NamedPort is a port with the process that binds it and what for.
type NamedPort struct {
	Process string // "orderer0", "peer.Commission"
	Role    string // "gRPC", "admin", "chaincode", "operations", "pprof"
	Port    int
}

// OrdererProcess and PeerProcess name the network's processes.
func OrdererProcess(i int) string { return fmt.Sprintf("orderer%d", i) }
func PeerProcess(o Org) string    { return "peer." + o.Name }

// ChaincodeProcess names the organisation's chaincode service.
func ChaincodeProcess(o Org) string { return "cc." + o.Name }

// NetworkPorts lists every port the Fabric processes of the network bind.
func (p Ports) NetworkPorts() []NamedPort {
	var out []NamedPort
	for i := 0; i < OrdererCount; i++ {
		l, a, o := p.Orderer(i)
		name := OrdererProcess(i)
		out = append(out, NamedPort{name, "gRPC", l}, NamedPort{name, "admin", a}, NamedPort{name, "operations", o})
	}
	for i, org := range PeerOrgs() {
		l, c, o := p.Peer(i)
		name := PeerProcess(org)
		out = append(out, NamedPort{name, "gRPC", l}, NamedPort{name, "chaincode", c}, NamedPort{name, "operations", o})
	}
	return out
}

// PprofPorts lists the nodes' pprof ports (NodePprofEnv), bound only when
// profiling is on.
func (p Ports) PprofPorts() []NamedPort {
	var out []NamedPort
	for i := 0; i < OrdererCount; i++ {
		out = append(out, NamedPort{OrdererProcess(i), "pprof", p.OrdererPprof(i)})
	}
	for i, org := range PeerOrgs() {
		out = append(out, NamedPort{PeerProcess(org), "pprof", p.PeerPprof(i)})
	}
	return out
}
