package report

import (
	"strings"
	"testing"
)

func TestMarkdownSaysHowTheReferendumBegan(t *testing.T) {
	r := fixture()
	if strings.Contains(r.Markdown(), "The referendum began") {
		t.Fatal("a wait shown for a run without one")
	}
	parts := []PartCores{{"gateway", 0.19}, {"Redis", 0.21}, {"explorer", 0.05}, {"peers", 0.6}}
	r.ReferendumStart = PhaseStart{WaitS: 41.5, CaughtUp: true, LimitS: 180, Behind: 120, Queued: 0, Busy: 1.5, Parts: parts}
	md := r.Markdown()
	hasAll(t, md,
		"the wait took 41.5 s (bound 180 s), from the explorer 120 blocks behind the channel and 0 votes queued",
		"In the phase the machine held 1.50 cores busy: gateway 0.19, Redis 0.21, explorer 0.05, peers 0.60, other users 0.45.",
	)
	r.ReferendumStart = PhaseStart{WaitS: 180, LimitS: 180, Note: "the explorer was still 7 blocks behind and 0 votes queued", Busy: 1, Parts: parts}
	if md := r.Markdown(); !strings.Contains(md, "waiting 180.0 s (the bound) for the ledger side to catch up, which it had not: the explorer was still 7 blocks behind") {
		t.Errorf("markdown of a wait that hit its bound:\n%s", md)
	}
}

func TestMarkdownSaysHowTheCeilingAfterIntakeBegan(t *testing.T) {
	r := fixture()
	if strings.Contains(r.Markdown(), "The ceiling after the intake phases began") {
		t.Fatal("a wait shown for a run without one")
	}
	r.CeilingStart = PhaseStart{WaitS: 12.5, CaughtUp: true, LimitS: 180, Behind: 90, Queued: 0}
	hasAll(t, r.Markdown(), "The ceiling after the intake phases began once the ledger side had caught up with the phases before it: the wait took 12.5 s (bound 180 s), from the explorer 90 blocks behind the channel")
}
