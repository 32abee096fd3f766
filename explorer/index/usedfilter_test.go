package index

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"strings"
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
			x, err := Open(context.Background(), filepath.Join(t.TempDir(), "index.db"))
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
			got, err := x.history.UsedNullifiers(t.Context(), []audit.Nullifier{key(0), key(1), key(7)})
			if err != nil || !maps.Equal(got, map[audit.Nullifier]bool{key(0): true}) {
				t.Fatalf("UsedNullifiers: %v, %v; want key 0 only", got, err)
			}
			for i, want := range map[int]bool{0: true, 1: false, 7: false} {
				if used, err := x.NullifierUsed(t.Context(), "CA", key(i).Nullifier); err != nil || used != want {
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
	x, err := Open(context.Background(), filepath.Join(t.TempDir(), "index.db"))
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
		if got, err := w.UsedNullifiers(t.Context(), keys); err != nil || !maps.Equal(got, want) {
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
	x, err := Open(context.Background(), filepath.Join(t.TempDir(), "index.db"))
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
	if maybe, known, err := x.history.MaybeUsedAnywhere(t.Context(), nullifiers); known || err != nil {
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
	maybe, known, err := w.MaybeUsedAnywhere(t.Context(), nullifiers)
	if !known || err != nil || !maps.Equal(maybe, want) {
		t.Fatalf("Writer: %d maybe, known %v, %v; want the 13 stored, known", len(maybe), known, err)
	}
}

// TestAnywhereFilterChains: a filter of nullifiers alone is built once,
// then grows by chaining stages as it fills: a Writer begun after it is
// full keeps it (no rebuild), every nullifier added, in whichever stage,
// is still "maybe", and the others are "maybe" no more often than the
// stages' rates together (under 1% each).
func TestAnywhereFilterChains(t *testing.T) {
	x, err := Open(context.Background(), filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	x.minFilterKeys = 10_000
	storeBatch(t, x, 13)
	w, err := x.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.MaybeUsedAnywhere(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	f := x.anywhere
	const added = 100_000
	votes := make([]ballot.Vote, 0, added)
	for i := 13; i < added; i++ {
		votes = append(votes, ballot.Vote{Nullifier: key(i).Nullifier})
	}
	f.add(votes) // as the saves of the batches do
	if err := w.Rollback(); err != nil {
		t.Fatal(err)
	}
	if w, err = x.Begin(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer w.Rollback()
	if _, _, err := w.MaybeUsedAnywhere(t.Context(), nil); err != nil || x.anywhere != f {
		t.Fatalf("a Writer begun after the filter filled has another (%v): rebuilt", err)
	}
	// 10,001 keys in the first stage (sized for 10,000), 20,003 in the
	// second, 60,009 in the third, the rest in a fourth.
	if len(f.stages) != 4 || f.keys != added {
		t.Fatalf("%d stages holding %d keys; want 4 holding %d", len(f.stages), f.keys, added)
	}
	for i := range added {
		if !f.mayHold(key(i).Nullifier) {
			t.Fatalf("nullifier %d added, not held", i)
		}
	}
	maybe := 0
	for i := added; i < 2*added; i++ {
		if f.mayHold(key(i).Nullifier) {
			maybe++
		}
	}
	if rate := float64(maybe) / added; rate > 0.01*float64(len(f.stages)) {
		t.Errorf("%.2f%% false positives; want under 1%% a stage", 100*rate)
	}
	t.Logf("%.2f%% false positives in %d stages", 100*float64(maybe)/added, len(f.stages))
}

// BenchmarkAnywhereFilterBuild is the one-time build of the filter of
// nullifiers alone from 200 stored batches of 1,000 votes (each decoded),
// reported per vote (ns/vote).
func BenchmarkAnywhereFilterBuild(b *testing.B) {
	x, err := Open(context.Background(), filepath.Join(b.TempDir(), "index.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer x.Close()
	const batches, perBatch = 200, 1000
	for seq := range batches {
		votes := make([]ballot.Vote, perBatch)
		for i := range votes {
			n := seq*perBatch + i
			votes[i] = ballot.Vote{ID: fmt.Sprintf("%032x", n), State: "CA", Contest: "president", Nullifier: key(n).Nullifier, Choice: "alice", CastAt: 1}
		}
		bt, err := ballot.BuildBatch("CA", uint64(seq+1), votes)
		if err != nil {
			b.Fatal(err)
		}
		data, err := json.Marshal(bt)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := x.db.Exec(`INSERT INTO batch_votes (state, seq, data) VALUES ('CA', ?, ?)`, seq+1, data); err != nil {
			b.Fatal(err)
		}
		if _, err := x.db.Exec(`INSERT INTO batches (state, seq, block, tx_id, time, root, votes, counted, rejected, tallies, root_ok, record_ok)
			VALUES ('CA', ?, ?, ?, 0, '', ?, ?, '[]', '{}', 1, 1)`, seq+1, seq+1, fmt.Sprint(seq), perBatch, perBatch); err != nil {
			b.Fatal(err)
		}
	}
	tx, err := x.db.BeginTx(context.Background(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	quiet := slog.New(slog.DiscardHandler)
	b.ResetTimer()
	for range b.N {
		f, err := newAnywhereFilter(context.Background(), tx, filterMinKeys, quiet)
		if err != nil || f.keys != batches*perBatch {
			b.Fatalf("built %v, %v; want %d keys", f, err, batches*perBatch)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batches*perBatch), "ns/vote")
}

// TestIndexLogger: the note of the filter's build goes to the logger given
// to Open (WithLogger); without one, or with nil, notes are discarded.
func TestIndexLogger(t *testing.T) {
	var notes bytes.Buffer
	x, err := Open(context.Background(), filepath.Join(t.TempDir(), "index.db"), WithLogger(slog.New(slog.NewTextHandler(&notes, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	storeBatch(t, x, 3)
	w, err := x.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Rollback()
	if _, _, err := w.MaybeUsedAnywhere(t.Context(), []string{key(0).Nullifier}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(notes.String(), "built the filter of nullifiers alone") || !strings.Contains(notes.String(), "keys=3") {
		t.Errorf("the given logger got %q; want the filter's build, of 3 keys", notes.String())
	}
	for name, opts := range map[string][]Option{"no option": nil, "a nil logger": {WithLogger(nil)}} {
		y, err := Open(context.Background(), filepath.Join(t.TempDir(), "index.db"), opts...)
		if err != nil {
			t.Fatal(err)
		}
		if h := y.log.Handler(); h != slog.DiscardHandler {
			t.Errorf("%s: the index logs to %T; want slog.DiscardHandler", name, h)
		}
		y.Close()
	}
}
