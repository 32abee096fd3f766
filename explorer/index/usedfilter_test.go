package index

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
)

// key is the (state, nullifier) of storeBatch's vote i.
func key(i int) audit.Nullifier {
	return audit.Nullifier{State: "CA", Nullifier: fmt.Sprintf("%064x", i)}
}

// storeBatch stores a batch of n votes, vote i with nullifier key(i), as
// Save stores it, and returns its number in batch_votes.
func storeBatch(t *testing.T, x *Index, n int) int64 {
	t.Helper()
	votes := make([]ballot.Vote, n)
	for i := range votes {
		votes[i] = ballot.Vote{ID: fmt.Sprintf("%032x", i), State: "CA", Contest: "president", Nullifier: key(i).Nullifier, Choice: "alice", CastAt: 1}
	}
	bt, err := ballot.BuildBatch("CA", 1, votes)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(bt)
	if err != nil {
		t.Fatal(err)
	}
	res, err := x.db.Exec(`INSERT INTO batch_votes (state, seq, data) VALUES ('CA', 1, ?)`, data)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := res.LastInsertId()
	if err != nil {
		t.Fatal(err)
	}
	return batch
}

// TestUsedHashCollision: a used nullifier's row (in a segment, or in
// used_votes of an index written before) whose key is a nullifier's but
// whose vote has another nullifier (two nullifiers of one 64-bit hash)
// makes neither used; a row of the vote's own nullifier does.
func TestUsedHashCollision(t *testing.T) {
	for _, where := range []string{"segment", "used_votes"} {
		t.Run(where, func(t *testing.T) {
			x, err := Open(filepath.Join(t.TempDir(), "index.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			batch := storeBatch(t, x, 2)
			k7, k0 := nullifierKey(key(7).State, key(7).Nullifier), nullifierKey(key(0).State, key(0).Nullifier)
			if where == "segment" {
				addSegmentRows(t, x, segmentUsed, []keyRow{{k7, keyPlace{batch, 1}}, {k0, keyPlace{batch, 0}}})
			} else if _, err := x.db.Exec(`INSERT INTO used_votes VALUES (?, ?, 1), (?, ?, 0)`, k7, batch, k0, batch); err != nil {
				t.Fatal(err)
			}
			got, err := x.history.UsedNullifiers([]audit.Nullifier{key(0), key(1), key(7)})
			if err != nil || !maps.Equal(got, map[audit.Nullifier]bool{key(0): true}) {
				t.Fatalf("UsedNullifiers: %v, %v; want key 0 only", got, err)
			}
			for i, want := range map[int]bool{0: true, 1: false, 7: false} {
				if used, err := x.NullifierUsed("CA", key(i).Nullifier); err != nil || used != want {
					t.Errorf("NullifierUsed(key %d) = %v, %v; want %v", i, used, err, want)
				}
			}
		})
	}
}

// TestUsedFilter: a Writer's duplicate lookups find every used key —
// committed before the filter was built, saved in the Writer, and after
// the filter outgrew its size and was rebuilt — and no other; the filter
// answers "maybe" for about 1% of the keys it does not hold when full.
func TestUsedFilter(t *testing.T) {
	ctx := context.Background()
	x, err := Open(filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	batch := storeBatch(t, x, 13) // the used_votes rows point at its votes
	for i := range 3 {
		if _, err := x.db.Exec(`INSERT INTO used_votes VALUES (?, ?, ?)`, nullifierKey(key(i).State, key(i).Nullifier), batch, i); err != nil {
			t.Fatal(err)
		}
	}
	x.minFilterKeys = 2
	lookup := func(w *Writer, used int) {
		t.Helper()
		var keys []audit.Nullifier
		want := map[audit.Nullifier]bool{}
		for i := range used + 100 {
			keys = append(keys, key(i))
			if i < used {
				want[key(i)] = true
			}
		}
		if got, err := w.UsedNullifiers(keys); err != nil || !maps.Equal(got, want) {
			t.Fatalf("UsedNullifiers of %d used and 100 others: %d found, %v", used, len(got), err)
		}
	}
	w, err := x.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first := x.filter
	if first == nil || first.capacity != 6 || first.keys != 3 {
		t.Fatalf("filter %+v; want one built from the 3 keys of the table, sized for 6", first)
	}
	lookup(w, 3)
	for i := 3; i < 13; i++ { // as Save adds the counted votes
		if err := w.addSegment(ctx, segmentUsed, []keyRow{{nullifierKey(key(i).State, key(i).Nullifier), keyPlace{batch, int32(i)}}}); err != nil {
			t.Fatal(err)
		}
		w.filter.add(key(i))
	}
	lookup(w, 13)
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if w, err = x.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	defer w.Rollback()
	if x.filter == first || x.filter.capacity != 26 || x.filter.keys != 13 {
		t.Fatalf("filter %+v after 13 keys; want a new one sized for 26", x.filter)
	}
	lookup(w, 13)

	full := &usedFilter{seed: 1, bits: make([]uint64, 10_000*filterBitsPerKey/64), capacity: 10_000}
	for i := range 10_000 {
		full.add(key(i))
	}
	maybe := 0
	for i := range 10_000 {
		if full.mayHold(key(10_000 + i)) {
			maybe++
		}
	}
	if maybe > 300 {
		t.Errorf("a full filter answers maybe for %d of 10,000 keys it does not hold; want about 100", maybe)
	}
}

// TestUsedFilterFalsePositives: a filter holding as many keys as it is
// sized for holds every one of them and answers "maybe" for about 1% of
// other keys (10 bits a key, 7 hashes: 0.8% in theory), well under 2%.
func TestUsedFilterFalsePositives(t *testing.T) {
	f := &usedFilter{seed: 42, bits: make([]uint64, (50_000*filterBitsPerKey+63)/64), capacity: 50_000}
	for i := range 50_000 {
		f.add(key(i))
	}
	for i := range 50_000 {
		if !f.mayHold(key(i)) {
			t.Fatalf("the filter does not hold key %d, added", i)
		}
	}
	maybe := 0
	for i := 50_000; i < 150_000; i++ {
		if f.mayHold(key(i)) {
			maybe++
		}
	}
	if rate := float64(maybe) / 100_000; rate > 0.02 {
		t.Fatalf("%.2f%% of keys not added may be held; want about 1%%", 100*rate)
	}
	t.Logf("%.2f%% false positives", float64(maybe)/1000)
}

// TestAnywhereFilter: the committed index cannot rule a nullifier out
// (known false); a Writer builds its filter of nullifiers alone when first
// asked, from the stored batches, and then answers "maybe" for each stored
// vote's nullifier and, the filter far from full, for none of 100 others.
func TestAnywhereFilter(t *testing.T) {
	x, err := Open(filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	storeBatch(t, x, 13)
	var nullifiers []string
	want := map[string]bool{}
	for i := range 113 {
		nullifiers = append(nullifiers, key(i).Nullifier)
		if i < 13 {
			want[key(i).Nullifier] = true
		}
	}
	if maybe, known, err := x.history.MaybeUsedAnywhere(nullifiers); known || err != nil {
		t.Errorf("committed index: %d maybe, known %v, %v; want not known", len(maybe), known, err)
	}
	w, err := x.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Rollback()
	if x.anywhere != nil {
		t.Fatal("the filter of nullifiers alone was built before a Writer asked")
	}
	maybe, known, err := w.MaybeUsedAnywhere(nullifiers)
	if !known || err != nil || !maps.Equal(maybe, want) {
		t.Fatalf("Writer: %d maybe, known %v, %v; want the 13 stored, known", len(maybe), known, err)
	}
}
