package aofrewrite_test

import (
	"testing"
	"time"

	"github.com/votechain/votechain/internal/aofrewrite"
)

// TestDecideSharedUnknownIntake: a master whose latest interval is not
// measured (its own rewrite just began, or it has one sample after a
// failover) may be taking votes at any rate: the quiet masters beside it
// wait. (Found by review: before, such a master added 0 to the sum.)
func TestDecideSharedUnknownIntake(t *testing.T) {
	const base = 40 * mib
	quiet := func() []aofrewrite.Sample { return series(5*time.Second, base, grow(base+100*mib, 5*300, 13)...) }
	busy := func() []aofrewrite.Sample { return series(5*time.Second, base, grow(base+100*mib, 5*500_000, 13)...) }
	cases := map[string][]aofrewrite.Sample{
		"its own rewrite just began": with(busy(), func(s *aofrewrite.Sample) { s.Rewrites++; s.Rewriting = true }),
		"one sample (just promoted)": busy()[12:],
	}
	for name, m1 := range cases {
		ds := testPolicy.DecideShared(map[string][]aofrewrite.Sample{"m0": quiet(), "m1": m1, "m2": quiet()})
		for _, addr := range []string{"m0", "m2"} {
			if d := ds[addr]; d.Rewrite || d.Reason != aofrewrite.ReasonSharedUnknown {
				t.Errorf("%s: %s: %v; want to wait (%s)", name, addr, d, aofrewrite.ReasonSharedUnknown)
			}
		}
	}
	// Once its latest interval is measured again, its rate over the window
	// counts, across its rewrite: still busy, the others still wait.
	after := append(with(busy(), func(s *aofrewrite.Sample) { s.Rewrites++ }), aofrewrite.Sample{})
	last := after[len(after)-2]
	last.At, last.CurrentBytes, last.Rewriting = last.At.Add(5*time.Second), last.CurrentBytes+5*300, false
	after[len(after)-1] = last
	ds := testPolicy.DecideShared(map[string][]aofrewrite.Sample{"m0": quiet(), "m1": after, "m2": quiet()})
	if d := ds["m0"]; d.Rewrite || d.Reason != aofrewrite.ReasonSharedIntake {
		t.Errorf("m1 measured again after its rewrite, busy before it within the window: m0 %v; want to wait (%s)", d, aofrewrite.ReasonSharedIntake)
	}
	// All quiet and measured: the quiet ones past the threshold rewrite.
	ds = testPolicy.DecideShared(map[string][]aofrewrite.Sample{"m0": quiet(), "m1": quiet(), "m2": quiet()})
	for _, addr := range []string{"m0", "m1", "m2"} {
		if !ds[addr].Rewrite {
			t.Errorf("all quiet: %s: %v; want a rewrite", addr, ds[addr])
		}
	}
}
