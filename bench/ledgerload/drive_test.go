package ledgerload

import (
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
)

// TestRollVoters: batches cast with Drive.Roll take each state's roll
// voters in turn, each once, and stay valid; an exhausted roll is an error.
func TestRollVoters(t *testing.T) {
	var roll []ballot.RollEntry
	for i := range 6 {
		roll = append(roll, ballot.RollEntry{State: []string{"CA", "TX"}[i%2], Nullifier: ballot.HashHex([32]byte{byte(i)})})
	}
	v := newRollVoters(roll)
	seen := map[string]bool{}
	for seq := range uint64(3) {
		b, err := RandomBatch("CA", seq, []string{"alice"}, 1, time.Now())
		if err == nil {
			b, err = v.cast(b)
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Verify(); err != nil || seen[b.Votes[0].Nullifier] {
			t.Fatalf("batch %d: %v, voter %s seen before: %v", seq, err, b.Votes[0].Nullifier, seen[b.Votes[0].Nullifier])
		}
		if n := b.Votes[0].Nullifier; n != roll[2*seq].Nullifier {
			t.Fatalf("batch %d cast by %s, want the CA voter %s", seq, n, roll[2*seq].Nullifier)
		}
		seen[b.Votes[0].Nullifier] = true
	}
	b, _ := RandomBatch("CA", 9, []string{"alice"}, 1, time.Now())
	if _, err := v.cast(b); err == nil {
		t.Error("an exhausted roll cast a batch")
	}
}
