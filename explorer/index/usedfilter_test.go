package index

import (
	"context"
	"fmt"
	"hash/maphash"
	"maps"
	"path/filepath"
	"testing"

	"github.com/votechain/votechain/explorer/audit"
)

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
	key := func(i int) audit.Nullifier { return audit.Nullifier{State: "CA", Nullifier: fmt.Sprintf("%064x", i)} }
	for i := range 3 {
		if _, err := x.db.Exec(`INSERT INTO used_keys VALUES (?, ?, ?)`, nullifierKey(key(i).State, key(i).Nullifier), key(i).State, key(i).Nullifier); err != nil {
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
		if _, err := w.votes.used[len(rowsPerInsert)-1].ExecContext(ctx, nullifierKey(key(i).State, key(i).Nullifier), key(i).State, key(i).Nullifier); err != nil {
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

	full := &usedFilter{seed: maphash.MakeSeed(), bits: make([]uint64, 10_000*filterBitsPerKey/64), capacity: 10_000}
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
