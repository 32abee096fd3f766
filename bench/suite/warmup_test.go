package suite

import (
	"strings"
	"testing"
	"time"
)

// TestWarmupStop: a warm-up ends after the first slice whose page faults
// took less than MaxShare of the ledger CPU, and otherwise only once a
// slice committed nothing, the bound passed, or the spare roll voters do
// not cover another slice; a share not known never counts as warm, and
// random voters (no spare bound) never stop it.
func TestWarmupStop(t *testing.T) {
	rule := WarmupRule{Slice: 5 * time.Second, MaxShare: 0.10, Limit: 45 * time.Second}
	const next = 1_000
	for _, c := range []struct {
		name string
		s    warmupSlice
		stop bool
		why  string
	}{
		{"cold, early", warmupSlice{Elapsed: 5 * time.Second, Share: 0.48, Votes: 60_000, Spare: -1}, false, ""},
		{"warm", warmupSlice{Elapsed: 15 * time.Second, Share: 0.07, Votes: 60_000, Spare: -1}, true, "warm: page faults took 7.0% of the ledger CPU in the last slice, under 10%"},
		{"at the share", warmupSlice{Elapsed: 15 * time.Second, Share: 0.10, Votes: 60_000, Spare: -1}, false, ""},
		{"no faults", warmupSlice{Elapsed: 5 * time.Second, Share: 0, Votes: 60_000, Spare: 0}, true, "warm:"},
		{"warm at the bound", warmupSlice{Elapsed: 50 * time.Second, Share: 0.05, Votes: 60_000, Spare: 0}, true, "warm:"},
		{"share unknown", warmupSlice{Elapsed: 40 * time.Second, Share: -1, Votes: 60_000, Spare: -1}, false, ""},
		{"share unknown, bound", warmupSlice{Elapsed: 45 * time.Second, Share: -1, Votes: 60_000, Spare: -1}, true, "not warm: its bound, 45s, passed"},
		{"cold at the bound", warmupSlice{Elapsed: 46 * time.Second, Share: 0.30, Votes: 60_000, Spare: -1}, true, "not warm: its bound"},
		{"nothing committed", warmupSlice{Elapsed: 5 * time.Second, Share: -1, Votes: 0, Spare: -1}, true, "not warm: the last slice committed no votes"},
		{"voters short", warmupSlice{Elapsed: 10 * time.Second, Share: 0.30, Votes: 60_000, Spare: next - 1}, true, "not warm: the 999 roll voters left beyond the measured drive's do not cover another slice (up to 1000)"},
		{"voters enough", warmupSlice{Elapsed: 10 * time.Second, Share: 0.30, Votes: 60_000, Spare: next}, false, ""},
	} {
		stop, why := rule.stop(c.s, next)
		if stop != c.stop || !strings.HasPrefix(why, c.why) || (c.why == "") != (why == "") {
			t.Errorf("%s: stop %v (%q), want %v (%q…)", c.name, stop, why, c.stop, c.why)
		}
	}
}

// TestWarmupVoters: the eligibility pair's roll covers a warm-up committing
// at DriveRate to its bound and the measured drive after it at the extra
// rate; a warm-up committing at the extra rate's bound stops for want of
// voters before it eats into the measured drive's; a plan without a
// warm-up adds nothing to the roll.
func TestWarmupVoters(t *testing.T) {
	p := Plan{Warmup: time.Second, CeilingDur: 4 * time.Second, CeilingVotes: 500, CeilingFlight: 4, DriveRate: 1_000, DriveTxRate: 100, ExtraDriveRate: 3_000}
	if n := p.extraWarmupVoters(); n != 0 {
		t.Errorf("no warm-up: %d voters for it, want 0", n)
	}
	p.ExtraWarmup = WarmupRule{Slice: 2 * time.Second, MaxShare: 0.10, Limit: 10 * time.Second}
	// 1,000/s over 10 s, and one slice at 3,000/s, each with 4×500 in flight.
	if got, want := p.extraWarmupVoters(), 1_000*10+2_000+3_000*2+2_000; got != want {
		t.Errorf("warm-up voters %d, want %d", got, want)
	}
	next := p.extraSliceVoters(500, 4)
	// cold slices each casting what they may at a rate; returns the slices
	// run, why the warm-up stopped, and the voters left after it.
	warm := func(perSlice int) (int, string, int) {
		left := p.extraWarmupVoters() + p.extraCeilingVoters()
		for i := 1; ; i++ {
			left -= perSlice
			s := warmupSlice{Elapsed: time.Duration(i) * p.ExtraWarmup.Slice, Share: 0.40, Votes: perSlice, Spare: left - p.extraCeilingVoters()}
			if stop, why := p.ExtraWarmup.stop(s, next); stop {
				return i, why, left
			}
		}
	}
	slices, why, left := warm(int(p.DriveRate * p.ExtraWarmup.Slice.Seconds()))
	if slices != 5 || !strings.Contains(why, "bound") || left < p.extraCeilingVoters() {
		t.Errorf("at DriveRate: %d slices, %q, %d voters left; want 5 slices to the bound and the ceiling's %d left", slices, why, left, p.extraCeilingVoters())
	}
	slices, why, left = warm(next)
	if !strings.Contains(why, "roll voters") || left < p.extraCeilingVoters() || slices >= 5 {
		t.Errorf("at the extra rate's bound: %d slices, %q, %d voters left; want a stop for voters with the ceiling's %d left", slices, why, left, p.extraCeilingVoters())
	}
}
