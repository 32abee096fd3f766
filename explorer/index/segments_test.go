package index

import (
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
)

// rowCounts is the rows of vote ids in the segments and in the tables of
// an index written before (vote_keys and vote_keys_recent), and of used
// nullifiers in both (used_votes and used_votes_recent), as the committed
// index has them.
func rowCounts(t *testing.T, x *Index) (counts [4]int64) {
	t.Helper()
	for i, q := range []string{
		`SELECT COALESCE(SUM(rows), 0) FROM key_segments WHERE kind = 0`,
		`SELECT (SELECT COUNT(*) FROM vote_keys) + (SELECT COUNT(*) FROM vote_keys_recent)`,
		`SELECT COALESCE(SUM(rows), 0) FROM key_segments WHERE kind = 1`,
		`SELECT (SELECT COUNT(*) FROM used_votes) + (SELECT COUNT(*) FROM used_votes_recent)`,
	} {
		if err := x.db.QueryRow(q).Scan(&counts[i]); err != nil {
			t.Fatal(err)
		}
	}
	return counts
}

// segmentList is the segments of the committed index, by kind, as id:rows.
func segmentList(t testing.TB, x *Index) []segment {
	t.Helper()
	rows, err := x.db.Query(`SELECT id, rows FROM key_segments ORDER BY kind, id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var segs []segment
	for rows.Next() {
		var s segment
		if err := rows.Scan(&s.id, &s.rows); err != nil {
			t.Fatal(err)
		}
		segs = append(segs, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return segs
}

// checkSegments checks every segment of the committed index: its chunks
// hold as many rows as it says, in key order, each chunk named by its
// first key, at most chunkRows rows unless its last key's rows continue,
// no key split over two chunks; and each kind's segments are as the
// index's merge policy leaves them (mergePolicy.settled).
func checkSegments(t *testing.T, x *Index) {
	t.Helper()
	for _, kind := range []int{segmentIDs, segmentUsed} {
		rows, err := x.db.Query(`SELECT id, rows FROM key_segments WHERE kind = ? ORDER BY id`, kind)
		if err != nil {
			t.Fatal(err)
		}
		var segs []segment
		for rows.Next() {
			var s segment
			if err := rows.Scan(&s.id, &s.rows); err != nil {
				t.Fatal(err)
			}
			segs = append(segs, s)
		}
		rows.Close()
		sizes := make([]int64, len(segs))
		for i, s := range segs {
			sizes[i] = s.rows
		}
		if !x.mergePolicy().settled(sizes) {
			t.Fatalf("kind %d: segments of %v rows; want them merged (%+v)", kind, sizes, x.mergePolicy())
		}
		for _, s := range segs {
			chunks, err := x.db.Query(`SELECT first, rows FROM key_chunks WHERE segment = ? ORDER BY first`, s.id)
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			var prev keyRow
			for chunks.Next() {
				var first int64
				var b []byte
				if err := chunks.Scan(&first, &b); err != nil {
					t.Fatal(err)
				}
				if len(b) == 0 || len(b)%segmentRowBytes != 0 {
					t.Fatalf("segment %d: a chunk of %d bytes", s.id, len(b))
				}
				rows := len(b) / segmentRowBytes
				if decodeRow(b, 0).key != first {
					t.Fatalf("segment %d: chunk %d begins with key %d", s.id, first, decodeRow(b, 0).key)
				}
				if n > 0 && prev.key == first {
					t.Fatalf("segment %d: key %d split over two chunks", s.id, first)
				}
				if rows > chunkRows && decodeRow(b, chunkRows-1).key != decodeRow(b, rows-1).key {
					t.Fatalf("segment %d: a chunk of %d rows", s.id, rows)
				}
				for r := range rows {
					row := decodeRow(b, r)
					if n > 0 && compareKeyRows(prev, row) >= 0 {
						t.Fatalf("segment %d: row %+v after %+v", s.id, row, prev)
					}
					prev = row
					n++
				}
			}
			chunks.Close()
			if n != s.rows {
				t.Fatalf("segment %d: %d rows in its chunks; it says %d", s.id, n, s.rows)
			}
		}
	}
}

// addSegmentRows writes rows (in any order) as a segment of kind in a
// transaction of its own, merged as a flush's segment is.
func addSegmentRows(tb testing.TB, x *Index, kind int, rows []keyRow) {
	tb.Helper()
	ctx := context.Background()
	tx, err := x.write.BeginTx(ctx, nil)
	if err != nil {
		tb.Fatal(err)
	}
	w := &Writer{x: x, tx: tx, stmts: map[string]*sql.Stmt{}}
	slices.SortFunc(rows, compareKeyRows)
	if err := w.addSegment(ctx, kind, rows); err != nil {
		tx.Rollback()
		tb.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
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
		used, err := h.UsedNullifiers(t.Context(), keys)
		if err != nil || len(used) != len(votes) || used[keys[len(votes)]] {
			t.Fatalf("%s: %d of %d nullifiers used (and the unused one %v), %v", name, len(used), len(votes), used[keys[len(votes)]], err)
		}
	}
}

// TestSegmentsMerged: each commit (flushRows 1) writes its vote keys as a
// segment of each kind, merged with the latest ones while those are at
// most twice as large; the segments hold every key once, in order, and
// every vote is found, after each commit and after reopening the index.
// Again with a ceiling of 300 rows on a merged segment (the blocks hold
// 10 to 164 votes, 1,044 in all): no segment grows above it, and the
// kind's rows stay in as many segments as that takes.
func TestSegmentsMerged(t *testing.T) {
	for name, p := range map[string]mergePolicy{"default": {}, "maxRows=300": {ratio: 2, maxRows: 300}} {
		t.Run(name, func(t *testing.T) { segmentsMerged(t, p) })
	}
}

func segmentsMerged(t *testing.T, p mergePolicy) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "index.db")
	x, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { x.Close() }()
	x.flushRows, x.merges = 1, p
	rng := rand.New(rand.NewPCG(1, 2))
	var votes []ballot.Vote
	merges := 0
	for n := range uint64(12) {
		r := votesReport(t, rng, n, 2, 5+int(n)*7) // 10 to 164 votes a block
		before := len(segmentList(t, x))
		if err := x.Save(ctx, r); err != nil {
			t.Fatal(err)
		}
		for _, bt := range r.Batches {
			votes = append(votes, bt.Batch.Votes...)
		}
		if len(segmentList(t, x)) <= before {
			merges++
		}
		if c := rowCounts(t, x); c != [4]int64{int64(len(votes)), 0, int64(len(votes)), 0} {
			t.Fatalf("after block %d: %v rows; want %d of each kind in the segments", n, c, len(votes))
		}
		checkSegments(t, x)
		findAll(t, x, votes)
	}
	if merges == 0 {
		t.Fatal("no commit merged segments")
	}
	if segs := segmentList(t, x); p.maxRows > 0 {
		for _, s := range segs {
			if s.rows > p.maxRows {
				t.Fatalf("segments %v: one above the ceiling %d", segs, p.maxRows)
			}
		}
		if want := 2 * int((int64(len(votes))+p.maxRows-1)/p.maxRows); len(segs) < want {
			t.Fatalf("segments %v; want at least %d", segs, want)
		}
	}
	x.Close()
	if x, err = Open(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	findAll(t, x, votes)
}

// TestSegmentReaderManyChunks: a segment of more chunks than a reader's
// query reads at once (readerChunks) is read back whole, in order, and
// merged with another into one that holds every row of both.
func TestSegmentReaderManyChunks(t *testing.T) {
	ctx := context.Background()
	x, err := Open(context.Background(), filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	rng := rand.New(rand.NewPCG(5, 6))
	random := func(n int, batch int64) []keyRow {
		rows := make([]keyRow, n)
		for i := range rows {
			rows[i] = keyRow{int64(rng.Uint64()), keyPlace{batch, int32(i)}}
		}
		return rows
	}
	first := random((2*readerChunks+readerChunks/2)*chunkRows+7, 1) // 2.5 queries' chunks
	addSegmentRows(t, x, segmentIDs, first)                         // sorted in place
	var chunks int
	if err := x.db.QueryRow(`SELECT COUNT(*) FROM key_chunks`).Scan(&chunks); err != nil || chunks <= 2*readerChunks {
		t.Fatalf("%d chunks, %v; want more than %d", chunks, err, 2*readerChunks)
	}
	read := func(id int64) []keyRow {
		t.Helper()
		tx, err := x.write.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		r := &segmentReader{w: &Writer{x: x, tx: tx, stmts: map[string]*sql.Stmt{}}, ctx: ctx, id: id}
		var got []keyRow
		for {
			row, ok, err := r.next()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				return got
			}
			got = append(got, row)
		}
	}
	segs := segmentList(t, x)
	if got := read(segs[0].id); !slices.Equal(got, first) {
		t.Fatalf("read back %d rows of %d, or not in order", len(got), len(first))
	}
	second := random(len(first)/2+1, 2)
	addSegmentRows(t, x, segmentIDs, second) // merged with the first: at least half as large
	checkSegments(t, x)
	segs = segmentList(t, x)
	want := slices.SortedFunc(slices.Values(slices.Concat(first, second)), compareKeyRows)
	if got := read(segs[0].id); len(segs) != 1 || !slices.Equal(got, want) {
		t.Fatalf("segments %v: read back %d rows; want one of %d", segs, len(got), len(want))
	}
}

// TestSegmentSharedKeys: rows of one key are kept in one chunk, however
// many (a chunk then holds more than chunkRows), and a key's places are
// found in every segment that holds them; merged, the segment holds each
// row once.
func TestSegmentSharedKeys(t *testing.T) {
	ctx := context.Background()
	x, err := Open(context.Background(), filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	var rows []keyRow
	for i := range 3 * chunkRows {
		rows = append(rows, keyRow{int64(i / 2), keyPlace{1, int32(i)}}) // two rows a key
	}
	for i := range 2 * chunkRows {
		rows = append(rows, keyRow{-7, keyPlace{2, int32(i)}}) // two chunks' rows of key -7
	}
	rows = append(rows, keyRow{-1 << 63, keyPlace{3, 0}}, keyRow{1<<63 - 1, keyPlace{3, 1}})
	addSegmentRows(t, x, segmentIDs, rows)
	checkSegments(t, x)
	places := func(key int64) []keyPlace {
		t.Helper()
		got, err := segmentPlaces(context.Background(), x.segs, segmentIDs, key, nil)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := places(-7); len(got) != 2*chunkRows || got[0] != (keyPlace{2, 0}) || got[len(got)-1] != (keyPlace{2, 2*chunkRows - 1}) {
		t.Fatalf("key -7: %d places %v; want %d", len(got), got, 2*chunkRows)
	}
	last := int64(3*chunkRows/2 - 1) // the last key of two rows
	for key, want := range map[int64][]keyPlace{-1 << 63: {{3, 0}}, 1<<63 - 1: {{3, 1}}, 0: {{1, 0}, {1, 1}},
		last: {{1, 3*chunkRows - 2}, {1, 3*chunkRows - 1}}, last + 1: nil, -6: nil} {
		if got := places(key); !slices.Equal(got, want) {
			t.Fatalf("key %d: places %v; want %v", key, got, want)
		}
	}
	// A second segment of 3 rows is kept apart, and a key in both is found
	// in both; a third as large as the first merges all three.
	addSegmentRows(t, x, segmentIDs, []keyRow{{5, keyPlace{4, 0}}, {-7, keyPlace{4, 1}}, {1000, keyPlace{4, 2}}})
	if segs := segmentList(t, x); len(segs) != 2 {
		t.Fatalf("segments %v; want 2", segs)
	}
	if got := places(5); !slices.Equal(got, []keyPlace{{1, 10}, {1, 11}, {4, 0}}) {
		t.Fatalf("key 5 in two segments: %v", got)
	}
	var more []keyRow
	for i := range len(rows) {
		more = append(more, keyRow{int64(i * 1000), keyPlace{5, int32(i)}})
	}
	addSegmentRows(t, x, segmentIDs, more)
	checkSegments(t, x)
	if segs := segmentList(t, x); len(segs) != 1 || segs[0].rows != int64(2*len(rows)+3) {
		t.Fatalf("segments %v; want one of %d rows", segs, 2*len(rows)+3)
	}
	if got := places(-7); len(got) != 2*chunkRows+1 || got[len(got)-1] != (keyPlace{4, 1}) {
		t.Fatalf("key -7 merged: %d places", len(got))
	}
	if got := places(1000); !slices.Equal(got, []keyPlace{{4, 2}, {5, 1}}) {
		t.Fatalf("key 1000 merged: %v", got)
	}
	// A place that does not fit a row is refused, and nothing written.
	tx, err := x.write.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	w := &Writer{x: x, tx: tx, stmts: map[string]*sql.Stmt{}}
	if err := w.addSegment(ctx, segmentUsed, []keyRow{{1, keyPlace{maxPlaceBatch + 1, 0}}}); err == nil {
		t.Fatal("a batch beyond maxPlaceBatch written")
	}
	if err := w.addSegment(ctx, segmentUsed, []keyRow{{1, keyPlace{1, 1 << placeIdxBits}}}); err == nil {
		t.Fatal("an index beyond placeIdxBits written")
	}
}

// TestLegacyKeyTablesLookedUp: an index written before the segments keeps
// its vote_keys, used_votes and recent tables; their rows are still found
// (by Vote, UsedNullifiers and the used filter), with the segments' after
// new blocks, and the tables are never written again.
func TestLegacyKeyTablesLookedUp(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "index.db")
	x, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { x.Close() }()
	rng := rand.New(rand.NewPCG(11, 12))
	var votes []ballot.Vote
	for n := range uint64(2) {
		r := votesReport(t, rng, n, 2, 10)
		if err := x.Save(ctx, r); err != nil {
			t.Fatal(err)
		}
		for _, bt := range r.Batches {
			votes = append(votes, bt.Batch.Votes...)
		}
	}
	x.Close()
	// The keys as the code before wrote them: the first block's in the
	// large tables, the second's in the recent ones.
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ids, used []any
	for i, v := range votes {
		batch := int64(1 + i/10)
		ids = append(ids, voteKey(v.ID), batch, i%10)
		used = append(used, nullifierKey(v.State, v.Nullifier), batch, i%10)
	}
	for _, q := range []struct {
		table string
		args  []any
	}{{"vote_keys", ids[:60]}, {"vote_keys_recent", ids[60:]}, {"used_votes", used[:60]}, {"used_votes_recent", used[60:]}} {
		values := ""
		for range len(q.args) / 3 {
			values += ", (?, ?, ?)"
		}
		if _, err := db.Exec(`INSERT INTO `+q.table+` VALUES `+values[2:], q.args...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`DELETE FROM key_chunks; DELETE FROM key_segments`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if x, err = Open(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	x.flushRows = 1
	if c := rowCounts(t, x); c != [4]int64{0, 40, 0, 40} {
		t.Fatalf("%v rows; want the keys in the tables of before only", c)
	}
	findAll(t, x, votes)
	r := votesReport(t, rng, 2, 2, 10)
	if err := x.Save(ctx, r); err != nil {
		t.Fatal(err)
	}
	for _, bt := range r.Batches {
		votes = append(votes, bt.Batch.Votes...)
	}
	if c := rowCounts(t, x); c != [4]int64{20, 40, 20, 40} {
		t.Fatalf("%v rows; want the new block's in the segments, the tables as they were", c)
	}
	findAll(t, x, votes)
	x.Close()
	if x, err = Open(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	findAll(t, x, votes)
	if w, err := x.Begin(ctx); err != nil || w.filter.keys != 60 {
		t.Fatalf("the used filter holds %d keys, %v; want the tables' 40 and the segment's 20", w.filter.keys, err)
	} else {
		w.Rollback()
	}
}

// TestWriterRolledBackLeavesNoKeys: a Writer rolled back leaves no vote
// key: the segments are as before, no vote of it is found and none of its
// nullifiers used (though the used filter may still hold them); saved
// again and committed (flushed as a segment, new or merged with the one
// before), every vote is found. Keys are flushed only in Commit, so this
// Writer never wrote a segment: a commit that fails after its flush and
// merge is TestVotesVisibleWithTheirBatch's.
func TestWriterRolledBackLeavesNoKeys(t *testing.T) {
	for name, merged := range map[string]int{"new segment": 1, "merged": 2} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			x, err := Open(context.Background(), filepath.Join(t.TempDir(), "index.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer x.Close()
			x.flushRows = 1 // every commit writes its keys
			rng := rand.New(rand.NewPCG(7, 8))
			first := votesReport(t, rng, 0, 2, 10*merged) // a segment of 20 merges with one of 20, not one of 40
			if err := x.Save(ctx, first); err != nil {
				t.Fatal(err)
			}
			before, segs := rowCounts(t, x), segmentList(t, x)
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
			if got, gotSegs := rowCounts(t, x), segmentList(t, x); got != before || !slices.Equal(gotSegs, segs) {
				t.Fatalf("after the rollback: %v rows, segments %v; want %v, %v", got, gotSegs, before, segs)
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
			used, err := w.UsedNullifiers(t.Context(), keys)
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
	x, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { x.Close() }()
	rng := rand.New(rand.NewPCG(9, 10))
	entry := ballot.RollEntry{State: "CA", Contest: "president", Nullifier: "n1"}
	k := audit.Nullifier{State: entry.State, Nullifier: entry.Nullifier}
	lookup := func(w *Writer) string {
		t.Helper()
		got, err := w.RollContests(t.Context(), []audit.Nullifier{k})
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
			if x, err = Open(context.Background(), path); err != nil {
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
