package report

import (
	"strings"
	"testing"

	"github.com/votechain/votechain/bench/ledgerload"
)

// TestMarkdownWarmup: the ledger section says, per extra network, how long
// its warm-up took, each slice's page faults and share of the ledger CPU,
// the measured drive's, and why the warm-up ended; a report without
// warm-ups (or from before them) says nothing of one.
func TestMarkdownWarmup(t *testing.T) {
	r := fixture()
	other := Ceiling{Consensus: "raft", Drive: ledgerload.DriveResult{VotesPerTx: 2000, InFlight: 16, Txs: 3, CountedPerS: 6000}, Faults: Faults{PageFaultsPer1000: 150, PageFaultCPUShare: 0.03}}
	r.Ledger14.Other = &other
	r.Ledger14.Eligibility = &Eligibility{Voters: 100, Sealed: other, Unsealed: other}
	if md := r.Markdown(); strings.Contains(md, "Warm-up") {
		t.Fatal("a report without warm-ups mentions one")
	}
	other.Warmup = &Warmup{LimitS: 45, MaxShare: 0.1, DurationS: 16.4, Stopped: "warm: page faults took 7% of the ledger CPU in the last slice, under 10%", Slices: []WarmupSlice{
		{DurationS: 5.2, Votes: 40_000, Counted: 40_000, Faults: Faults{PageFaultsPer1000: 6000, PageFaultCPUShare: 0.48}},
		{DurationS: 5.1, Votes: 50_000, Counted: 50_000, Faults: Faults{PageFaultsPer1000: 2000, PageFaultCPUShare: 0.21}},
		{DurationS: 5.1, Votes: 60_000, Counted: 60_000, Faults: Faults{PageFaultsPer1000: 500, PageFaultCPUShare: 0.07}},
	}}
	r.Ledger14.Other = &other
	r.Ledger14.Eligibility.Unsealed.Warmup = &Warmup{LimitS: 45, MaxShare: 0.1, DurationS: 47, Stopped: "not warm: its bound, 45s, passed", Slices: []WarmupSlice{{Votes: 1_000, Faults: Faults{PageFaultsPer1000: 9000}}}}
	md := r.Markdown()
	for _, want := range []string{
		"until its ledger processes' page faults took under 10% of their CPU in a slice, or 45 s passed.",
		"other consensus (raft): 16 s in 3 slices, 150,000 votes (page faults per 1,000 votes, share of the ledger CPU: 6000 (48%), 2000 (21%), 500 (7%); the measured drive 150 (3%)), ended as warm: page faults took 7%",
		"; no roll: 47 s in 1 slice, 1,000 votes (page faults per 1,000 votes, share of the ledger CPU: 9000; the measured drive 150 (3%)), ended as not warm: its bound, 45s, passed.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if strings.Contains(md, "roll sealed: ") {
		t.Error("markdown gives a warm-up for the sealed network, which had none")
	}
}
