package suite

import (
	"strings"
	"testing"
	"time"
)

// TestQuickPlan: the quick plan shortens the phases and keeps the extra
// networks' warm-up, bounded at two of its slices: a cold warm-up stops
// for its bound after the second slice, and the eligibility pair's roll
// grows by what the quick.go comment says. A plan without a warm-up gets
// none, and one bounded below two slices keeps its bound.
func TestQuickPlan(t *testing.T) {
	full := DefaultPlan()
	q := full.Quick()
	for name, d := range map[string][2]time.Duration{
		"sweep":      {q.SweepDur, full.SweepDur},
		"ceiling":    {q.CeilingDur, full.CeilingDur},
		"naive":      {q.NaiveDur, full.NaiveDur},
		"fill":       {q.FillLimit, full.FillLimit},
		"referendum": {q.ReferendumDur, full.ReferendumDur},
		"sustained":  {q.SustainedDur, full.SustainedDur},
		"probe":      {q.ProbeDur, full.ProbeDur},
		"ramp step":  {q.RampStep, full.RampStep},
		"fixed":      {q.FixedDur, full.FixedDur},
		"surge":      {q.SurgeDur, full.SurgeDur},
		"storm":      {q.StormDur, full.StormDur},
		"reads":      {q.ReadDur, full.ReadDur},
		"warm-up":    {q.ExtraWarmup.Limit, full.ExtraWarmup.Limit},
	} {
		if d[0] <= 0 || d[0] >= d[1] {
			t.Errorf("%s: %s quick, %s in full; want shorter, not none", name, d[0], d[1])
		}
	}
	w := q.ExtraWarmup
	if w.Slice != full.ExtraWarmup.Slice || w.MaxShare != full.ExtraWarmup.MaxShare || w.Limit != 2*w.Slice {
		t.Errorf("quick warm-up %+v; want the full plan's slices and share (%+v), bounded at two slices", w, full.ExtraWarmup)
	}
	var n int
	for n = 1; ; n++ {
		s := warmupSlice{Elapsed: time.Duration(n) * w.Slice, Share: 0.30, Votes: 60_000, Spare: -1}
		if stop, why := w.stop(s, 0); stop {
			if !strings.Contains(why, "its bound, 10s, passed") {
				t.Errorf("a cold quick warm-up stopped: %q; want its bound", why)
			}
			break
		}
	}
	if n != 2 {
		t.Errorf("a cold quick warm-up ran %d slices, want 2", n)
	}
	// 25,000 votes/s over the bound and one 5 s slice at 50,000/s, each
	// with 2,000 × 32 votes in flight.
	long := q
	long.ExtraWarmup.Limit = full.ExtraWarmup.Limit
	if got, was := q.extraWarmupVoters(), long.extraWarmupVoters(); got != 628_000 || was != 1_503_000 {
		t.Errorf("the quick warm-up's roll voters %d (at a 45 s bound %d); want 628,000 (1,503,000)", got, was)
	}

	none := full
	none.ExtraWarmup.Limit = 0
	if got := none.Quick().ExtraWarmup.Limit; got != 0 {
		t.Errorf("a plan without a warm-up has one of %s in quick", got)
	}
	short := full
	short.ExtraWarmup.Limit = 3 * time.Second
	if got := short.Quick().ExtraWarmup.Limit; got != 3*time.Second {
		t.Errorf("a warm-up bounded at 3 s is bounded at %s in quick", got)
	}
}
