package index

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
)

// Save stores an audited block, its transactions, batches, votes, recounted
// tallies and issues, and advances the checkpoint past it, all in one SQL
// transaction. The block must be the checkpoint's next block: saving a block
// twice, or out of order, is refused.
func (x *Index) Save(ctx context.Context, r audit.Report) error {
	w, err := x.Begin(ctx)
	if err != nil {
		return err
	}
	if err := w.Save(ctx, r); err != nil {
		w.Rollback()
		return err
	}
	return w.Commit()
}

// Writer saves blocks in one SQL transaction, which commits them together
// with the checkpoint: fewer, larger commits write each page of the index
// once for many blocks. Its audit.History lookups see the blocks saved in
// it. A Writer is used by one goroutine; the index has one at a time.
type Writer struct {
	history
	x  *Index
	tx *sql.Tx
	// stmts are the statements of Save prepared for tx, by query.
	stmts map[string]*sql.Stmt
	// roll answers RollContests.
	roll rollWriter
	// pending are the vote keys of the batches saved by w, kept in memory
	// until a commit writes them as segments with the index's (flush).
	pending *pendingKeys
	// The election record, whether it was finalised and the roll seal as
	// of the last block saved, once read: the audit asks for them at every
	// block. A Writer starts from the index's, which its commit updates (a
	// follower that keeps up begins a Writer per block or two).
	electionState
	// lastSeqs are the highest seq of each state's batches as of the last
	// block saved: BatchRoot needs no lookup for a batch above it (every
	// batch of an honest batcher).
	lastSeqs map[string]uint64
}

// electionState is the election record, whether it was finalised
// (finalisedErr: audit.ErrNotRecorded if the index did not keep that) and
// the roll seal as some Writer saw them (known false: not read yet).
type electionState struct {
	known        bool
	election     *ballot.Election
	finalised    bool
	finalisedErr error
	sealed       bool
}

// Election implements audit.History: the election record as of the last
// block saved.
func (w *Writer) Election(ctx context.Context) (*ballot.Election, error) {
	return w.election, w.know(ctx)
}

// ElectionFinalised implements audit.History: whether a block saved
// before wrote the election record finalised.
func (w *Writer) ElectionFinalised(ctx context.Context) (bool, error) {
	if err := w.know(ctx); err != nil {
		return false, err
	}
	return w.finalised, w.finalisedErr
}

// RollSealed implements audit.History: whether a block saved before sealed
// the roll.
func (w *Writer) RollSealed(ctx context.Context) (bool, error) {
	return w.sealed, w.know(ctx)
}

// know reads the election record, whether it was finalised and the roll
// seal of the index, once.
func (w *Writer) know(ctx context.Context) error {
	if w.known {
		return nil
	}
	e, err := w.history.Election(ctx)
	if err != nil {
		return err
	}
	finalised, finalisedErr := w.history.ElectionFinalised(ctx)
	if finalisedErr != nil && !errors.Is(finalisedErr, audit.ErrNotRecorded) {
		return finalisedErr
	}
	sealed, err := w.history.RollSealed(ctx)
	if err != nil {
		return err
	}
	w.known, w.election, w.finalised, w.finalisedErr, w.sealed = true, e, finalised, finalisedErr, sealed
	return nil
}

// Begin starts a Writer on the index's write connection. It ends with
// Commit or Rollback; a failed Save leaves it fit only for Rollback.
func (x *Index) Begin(ctx context.Context) (*Writer, error) {
	tx, err := x.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin index write: %w", err)
	}
	if x.filter == nil || x.filter.full() {
		if x.filter, err = newUsedFilter(ctx, tx, cmp.Or(x.minFilterKeys, filterMinKeys)); err != nil {
			tx.Rollback()
			return nil, err
		}
		x.pending.used.each(func(r keyRow) { x.filter.addKey(r.key) }) // not in the segments yet
	}
	if x.roll == nil {
		if x.roll, err = loadRollCache(ctx, tx); err != nil {
			tx.Rollback()
			return nil, err
		}
	}
	if x.lastSeqs == nil {
		if x.lastSeqs, err = readLastSeqs(ctx, tx); err != nil {
			tx.Rollback()
			return nil, err
		}
	}
	w := &Writer{history: history{q: tx, used: tx.StmtContext(ctx, x.used), rolled: tx.StmtContext(ctx, x.rolled), segs: tx.StmtContext(ctx, x.segs),
		filter: x.filter}, x: x, tx: tx, stmts: map[string]*sql.Stmt{}, roll: rollWriter{cache: x.roll}, pending: &pendingKeys{},
		electionState: x.election, lastSeqs: maps.Clone(x.lastSeqs)}
	w.history.pendingUsed = func(key int64) []keyPlace {
		return w.pending.used.places(key, x.pending.used.places(key, nil))
	}
	w.history.anywhere = func(ctx context.Context) (*anywhereFilter, error) {
		if x.anywhere == nil {
			f, err := newAnywhereFilter(ctx, tx, cmp.Or(x.minFilterKeys, filterMinKeys), x.log)
			if err != nil {
				return nil, err
			}
			x.anywhere = f
		}
		return x.anywhere, nil
	}
	x.mu.Lock()
	x.open = w
	x.mu.Unlock()
	return w, nil
}

// ended forgets w as the index's open Writer.
func (x *Index) ended(w *Writer) {
	x.mu.Lock()
	if x.open == w {
		x.open = nil
	}
	x.mu.Unlock()
}

// stmt returns query prepared for w's transaction. Each query is prepared
// once per index and then reused by every Writer (on the write connection
// SQLite keeps it compiled): parsing the statements run per block, batch
// and transaction anew took about a tenth of the CPU at small blocks.
// ctx bounds the statement's use, not its preparation for the transaction:
// a statement prepared under a ctx that has ended fails at every use, and
// w keeps it for w's later calls, whatever their ctx. A ctx already ended
// fails at once (the ctx.Err check), so the preparation's
// context.WithoutCancel only covers a cancel that races it, which it can
// outlast by at most the busy_timeout (10 s, pragmas) of a locked database.
func (w *Writer) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s, ok := w.stmts[query]; ok {
		return s, nil
	}
	parent, err := w.x.prepare(query)
	if err != nil {
		return nil, err
	}
	s := w.tx.StmtContext(context.WithoutCancel(ctx), parent)
	w.stmts[query] = s
	return s, nil
}

// prepare returns query prepared on the index, preparing it the first time.
func (x *Index) prepare(query string) (*sql.Stmt, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if s, ok := x.prepared[query]; ok {
		return s, nil
	}
	s, err := x.db.Prepare(query)
	if err != nil {
		return nil, err
	}
	if x.prepared == nil {
		x.prepared = map[string]*sql.Stmt{}
	}
	x.prepared[query] = s
	return s, nil
}

// Commit makes the saved blocks durable and visible to readers, first
// writing the pending vote keys as segments if they hold enough
// (pending.go). If it fails, nothing of the Writer is kept, and the index
// is fit for the next Begin. The Writer is ended either way: a Rollback
// after it is a no-op.
func (w *Writer) Commit() error {
	defer w.x.ended(w)
	// Not cancellable (Commit takes no ctx): a follower commits the blocks
	// it saved when its ctx ends, and a flush cut short would fail that
	// commit and lose them.
	flushed, err := w.flush(context.Background())
	if err != nil {
		w.tx.Rollback()
		return fmt.Errorf("commit index write: %w", err)
	}
	// w's keys join the index's in two steps around the SQL commit, which
	// makes w's batches visible to readers: before it, as the committing
	// keys (whose batches a lookup may not see yet: it skips them), and
	// after it, among the pending ones (or, if w flushed, in the segments).
	// Joined only after it, a reader could see a batch and not its votes.
	w.x.mu.Lock()
	w.x.committing = w.pending
	w.x.mu.Unlock()
	commit := w.tx.Commit
	if w.x.commitSQL != nil {
		commit = func() error { return w.x.commitSQL(w.tx) }
	}
	if err := commit(); err != nil {
		// Nothing is left to roll back. database/sql's Commit ends the Tx
		// whatever the driver answers (a Rollback now would return
		// sql.ErrTxDone and reach no driver), and the SQL transaction is
		// gone too: SQLite rolls it back when COMMIT fails (an I/O error, a
		// full disk), and where it leaves it open (SQLITE_BUSY, a deferred
		// constraint unmet) modernc.org/sqlite's Commit rolls it back, so
		// that the write connection is fit for the next Begin.
		// TestVotesVisibleWithTheirBatch fails real commits to hold both.
		w.x.mu.Lock()
		w.x.committing = nil
		w.x.mu.Unlock()
		return fmt.Errorf("commit index write: %w", err)
	}
	w.x.mu.Lock()
	if flushed {
		w.x.pending = &pendingKeys{}
	} else {
		w.x.pending.absorb(w.pending)
	}
	w.x.committing = nil
	w.x.mu.Unlock()
	w.x.election, w.x.lastSeqs = w.electionState, w.lastSeqs
	w.roll.committed()
	return nil
}

// Rollback discards the blocks saved since Begin.
func (w *Writer) Rollback() error {
	defer w.x.ended(w)
	return w.tx.Rollback()
}

// readLastSeqs reads the highest seq of each state's batches, as tx sees
// them.
func readLastSeqs(ctx context.Context, tx *sql.Tx) (map[string]uint64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT state, MAX(seq) FROM batches GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("read the batches' last seqs: %w", err)
	}
	defer rows.Close()
	last := map[string]uint64{}
	for rows.Next() {
		var state string
		var seq uint64
		if err := rows.Scan(&state, &seq); err != nil {
			return nil, fmt.Errorf("read the batches' last seqs: %w", err)
		}
		last[state] = seq
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read the batches' last seqs: %w", err)
	}
	return last, nil
}

// BatchRoot implements audit.History as history.BatchRoot does, with a
// statement prepared once per index, and without a lookup for a batch
// whose seq is above its state's last (lastSeqs).
func (w *Writer) BatchRoot(ctx context.Context, state string, seq uint64) (string, bool, error) {
	if last, ok := w.lastSeqs[state]; !ok || seq > last {
		return "", false, nil
	}
	stmt, err := w.stmt(ctx, batchRootQuery)
	if err != nil {
		return "", false, fmt.Errorf("look up batch %s/%d: %w", state, seq, err)
	}
	return scanBatchRoot(stmt.QueryRowContext(ctx, state, seq), state, seq)
}

// Save stores an audited block as Index.Save does, inside w's transaction.
func (w *Writer) Save(ctx context.Context, r audit.Report) error {
	var next uint64
	checkpoint, err := w.stmt(ctx, `SELECT next FROM checkpoint WHERE id = 1`)
	if err == nil {
		err = checkpoint.QueryRowContext(ctx).Scan(&next)
	}
	if err != nil {
		return fmt.Errorf("save block %d: read checkpoint: %w", r.Block.Number, err)
	}
	if r.Block.Number != next {
		return fmt.Errorf("save block %d: the index expects block %d next", r.Block.Number, next)
	}
	s := saver{ctx: ctx, w: w, filter: w.filter, r: r}
	for _, step := range []func() error{s.block, s.txs, s.batches, s.election, s.roll, s.intakeLog, s.issues, s.totals, s.checkpoint} {
		if err := step(); err != nil {
			w.known = false
			return fmt.Errorf("save block %d: %w", r.Block.Number, err)
		}
	}
	if r.Election != nil {
		w.election = r.Election
	}
	w.finalised = w.finalised || r.ElectionFinalised
	w.sealed = w.sealed || r.RollSealed
	return nil
}

// saver writes the rows of one report inside one SQL transaction.
type saver struct {
	ctx    context.Context
	w      *Writer
	filter *usedFilter
	r      audit.Report
}

func (s saver) exec(query string, args ...any) error {
	_, err := s.execResult(query, args...)
	return err
}

func (s saver) execResult(query string, args ...any) (sql.Result, error) {
	stmt, err := s.w.stmt(s.ctx, query)
	if err != nil {
		return nil, err
	}
	return stmt.ExecContext(s.ctx, args...)
}

func (s saver) block() error {
	b := s.r.Block
	chainOK := true
	for _, is := range s.r.Issues {
		chainOK = chainOK && is.Kind != audit.KindPreviousHash
	}
	counted := 0
	for _, bt := range s.r.Batches {
		if bt.First() {
			counted += bt.Counted()
		}
	}
	return s.exec(`INSERT INTO blocks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, b.Number, b.Hash, nonNil(b.PreviousHash), nonNil(b.DataHash),
		boolInt(chainOK), boolInt(b.DataHashOK), b.Time.UnixMilli(), len(b.Txs), b.Size, counted)
}

func (s saver) txs() error {
	batchesOf := map[int][]audit.Batch{}
	for _, bt := range s.r.Batches {
		batchesOf[bt.TxIndex] = append(batchesOf[bt.TxIndex], bt)
	}
	for _, t := range s.r.Block.Txs {
		var state any
		var seq any
		note := t.Err
		switch bts := batchesOf[t.Index]; {
		case len(bts) == 1:
			state, seq = bts[0].Batch.State, bts[0].Batch.Seq
			switch {
			case bts[0].Resubmission:
				note = "resubmission"
			case bts[0].RecordAgain:
				note = "record written again"
			}
		case len(bts) > 1: // CommitBatches: the batches table names the transaction of each
			ids := make([]string, len(bts))
			for i, bt := range bts {
				ids[i] = bt.Batch.ID()
				switch {
				case bt.Resubmission:
					ids[i] += " (resubmission)"
				case bt.RecordAgain:
					ids[i] += " (record written again)"
				}
			}
			note = "batches " + strings.Join(ids, ", ")
		}
		fn := t.Function
		if t.Contract != "" {
			fn = t.Contract + ":" + t.Function
		}
		if err := s.exec(`INSERT INTO txs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, s.r.Block.Number, t.Index, t.ID, t.Type,
			t.Creator, t.Time.UnixMilli(), t.Code, t.Chaincode, fn, state, seq, note); err != nil {
			return fmt.Errorf("transaction %s: %w", t.ID, err)
		}
	}
	return nil
}

func (s saver) batches() error {
	for _, bt := range s.r.Batches {
		if !bt.First() {
			continue
		}
		b := bt.Batch
		if err := s.exec(`INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, b.State, b.Seq, s.r.Block.Number, bt.TxID,
			s.r.Block.Txs[bt.TxIndex].Time.UnixMilli(), b.Root, len(b.Votes), bt.Counted(), jsonText(bt.Rejected), jsonText(bt.Tallies),
			boolInt(bt.RootOK), boolInt(bt.RecordOK), jsonText(bt.Reasons)); err != nil {
			return fmt.Errorf("batch %s: %w", b.ID(), err)
		}
		if err := s.votes(bt); err != nil {
			return fmt.Errorf("batch %s: %w", b.ID(), err)
		}
		if last, ok := s.w.lastSeqs[b.State]; !ok || b.Seq > last {
			s.w.lastSeqs[b.State] = b.Seq
		}
		for contest, counts := range bt.Tallies {
			for choice, n := range counts {
				if err := s.exec(`INSERT INTO tallies VALUES (?, ?, ?, ?) ON CONFLICT (state, contest, choice) DO UPDATE SET votes = votes + excluded.votes`,
					b.State, contest, choice, n); err != nil {
					return fmt.Errorf("batch %s tallies: %w", b.ID(), err)
				}
			}
		}
	}
	return nil
}

// election keeps the election record and the orderer configuration the
// block last wrote, and the block if it first left the record finalised,
// for the audit of later blocks.
func (s saver) election() error {
	if s.r.ChannelConfig != nil {
		if err := s.exec(`INSERT INTO channel_config VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET record = excluded.record`, jsonText(s.r.ChannelConfig)); err != nil {
			return fmt.Errorf("orderer configuration: %w", err)
		}
	}
	if s.r.ElectionFinalised {
		if err := s.exec(`UPDATE election_history SET finalised = ? WHERE id = 1 AND finalised IS NULL`, s.r.Block.Number); err != nil {
			return fmt.Errorf("election finalised: %w", err)
		}
	}
	if s.r.Election == nil {
		return nil
	}
	return s.exec(`INSERT INTO election VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET record = excluded.record`, jsonText(s.r.Election))
}

// roll keeps the roll entries, chunk records and the seal the block
// wrote, for the audit of later blocks.
func (s saver) roll() error {
	if len(s.r.Roll) > 0 {
		for _, e := range s.r.Roll {
			if err := s.exec(`INSERT OR IGNORE INTO roll VALUES (?, ?, ?)`, e.State, e.Nullifier, e.Contest); err != nil {
				return fmt.Errorf("roll entry: %w", err)
			}
			s.w.roll.add(e.State, e.Nullifier, e.Contest)
		}
	}
	for _, c := range s.r.RollChunks {
		if err := s.exec(`INSERT INTO roll_chunks VALUES (?, ?) ON CONFLICT (idx) DO UPDATE SET record = excluded.record`, c.Index, jsonText(c)); err != nil {
			return fmt.Errorf("roll chunk %d: %w", c.Index, err)
		}
	}
	if s.r.RollSealed {
		return s.exec(`INSERT OR IGNORE INTO roll_seal VALUES (1, ?)`, s.r.Block.Number)
	}
	return nil
}

// intakeLog keeps the chaincode definitions' endorsement policies, the
// organisations' lifecycle approvals, the intake log's keys record and the
// anchored heads the block wrote, for the audit of later blocks and the
// audit page.
func (s saver) intakeLog() error {
	if s.r.LogKeys != nil {
		if err := s.exec(`INSERT INTO log_keys VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET record = excluded.record`, jsonText(s.r.LogKeys)); err != nil {
			return fmt.Errorf("log keys: %w", err)
		}
	}
	for cc, p := range s.r.Policies {
		if err := s.exec(`INSERT INTO chaincode_policies VALUES (?, ?, ?) ON CONFLICT (chaincode) DO UPDATE SET block = excluded.block, record = excluded.record`,
			cc, s.r.Block.Number, jsonText(p)); err != nil {
			return fmt.Errorf("%s's endorsement policy: %w", cc, err)
		}
	}
	for org, approvals := range s.r.Approvals {
		for key, value := range approvals {
			if err := s.exec(`INSERT INTO lifecycle_approvals VALUES (?, ?, ?, ?) ON CONFLICT (org, key_hash) DO UPDATE SET value_hash = excluded.value_hash, block = excluded.block`,
				org, key, value, s.r.Block.Number); err != nil {
				return fmt.Errorf("%s's approval: %w", org, err)
			}
		}
	}
	for _, h := range s.r.LogHeads {
		if err := s.exec(`INSERT INTO log_heads VALUES (?, ?, ?) ON CONFLICT (state) DO UPDATE SET block = excluded.block, record = excluded.record`,
			h.Head.State, s.r.Block.Number, jsonText(h)); err != nil {
			return fmt.Errorf("anchored %s head: %w", h.Head.State, err)
		}
	}
	return nil
}

// votes stores the batch's votes as its transaction carried them, and
// keeps where each vote id is and the nullifiers of the counted votes
// among w's pending keys (pending.go), for a commit to write.
func (s saver) votes(bt audit.Batch) error {
	b := bt.Batch
	res, err := s.execResult(`INSERT INTO batch_votes (state, seq, data) VALUES (?, ?, ?)`, b.State, b.Seq, []byte(bt.Raw))
	if err != nil {
		return err
	}
	batch, err := res.LastInsertId()
	if err != nil {
		return err
	}
	s.w.pending.addBatch(batch, b.Votes, bt.Rejected, s.filter.addKey)
	if f := s.w.x.anywhere; f != nil { // else built, when first asked, from batch_votes
		f.add(b.Votes)
	}
	return nil
}

func (s saver) issues() error {
	for _, is := range s.r.Issues {
		if err := s.exec(`INSERT INTO issues (kind, block, tx_id, message) VALUES (?, ?, ?, ?)`, is.Kind, is.Block, is.TxID, is.Message); err != nil {
			return fmt.Errorf("issue: %w", err)
		}
	}
	return nil
}

func (s saver) totals() error {
	var valid, batches, votes, counted int
	for _, t := range s.r.Block.Txs {
		if t.Valid() {
			valid++
		}
	}
	for _, bt := range s.r.Batches {
		if bt.First() {
			batches++
			votes += len(bt.Batch.Votes)
			counted += bt.Counted()
		}
	}
	return s.exec(`UPDATE totals SET txs = txs + ?, valid_txs = valid_txs + ?, batches = batches + ?, votes = votes + ?,
		counted = counted + ?, rejected = rejected + ?, issues = issues + ? WHERE id = 1`,
		len(s.r.Block.Txs), valid, batches, votes, counted, votes-counted, len(s.r.Issues))
}

func (s saver) checkpoint() error {
	return s.exec(`UPDATE checkpoint SET next = ?, last_hash = ? WHERE id = 1`, s.r.Block.Number+1, s.r.Block.Hash)
}

// nonNil keeps NOT NULL blob columns happy for headers without a hash
// (block 0 has no previous hash).
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// voteKey is the key of vote id in the vote ids' segments: its 64-bit
// FNV-1a hash.
func voteKey(id string) int64 { return int64(fnv1a(fnvOffset, id)) }

// nullifierKey is the key of a state's nullifier in the used nullifiers'
// segments.
func nullifierKey(state, nullifier string) int64 {
	return int64(fnv1a(fnv1a(fnvOffset, nullifier), state))
}

const fnvOffset = 14695981039346656037

// fnv1a continues the 64-bit FNV-1a hash h over s.
func fnv1a(h uint64, s string) uint64 {
	for i := range len(s) {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}
