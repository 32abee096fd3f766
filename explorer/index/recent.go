package index

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math"
)

// The vote keys are written in two steps, as a log-structured merge tree
// does: a Writer inserts a vote's rows into the small tables
// vote_keys_recent and used_votes_recent, whose pages stay in the write
// connection's cache and of which a commit writes few, and moves them
// into the large vote_keys and used_votes in key order now and then
// (merge): once the recent tables hold more than mergeRows rows, its commit
// moves the rows of one sixteenth of the key space (a slice, the next in
// turn), each page of the large tables' slice then written once for the
// many rows it gains. Inserted one by one at random keys, a vote's rows
// would each make a page of the large tables dirty, written to the WAL at
// commit and again by the checkpoint. The move is made in the Writer's
// transaction, so a restart sees it whole or not at all; every lookup of
// the keys reads both tables of a kind.
//
// While vote_keys holds at most directRows rows, a Writer inserts the keys
// straight into the large tables instead: they are then small enough for
// the write cache too, so the recent tables would save no page a commit
// writes and the merge would only write each key a second time. So does a
// flush of the pending keys (pending.go) of mergeRows votes or more,
// whatever the tables' size: its keys, sorted, make each page of the large
// tables dirty at most once for as many keys as a merge of one slice
// would bring it (a slice of mergeRows rows into a sixteenth of the table
// against mergeRows rows into all of it), and are written once rather
// than inserted into the recent tables, moved and deleted. Smaller writes
// (Flush, as Close does) still go through the recent tables.

// recentMergeRows is the rows of vote_keys_recent above which a commit
// merges slices into vote_keys (and used_votes_recent's same slice into
// used_votes): about 200,000 rows, ~4 MB of pages a table in the write
// cache.
const recentMergeRows = 200_000

// directRows is the rows of vote_keys up to which a Writer inserts the
// vote keys into the large tables directly: between BenchmarkFollowVotes'
// small cases (an index of 200,000 votes), where writing directly rather
// than through the recent tables measured 0.91× (small blocks committed
// one at a time), 0.78× (small blocks committed together) and 0.90× (large
// blocks; medians, loaded machine, 2026-12-01), and BenchmarkSaveVotes with
// 300,000 rows and more, where the recent tables measured 0.66×.
const directRows = 250_000

// recentSlices is the number of key ranges merged in turn.
const recentSlices = 16

// recentKeys is what the Writers know of the vote key tables: the rows in
// vote_keys_recent and in vote_keys (the latter counted up to one more
// than directRows: all that matters is whether it holds more) once
// counted, and the slice to merge next. The Index holds it as committed; a
// Writer its own copy, taken at Begin and given back at Commit.
type recentKeys struct {
	counted    bool
	rows, main int64
	next       int
}

// countRecent counts the rows of vote_keys_recent and vote_keys as tx sees
// them, once per index.
func (x *Index) countRecent(ctx context.Context, tx *sql.Tx) error {
	if x.keys.counted {
		return nil
	}
	upTo := max(x.directLimit()+1, 0)
	if err := tx.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM vote_keys_recent), (SELECT COUNT(*) FROM (SELECT 1 FROM vote_keys LIMIT ?))`, upTo).Scan(&x.keys.rows, &x.keys.main); err != nil {
		return fmt.Errorf("count the recent vote keys: %w", err)
	}
	x.keys.counted = true
	return nil
}

// sliceRange is the range of keys, lo to hi inclusive, of slice i: the
// keys whose top four bits (of the key read as unsigned after flipping its
// sign bit, i.e. in the order SQLite sorts them) are i.
func sliceRange(i int) (lo, hi int64) {
	lo = math.MinInt64 + int64(i)<<60
	return lo, lo + (1<<60 - 1)
}

// The statements of a merge, for the table pairs (main, recent), each
// with ?1 and ?2 the slice's lowest and highest key. INSERT OR IGNORE
// keeps SQLite from keeping a statement journal (a row is in one table
// only, so none is ignored); ORDER BY the main table's key walks it
// forward.
var mergeTables = [][2]string{{"vote_keys", "vote_keys_recent"}, {"used_votes", "used_votes_recent"}}

func mergeInsertQuery(main, recent string) string {
	return `INSERT OR IGNORE INTO ` + main + ` SELECT key, batch, idx FROM ` + recent + ` WHERE key BETWEEN ?1 AND ?2 ORDER BY key, batch, idx`
}

func mergeDeleteQuery(recent string) string {
	return `DELETE FROM ` + recent + ` WHERE key BETWEEN ?1 AND ?2`
}

// keyTables are the tables a Writer inserts the next votes' keys into:
// the large ones while vote_keys holds at most the index's directRows
// rows or for mergeRows votes or more, the recent ones otherwise.
func (w *Writer) keyTables(votes int) (ids, used string) {
	if w.keys.main <= int64(w.x.directLimit()) || votes >= cmp.Or(w.x.mergeRows, recentMergeRows) {
		return "vote_keys", "used_votes"
	}
	return "vote_keys_recent", "used_votes_recent"
}

// directLimit is the index's directRows: the rows of vote_keys up to which
// keys are written to it directly.
func (x *Index) directLimit() int { return cmp.Or(x.directRows, directRows) }

// merge moves slices of the recent tables into the large ones, in turn,
// while vote_keys_recent holds more than the index's mergeRows rows (and at
// most each slice once).
func (w *Writer) merge(ctx context.Context) error {
	limit := int64(cmp.Or(w.x.mergeRows, recentMergeRows))
	for range recentSlices {
		if w.keys.rows <= limit {
			return nil
		}
		if err := w.mergeSlice(ctx, w.keys.next); err != nil {
			return err
		}
	}
	return nil
}

// mergeSlice moves slice i of both recent tables into the large ones.
func (w *Writer) mergeSlice(ctx context.Context, i int) error {
	lo, hi := sliceRange(i)
	for _, t := range mergeTables {
		insert, err := w.stmt(ctx, mergeInsertQuery(t[0], t[1]))
		if err == nil {
			_, err = insert.ExecContext(ctx, lo, hi)
		}
		if err != nil {
			return fmt.Errorf("merge %s slice %d into %s: %w", t[1], i, t[0], err)
		}
		del, err := w.stmt(ctx, mergeDeleteQuery(t[1]))
		var res sql.Result
		if err == nil {
			res, err = del.ExecContext(ctx, lo, hi)
		}
		var n int64
		if err == nil {
			n, err = res.RowsAffected()
		}
		if err != nil {
			return fmt.Errorf("merge %s slice %d: delete the merged rows: %w", t[1], i, err)
		}
		if t[1] == "vote_keys_recent" {
			w.keys.rows -= n
			w.keys.main += n
		}
	}
	w.keys.next = (i + 1) % recentSlices
	return nil
}
