package index

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
)

// rowCounts is the rows of vote_keys, vote_keys_recent, used_votes and
// used_votes_recent, as the committed index has them.
func rowCounts(t *testing.T, x *Index) (counts [4]int64) {
	t.Helper()
	for i, table := range []string{"vote_keys", "vote_keys_recent", "used_votes", "used_votes_recent"} {
		if err := x.db.QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&counts[i]); err != nil {
			t.Fatal(err)
		}
	}
	return counts
}

// findAll checks that every one of votes is found by its id (Vote) and
// its nullifier used (UsedNullifiers, on the committed index and in a
// Writer, whose filter is rebuilt when the index is reopened), and that
// no other nullifier is.
func findAll(t *testing.T, x *Index, votes []ballot.Vote) {
	t.Helper()
	ctx := context.Background()
	keys := make([]audit.Nullifier, 0, len(votes)+1)
	for _, v := range votes {
		got, err := x.Vote(ctx, v.ID)
		if err != nil || got.Vote != v {
			t.Fatalf("vote %s: %+v, %v", v.ID, got, err)
		}
		keys = append(keys, audit.Nullifier{State: v.State, Nullifier: v.Nullifier})
	}
	keys = append(keys, audit.Nullifier{State: "CA", Nullifier: "00"})
	w, err := x.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Rollback()
	for name, h := range map[string]history{"index": x.history, "writer": w.history} {
		used, err := h.UsedNullifiers(keys)
		if err != nil || len(used) != len(votes) || used[keys[len(votes)]] {
			t.Fatalf("%s: %d of %d nullifiers used (and the unused one %v), %v", name, len(used), len(votes), used[keys[len(votes)]], err)
		}
	}
}

// TestRecentKeysMerged: the vote keys a Writer saves land in the recent
// tables and move to the large ones in slices once the recent tables hold
// more than mergeRows; every vote is found wherever its keys are, after
// each commit and after reopening the index, and no key is lost or
// duplicated.
func TestRecentKeysMerged(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "index.db")
	x, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { x.Close() }()
	x.mergeRows, x.directRows, x.flushRows = 30, -1, 1 // every commit writes its keys
	rng := rand.New(rand.NewPCG(1, 2))
	var votes []ballot.Vote
	for n := range uint64(6) {
		r := votesReport(t, rng, n, 2, 10) // 20 votes a block
		w, err := x.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Save(ctx, r); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		for _, bt := range r.Batches {
			votes = append(votes, bt.Batch.Votes...)
		}
		c := rowCounts(t, x)
		if c[0]+c[1] != int64(len(votes)) || c[2]+c[3] != int64(len(votes)) {
			t.Fatalf("after block %d: %v rows; want %d of each kind", n, c, len(votes))
		}
		if c[1] != x.keys.rows || c[1] > 30 {
			t.Fatalf("after block %d: %d recent vote keys, the index counts %d; want at most 30", n, c[1], x.keys.rows)
		}
		if n == 0 && c[0] != 0 {
			t.Fatalf("after block 0: %v rows; want all in the recent tables", c)
		}
		findAll(t, x, votes)
	}
	c := rowCounts(t, x)
	if c[0] == 0 || c[1] == 0 || x.keys.next == 0 {
		t.Fatalf("%v rows, next slice %d; want rows in both tables and slices merged", c, x.keys.next)
	}
	x.Close()
	if x, err = Open(path); err != nil {
		t.Fatal(err)
	}
	findAll(t, x, votes)
	if !x.keys.counted || x.keys.rows != c[1] {
		t.Fatalf("reopened: recent rows %+v; want %d counted", x.keys, c[1])
	}
}

// TestRecentMergeRolledBack: a merge is part of its Writer's
// transaction: rolled back, it leaves the tables and what the index knows
// of them as they were, and a later Writer merges again. Merging a slice
// twice moves nothing the second time.
func TestRecentMergeRolledBack(t *testing.T) {
	ctx := context.Background()
	x, err := Open(filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	x.directRows, x.flushRows = -1, 1 // every commit writes its keys
	rng := rand.New(rand.NewPCG(3, 4))
	r := votesReport(t, rng, 0, 4, 50)
	if err := x.Save(ctx, r); err != nil { // 200 keys of each kind, below recentMergeRows
		t.Fatal(err)
	}
	var votes []ballot.Vote
	for _, bt := range r.Batches {
		votes = append(votes, bt.Batch.Votes...)
	}
	before, known := rowCounts(t, x), x.keys
	if before != [4]int64{0, 200, 0, 200} || known.rows != 200 || known.next != 0 {
		t.Fatalf("%v rows, %+v known; want 200 recent keys of each kind", before, known)
	}
	x.mergeRows = 1
	w, err := x.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.merge(ctx); err != nil {
		t.Fatal(err)
	}
	if w.keys.rows != 0 || w.keys.next != 0 {
		t.Fatalf("in the Writer after merging: %+v; want every slice merged once", w.keys)
	}
	var inMain int
	if err := w.tx.QueryRow(`SELECT COUNT(*) FROM vote_keys`).Scan(&inMain); err != nil || inMain != 200 {
		t.Fatalf("the Writer sees %d merged vote keys, %v; want 200", inMain, err)
	}
	if err := w.Rollback(); err != nil {
		t.Fatal(err)
	}
	if got := rowCounts(t, x); got != before || x.keys != known {
		t.Fatalf("after rolling back the merge: %v rows, %+v known; want %v, %+v", got, x.keys, before, known)
	}
	findAll(t, x, votes)

	if w, err = x.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.mergeSlice(ctx, 5); err != nil {
		t.Fatal(err)
	}
	once := w.keys
	if err := w.mergeSlice(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if once.rows >= 200 || w.keys.rows != once.rows {
		t.Fatalf("recent keys after merging slice 5: %d, again: %d; want fewer than 200, then as many", once.rows, w.keys.rows)
	}
	if err := w.Commit(); err != nil { // and the rest, above mergeRows = 1
		t.Fatal(err)
	}
	if got := rowCounts(t, x); got != [4]int64{200, 0, 200, 0} || x.keys.rows != 0 {
		t.Fatalf("after committing the merge: %v rows, %+v known; want all 200 of each kind merged", got, x.keys)
	}
	findAll(t, x, votes)
}

// TestSliceRange: the slices cover the keys, in SQLite's order, without
// gap or overlap.
func TestSliceRange(t *testing.T) {
	prev := int64(0)
	for i := range recentSlices {
		lo, hi := sliceRange(i)
		if (i == 0 && lo != -1<<63) || (i > 0 && lo != prev+1) || hi <= lo {
			t.Fatalf("slice %d: %d..%d after %d", i, lo, hi, prev)
		}
		prev = hi
	}
	if prev != 1<<63-1 {
		t.Fatalf("the last slice ends at %d", prev)
	}
}
