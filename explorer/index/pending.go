package index

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
)

// The vote keys of the latest batches are kept in memory before they are
// written (pending keys): a Writer saves a batch's votes (batch_votes), which
// its commit makes durable, but not the batch's vote keys; those are
// written, sorted by key, as a segment of each kind (segments.go) once the
// batches committed since the last such write hold flushRows votes, by the
// commit that reaches it (flush). A follower that keeps up commits every
// block or every --commit-delay, a few thousand votes or fewer: a segment
// of so few rows would be merged again at nearly every flush.
//
// Nothing is lost when the process ends: keys_flushed holds the highest
// batch_votes id whose keys are in the segments, and Open reads the batches
// after it back (pendingFromBatches). Every lookup by vote id or nullifier
// consults the pending keys besides the segments, the used nullifiers' filter
// holds them, and a Writer's own pending keys join the index's when it
// commits (a rolled-back Writer's are dropped with it): published as the
// committing keys before its SQL commit, so that no reader sees a batch
// before its votes (Writer.Commit), and dropped if that commit fails.

// pendingFlushRows is the votes of pending keys at which a commit writes
// them as segments: about 10 MB of memory (two 24-byte rows a vote in
// sorted runs, 48–50 bytes a vote measured for 50,000–500,000 votes; maps
// of them took 69–112), and as many votes read back by Open after a
// process that did not close the index (0.28 s of CPU for 200,000). The open Writer's own pending keys
// come on top until it commits (~50 MB for a catch-up Writer of a million
// votes, whose blocks the follower holds decoded anyway), and a merge of
// runs briefly holds the rows it merges twice, as does the commit that
// writes them (one sorted copy).
const pendingFlushRows = 200_000

// keyPlace is where a vote is: its batch (batch_votes.id) and index.
type keyPlace struct {
	batch int64
	idx   int32
}

type keyRow struct {
	key int64
	keyPlace
}

// compareKeyRows orders rows by key, then place. The places are compared
// only for equal keys (rare): the sort, comparing all three each time, took
// a fifth of a flush's CPU in a profile of sustained-shape blocks.
func compareKeyRows(a, b keyRow) int {
	if a.key != b.key {
		if a.key < b.key {
			return -1
		}
		return 1
	}
	return cmp.Or(cmp.Compare(a.batch, b.batch), cmp.Compare(a.idx, b.idx))
}

// keyRuns holds rows as sorted runs (by compareKeyRows), each at least
// twice as long as the next, so that there are at most about log2 of the
// rows over a batch's: a batch's rows are sorted once and merged into
// longer runs as they come (each row copied about log2 times), a lookup
// searches each run, and the rows in key order are one merge of the runs
// away. Maps of the keys cost more: an insert per key in the Writer, again
// when the index took the Writer's keys, then a copy and a sort of them
// all at the flush (in a profile of sustained-shape blocks about a tenth
// of the CPU).
type keyRuns struct {
	runs [][]keyRow
}

// add adds run, sorted, to r, merging it with r's last runs while the
// next to last is not longer than twice the last.
func (r *keyRuns) add(run []keyRow) {
	if len(run) == 0 {
		return
	}
	r.runs = append(r.runs, run)
	for n := len(r.runs); n >= 2 && len(r.runs[n-2]) <= 2*len(r.runs[n-1]); n-- {
		r.runs[n-2] = mergeKeyRows(r.runs[n-2], r.runs[n-1])
		r.runs = r.runs[:n-1]
	}
}

// mergeKeyRows returns the rows of the sorted a and b, sorted, in a new
// slice.
func mergeKeyRows(a, b []keyRow) []keyRow {
	out := make([]keyRow, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if compareKeyRows(b[0], a[0]) < 0 {
			out, b = append(out, b[0]), b[1:]
		} else {
			out, a = append(out, a[0]), a[1:]
		}
	}
	out = append(out, a...)
	return append(out, b...)
}

// places appends the places of key to out.
func (r *keyRuns) places(key int64, out []keyPlace) []keyPlace {
	for _, run := range r.runs {
		i, _ := slices.BinarySearchFunc(run, key, func(row keyRow, key int64) int { return cmp.Compare(row.key, key) })
		for ; i < len(run) && run[i].key == key; i++ {
			out = append(out, run[i].keyPlace)
		}
	}
	return out
}

// each calls fn with every row of r.
func (r *keyRuns) each(fn func(keyRow)) {
	for _, run := range r.runs {
		for _, row := range run {
			fn(row)
		}
	}
}

// absorb adds every row of o to r.
func (r *keyRuns) absorb(o *keyRuns) {
	for _, run := range o.runs {
		r.add(run)
	}
}

// sorted returns the rows of r and o in key order.
func (r *keyRuns) sorted(o *keyRuns) []keyRow {
	all := keyRuns{runs: slices.Concat(r.runs, o.runs)}
	slices.SortFunc(all.runs, func(a, b []keyRow) int { return cmp.Compare(len(b), len(a)) })
	for n := len(all.runs); n >= 2; n-- { // the shortest two each time
		all.runs[n-2] = mergeKeyRows(all.runs[n-2], all.runs[n-1])
		all.runs = all.runs[:n-1]
		slices.SortFunc(all.runs, func(a, b []keyRow) int { return cmp.Compare(len(b), len(a)) })
	}
	if len(all.runs) == 0 {
		return nil
	}
	return all.runs[0]
}

// pendingKeys are vote keys not yet in the segments: ids by voteKey, used by
// nullifierKey (counted votes only); votes counts the ids, last is the
// highest batch they hold.
type pendingKeys struct {
	ids, used keyRuns
	votes     int
	last      int64
}

// addBatch adds the keys of batch's votes, those of counted votes to used
// too, and calls used, if not nil, with each of the latter. rejected are
// the indices of the votes not counted.
func (p *pendingKeys) addBatch(batch int64, votes []ballot.Vote, rejected []int, used func(key int64)) {
	if !slices.IsSorted(rejected) {
		rejected = slices.Sorted(slices.Values(rejected))
	}
	ids := make([]keyRow, len(votes))
	counted := make([]keyRow, 0, len(votes)-min(len(rejected), len(votes)))
	for i, v := range votes {
		at := keyPlace{batch, int32(i)}
		ids[i] = keyRow{voteKey(v.ID), at}
		for len(rejected) > 0 && rejected[0] < i {
			rejected = rejected[1:]
		}
		if len(rejected) > 0 && rejected[0] == i {
			continue
		}
		key := nullifierKey(v.State, v.Nullifier)
		counted = append(counted, keyRow{key, at})
		if used != nil {
			used(key)
		}
	}
	slices.SortFunc(ids, compareKeyRows)
	slices.SortFunc(counted, compareKeyRows)
	p.ids.add(ids)
	p.used.add(counted)
	p.votes += len(votes)
	p.last = max(p.last, batch)
}

// absorb adds o's keys to p.
func (p *pendingKeys) absorb(o *pendingKeys) {
	if o.votes == 0 {
		return
	}
	p.ids.absorb(&o.ids)
	p.used.absorb(&o.used)
	p.votes += o.votes
	p.last = max(p.last, o.last)
}

// pendingFromBatches reads the pending keys back from the batches saved
// after keys_flushed's batch, as q sees them. A batch of batch_votes whose
// row in batches (its rejected votes) is missing, which only a damaged
// index lacks (a Writer saves both in one transaction), is an error naming
// the batch and the fix, `explorer reindex`.
func pendingFromBatches(ctx context.Context, q querier) (*pendingKeys, error) {
	p := &pendingKeys{}
	err := eachStoredBatch(ctx, q, unflushedBatches, func(id int64, b ballot.Batch, rejectedJSON sql.NullString) error {
		if !rejectedJSON.Valid {
			return fmt.Errorf("stored batch %d (%s/%d) has no row in the batches table, so which of its votes were counted is unknown: the index is damaged; run `explorer reindex` to index the ledger afresh", id, b.State, b.Seq)
		}
		var rejected []int
		if err := json.Unmarshal([]byte(rejectedJSON.String), &rejected); err != nil {
			return fmt.Errorf("stored batch %d rejected: %w", id, err)
		}
		p.addBatch(id, b.Votes, rejected, nil)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the pending vote keys: %w", err)
	}
	return p, nil
}

// The queries of eachStoredBatch, each row a batch_votes id and data and
// batches.rejected: those saved after keys_flushed's batch, with rejected
// (NULL if batches lacks the row), and every stored batch, without it
// (always NULL: batch_votes alone).
const (
	unflushedBatches = `SELECT v.id, v.data, b.rejected FROM batch_votes v LEFT JOIN batches b USING (state, seq)
		WHERE v.id > (SELECT batch FROM keys_flushed WHERE id = 1) ORDER BY v.id`
	allBatches = `SELECT id, data, NULL FROM batch_votes ORDER BY id`
)

// eachStoredBatch calls fn, in the order of their numbers, with the
// number, decoded batch and rejected column (JSON) of each row of query
// (unflushedBatches, allBatches), as q sees them; it stops at fn's first
// error and returns it.
func eachStoredBatch(ctx context.Context, q querier, query string, fn func(id int64, b ballot.Batch, rejectedJSON sql.NullString) error) error {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	var data []byte
	var rejectedJSON sql.NullString
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id, &data, &rejectedJSON); err != nil {
			return err
		}
		b, err := decodeStoredBatch(id, data)
		if err != nil {
			return err
		}
		if err := fn(id, b, rejectedJSON); err != nil {
			return err
		}
	}
	return errors.Join(rows.Err(), rows.Close())
}

// decodeStoredBatch decodes data, the batch_votes row numbered id.
func decodeStoredBatch(id int64, data []byte) (ballot.Batch, error) {
	b, err := ballot.DecodeBatch(data, audit.MaxBatchVotes)
	if err != nil {
		return ballot.Batch{}, fmt.Errorf("stored batch %d: %w", id, err)
	}
	return b, nil
}

// flushLimit is the index's flushRows: the pending votes at which a commit
// writes the keys as segments.
func (x *Index) flushLimit() int { return cmp.Or(x.flushRows, pendingFlushRows) }

// committedPlaces returns the places of key in the index's committed
// pending keys of kind ids or used (pick), and in the committing ones: the
// batch of such a place may not be visible yet.
func (x *Index) committedPlaces(pick func(*pendingKeys) *keyRuns, key int64) []keyPlace {
	x.mu.Lock()
	defer x.mu.Unlock()
	places := pick(x.pending).places(key, nil)
	if x.committing != nil {
		places = pick(x.committing).places(key, places)
	}
	return places
}

func pendingIDs(p *pendingKeys) *keyRuns  { return &p.ids }
func pendingUsed(p *pendingKeys) *keyRuns { return &p.used }

// flush writes the index's committed pending keys and w's own as segments,
// sorted by key, and records the last batch they hold
// in keys_flushed, if they hold the index's flushLimit votes or more.
func (w *Writer) flush(ctx context.Context) (bool, error) {
	x := w.x
	if x.pending.votes+w.pending.votes < x.flushLimit() {
		return false, nil
	}
	return true, w.flushAll(ctx)
}

// flushAll writes the pending keys as flush does, however many, as a
// segment of each kind (segments.go).
func (w *Writer) flushAll(ctx context.Context) error {
	x := w.x
	for _, t := range []struct {
		kind int
		pick func(*pendingKeys) *keyRuns
	}{{segmentIDs, pendingIDs}, {segmentUsed, pendingUsed}} {
		if err := w.addSegment(ctx, t.kind, t.pick(x.pending).sorted(t.pick(w.pending))); err != nil {
			return fmt.Errorf("write the pending vote keys: %w", err)
		}
	}
	last := max(x.pending.last, w.pending.last)
	if _, err := w.tx.ExecContext(ctx, `UPDATE keys_flushed SET batch = ? WHERE id = 1`, last); err != nil {
		return fmt.Errorf("write the pending vote keys: %w", err)
	}
	return nil
}

// Flush writes the index's pending vote keys as segments, as a commit does
// once they hold flushRows votes; Close calls it, so that a closed index
// holds every key in its segments (and the next Open reads no
// batch back). It waits for no open Writer: call it between Writers.
func (x *Index) Flush(ctx context.Context) error {
	if x.pending == nil || x.pending.votes == 0 {
		return nil
	}
	tx, err := x.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("write the pending vote keys: %w", err)
	}
	w := &Writer{x: x, tx: tx, stmts: map[string]*sql.Stmt{}, pending: &pendingKeys{}}
	if err := w.flushAll(ctx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("write the pending vote keys: %w", err)
	}
	x.mu.Lock()
	x.pending = &pendingKeys{}
	x.mu.Unlock()
	return nil
}
