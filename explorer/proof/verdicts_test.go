package proof_test

import (
	"slices"
	"testing"

	"github.com/votechain/votechain/explorer/proof"
)

// Emptying one call's slice of Verdicts leaves the next call the three
// verdict constants, in order.
func TestVerdictsIsANewSliceEachCall(t *testing.T) {
	clear(proof.Verdicts())
	want := []string{proof.VerdictPass, proof.VerdictFail, proof.VerdictNotIndexed}
	if again := proof.Verdicts(); !slices.Equal(again, want) {
		t.Errorf("a caller's change to Verdicts' slice shows in the next call: %q, want %q", again, want)
	}
}
