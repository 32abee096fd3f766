package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
)

// TestPendingKeys: the vote keys of committed batches stay in memory, out
// of the tables, until the pending votes reach flushRows; meanwhile every
// vote is found by id and every counted one's nullifier used (not a
// rejected one's), by the index, a Writer, and an index opened anew on the
// file (as after a crash: it reads them back from the stored batches, its
// used filter holding them); a rolled-back Writer's keys are dropped; the
// commit that reaches flushRows writes them all, and Close the rest.
func TestPendingKeys(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "index.db")
	x, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { x.Close() }()
	x.flushRows = 50
	rng := rand.New(rand.NewPCG(11, 12))
	var votes []ballot.Vote
	first := votesReport(t, rng, 0, 2, 10)
	first.Batches[0].Rejected = []int{3}
	rejected := first.Batches[0].Batch.Votes[3]
	if err := x.Save(ctx, first); err != nil {
		t.Fatal(err)
	}
	for _, bt := range first.Batches {
		votes = append(votes, bt.Batch.Votes...)
	}
	// found checks, on y and in a Writer of y, that every vote of votes is
	// found and its nullifier used except the rejected one's.
	found := func(when string, y *Index) {
		t.Helper()
		var keys []audit.Nullifier
		for _, v := range votes {
			if got, err := y.Vote(ctx, v.ID); err != nil || got.Vote != v {
				t.Fatalf("%s: vote %s: %+v, %v", when, v.ID, got, err)
			}
			keys = append(keys, audit.Nullifier{State: v.State, Nullifier: v.Nullifier})
		}
		w, err := y.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Rollback()
		out := audit.Nullifier{State: rejected.State, Nullifier: rejected.Nullifier}
		for name, h := range map[string]history{"index": y.history, "writer": w.history} {
			used, err := h.UsedNullifiers(t.Context(), keys)
			if err != nil || len(used) != len(votes)-1 || used[out] {
				t.Fatalf("%s, %s: %d of %d nullifiers used (the rejected vote's: %v), %v; want all but the rejected vote's", when, name, len(used), len(votes), used[out], err)
			}
			if !w.filter.mayHold(keys[0]) {
				t.Fatalf("%s: the Writer's filter does not hold a pending used nullifier", when)
			}
		}
	}
	if got := rowCounts(t, x); got != [4]int64{} || x.pending.votes != 20 {
		t.Fatalf("after 20 votes: %v rows, %d pending; want none in the tables, 20 pending", got, x.pending.votes)
	}
	found("pending", x)

	// A Writer sees its own pending keys; rolled back, they are gone.
	w, err := x.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dropped := votesReport(t, rng, 1, 1, 10)
	if err := w.Save(ctx, dropped); err != nil {
		t.Fatal(err)
	}
	v := dropped.Batches[0].Batch.Votes[0]
	k := audit.Nullifier{State: v.State, Nullifier: v.Nullifier}
	if used, err := w.UsedNullifiers(t.Context(), []audit.Nullifier{k}); err != nil || !used[k] {
		t.Fatalf("the Writer's own vote's nullifier: used %v, %v", used[k], err)
	}
	w.Rollback()
	if _, err := x.Vote(ctx, v.ID); !errors.Is(err, ErrNotFound) || x.pending.votes != 20 {
		t.Fatalf("a rolled-back vote: %v, %d pending; want not found, 20 pending", err, x.pending.votes)
	}

	// Another index on the file reads the pending keys back.
	y, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if y.pending.votes != 20 {
		t.Fatalf("opened anew: %d pending votes; want 20", y.pending.votes)
	}
	found("opened anew", y)
	y.CloseWithoutFlush() // the pending keys not written, as a crash

	for n := range uint64(2) { // 40, then 60 pending votes: written
		r := votesReport(t, rng, n+1, 2, 10)
		if err := x.Save(ctx, r); err != nil {
			t.Fatal(err)
		}
		for _, bt := range r.Batches {
			votes = append(votes, bt.Batch.Votes...)
		}
		if got, want := rowCounts(t, x), [4]int64{}; n == 0 && got != want {
			t.Fatalf("40 pending votes: %v rows; want %v", got, want)
		}
	}
	var last, flushed int64
	if err := x.db.QueryRow(`SELECT (SELECT MAX(id) FROM batch_votes), (SELECT batch FROM keys_flushed)`).Scan(&last, &flushed); err != nil {
		t.Fatal(err)
	}
	if got := rowCounts(t, x); got != [4]int64{60, 0, 59, 0} || x.pending.votes != 0 || flushed != last {
		t.Fatalf("60 votes: %v rows, %d pending, keys of batches up to %d of %d written; want all in the tables", got, x.pending.votes, flushed, last)
	}
	found("written", x)

	r := votesReport(t, rng, 3, 1, 10)
	if err := x.Save(ctx, r); err != nil {
		t.Fatal(err)
	}
	votes = append(votes, r.Batches[0].Batch.Votes...)
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if x, err = Open(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	if got := rowCounts(t, x); got != [4]int64{70, 0, 69, 0} || x.pending.votes != 0 {
		t.Fatalf("closed and opened: %v rows, %d pending; want the last 10 written by Close", got, x.pending.votes)
	}
	found("closed", x)
}

// TestVoteFoundWhileKeysWritten: a committed vote is found by id however
// its lookup interleaves with the commit that writes the pending keys into
// the tables (and drops them from memory): a reader that looked in the
// tables before that commit and in memory after it must still find it.
func TestVoteFoundWhileKeysWritten(t *testing.T) {
	ctx := context.Background()
	x, err := Open(context.Background(), filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	x.flushRows = 1 << 30 // written only by Flush below
	rng := rand.New(rand.NewPCG(13, 14))
	const rounds, readers = 200, 2
	for n := range uint64(rounds) {
		r := votesReport(t, rng, n, 1, 1)
		if err := x.Save(ctx, r); err != nil {
			t.Fatal(err)
		}
		id := r.Batches[0].Batch.Votes[0].ID
		stop := make(chan struct{})
		errs := make(chan error, readers)
		for range readers {
			go func() {
				for {
					select {
					case <-stop:
						errs <- nil
						return
					default:
					}
					if _, err := x.Vote(ctx, id); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		flushErr := x.Flush(ctx)
		close(stop)
		for range readers {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: vote %s, committed before its keys were written, looked up meanwhile: %v", n, id, err)
			}
		}
		if flushErr != nil {
			t.Fatal(flushErr)
		}
	}
}

// TestLookupsWhileFollowing: readers that look up committed votes by id
// and nullifier while Writers commit more blocks (their keys joining the
// pending keys, and every few commits written to the tables) always find
// them (go test -race checks the pending keys' sharing too).
func TestLookupsWhileFollowing(t *testing.T) {
	ctx := context.Background()
	x, err := Open(context.Background(), filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	x.flushRows = 25
	rng := rand.New(rand.NewPCG(15, 16))
	first := votesReport(t, rng, 0, 1, 4)
	if err := x.Save(ctx, first); err != nil {
		t.Fatal(err)
	}
	committed := make(chan ballot.Vote, 1000)
	for _, v := range first.Batches[0].Batch.Votes {
		committed <- v
	}
	stop := make(chan struct{})
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			var known []ballot.Vote
			for i := 0; ; i++ {
				select {
				case <-stop:
					errs <- nil
					return
				case v := <-committed:
					known = append(known, v)
				default:
					if len(known) == 0 { // the other reader took the votes so far
						runtime.Gosched()
						continue
					}
				}
				v := known[i%len(known)]
				if got, err := x.Vote(ctx, v.ID); err != nil || got.Vote != v {
					errs <- fmt.Errorf("vote %s: %+v, %v", v.ID, got.Vote, err)
					return
				}
				if used, err := x.NullifierUsed(t.Context(), v.State, v.Nullifier); err != nil || !used {
					errs <- fmt.Errorf("vote %s's nullifier: used %v, %v", v.ID, used, err)
					return
				}
			}
		}()
	}
	for n := uint64(1); n < 60; n++ {
		r := votesReport(t, rng, n, 1, 4)
		if err := x.Save(ctx, r); err != nil {
			t.Fatal(err)
		}
		for _, v := range r.Batches[0].Batch.Votes {
			committed <- v
		}
	}
	close(stop)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestKeyRuns: rows added as sorted runs of any length, with keys shared
// within and across runs, are found by key in every run they are in, come
// out of sorted (with another keyRuns' rows) in key order, and stay in at
// most about log2 of the rows runs.
func TestKeyRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var r, o keyRuns
	var all []keyRow
	for i := range 300 {
		run := make([]keyRow, rng.IntN(40))
		for j := range run {
			run[j] = keyRow{rng.Int64N(500) - 250, keyPlace{int64(i), int32(j)}}
		}
		all = append(all, run...)
		slices.SortFunc(run, compareKeyRows)
		if i%3 == 0 {
			o.add(run)
		} else {
			r.add(run)
		}
	}
	if len(r.runs) > 14 || len(o.runs) > 14 {
		t.Fatalf("%d and %d runs of %d rows; want at most 14 each", len(r.runs), len(o.runs), len(all))
	}
	slices.SortFunc(all, compareKeyRows)
	if got := r.sorted(&o); !slices.Equal(got, all) {
		t.Fatalf("sorted: %d rows, in order %v; want the %d rows added in key order", len(got), slices.IsSortedFunc(got, compareKeyRows), len(all))
	}
	var both keyRuns
	both.absorb(&r)
	both.absorb(&o)
	for key := int64(-260); key < 260; key++ {
		var want []keyPlace
		for _, row := range all {
			if row.key == key {
				want = append(want, row.keyPlace)
			}
		}
		got := both.places(key, nil)
		slices.SortFunc(got, func(a, b keyPlace) int { return compareKeyRows(keyRow{0, a}, keyRow{0, b}) })
		if !slices.Equal(got, want) {
			t.Fatalf("places of key %d: %v; want %v", key, got, want)
		}
	}
}

// TestVotesVisibleWithTheirBatch: a reader finds every vote of a batch (by
// id, and a counted one's nullifier used) as soon as it sees the batch:
// the keys of a commit that does not write them into the tables are found
// no later than its SQL commit makes the batch visible. Before that
// commit, the batch and its votes are not found (and no lookup fails);
// after a commit that fails, they never are, not even once the next
// Writer's batches take the failed one's numbers. The commits fail for
// real (a deferred foreign key unmet: SQLite refuses the COMMIT and leaves
// the transaction open): the Writer is ended with nothing to roll back,
// and the next Writer begins on the same connection.
//
// Twice: with the keys kept in memory, and with every second commit
// flushing them as a segment and merging segments (two blocks' 24 votes
// reach flushRows), where a failed commit's flush and merge are rolled back
// with it and the keys it held stay pending (as many as a restart would
// read back, and the committed segments sound); at the end every
// committed vote is still found and the segments are sound.
func TestVotesVisibleWithTheirBatch(t *testing.T) {
	for _, c := range []struct {
		name      string
		flushRows int
	}{{"keys in memory", 1 << 30}, {"flushed every second commit", 24}} {
		t.Run(c.name, func(t *testing.T) { votesVisibleWithTheirBatch(t, c.flushRows) })
	}
}

func votesVisibleWithTheirBatch(t *testing.T, flushRows int) {
	ctx := context.Background()
	x, err := Open(context.Background(), filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	x.flushRows = flushRows
	flushing := flushRows <= 24
	var committed []audit.Report
	// A row of orphans fails the COMMIT of its transaction, on its
	// deferred foreign key, and leaves it open in SQLite.
	if _, err := x.write.ExecContext(ctx, `CREATE TEMP TABLE parents (id INTEGER PRIMARY KEY);
		CREATE TEMP TABLE orphans (parent INTEGER REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)`); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(17, 18))
	failedMerges := 0 // failed commits that flushed keys and merged segments
	// visible checks that the batches of r and their votes are found, or
	// none of them if want is false.
	visible := func(when string, r audit.Report, want bool) {
		t.Helper()
		for _, bt := range r.Batches {
			b := bt.Batch
			got, err := x.BatchVotes(ctx, b.State, b.Seq)
			if err != nil || (len(got) > 0) != want {
				t.Fatalf("%s: batch %s: %d votes, %v; want found %v", when, b.ID(), len(got), err, want)
			}
			for i, v := range b.Votes {
				got, err := x.Vote(ctx, v.ID)
				switch {
				case want && (err != nil || got.Vote != v):
					t.Fatalf("%s: batch %s visible, its vote %d: %+v, %v", when, b.ID(), i, got.Vote, err)
				case !want && !errors.Is(err, ErrNotFound):
					t.Fatalf("%s: batch %s not visible, its vote %d: %+v, %v; want ErrNotFound", when, b.ID(), i, got.Vote, err)
				}
				counted := !slices.Contains(bt.Rejected, i)
				used, err := x.NullifierUsed(t.Context(), v.State, v.Nullifier)
				if err != nil || used != (want && counted) {
					t.Fatalf("%s: batch %s found %v, its vote %d (counted %v): nullifier used %v, %v", when, b.ID(), want, i, counted, used, err)
				}
			}
		}
	}
	for n := range uint64(30) {
		r := votesReport(t, rng, n, 3, 4)
		r.Batches[1].Rejected = []int{int(n % 4)}
		fail := n%7 == 3
		x.commitSQL = func(tx *sql.Tx) error {
			visible(fmt.Sprintf("block %d before its commit", n), r, false)
			if fail && flushing && flushedAndMerged(t, x, tx) {
				failedMerges++
			}
			if fail { // a real failed COMMIT, which SQLite leaves open
				if _, err := tx.Exec(`INSERT INTO temp.orphans VALUES (1)`); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				return err
			}
			visible(fmt.Sprintf("block %d committed", n), r, true)
			return nil
		}
		w, err := x.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Save(ctx, r); err != nil {
			t.Fatal(err)
		}
		err = w.Commit()
		x.commitSQL = nil
		if fail {
			if err == nil || !strings.Contains(err.Error(), "FOREIGN KEY constraint failed") {
				t.Fatalf("block %d: failed commit returned %v; want the orphan's constraint", n, err)
			}
			if err := w.Rollback(); !errors.Is(err, sql.ErrTxDone) {
				t.Fatalf("block %d: Rollback after a failed commit: %v; want sql.ErrTxDone (nothing to roll back)", n, err)
			}
			visible(fmt.Sprintf("block %d after its failed commit", n), r, false)
			if x.committing != nil || !flushing && x.pending.votes != 3*4*int(n) { // blocks 0 to n-1
				t.Fatalf("block %d after its failed commit: committing keys %v, %d pending votes", n, x.committing != nil, x.pending.votes)
			}
			// The pending keys are those of every committed batch whose
			// keys the committed segments do not hold, as a restart reads
			// them back.
			if back, err := pendingFromBatches(ctx, x.db); err != nil || back.votes != x.pending.votes {
				t.Fatalf("block %d after its failed commit: %d pending votes; the committed index's batches after keys_flushed hold %d, %v", n, x.pending.votes, back.votes, err)
			}
			if flushing {
				checkSegments(t, x)
			}
			again := votesReport(t, rng, n, 3, 4) // the same block number, batch numbers and seqs
			if err := x.Save(ctx, again); err != nil {
				t.Fatal(err)
			}
			visible(fmt.Sprintf("block %d saved again", n), again, true)
			committed = append(committed, again)
			for _, bt := range r.Batches { // the batches of again are r's (state, seq)
				for _, v := range bt.Batch.Votes {
					if got, err := x.Vote(ctx, v.ID); !errors.Is(err, ErrNotFound) {
						t.Fatalf("block %d saved again: the failed commit's vote %s: %+v, %v; want ErrNotFound", n, v.ID, got.Vote, err)
					}
					if used, err := x.NullifierUsed(t.Context(), v.State, v.Nullifier); err != nil || used {
						t.Fatalf("block %d saved again: the failed commit's vote %s: nullifier used %v, %v", n, v.ID, used, err)
					}
				}
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		visible(fmt.Sprintf("block %d after its commit", n), r, true)
		committed = append(committed, r)
	}
	for i, r := range committed {
		visible(fmt.Sprintf("committed block %d at the end", i), r, true)
	}
	if flushing {
		if failedMerges == 0 {
			t.Fatal("no failed commit had flushed the keys and merged segments")
		}
		var segments int
		if err := x.db.QueryRow(`SELECT COUNT(*) FROM key_segments`).Scan(&segments); err != nil || segments == 0 {
			t.Fatalf("flushing every commit wrote %d segments, %v", segments, err)
		}
		checkSegments(t, x)
	}
}

// TestStaleCommittingPlace: a place a reader takes from a committing
// Writer's keys may, once that commit fails, name a batch number the next
// Writer's batch took, with fewer votes: the lookup then finds nothing
// there (not found), not an error. (Found by review.)
func TestStaleCommittingPlace(t *testing.T) {
	ctx := context.Background()
	x, err := Open(context.Background(), filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	x.flushRows = 1 << 30
	rng := rand.New(rand.NewPCG(3, 4))
	if err := x.Save(ctx, votesReport(t, rng, 0, 1, 4)); err != nil {
		t.Fatal(err)
	}
	var batch int64
	if err := x.db.QueryRow(`SELECT id FROM batch_votes LIMIT 1`).Scan(&batch); err != nil {
		t.Fatal(err)
	}
	// The failed Writer's batch had 6 votes under that number.
	stale := votesReport(t, rng, 1, 1, 6).Batches[0].Batch.Votes
	c := &pendingKeys{}
	c.addBatch(batch, stale, nil, func(int64) {})
	x.mu.Lock()
	x.committing = c
	x.mu.Unlock()
	last := stale[5]
	if got, err := x.Vote(ctx, last.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Vote of a stale committing place: %+v, %v; want ErrNotFound", got.Vote, err)
	}
	if used, err := x.NullifierUsed(t.Context(), last.State, last.Nullifier); err != nil || used {
		t.Errorf("NullifierUsed of a stale committing place: %v, %v; want false, nil", used, err)
	}
}

// flushedAndMerged reports whether tx, a Writer's transaction about to
// commit, flushed the pending keys (keys_flushed moved) and merged
// segments (a kind holds fewer segments in tx than a flush alone would
// leave: the committed ones and one more).
func flushedAndMerged(t *testing.T, x *Index, tx *sql.Tx) bool {
	t.Helper()
	const q = `SELECT (SELECT batch FROM keys_flushed), (SELECT COUNT(*) FROM key_segments WHERE kind = 0)`
	var flushed, segs, committedFlushed, committedSegs int64
	if err := tx.QueryRow(q).Scan(&flushed, &segs); err != nil {
		t.Fatal(err)
	}
	if err := x.db.QueryRow(q).Scan(&committedFlushed, &committedSegs); err != nil {
		t.Fatal(err)
	}
	return flushed != committedFlushed && segs <= committedSegs
}

// TestBatchWithoutItsRow: on a damaged index, a batch of batch_votes
// without its row in batches makes reading the pending keys back an error
// naming the batch and `explorer reindex` (its rejected votes are
// unknown), not a batch of votes all counted; storedVotes and the filter
// of nullifiers alone, which need no rejected votes, still read it.
func TestBatchWithoutItsRow(t *testing.T) {
	ctx := context.Background()
	x, err := Open(context.Background(), filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	r := votesReport(t, rand.New(rand.NewPCG(5, 6)), 0, 2, 4)
	if err := x.Save(ctx, r); err != nil {
		t.Fatal(err)
	}
	gone := r.Batches[1].Batch
	var id int64
	if err := x.db.QueryRowContext(ctx, `SELECT id FROM batch_votes WHERE state = ? AND seq = ?`, gone.State, gone.Seq).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := x.db.ExecContext(ctx, `DELETE FROM batches WHERE state = ? AND seq = ?`, gone.State, gone.Seq); err != nil {
		t.Fatal(err)
	}
	_, err = pendingFromBatches(ctx, x.db)
	if want := fmt.Sprintf("stored batch %d (%s/%d) has no row in the batches table", id, gone.State, gone.Seq); err == nil ||
		!strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "explorer reindex") {
		t.Fatalf("pending keys read back: %v; want an error saying %q and naming `explorer reindex`", err, want)
	}
	if votes, err := x.history.storedVotes(t.Context(), id); err != nil || !slices.Equal(votes, gone.Votes) {
		t.Errorf("storedVotes(%d) = %d votes, %v; want the batch's %d", id, len(votes), err, len(gone.Votes))
	}
	f, err := newAnywhereFilter(ctx, x.db, filterMinKeys, x.log)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range gone.Votes {
		if !f.mayHold(v.Nullifier) {
			t.Errorf("the filter of nullifiers alone lacks %s of the batch without its row", v.Nullifier)
		}
	}
}

// TestCloseWithoutFlush: CloseWithoutFlush writes no pending key: the
// index opened anew holds none in its key tables and reads the committed
// batches' 20 back (TestCloseWithWriterOpen: it rolls back an open
// Writer).
func TestCloseWithoutFlush(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	x, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	err = x.Save(t.Context(), votesReport(t, rand.New(rand.NewPCG(23, 24)), 0, 2, 10))
	if err = errors.Join(err, x.CloseWithoutFlush()); err != nil {
		t.Fatal(err)
	}
	y, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	if got := rowCounts(t, y); got != [4]int64{} || y.pending.votes != 20 {
		t.Fatalf("opened anew: key tables %v, %d pending votes; want none written, 20 pending", got, y.pending.votes)
	}
}

// TestOpenCancelled: Open under a ctx that has ended fails with its error
// (Ctrl-C during an open that reads pending keys back), and leaves the
// index whole: a later Open reads every pending key back. Its read of the
// pending keys, which a cancel after the layout's check meets, heeds ctx:
// openIndex (Open past openSchema) under the ended ctx fails there, not
// at the prepares after it.
func TestOpenCancelled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "index.db")
	x, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Save(t.Context(), votesReport(t, rand.New(rand.NewPCG(21, 22)), 0, 2, 10)); err != nil {
		t.Fatal(err)
	}
	x.CloseWithoutFlush() // the pending keys not written, as a crash
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if y, err := Open(cancelled, path); !errors.Is(err, context.Canceled) {
		if err == nil {
			y.Close()
		}
		t.Fatalf("Open with a cancelled ctx: %v; want context.Canceled", err)
	}
	db, err := openSchema(t.Context(), path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if y, err := openIndex(cancelled, newIndex(), db, path); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "read the pending vote keys") {
		if err == nil {
			y.Close()
		}
		t.Fatalf("openIndex with a cancelled ctx: %v; want context.Canceled from the read of the pending vote keys", err)
	}
	y, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	if y.pending.votes != 20 {
		t.Fatalf("opened after the cancelled Open: %d pending votes; want 20", y.pending.votes)
	}
}
