package suite

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/bench/ledgerload"
	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/bench/report"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/test-network/nettest"
)

// TestEligibilityPair runs the eligibility phase with a short plan: both
// ceilings are measured on their own fresh networks, every vote is counted
// on both (on the sealed one because each voter is on its roll), and the
// ratio is the sealed one's counted/s over the other's; each network's CPU
// book is in the report. The election has two contests, so the roll and
// the votes are spread over both.
func TestEligibilityPair(t *testing.T) {
	e := nettest.Election([]string{"CA", "TX"}, []string{"alice", "bob"})
	e.Contests = append(e.Contests, ballot.Contest{ID: "prop-1", Title: "Proposition 1", Kind: ballot.ContestQuestion, Choices: []string{"yes", "no"}})
	r := shortRun(t, &e)
	r.eligibility(t.Context())
	el := r.rep.Ledger14.Eligibility
	if el == nil || el.Note != "" || r.fatal != nil {
		t.Fatalf("eligibility: %+v, run error %v", el, r.fatal)
	}
	for name, c := range map[string]report.Ceiling{"sealed": el.Sealed, "unsealed": el.Unsealed} {
		d := c.Drive
		if d.Txs == 0 || d.Errors > 0 || d.Rejected > 0 || d.Counted != d.AllVotes || d.CountedPerS <= 0 || c.Consensus != string(network.BFT) {
			t.Errorf("%s: %+v; want votes counted, none rejected, no errors, on bft", name, c)
		}
		checkWarmup(t, name, c, r.cfg.Plan.ExtraWarmup)
	}
	checkExtraCPU(t, r.rep, "ceiling-roll-sealed", "ceiling-roll-sealed")
	checkExtraCPU(t, r.rep, "ceiling-roll-unsealed", "ceiling-roll-unsealed")
	if want := r.cfg.Plan.extraWarmupVoters() + r.cfg.Plan.extraCeilingVoters(); el.Voters != want || el.Sealed.RollEntries != want {
		t.Errorf("roll of %d voters, %d sealed; want %d, the warm-up's and the ceiling's", el.Voters, el.Sealed.RollEntries, want)
	}
	if want := el.Sealed.Drive.CountedPerS / el.Unsealed.Drive.CountedPerS; el.Ratio != want {
		t.Errorf("ratio %.3f, want %.3f", el.Ratio, want)
	}
	t.Logf("%d voters; sealed %.0f counted/s, unsealed %.0f (%.2f×)", el.Voters, el.Sealed.Drive.CountedPerS, el.Unsealed.Drive.CountedPerS, el.Ratio)
}

// checkWarmup checks the warm-up before c, the first measured drive on an
// extra network: at least one slice, each committing votes, every one
// counted (on a sealed roll: each of a voter on it who had not voted), the
// page faults' share of the ledger CPU known for each, a reason it ended,
// and no more slices than the rule's bound allows.
func checkWarmup(t *testing.T, name string, c report.Ceiling, rule WarmupRule) {
	t.Helper()
	w := c.Warmup
	if w == nil || len(w.Slices) == 0 || w.Stopped == "" || w.LimitS != rule.Limit.Seconds() || w.MaxShare != rule.MaxShare {
		t.Errorf("%s: warm-up %+v; want slices, a reason it ended and the rule", name, w)
		return
	}
	for i, s := range w.Slices {
		if s.Votes == 0 || s.Counted != s.Votes || s.PageFaultsPer1000 <= 0 || s.PageFaultCPUShare <= 0 {
			t.Errorf("%s: warm-up slice %d: %+v; want votes, all counted, page faults and their share", name, i, s)
		}
	}
	if most := int(rule.Limit/rule.Slice) + 1; len(w.Slices) > most {
		t.Errorf("%s: %d warm-up slices, more than the %d its bound allows", name, len(w.Slices), most)
	}
	t.Logf("%s: warm-up %.1f s, %d slices, %d votes, %s; measured drive %s", name, w.DurationS, len(w.Slices), w.Votes(), w.Stopped, c.FaultsText())
	for i, s := range w.Slices {
		t.Logf("%s: warm-up slice %d: %.1f s, %d votes, page faults %s", name, i, s.DurationS, s.Votes, s.FaultsText())
	}
}

// checkExtraCPU checks the CPU book of the extra network brought up as
// network in the report: its warm-up's phase and its measured drive's,
// the load generator and its first orderer busy in the measured one.
func checkExtraCPU(t *testing.T, rep *report.Report, network, measured string) {
	t.Helper()
	for _, n := range rep.ExtraCPU {
		if n.Network != network {
			continue
		}
		if !slices.Contains(n.Phases, network+"-warmup") || !slices.Contains(n.Phases, measured) {
			t.Errorf("%s: CPU phases %q; want its warm-up's and %s", network, n.Phases, measured)
		}
		busy := map[string]float64{}
		for _, c := range n.CPU {
			busy[c.Name] = c.Cores[measured]
		}
		if busy[loadGenerator] <= 0 || busy["orderer0"] <= 0 {
			t.Errorf("%s: cores in %s %v; want the load generator's and orderer0's", network, measured, busy)
		}
		return
	}
	t.Errorf("no CPU book of %s in the report (%d extra networks)", network, len(rep.ExtraCPU))
}

// shortRun is a run of election e on BFT with a short plan (warm-ups of
// 2 s slices, at most 6 s) and the best setting known, for the phases that
// bring up their own networks, with the machine's cost per page fault
// measured, as a run does first.
func shortRun(t *testing.T, e *ballot.Election) *run {
	cfg := nettest.Config(t)
	plan := Plan{Warmup: time.Second, CeilingDur: 3 * time.Second, CeilingVotes: 200, CeilingFlight: 4, DriveRate: 10_000, DriveTxRate: 1_000,
		ExtraWarmup: WarmupRule{Slice: 2 * time.Second, MaxShare: 0.10, Limit: 6 * time.Second}}
	fault, err := measure.MeasurePageFaultCost(pageFaultProbeBytes, pageFaultProbeRounds)
	if err != nil {
		t.Fatal(err)
	}
	return &run{
		cfg: Config{Plan: plan, Stack: StackConfig{Dir: filepath.Dir(cfg.Dir), PortBase: cfg.PortBase, BinDir: filepath.Dir(cfg.Chaincode),
			FabricBin: cfg.FabricBin, Builder: cfg.Builder, Log: cfg.Log}},
		rep:      &report.Report{Ledger14: report.LedgerSide{Consensus: string(network.BFT)}, Machine: measure.Machine{PageFaultStart: &fault}},
		election: e, best: ledgerload.DriveResult{VotesPerTx: 200, InFlight: 4}, nextSeq: ledgerload.SeqBaseFor(time.Now()),
	}
}
