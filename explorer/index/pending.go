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
// its commit makes durable, but not the batch's vote_keys and used_votes rows;
// those are written, sorted by key, once the batches committed since the last
// such write hold flushRows votes, by the commit that reaches it (flush).
// A follower that keeps up commits every block or every --commit-delay, a
// few thousand votes or fewer: inserted at once, each of a commit's vote keys
// dirtied a page of the key tables at a random place, which the commit wrote
// to the WAL (and the checkpoint again); written 50,000 at a time, the same
// pages take many keys each.
//
// Nothing is lost when the process ends: keys_flushed holds the highest
// batch_votes id whose keys are in the tables, and Open reads the batches
// after it back (pendingFromBatches). Every lookup by vote id or nullifier
// consults the pending keys besides the tables, the used nullifiers' filter
// holds them, and a Writer's own pending keys join the index's when it
// commits (a rolled-back Writer's are dropped with it).

// pendingFlushRows is the votes of pending keys at which a commit writes
// them into the key tables: about 3.3 MB of memory (two map entries a vote,
// measured). The open Writer's own pending keys come on top until it
// commits (67–111 bytes a vote, measured for 50,000–500,000: ~100 MB for a
// catch-up Writer of a million votes, whose blocks the follower holds
// decoded anyway), and a commit that writes them sorts a copy (24 bytes a
// key).
const pendingFlushRows = 50_000

// keyPlace is where a vote is: its batch (batch_votes.id) and index.
type keyPlace struct {
	batch int64
	idx   int32
}

// keyMap holds places by key: one in first (nearly every key), the others
// of a key in more (votes that share a hash, or a vote id reused).
type keyMap struct {
	first map[int64]keyPlace
	more  map[int64][]keyPlace
}

func (m *keyMap) add(key int64, p keyPlace) {
	if m.first == nil {
		m.first = map[int64]keyPlace{}
	}
	if _, ok := m.first[key]; !ok {
		m.first[key] = p
		return
	}
	if m.more == nil {
		m.more = map[int64][]keyPlace{}
	}
	m.more[key] = append(m.more[key], p)
}

// places appends the places of key to out.
func (m *keyMap) places(key int64, out []keyPlace) []keyPlace {
	if p, ok := m.first[key]; ok {
		out = append(out, p)
		out = append(out, m.more[key]...)
	}
	return out
}

// rows appends every key and place of m to out, as rows of (key, batch,
// idx).
func (m *keyMap) rows(out []keyRow) []keyRow {
	for k, p := range m.first {
		out = append(out, keyRow{k, p})
	}
	for k, ps := range m.more {
		for _, p := range ps {
			out = append(out, keyRow{k, p})
		}
	}
	return out
}

// absorb adds every key of o to m.
func (m *keyMap) absorb(o *keyMap) {
	for k, p := range o.first {
		m.add(k, p)
	}
	for k, ps := range o.more {
		for _, p := range ps {
			m.add(k, p)
		}
	}
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

// pendingKeys are vote keys not yet in the tables: ids by voteKey, used by
// nullifierKey (counted votes only); votes counts the ids, last is the
// highest batch they hold.
type pendingKeys struct {
	ids, used keyMap
	votes     int
	last      int64
}

// addBatch adds the keys of batch's votes, those of counted votes to used
// too, and calls used, if not nil, with each of the latter.
func (p *pendingKeys) addBatch(batch int64, votes []ballot.Vote, rejected []int, used func(key int64)) {
	p.reserve(len(votes))
	out := make(map[int]bool, len(rejected))
	for _, i := range rejected {
		out[i] = true
	}
	for i, v := range votes {
		at := keyPlace{batch, int32(i)}
		p.ids.add(voteKey(v.ID), at)
		if !out[i] {
			key := nullifierKey(v.State, v.Nullifier)
			p.used.add(key, at)
			if used != nil {
				used(key)
			}
		}
	}
	p.votes += len(votes)
	p.last = max(p.last, batch)
}

// reserve makes p's maps, if not made yet, for votes votes (growing a map
// rehashes its keys).
func (p *pendingKeys) reserve(votes int) {
	if p.ids.first == nil {
		p.ids.first = make(map[int64]keyPlace, votes)
		p.used.first = make(map[int64]keyPlace, votes)
	}
}

// absorb adds o's keys to p.
func (p *pendingKeys) absorb(o *pendingKeys) {
	if o.votes == 0 {
		return
	}
	p.reserve(o.votes)
	p.ids.absorb(&o.ids)
	p.used.absorb(&o.used)
	p.votes += o.votes
	p.last = max(p.last, o.last)
}

// pendingFromBatches reads the pending keys back from the batches saved
// after keys_flushed's batch, as q sees them.
func pendingFromBatches(ctx context.Context, q *sql.DB) (*pendingKeys, error) {
	p := &pendingKeys{}
	rows, err := q.QueryContext(ctx, `SELECT v.id, v.data, b.rejected FROM batch_votes v JOIN batches b USING (state, seq)
		WHERE v.id > (SELECT batch FROM keys_flushed WHERE id = 1) ORDER BY v.id`)
	if err != nil {
		return nil, fmt.Errorf("read the pending vote keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var data []byte
		var rejectedJSON string
		if err := rows.Scan(&id, &data, &rejectedJSON); err != nil {
			return nil, fmt.Errorf("read the pending vote keys: %w", err)
		}
		b, err := ballot.DecodeBatch(data, audit.MaxBatchVotes)
		if err != nil {
			return nil, fmt.Errorf("read the pending vote keys: stored batch %d: %w", id, err)
		}
		var rejected []int
		if err := json.Unmarshal([]byte(rejectedJSON), &rejected); err != nil {
			return nil, fmt.Errorf("read the pending vote keys: stored batch %d rejected: %w", id, err)
		}
		p.addBatch(id, b.Votes, rejected, nil)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read the pending vote keys: %w", err)
	}
	return p, nil
}

// flushLimit is the index's flushRows: the pending votes at which a commit
// writes the keys into the tables.
func (x *Index) flushLimit() int { return cmp.Or(x.flushRows, pendingFlushRows) }

// committedPlaces returns the places of key in the index's committed
// pending keys of kind ids or used (pick).
func (x *Index) committedPlaces(pick func(*pendingKeys) *keyMap, key int64) []keyPlace {
	x.mu.Lock()
	defer x.mu.Unlock()
	return pick(x.pending).places(key, nil)
}

func pendingIDs(p *pendingKeys) *keyMap  { return &p.ids }
func pendingUsed(p *pendingKeys) *keyMap { return &p.used }

// flush writes the index's committed pending keys and w's own into the key
// tables (keyTables), sorted by key, and records the last batch they hold
// in keys_flushed, if they hold the index's flushLimit votes or more.
func (w *Writer) flush(ctx context.Context) (bool, error) {
	x := w.x
	if x.pending.votes+w.pending.votes < x.flushLimit() {
		return false, nil
	}
	return true, w.flushAll(ctx)
}

// flushAll writes the pending keys as flush does, however many.
func (w *Writer) flushAll(ctx context.Context) error {
	x := w.x
	idTable, usedTable := w.keyTables()
	for _, t := range []struct {
		table string
		pick  func(*pendingKeys) *keyMap
	}{{idTable, pendingIDs}, {usedTable, pendingUsed}} {
		rows := t.pick(w.pending).rows(t.pick(x.pending).rows(nil))
		slices.SortFunc(rows, compareKeyRows)
		args := make([]any, 0, 3*min(len(rows), maxRowsPerInsert))
		for len(rows) > 0 {
			n := min(len(rows), maxRowsPerInsert)
			args = args[:0]
			for _, r := range rows[:n] {
				args = append(args, r.key, r.batch, r.idx)
			}
			stmt, err := w.stmt(ctx, insertQuery(t.table, n))
			if err == nil {
				_, err = stmt.ExecContext(ctx, args...)
			}
			if err != nil {
				return fmt.Errorf("write the pending vote keys into %s: %w", t.table, err)
			}
			rows = rows[n:]
		}
	}
	votes := int64(x.pending.votes + w.pending.votes)
	if idTable == "vote_keys" {
		w.keys.main += votes
	} else {
		w.keys.rows += votes
	}
	last := max(x.pending.last, w.pending.last)
	if _, err := w.tx.ExecContext(ctx, `UPDATE keys_flushed SET batch = ? WHERE id = 1`, last); err != nil {
		return fmt.Errorf("write the pending vote keys: %w", err)
	}
	return nil
}

// Flush writes the index's pending vote keys into their tables, as a
// commit does once they hold flushRows votes; Close calls it, so that a
// closed index holds every key in its tables (and the next Open reads no
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
	err = x.countRecent(ctx, tx)
	if err == nil {
		w.keys = x.keys
		err = w.flushAll(ctx)
	}
	if err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("write the pending vote keys: %w", err)
	}
	x.mu.Lock()
	x.keys, x.pending = w.keys, &pendingKeys{}
	x.mu.Unlock()
	return nil
}
