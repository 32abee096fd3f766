package verify

import (
	"fmt"
	"testing"
)

// TestVerdict: a check's outcomes come to their gravest finding: any
// failure (FAIL, FORK, BAD-PROOF, MISSING, UNLOGGED) is Failed whatever
// else; then some UNCHECKED is Unchecked (not complete); then a vote
// rejected as a duplicate of another vote counted first, Duplicate, before
// Pending; all passed is Passed. missingUnchecked, a cross-cut and no
// outcome, weighs nothing of its own. Two outcomes together come to the
// graver verdict of the two.
func TestVerdict(t *testing.T) {
	for _, c := range []struct {
		o    Outcomes
		want Verdict
	}{
		{Outcomes{}, Passed},
		{Outcomes{ok: 2}, Passed},
		{Outcomes{ok: 1, pending: 1}, Pending},
		{Outcomes{pending: 1, unchecked: 1}, Unchecked},
		{Outcomes{fail: 1, unchecked: 1, pending: 1}, Failed},
		{Outcomes{missing: 1, unchecked: 1}, Failed},
		{Outcomes{unlogged: 1}, Failed},
		{Outcomes{fork: 1, unchecked: 1}, Failed},
		{Outcomes{badProof: 1, pending: 1}, Failed},
		{Outcomes{unchecked: 1, missingUnchecked: 1}, Unchecked},
		{Outcomes{ok: 1, otherCounted: 1, pending: 1}, Duplicate},
		{Outcomes{otherCounted: 1, unchecked: 1}, Unchecked},
		{Outcomes{otherCounted: 1, fail: 1}, Failed},
	} {
		if got := c.o.Verdict(); got != c.want {
			t.Errorf("%+v: verdict %v; want %v", c.o, got, c.want)
		}
	}
	single := []Outcomes{{fail: 1}, {fork: 1}, {badProof: 1}, {missing: 1}, {unlogged: 1}, {unchecked: 1}, {otherCounted: 1}, {pending: 1}, {ok: 1}}
	for _, a := range single {
		for _, b := range single {
			if got, want := a.Plus(b).Verdict(), max(a.Verdict(), b.Verdict()); got != want {
				t.Errorf("%+v and %+v: verdict %v; want %v, the graver", a, b, got, want)
			}
		}
	}
}

// TestVerdictString: a verdict prints as its constant's name, so that a
// test's failure says "verdict Unchecked; want Failed", not "3; want 4";
// a value that is no verdict prints its number.
func TestVerdictString(t *testing.T) {
	want := map[Verdict]string{Passed: "Passed", Pending: "Pending", Duplicate: "Duplicate", Unchecked: "Unchecked", Failed: "Failed", Failed + 1: "Verdict(5)", -1: "Verdict(-1)"}
	for v, name := range want {
		if got := fmt.Sprint(v); got != name {
			t.Errorf("verdict %d prints %q; want %q", int(v), got, name)
		}
	}
}
