package suite

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/bench/ledgerload"
	"github.com/votechain/votechain/bench/report"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/test-network/nettest"
)

// TestEligibilityPair runs the eligibility phase with a short plan: both
// ceilings are measured on their own fresh networks, every vote is counted
// on both (on the sealed one because each voter is on its roll), and the
// ratio is the sealed one's counted/s over the other's. The election has
// two contests, so the roll and the votes are spread over both.
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
	}
	if want := el.Sealed.Drive.CountedPerS / el.Unsealed.Drive.CountedPerS; el.Ratio != want {
		t.Errorf("ratio %.3f, want %.3f", el.Ratio, want)
	}
	t.Logf("%d voters; sealed %.0f counted/s, unsealed %.0f (%.2f×)", el.Voters, el.Sealed.Drive.CountedPerS, el.Unsealed.Drive.CountedPerS, el.Ratio)
}

// shortRun is a run of election e on BFT with a short plan and the best
// setting known, for the phases that bring up their own networks.
func shortRun(t *testing.T, e *ballot.Election) *run {
	cfg := nettest.Config(t)
	plan := Plan{Warmup: time.Second, CeilingDur: 3 * time.Second, CeilingVotes: 200, CeilingFlight: 4, DriveRate: 10_000, DriveTxRate: 1_000}
	return &run{
		cfg: Config{Plan: plan, Stack: StackConfig{Dir: filepath.Dir(cfg.Dir), PortBase: cfg.PortBase, BinDir: filepath.Dir(cfg.Chaincode),
			FabricBin: cfg.FabricBin, Builder: cfg.Builder, Log: cfg.Log}},
		rep:      &report.Report{Ledger14: report.LedgerSide{Consensus: string(network.BFT)}},
		election: e, best: ledgerload.DriveResult{VotesPerTx: 200, InFlight: 4}, nextSeq: ledgerload.SeqBaseFor(time.Now()),
	}
}
