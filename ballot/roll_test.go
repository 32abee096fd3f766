package ballot

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
)

// testRoll returns n roll entries of distinct nullifiers, sorted, and their
// roll root computed over all leaves at once (RollRoot).
func testRoll(n int) ([]RollEntry, string) {
	entries := make([]RollEntry, n)
	for i := range entries {
		entries[i] = RollEntry{State: "TX", Nullifier: HashHex(sha256.Sum256(fmt.Appendf(nil, "voter %d", i)))}
	}
	root := RollRoot(entries)
	return entries, root
}

// TestSealRoll: chunk roots combine into the root over all nullifiers, for
// rolls of zero, one, a full chunk and several chunks with a partial last.
func TestSealRoll(t *testing.T) {
	for _, n := range []int{0, 1, 5, RollChunkEntries, RollChunkEntries + 1, 3*RollChunkEntries + 77} {
		entries, root := testRoll(n)
		var recs []RollChunkRecord
		for _, c := range ChunkRoll(entries) {
			r, err := c.Check()
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, r)
		}
		seal, err := SealRoll(root, recs)
		if err != nil || seal.Voters != n || seal.Chunks != len(recs) || seal.Root != root {
			t.Fatalf("%d voters: seal %+v, %v", n, seal, err)
		}
		if n > RollChunkEntries {
			if _, err := SealRoll(root, recs[:len(recs)-1]); !errors.Is(err, ErrRollRoot) {
				t.Errorf("%d voters, last chunk missing: %v", n, err)
			}
			if _, err := SealRoll(root, recs[1:]); err == nil {
				t.Errorf("%d voters, first chunk missing: sealed", n)
			}
		}
	}
}

// TestRollChunkCheck refuses chunks a roll cannot be made of.
func TestRollChunkCheck(t *testing.T) {
	entries, _ := testRoll(3)
	swapped := []RollEntry{entries[1], entries[0], entries[2]}
	repeated := []RollEntry{entries[0], entries[0]}
	bad := []RollEntry{{State: "tx", Nullifier: entries[0].Nullifier}}
	for name, c := range map[string]RollChunk{
		"unsorted": {Entries: swapped}, "repeated": {Entries: repeated}, "bad state": {Entries: bad},
		"empty": {}, "negative index": {Index: -1, Entries: entries}, "too long": {Entries: make([]RollEntry, RollChunkEntries+1)},
	} {
		if _, err := c.Check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
