package suite

import (
	"strings"
	"testing"

	"github.com/votechain/votechain/bench/ledgerload"
	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/bench/report"
)

func ceiling(consensus string, counted float64) report.Ceiling {
	return report.Ceiling{Consensus: consensus, Drive: ledgerload.DriveResult{CountedPerS: counted}}
}

// TestBFTOverRaft: the ratio is BFT's ceiling over Raft's whichever is the
// run's consensus, taken like for like from the eligibility pair's
// unsealed network when there is one.
func TestBFTOverRaft(t *testing.T) {
	raft := ceiling("raft", 20800)
	for _, c := range []struct {
		name  string
		l     report.LedgerSide
		ratio string
		met   bool
	}{
		{"like for like", report.LedgerSide{Consensus: "bft", Fresh: ceiling("", 6000), Other: &raft,
			Eligibility: &report.Eligibility{Unsealed: ceiling("bft", 18400)}}, "0.88 (18400 / 20800", true},
		{"no eligibility pair: the run's network", report.LedgerSide{Consensus: "bft", Fresh: ceiling("", 6000), Other: &raft}, "0.29 (6000 / 20800", false},
		{"raft run, bft other", report.LedgerSide{Consensus: "raft", Fresh: ceiling("", 10000), Other: &report.Ceiling{Consensus: "bft", Drive: ledgerload.DriveResult{CountedPerS: 9000}}}, "0.90 (9000 / 10000", true},
	} {
		got, ok := bftOverRaft(c.l)
		if !ok || !strings.HasPrefix(got.Measured, c.ratio) || got.Met != c.met || !strings.HasPrefix(got.Name, "bft ceiling ÷ raft ceiling") {
			t.Errorf("%s: %+v (%v); want %q..., met %v", c.name, got, ok, c.ratio, c.met)
		}
	}
	if _, ok := bftOverRaft(report.LedgerSide{Fresh: ceiling("", 6000)}); ok {
		t.Error("a target without the other consensus measured")
	}
}

func TestStartedAfter(t *testing.T) {
	for _, c := range []struct {
		s    report.PhaseStart
		want string
	}{
		{report.PhaseStart{LimitS: 180, WaitS: 41.4, CaughtUp: true, Busy: 1.2}, "after 41 s of catch-up; machine 1.20 cores busy"},
		{report.PhaseStart{LimitS: 180, WaitS: 180, Busy: 2}, "not caught up after 180 s; machine 2.00 cores busy"},
		{report.PhaseStart{Busy: 0.5}, "no catch-up wait; machine 0.50 cores busy"},
	} {
		if got := startedAfter(c.s); got != c.want {
			t.Errorf("startedAfter(%+v) = %q, want %q", c.s, got, c.want)
		}
	}
}

// TestInGatewayText: the 10,000/s target names the gateway's own p99 when
// the phase measured it, and nothing when it did not.
func TestInGatewayText(t *testing.T) {
	if got := inGatewayText(nil); got != "" {
		t.Errorf("not measured: %q", got)
	}
	if got := inGatewayText(&measure.Estimate{P99ms: 9.6}); !strings.Contains(got, "in the gateway, from its handler's start, p99 9.6 ms") {
		t.Errorf("measured: %q", got)
	}
}
