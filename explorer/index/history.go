package index

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/network/fabricblock"
)

// history answers the audit's lookups (audit.History) on the committed
// index or inside a write transaction (Writer), whose uncommitted blocks it
// then sees.
type history struct {
	q querier
	// The bulk lookups, prepared once: one per batch and state; segs reads
	// a key's chunks of the vote key segments (segmentQuery).
	used, rolled, segs *sql.Stmt
	// filter, if set (a Writer's), holds every key of used: keys it does
	// not hold are not looked up.
	filter *usedFilter
	// pendingUsed returns the places of a used nullifier key among the
	// pending keys it sees (pending.go).
	pendingUsed func(key int64) []keyPlace
	// anywhere, if set (a Writer's), returns its filter of the nullifiers
	// of the votes it sees, whatever their state, building it within ctx if
	// need be.
	anywhere func(ctx context.Context) (*anywhereFilter, error)
}

// NullifierUsed reports whether a counted vote of state used nullifier.
func (x history) NullifierUsed(ctx context.Context, state, nullifier string) (bool, error) {
	k := audit.Nullifier{State: state, Nullifier: nullifier}
	used, err := x.UsedNullifiers(ctx, []audit.Nullifier{k})
	return used[k], err
}

// MaybeUsedAnywhere implements audit.History: on a Writer, those of
// nullifiers its filter of nullifiers alone may hold (every one of a
// stored vote, and under 1% of the others for each of the filter's stages,
// anywhereFilter), with no query once the filter is built
// (newAnywhereFilter, once a process); known is false on the committed
// index, which keeps no such filter.
func (x history) MaybeUsedAnywhere(ctx context.Context, nullifiers []string) (map[string]bool, bool, error) {
	if x.anywhere == nil {
		return nil, false, nil
	}
	f, err := x.anywhere(ctx)
	if err != nil {
		return nil, false, err
	}
	out := map[string]bool{}
	for _, n := range nullifiers {
		if f.mayHold(n) {
			out[n] = true
		}
	}
	return out, true, nil
}

// The bulk lookups of the audit: for usedQuery ?1 a JSON array of
// nullifierKeys, for rolledQuery ?1 a state and ?2 a JSON array of its
// nullifiers (the keys of used_votes, used_votes_recent and roll serve
// them; used_votes and its recent table are an index's written before the
// key segments, whose rows UsedNullifiers reads with segmentQuery).
const (
	usedQuery = `SELECT u.key, u.batch, u.idx FROM json_each(?1) j JOIN used_votes u ON u.key = j.value
		UNION ALL SELECT u.key, u.batch, u.idx FROM json_each(?1) j JOIN used_votes_recent u ON u.key = j.value`
	rolledQuery = `SELECT nullifier, contest FROM roll WHERE state = ?1 AND nullifier IN (SELECT value FROM json_each(?2))`
)

// UsedNullifiers implements audit.History: those of keys a counted vote
// used, with one query for the keys the filter may hold, and the batch of
// each vote found read to tell its nullifier from others of the same hash.
func (x history) UsedNullifiers(ctx context.Context, keys []audit.Nullifier) (map[audit.Nullifier]bool, error) {
	out := map[audit.Nullifier]bool{}
	wanted := map[int64][]audit.Nullifier{}
	for _, k := range keys {
		if x.filter == nil || x.filter.mayHold(k) {
			key := nullifierKey(k.State, k.Nullifier)
			wanted[key] = append(wanted[key], k)
		}
	}
	if len(wanted) == 0 {
		return out, nil
	}
	type place struct {
		key, batch, idx int64
		pending         bool
	}
	var found []place
	if x.pendingUsed != nil {
		for key := range wanted {
			for _, p := range x.pendingUsed(key) {
				found = append(found, place{key, p.batch, int64(p.idx), true})
			}
		}
	}
	var places []keyPlace
	for key := range wanted {
		var err error
		if places, err = segmentPlaces(ctx, x.segs, segmentUsed, key, places[:0]); err != nil {
			return nil, fmt.Errorf("index lookup: %w", err)
		}
		for _, p := range places {
			found = append(found, place{key, p.batch, int64(p.idx), false})
		}
	}
	rows, err := x.used.QueryContext(ctx, jsonText(slices.Sorted(maps.Keys(wanted)))) // in key order: the lookups walk the b-tree forward
	if err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	for rows.Next() {
		var p place
		if err := rows.Scan(&p.key, &p.batch, &p.idx); err != nil {
			rows.Close()
			return nil, fmt.Errorf("index lookup: %w", err)
		}
		found = append(found, p)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	batches := map[int64][]ballot.Vote{}
	invisible := map[int64]bool{}
	for _, p := range found {
		if invisible[p.batch] {
			continue
		}
		votes, ok := batches[p.batch]
		if !ok {
			if votes, err = x.storedVotes(ctx, p.batch); p.pending && errors.Is(err, sql.ErrNoRows) {
				invisible[p.batch] = true // a committing Writer's, not committed yet (committedPlaces)
				continue
			}
			if err != nil {
				return nil, err
			}
			batches[p.batch] = votes
		}
		if p.idx < 0 || p.idx >= int64(len(votes)) {
			if p.pending { // a failed commit's place, its batch number taken since
				continue
			}
			return nil, fmt.Errorf("index lookup: stored batch %d has no vote %d", p.batch, p.idx)
		}
		v := votes[p.idx]
		k := audit.Nullifier{State: v.State, Nullifier: v.Nullifier}
		if slices.Contains(wanted[p.key], k) { // not another nullifier of the same hash

			out[k] = true
		}
	}
	return out, nil
}

// storedVotes returns the votes of the batch numbered id in batch_votes,
// an error wrapping sql.ErrNoRows if there is none.
func (x history) storedVotes(ctx context.Context, id int64) ([]ballot.Vote, error) {
	var data []byte
	if err := x.q.QueryRowContext(ctx, `SELECT data FROM batch_votes WHERE id = ?`, id).Scan(&data); err != nil {
		return nil, fmt.Errorf("index lookup: read stored batch %d: %w", id, err)
	}
	b, err := decodeStoredBatch(id, data)
	if err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	return b.Votes, nil
}

// RollContests implements audit.History: the contest of each of keys on
// the indexed roll, with one query per state.
func (x history) RollContests(ctx context.Context, keys []audit.Nullifier) (map[audit.Nullifier]string, error) {
	out := map[audit.Nullifier]string{}
	err := lookupByState(ctx, x.rolled, keys, func(r *sql.Rows, state string) error {
		var n, contest string
		if err := r.Scan(&n, &contest); err != nil {
			return err
		}
		out[audit.Nullifier{State: state, Nullifier: n}] = contest
		return nil
	})
	return out, err
}

// lookupByState runs stmt (rolledQuery) once for each state of keys with
// the JSON array of that state's nullifiers, and scan on every row.
func lookupByState(ctx context.Context, stmt *sql.Stmt, keys []audit.Nullifier, scan func(r *sql.Rows, state string) error) error {
	byState := map[string][]string{}
	for _, k := range keys {
		byState[k.State] = append(byState[k.State], k.Nullifier)
	}
	for state, nullifiers := range byState {
		rows, err := stmt.QueryContext(ctx, state, jsonText(nullifiers))
		if err != nil {
			return fmt.Errorf("index lookup: %w", err)
		}
		for rows.Next() {
			if err := scan(rows, state); err != nil {
				rows.Close()
				return fmt.Errorf("index lookup: %w", err)
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return fmt.Errorf("index lookup: %w", err)
		}
	}
	return nil
}

// Election returns the election record as last indexed, or nil if no
// indexed block wrote one.
func (x history) Election(ctx context.Context) (*ballot.Election, error) {
	var record string
	err := x.q.QueryRowContext(ctx, `SELECT record FROM election WHERE id = 1`).Scan(&record)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read indexed election: %w", err)
	}
	var e ballot.Election
	if err := json.Unmarshal([]byte(record), &e); err != nil {
		return nil, fmt.Errorf("decode indexed election: %w", err)
	}
	return &e, nil
}

// ElectionFinalised implements audit.History: whether an indexed block
// wrote the election record finalised; audit.ErrNotRecorded if it saw no
// finalise and kept the election's writes from a block after 0 (an index
// written before 2026-12-06 13:21).
func (x history) ElectionFinalised(ctx context.Context) (bool, error) {
	var since uint64
	var finalised sql.NullInt64
	err := x.q.QueryRowContext(ctx, `SELECT since, finalised FROM election_history WHERE id = 1`).Scan(&since, &finalised)
	switch {
	case err != nil:
		return false, fmt.Errorf("index lookup: %w", err)
	case finalised.Valid: // a finalise it saw stands, whenever it began keeping
		return true, nil
	case since > 0:
		return false, fmt.Errorf("election history of an index written before 2026-12-06 13:21 (election_history: kept from block %d): %w", since, audit.ErrNotRecorded)
	}
	return false, nil
}

// OnRoll reports whether an indexed LoadRoll transaction wrote nullifier on
// the roll of state and contest.
func (x history) OnRoll(ctx context.Context, state, contest, nullifier string) (bool, error) {
	return x.exists(ctx, `SELECT 1 FROM roll WHERE state = ? AND nullifier = ? AND contest = ?`, state, nullifier, contest)
}

// ChannelConfig implements audit.History: the ordering service's
// configuration as of the last block indexed; audit.ErrNotRecorded if the
// index holds none (one written before 2026-12-04 14:29, or whose indexed
// blocks carried none).
func (x history) ChannelConfig(ctx context.Context) (*fabricblock.ChannelConfig, error) {
	var raw string
	err := x.q.QueryRowContext(ctx, `SELECT record FROM channel_config WHERE id = 1`).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("orderer configuration of an index written before 2026-12-04 14:29, or of a chain without one (channel_config: none kept): %w", audit.ErrNotRecorded)
	}
	if err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	var cfg fabricblock.ChannelConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		return nil, fmt.Errorf("index: orderer configuration: %w", err)
	}
	return &cfg, nil
}

// RollChunks implements audit.History: the roll chunk records indexed, in
// index order; audit.ErrNotRecorded if the index was written before it
// kept them (roll_chunks_since, schema.go). An index that kept them
// answers with the records it holds, none if the ledger's roll marks came
// without their records: the seal is then recomputed over none, not
// skipped.
func (x history) RollChunks(ctx context.Context) ([]ballot.RollChunkRecord, error) {
	if err := x.keptSince(ctx, "roll_chunks_since", "roll chunk records", "written before 2026-12-04 14:07, or before 16:36 and not proved to have kept them"); err != nil {
		return nil, err
	}
	rows, err := x.q.QueryContext(ctx, `SELECT record FROM roll_chunks ORDER BY idx`)
	if err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	defer rows.Close()
	var chunks []ballot.RollChunkRecord
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("index lookup: %w", err)
		}
		var c ballot.RollChunkRecord
		if err := json.Unmarshal([]byte(raw), &c); err != nil {
			return nil, fmt.Errorf("index: roll chunk record: %w", err)
		}
		chunks = append(chunks, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	return chunks, nil
}

// IntakeLog implements audit.History: the intake log's keys and anchored
// heads as the indexed blocks left them; audit.ErrNotRecorded if the index
// holds blocks indexed before it kept them.
func (x history) IntakeLog(ctx context.Context) (audit.IntakeLog, error) {
	log := audit.IntakeLog{Keys: ballot.LogKeys{Keys: []ballot.LogKey{}}, Heads: map[string]ballot.AnchoredHead{}}
	if err := x.keptSince(ctx, "log_since", "intake log record", "written before 2026-12-04 16:36"); err != nil {
		return log, err
	}
	var raw string
	err := x.q.QueryRowContext(ctx, `SELECT record FROM log_keys WHERE id = 1`).Scan(&raw)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return log, fmt.Errorf("index lookup: %w", err)
	default:
		if err := json.Unmarshal([]byte(raw), &log.Keys); err != nil {
			return log, fmt.Errorf("index: log keys record: %w", err)
		}
	}
	heads, err := x.logHeads(ctx)
	for _, h := range heads {
		log.Heads[h.Head.State] = h.AnchoredHead
	}
	return log, err
}

// Policies implements audit.History: each chaincode's endorsement policy
// as its last indexed definition states it; audit.ErrNotRecorded if the
// index holds blocks indexed before it kept them.
func (x history) Policies(ctx context.Context) (map[string]fabricblock.EndorsementPolicy, error) {
	if err := x.keptSince(ctx, "policies_since", "chaincode policies", "written before 2026-12-04 17:29"); err != nil {
		return nil, err
	}
	rows, err := x.q.QueryContext(ctx, `SELECT chaincode, record FROM chaincode_policies`)
	if err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	defer rows.Close()
	out := map[string]fabricblock.EndorsementPolicy{}
	for rows.Next() {
		var cc, raw string
		if err := rows.Scan(&cc, &raw); err != nil {
			return nil, fmt.Errorf("index lookup: %w", err)
		}
		var p fabricblock.EndorsementPolicy
		if err := json.Unmarshal([]byte(raw), &p); err != nil {
			return nil, fmt.Errorf("index: %s's endorsement policy: %w", cc, err)
		}
		out[cc] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	return out, nil
}

// Approvals implements audit.History: the organisations' lifecycle
// approvals indexed; audit.ErrNotRecorded if the index holds blocks
// indexed before it kept them.
func (x history) Approvals(ctx context.Context) (audit.Approvals, error) {
	if err := x.keptSince(ctx, "approvals_since", "lifecycle approvals", "written before 2026-12-04 20:25"); err != nil {
		return nil, err
	}
	rows, err := x.q.QueryContext(ctx, `SELECT org, key_hash, value_hash FROM lifecycle_approvals`)
	if err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	defer rows.Close()
	out := audit.Approvals{}
	for rows.Next() {
		var org, key string
		var value []byte
		if err := rows.Scan(&org, &key, &value); err != nil {
			return nil, fmt.Errorf("index lookup: %w", err)
		}
		if out[org] == nil {
			out[org] = map[string][]byte{}
		}
		out[org][key] = value
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	return out, nil
}

// keptSince fails with audit.ErrNotRecorded when table (log_since,
// policies_since, approvals_since, roll_chunks_since) says the index kept
// what from a block after 0, saying which index that is (written: when it
// was written, from the table's comment in schema.go) and naming table.
func (x history) keptSince(ctx context.Context, table, what, written string) error {
	var since uint64
	if err := x.q.QueryRowContext(ctx, `SELECT block FROM `+table+` WHERE id = 1`).Scan(&since); err != nil {
		return fmt.Errorf("index lookup: %w", err)
	}
	if since > 0 {
		return fmt.Errorf("%s of an index %s (%s: kept from block %d): %w", what, written, table, since, audit.ErrNotRecorded)
	}
	return nil
}

// indexedHead is an anchored head with the block that wrote it.
type indexedHead struct {
	ballot.AnchoredHead
	Block uint64
}

// logHeads returns the indexed anchored heads, by state.
func (x history) logHeads(ctx context.Context) ([]indexedHead, error) {
	rows, err := x.q.QueryContext(ctx, `SELECT block, record FROM log_heads ORDER BY state`)
	if err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	defer rows.Close()
	var heads []indexedHead
	for rows.Next() {
		var h indexedHead
		var raw string
		if err := rows.Scan(&h.Block, &raw); err != nil {
			return nil, fmt.Errorf("index lookup: %w", err)
		}
		if err := json.Unmarshal([]byte(raw), &h.AnchoredHead); err != nil {
			return nil, fmt.Errorf("index: anchored head: %w", err)
		}
		heads = append(heads, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	return heads, nil
}

// ValidTxIDs implements audit.History: those of ids an indexed VALID
// transaction carried (one query, by the txs_id index).
func (x history) ValidTxIDs(ctx context.Context, ids []string) (map[string]bool, error) {
	rows, err := x.q.QueryContext(ctx,
		`SELECT DISTINCT id FROM txs WHERE id IN (SELECT value FROM json_each(?)) AND code = 'VALID'`, jsonText(ids))
	if err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("index lookup: %w", err)
		}
		out[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	return out, nil
}

// Batched implements audit.History: the totals of each state's indexed
// batches (each batch's first commit).
func (x history) Batched(ctx context.Context) (map[string]ballot.BatchTotals, error) {
	rows, err := x.q.QueryContext(ctx, `SELECT state, COUNT(*), SUM(votes) FROM batches GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	defer rows.Close()
	out := map[string]ballot.BatchTotals{}
	for rows.Next() {
		var state string
		var t ballot.BatchTotals
		if err := rows.Scan(&state, &t.Batches, &t.Votes); err != nil {
			return nil, fmt.Errorf("index lookup: %w", err)
		}
		out[state] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("index lookup: %w", err)
	}
	return out, nil
}

// RollSealed reports whether an indexed transaction sealed the roll.
func (x history) RollSealed(ctx context.Context) (bool, error) {
	return x.exists(ctx, `SELECT 1 FROM roll_seal WHERE id = 1`)
}

// exists reports whether query returns a row.
func (x history) exists(ctx context.Context, query string, args ...any) (bool, error) {
	var one int
	err := x.q.QueryRowContext(ctx, query, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("index lookup: %w", err)
	}
	return true, nil
}

// BatchRoot returns the root of the indexed batch (state, seq), if any.
func (x history) BatchRoot(ctx context.Context, state string, seq uint64) (string, bool, error) {
	return scanBatchRoot(x.q.QueryRowContext(ctx, batchRootQuery, state, seq), state, seq)
}

const batchRootQuery = `SELECT root FROM batches WHERE state = ? AND seq = ?`

// scanBatchRoot reads the answer to batchRootQuery.
func scanBatchRoot(r *sql.Row, state string, seq uint64) (string, bool, error) {
	var root string
	err := r.Scan(&root)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("look up batch %s/%d: %w", state, seq, err)
	}
	return root, true, nil
}
