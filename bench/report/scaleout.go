// Scaling out: the costs measured on the cluster shape (a Redis Cluster,
// gateways behind HAProxy, several batchers; bench/suite's scale-out phase)
// turned into what a national rate takes: gateway cores, Redis masters,
// batcher cores and lanes, peer and orderer cores, channels, hosts; and
// which resource runs out first, on the measured machine and per added
// host.

package report

import (
	"fmt"
	"math"
	"sort"

	"github.com/votechain/votechain/bench/ledgerload"
	"github.com/votechain/votechain/bench/loadgen"
)

// The parts of the cluster shape, as ClusterProc.Part names them.
const (
	PartGateway   = "gateway"
	PartHAProxy   = "haproxy"
	PartMaster    = "redis master"
	PartReplica   = "redis replica"
	PartBatcher   = "batcher"
	PartPeer      = "peer"
	PartChaincode = "chaincode"
	PartOrderer   = "orderer"
	PartExplorer  = "explorer"
	PartMonitor   = "monitoring"
	PartLoadGen   = "load generator"
)

// Scale is the scaling-out section: the cluster shape's measured costs and
// the plan made from them.
type Scale struct {
	Cluster ClusterRun `json:"cluster"`
	Goals   ScaleGoals `json:"goals"`
	Plan    ScalePlan  `json:"plan"`
	// Predated is set by Load for a report from before the scale-out
	// phase, whose scaling_out was a plan of another format (legacyScale):
	// its section then says so instead of showing a plan. Never saved.
	Predated bool `json:"-"`
}

// ClusterRun is the scale-out phase: the cluster shape on an extra stack, a
// fixed rate offered through HAProxy for a window, the drain after it, and
// every process's CPU over both (from /proc).
type ClusterRun struct {
	Shape     string        `json:"shape"`
	Phase     loadgen.Phase `json:"phase"` // the offered window
	DrainS    float64       `json:"drain_s"`
	Drained   bool          `json:"drained"`
	Accepted  int           `json:"accepted"`  // distinct vote ids answered 202: what the costs are per
	Committed int           `json:"committed"` // votes the batchers' batches of the phase count
	// StateVotes are the committed votes per state (the lanes' and the
	// masters' shares).
	StateVotes  map[string]int  `json:"state_votes,omitempty"`
	MachineBusy float64         `json:"machine_busy"` // busy share of all cores over offer and drain (0..1)
	WallS       float64         `json:"wall_s"`       // offer + drain
	Procs       []ClusterProc   `json:"processes"`
	Loss        ledgerload.Loss `json:"loss_check"`
	Error       string          `json:"error,omitempty"` // why the phase did not complete; empty: it did
}

// ClusterProc is one process of the cluster shape.
type ClusterProc struct {
	Name       string  `json:"name"`
	Part       string  `json:"part"`
	CPUS       float64 `json:"cpu_s"`       // over offer + drain
	OfferCores float64 `json:"offer_cores"` // during the offer
	// States are the states whose slot a master holds, and Votes their
	// committed votes; a gateway's Votes are those it answered 202, a
	// batcher's those it committed, and Lanes the lanes it owned at the
	// offer's end.
	States []string `json:"states,omitempty"`
	Votes  int      `json:"votes,omitempty"`
	Lanes  int      `json:"lanes,omitempty"`
	// MemBefore and MemAfter are a Redis node's used_memory before the
	// offer and after the drain.
	MemBefore int64 `json:"used_memory_before,omitempty"`
	MemAfter  int64 `json:"used_memory_after,omitempty"`
}

// Ran reports whether the phase completed with votes to divide by.
func (c ClusterRun) Ran() bool { return c.Error == "" && c.Accepted > 0 }

// Units counts the processes of part.
func (c ClusterRun) Units(part string) int {
	n := 0
	for _, p := range c.Procs {
		if p.Part == part {
			n++
		}
	}
	return n
}

// CostPerVote is the CPU of every process of part, in core-seconds per
// accepted vote.
func (c ClusterRun) CostPerVote(part string) float64 {
	if c.Accepted <= 0 {
		return 0
	}
	var s float64
	for _, p := range c.Procs {
		if p.Part == part {
			s += p.CPUS
		}
	}
	return s / float64(c.Accepted)
}

// OwnPer1000 is a process's CPU per 1,000 of the votes it alone handled
// (0 when it has none recorded).
func (p ClusterProc) OwnPer1000(accepted int) float64 {
	n := p.Votes
	if n == 0 {
		n = accepted
	}
	if n <= 0 {
		return 0
	}
	return p.CPUS / float64(n) * 1000
}

// ScaleGoals are the rate to plan for and the hosts to plan with.
type ScaleGoals struct {
	RatePerS  float64 `json:"rate_per_s"` // votes/s accepted and committed, e.g. 50,000
	Headroom  float64 `json:"headroom"`   // usable share of a core, e.g. 0.7
	HostCores int     `json:"host_cores"` // cores per added host, e.g. 16
	Orgs      int     `json:"orgs"`       // endorsing organisations: peers per channel
}

// ScaleRow is one part of the plan.
type ScaleRow struct {
	Part     string  `json:"part"`
	Measured int     `json:"measured_units"` // processes in the measured shape
	Per1000  float64 `json:"cpu_s_per_1000"` // core-seconds per 1,000 votes, all of the part's processes
	Unit     string  `json:"unit"`           // what PerUnit and Need count
	PerUnit  float64 `json:"per_unit"`       // votes/s one unit carries at the headroom
	Need     int     `json:"need"`           // units for the goal
	Cores    float64 `json:"cores"`          // cores for the goal at the headroom
	Hosts    int     `json:"hosts"`          // hosts of HostCores for the goal
	PerHost  float64 `json:"per_host"`       // votes/s one added host carries of this part
}

// ScalePlan is what the goal takes, from measured costs.
type ScalePlan struct {
	Rows       []ScaleRow `json:"rows"`
	PerChannel float64    `json:"per_channel"` // the ledger ceiling of one channel (0: not measured)
	Channels   int        `json:"channels"`
	Lanes      int        `json:"lanes"` // batcher lanes: one per partition, at least one per channel and per batcher core
	TotalCores float64    `json:"total_cores"`
	TotalHosts int        `json:"total_hosts"`
	// On the measured machine: the rate at which all its cores are busy
	// with the shape's processes, at which the busiest Redis master's one
	// core is, and the channel's ceiling; the least is what runs out first.
	MachineCores  int     `json:"machine_cores"`
	MachineRate   float64 `json:"machine_rate"`
	HotMaster     string  `json:"hot_master"`
	HotMasterRate float64 `json:"hot_master_rate"`
	MachineFirst  string  `json:"machine_first"`
	TopPart       string  `json:"top_part"`  // the part with the largest share of that CPU
	TopShare      float64 `json:"top_share"` // its share (0..1)
	// Per added host: the part that carries the fewest votes/s per host.
	HostFirst string `json:"host_first"`
	// The largest state's share of the votes, and the votes/s it puts on
	// the one master its hash tag lives on at the goal rate.
	BigState      string  `json:"big_state"`
	BigStateShare float64 `json:"big_state_share"`
	BigStateRate  float64 `json:"big_state_rate"`
}

func ceilDiv(need, per float64) int {
	if per <= 0 || math.IsInf(per, 1) || need <= 0 {
		return 0
	}
	return int(math.Ceil(need/per - 1e-9)) // forgive float noise: 400.0000001 is 400
}

// MakeScalePlan derives the plan from the cluster run's costs and one
// channel's ledger ceiling (perChannel, 0 when not measured). Each part is
// assumed linear in its units: gateways, masters (states' hash tags spread
// over the slots) and batchers are independent; every peer and orderer of a
// channel handles all of the channel's votes, so their cost per vote is the
// measured one per process times the peers (orgs) or orderers per channel.
func MakeScalePlan(c ClusterRun, perChannel float64, machineCores int, g ScaleGoals) ScalePlan {
	p := ScalePlan{PerChannel: perChannel, Channels: ceilDiv(g.RatePerS, perChannel), MachineCores: machineCores}
	specs := []struct{ part, unit string }{
		{PartGateway, "gateway core"}, {PartHAProxy, "HAProxy core"},
		{PartMaster, "master (one core: Redis is single-threaded)"}, {PartReplica, "replica (one per master)"},
		{PartBatcher, "batcher core"}, {PartPeer, "peer core"}, {PartChaincode, "chaincode core"}, {PartOrderer, "orderer core"},
	}
	var masters int
	for _, s := range specs {
		n := c.Units(s.part)
		cost := c.CostPerVote(s.part)
		if n == 0 || cost <= 0 {
			continue
		}
		r := ScaleRow{Part: s.part, Measured: n, Per1000: cost * 1000, Unit: s.unit}
		r.PerUnit = g.Headroom / cost
		r.Cores = g.RatePerS * cost / g.Headroom
		switch s.part {
		case PartMaster:
			// Every master's one core at the headroom, states spread evenly.
			r.PerUnit = g.Headroom / (cost / float64(n))
			r.Need = ceilDiv(g.RatePerS, r.PerUnit)
			masters = r.Need
		case PartReplica:
			r.PerUnit = g.Headroom / (cost / float64(n))
			r.Need = masters
		default:
			r.Need = int(math.Ceil(r.Cores - 1e-9))
		}
		r.PerHost = float64(g.HostCores) * g.Headroom / cost
		r.Hosts = ceilDiv(g.RatePerS, r.PerHost)
		if s.part == PartMaster || s.part == PartReplica {
			r.Hosts = max(r.Hosts, ceilDiv(float64(r.Need), float64(g.HostCores))) // one core per node
		}
		if (s.part == PartPeer || s.part == PartChaincode) && g.Orgs > 0 {
			r.Hosts = max(r.Hosts, g.Orgs) // each organisation runs its own
		}
		p.TotalCores += r.Cores
		p.TotalHosts += r.Hosts
		p.Rows = append(p.Rows, r)
	}
	for i := range p.Rows {
		if p.Rows[i].Part == PartBatcher {
			p.Lanes = max(p.Channels, p.Rows[i].Need, 1)
		}
	}

	// On this machine.
	var total, hot float64
	byPart := map[string]float64{}
	for _, pr := range c.Procs {
		if pr.Part == PartLoadGen {
			continue
		}
		total += pr.CPUS
		byPart[pr.Part] += pr.CPUS
		if pr.Part == PartMaster && pr.CPUS > hot {
			hot, p.HotMaster = pr.CPUS, pr.Name
		}
	}
	if c.Accepted > 0 && total > 0 {
		p.MachineRate = float64(machineCores) * float64(c.Accepted) / total
		for _, part := range sortedKeys(byPart) {
			if share := byPart[part] / total; share > p.TopShare {
				p.TopPart, p.TopShare = part, share
			}
		}
	}
	if hot > 0 {
		p.HotMasterRate = float64(c.Accepted) / hot
	}
	limits := []struct {
		what string
		rate float64
	}{
		{fmt.Sprintf("the machine's %d cores (every process of the shape together)", machineCores), p.MachineRate},
		{fmt.Sprintf("the busiest Redis master's one core (%s)", p.HotMaster), p.HotMasterRate},
		{"the Fabric channel's ledger ceiling", perChannel},
	}
	sort.SliceStable(limits, func(i, j int) bool { return positive(limits[i].rate) < positive(limits[j].rate) })
	if limits[0].rate > 0 {
		p.MachineFirst = fmt.Sprintf("%s at %s votes/s", limits[0].what, num(limits[0].rate))
	}

	// Per added host.
	var low float64
	for _, r := range p.Rows {
		if r.PerHost > 0 && (low == 0 || r.PerHost < low) {
			low, p.HostFirst = r.PerHost, fmt.Sprintf("%s at %s votes/s per %d-core host", r.Part, num(r.PerHost), g.HostCores)
		}
	}

	// The largest state on its one master.
	var sum int
	for _, n := range c.StateVotes {
		sum += n
	}
	for _, s := range sortedKeys(c.StateVotes) {
		if share := float64(c.StateVotes[s]) / float64(sum); share > p.BigStateShare {
			p.BigState, p.BigStateShare = s, share
		}
	}
	p.BigStateRate = p.BigStateShare * g.RatePerS
	return p
}

// positive orders zero (not measured) last.
func positive(x float64) float64 {
	if x <= 0 {
		return math.Inf(1)
	}
	return x
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
