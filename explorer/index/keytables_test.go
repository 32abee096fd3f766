package index

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
)

// TestVoteKeysDirectThenRecent: while vote_keys holds at most directRows
// rows a Writer writes the vote keys straight into the large tables, after
// that into the recent ones (merged as before); what the index counts of
// both stays what the tables hold, after each commit and after reopening,
// and every vote is found wherever its keys are.
func TestVoteKeysDirectThenRecent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "index.db")
	x, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { x.Close() }()
	x.mergeRows, x.directRows, x.flushRows = 30, 50, 1 // every commit writes its keys
	rng := rand.New(rand.NewPCG(5, 6))
	var votes []ballot.Vote
	for n := range uint64(8) {
		r := votesReport(t, rng, n, 2, 10) // 20 votes a block
		if err := x.Save(ctx, r); err != nil {
			t.Fatal(err)
		}
		for _, bt := range r.Batches {
			votes = append(votes, bt.Batch.Votes...)
		}
		c := rowCounts(t, x)
		if c[0] != x.keys.main || c[1] != x.keys.rows || c[0]+c[1] != int64(len(votes)) || c[2]+c[3] != int64(len(votes)) {
			t.Fatalf("after block %d: %v rows, %+v counted; want %d of each kind, counted as they are", n, c, x.keys, len(votes))
		}
		if n <= 2 && (c[1] != 0 || c[3] != 0) { // vote_keys held 0, 20 and 40 rows before blocks 0-2
			t.Fatalf("after block %d: %v rows; want none in the recent tables", n, c)
		}
		if n == 3 && c[1] != 20 {
			t.Fatalf("after block 3: %v rows; want block 3's in the recent tables (vote_keys held 60)", c)
		}
		findAll(t, x, votes)
	}
	c := rowCounts(t, x)
	if c[1] == 0 || x.keys.next == 0 {
		t.Fatalf("%v rows, next slice %d; want recent rows and slices merged", c, x.keys.next)
	}
	x.Close()
	if x, err = Open(path); err != nil {
		t.Fatal(err)
	}
	findAll(t, x, votes)
	if x.keys.main != c[0] || x.keys.rows != c[1] {
		t.Fatalf("reopened: %+v counted; want %v", x.keys, c)
	}
	// Reopened with directRows below the rows of vote_keys, the index
	// counts them only up to one more, and writes to the recent tables.
	x.Close()
	if x, err = Open(path); err != nil {
		t.Fatal(err)
	}
	x.mergeRows, x.directRows, x.flushRows = 1000, 50, 1
	r := votesReport(t, rng, 8, 2, 10)
	if err := x.Save(ctx, r); err != nil {
		t.Fatal(err)
	}
	for _, bt := range r.Batches {
		votes = append(votes, bt.Batch.Votes...)
	}
	if got := rowCounts(t, x); got[0] != c[0] || got[1] != c[1]+20 || x.keys.main != 51 || x.keys.rows != got[1] {
		t.Fatalf("reopened, a block saved: %v rows, %+v counted; want %d + 20 recent, vote_keys counted as 51", got, x.keys, c[1])
	}
	findAll(t, x, votes)
}

// TestWriterRolledBackLeavesNoKeys: a Writer's vote keys, written straight
// into the large tables or into the recent ones, go with its rollback: the
// tables and what the index counts of them are as before, no vote of it is
// found and none of its nullifiers used (though the used filter may still
// hold them); saved again and committed, every vote is found.
func TestWriterRolledBackLeavesNoKeys(t *testing.T) {
	for name, direct := range map[string]int{"direct": directRows, "recent": -1} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			x, err := Open(filepath.Join(t.TempDir(), "index.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			x.directRows, x.flushRows = direct, 1 // every commit writes its keys
			rng := rand.New(rand.NewPCG(7, 8))
			first := votesReport(t, rng, 0, 2, 10)
			if err := x.Save(ctx, first); err != nil {
				t.Fatal(err)
			}
			before, known := rowCounts(t, x), x.keys
			r := votesReport(t, rng, 1, 2, 10)
			w, err := x.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Save(ctx, r); err != nil {
				t.Fatal(err)
			}
			if err := w.Rollback(); err != nil {
				t.Fatal(err)
			}
			if got := rowCounts(t, x); got != before || x.keys != known {
				t.Fatalf("after the rollback: %v rows, %+v counted; want %v, %+v", got, x.keys, before, known)
			}
			var keys []audit.Nullifier
			for _, bt := range r.Batches {
				for _, v := range bt.Batch.Votes {
					if _, err := x.Vote(ctx, v.ID); !errors.Is(err, ErrNotFound) {
						t.Fatalf("vote %s of the rolled-back Writer: %v; want not found", v.ID, err)
					}
					keys = append(keys, audit.Nullifier{State: v.State, Nullifier: v.Nullifier})
				}
			}
			if w, err = x.Begin(ctx); err != nil {
				t.Fatal(err)
			}
			used, err := w.UsedNullifiers(keys)
			w.Rollback()
			if err != nil || len(used) != 0 {
				t.Fatalf("the rolled-back Writer's nullifiers: %d used, %v; want none", len(used), err)
			}
			if err := x.Save(ctx, r); err != nil {
				t.Fatal(err)
			}
			var all []ballot.Vote
			for _, bt := range append(first.Batches, r.Batches...) {
				all = append(all, bt.Batch.Votes...)
			}
			findAll(t, x, all)
		})
	}
}

// TestRollEntryAfterRollback: a roll entry saved by a Writer rolled back
// and saved again, for another contest, by the next Writer is on the roll
// for that contest only: in that Writer's lookups, in the next Writer's
// (the in-memory roll) and after reopening (the table).
func TestRollEntryAfterRollback(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "index.db")
	x, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { x.Close() }()
	rng := rand.New(rand.NewPCG(9, 10))
	entry := ballot.RollEntry{State: "CA", Contest: "president", Nullifier: "n1"}
	k := audit.Nullifier{State: entry.State, Nullifier: entry.Nullifier}
	lookup := func(w *Writer) string {
		t.Helper()
		got, err := w.RollContests([]audit.Nullifier{k})
		if err != nil {
			t.Fatal(err)
		}
		return got[k]
	}
	r := votesReport(t, rng, 0, 0, 0)
	r.Roll = []ballot.RollEntry{entry}
	w, err := x.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Save(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got := lookup(w); got != "president" {
		t.Fatalf("the Writer's own entry: contest %q", got)
	}
	w.Rollback()
	entry.Contest = "Q-1"
	r.Roll = []ballot.RollEntry{entry}
	if w, err = x.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	if got := lookup(w); got != "" {
		t.Fatalf("after the rollback: contest %q; want none", got)
	}
	if err := w.Save(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got := lookup(w); got != "Q-1" {
		t.Fatalf("saved again: contest %q; want Q-1", got)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, when := range []string{"committed", "reopened"} {
		if when == "reopened" {
			x.Close()
			if x, err = Open(path); err != nil {
				t.Fatal(err)
			}
		}
		if w, err = x.Begin(ctx); err != nil {
			t.Fatal(err)
		}
		got := lookup(w)
		w.Rollback()
		if got != "Q-1" {
			t.Fatalf("%s: contest %q; want Q-1", when, got)
		}
	}
}

// TestLargeFlushDirect: once vote_keys holds more than directRows rows, a
// flush of the pending keys of at least mergeRows votes writes them
// straight into the large tables (sorted, each key written once), a
// smaller one (Flush, as Close does) into the recent tables; every vote is
// found either way.
func TestLargeFlushDirect(t *testing.T) {
	ctx := context.Background()
	x, err := Open(filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	x.directRows, x.mergeRows, x.flushRows = 30, 1000, 40
	rng := rand.New(rand.NewPCG(19, 20))
	var votes []ballot.Vote
	save := func(n uint64) {
		t.Helper()
		r := votesReport(t, rng, n, 2, 10) // 20 votes a block
		if err := x.Save(ctx, r); err != nil {
			t.Fatal(err)
		}
		for _, bt := range r.Batches {
			votes = append(votes, bt.Batch.Votes...)
		}
	}
	for n := range uint64(2) { // 40 votes: written to vote_keys, which held none
		save(n)
	}
	if c := rowCounts(t, x); c != [4]int64{40, 0, 40, 0} {
		t.Fatalf("%v rows; want the first 40 votes' in the large tables", c)
	}
	x.mergeRows = 40 // a flush of 40 votes is as large as a merge
	for n := range uint64(2) {
		save(2 + n)
	}
	if c := rowCounts(t, x); c != [4]int64{80, 0, 80, 0} {
		t.Fatalf("%v rows; want a flush of 40 votes in the large tables, though vote_keys held more than directRows", c)
	}
	save(4)
	if err := x.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if c := rowCounts(t, x); c != [4]int64{80, 20, 80, 20} || x.keys.main != 80 || x.keys.rows != 20 {
		t.Fatalf("%v rows, %+v counted; want a flush of 20 votes in the recent tables", c, x.keys)
	}
	findAll(t, x, votes)
}
