package index

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
)

// ErrNotFound is returned when the index holds no such row.
var ErrNotFound = errors.New("not in the index")

// Totals are the index's running totals.
type Totals struct {
	Blocks   uint64 `json:"blocks"` // blocks indexed: the indexed height
	Txs      int64  `json:"transactions"`
	ValidTxs int64  `json:"valid_transactions"`
	Batches  int64  `json:"batches"`
	Votes    int64  `json:"votes"`    // votes in committed batches
	Counted  int64  `json:"counted"`  // votes counted by the recount
	Rejected int64  `json:"rejected"` // votes rejected by the recount (duplicates and the election's refusals)
	Issues   int64  `json:"issues"`   // verification failures
}

// Block is an indexed block.
type Block struct {
	Number   uint64    `json:"number"`
	Hash     string    `json:"hash"` // recomputed header hash, hex
	PrevHash string    `json:"previous_hash"`
	DataHash string    `json:"data_hash"`
	ChainOK  bool      `json:"chain_ok"` // previous hash links to the block before
	DataOK   bool      `json:"data_ok"`  // data hash matches the transactions
	Time     time.Time `json:"time"`
	Txs      int       `json:"transactions"`
	Size     int       `json:"size"`
	Counted  int       `json:"counted"` // votes counted by the block's batches
}

// Tx is an indexed transaction.
type Tx struct {
	Block     uint64    `json:"block"`
	Index     int       `json:"index"`
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	Creator   string    `json:"creator"` // MSP id
	Time      time.Time `json:"time"`
	Code      string    `json:"validation_code"`
	Chaincode string    `json:"chaincode,omitempty"`
	Function  string    `json:"function,omitempty"`
	State     string    `json:"batch_state,omitempty"` // batch of a CommitBatch
	Seq       uint64    `json:"batch_seq,omitempty"`
	Note      string    `json:"note,omitempty"`
}

// Batch is an indexed, recounted batch.
type Batch struct {
	State    string       `json:"state"`
	Seq      uint64       `json:"seq"`
	Block    uint64       `json:"block"`
	TxID     string       `json:"tx_id"`
	Time     time.Time    `json:"time"`
	Root     string       `json:"root"`
	Votes    int          `json:"votes"`
	Counted  int          `json:"counted"`
	Rejected []int        `json:"rejected"`
	Reasons  []string     `json:"reasons"` // why each of Rejected was rejected (ballot.Reject*)
	Tallies  ballot.Tally `json:"tallies"`
	RootOK   bool         `json:"root_ok"`   // the votes give the root
	RecordOK bool         `json:"record_ok"` // the ledger's record and event equal the recount
}

// Record is the batch's record as the index holds it: the explorer's
// recount, which equals the ledger's own record unless RecordOK is false.
func (b Batch) Record() ballot.BatchRecord {
	return ballot.BatchRecord{State: b.State, Seq: b.Seq, Root: b.Root, Votes: b.Votes, Counted: b.Counted,
		Tallies: b.Tallies, Rejected: b.Rejected, Reasons: b.Reasons, TxID: b.TxID, CommittedAt: b.Time.UnixMilli()}
}

// Vote is an indexed vote.
type Vote struct {
	ballot.Vote
	Seq     uint64 `json:"seq"`
	Index   int    `json:"index"`
	Counted bool   `json:"counted"`
}

// Issue is a stored verification failure.
type Issue struct {
	ID int64 `json:"id"`
	audit.Issue
}

// Point is one bucket of the votes-per-second series.
type Point struct {
	Time  time.Time `json:"time"`
	Votes int64     `json:"votes"`
}

// list runs a query and scans each row with scan.
func list[T any](ctx context.Context, db *sql.DB, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// one runs a query expected to return one row; ErrNotFound if none.
func one[T any](ctx context.Context, db *sql.DB, scan func(rowScanner) (T, error), query string, args ...any) (T, error) {
	rows, err := list(ctx, db, scan, query+" LIMIT 1", args...)
	var zero T
	if err != nil {
		return zero, err
	}
	if len(rows) == 0 {
		return zero, ErrNotFound
	}
	return rows[0], nil
}

type rowScanner interface{ Scan(dest ...any) error }

// Totals returns the running totals.
func (x *Index) Totals(ctx context.Context) (Totals, error) {
	var t Totals
	err := x.db.QueryRowContext(ctx, `SELECT c.next, t.txs, t.valid_txs, t.batches, t.votes, t.counted, t.rejected, t.issues
		FROM checkpoint c, totals t`).Scan(&t.Blocks, &t.Txs, &t.ValidTxs, &t.Batches, &t.Votes, &t.Counted, &t.Rejected, &t.Issues)
	if err != nil {
		return Totals{}, fmt.Errorf("read totals: %w", err)
	}
	return t, nil
}

const blockCols = `number, hash, prev_hash, data_hash, chain_ok, data_ok, time, txs, size, counted`

func scanBlock(r rowScanner) (Block, error) {
	var b Block
	var hash, prev, data []byte
	var ms int64
	err := r.Scan(&b.Number, &hash, &prev, &data, &b.ChainOK, &b.DataOK, &ms, &b.Txs, &b.Size, &b.Counted)
	b.Hash, b.PrevHash, b.DataHash, b.Time = hex.EncodeToString(hash), hex.EncodeToString(prev), hex.EncodeToString(data), msTime(ms)
	return b, err
}

// Blocks returns up to limit blocks, newest first, skipping offset.
func (x *Index) Blocks(ctx context.Context, offset, limit int) ([]Block, error) {
	return list(ctx, x.db, scanBlock, `SELECT `+blockCols+` FROM blocks ORDER BY number DESC LIMIT ? OFFSET ?`, limit, offset)
}

// Block returns block n.
func (x *Index) Block(ctx context.Context, n uint64) (Block, error) {
	return one(ctx, x.db, scanBlock, `SELECT `+blockCols+` FROM blocks WHERE number = ?`, n)
}

// BrokenBlocks counts blocks whose previous-hash or data-hash check failed.
func (x *Index) BrokenBlocks(ctx context.Context) (int64, error) {
	var n int64
	err := x.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM blocks WHERE chain_ok = 0 OR data_ok = 0`).Scan(&n)
	return n, err
}

const txCols = `block, idx, id, type, creator, time, code, chaincode, function, state, seq, note`

func scanTx(r rowScanner) (Tx, error) {
	var t Tx
	var ms int64
	var state sql.NullString
	var seq sql.NullInt64
	err := r.Scan(&t.Block, &t.Index, &t.ID, &t.Type, &t.Creator, &ms, &t.Code, &t.Chaincode, &t.Function, &state, &seq, &t.Note)
	t.Time, t.State, t.Seq = msTime(ms), state.String, uint64(seq.Int64)
	return t, err
}

// BlockTxs returns up to limit transactions of block n in order, skipping offset.
func (x *Index) BlockTxs(ctx context.Context, n uint64, offset, limit int) ([]Tx, error) {
	return list(ctx, x.db, scanTx, `SELECT `+txCols+` FROM txs WHERE block = ? ORDER BY idx LIMIT ? OFFSET ?`, n, limit, offset)
}

// Txs returns the transactions with id: one, unless a client reused the id
// (the duplicates are committed invalid).
func (x *Index) Txs(ctx context.Context, id string) ([]Tx, error) {
	return list(ctx, x.db, scanTx, `SELECT `+txCols+` FROM txs WHERE id = ? ORDER BY block, idx LIMIT 16`, id)
}

const batchCols = `state, seq, block, tx_id, time, root, votes, counted, rejected, tallies, root_ok, record_ok, reasons`

func scanBatch(r rowScanner) (Batch, error) {
	var b Batch
	var ms int64
	var rejected, tallies, reasons string
	if err := r.Scan(&b.State, &b.Seq, &b.Block, &b.TxID, &ms, &b.Root, &b.Votes, &b.Counted, &rejected, &tallies, &b.RootOK, &b.RecordOK, &reasons); err != nil {
		return Batch{}, err
	}
	b.Time = msTime(ms)
	if err := json.Unmarshal([]byte(rejected), &b.Rejected); err != nil {
		return Batch{}, fmt.Errorf("batch %s/%d rejected: %w", b.State, b.Seq, err)
	}
	if err := json.Unmarshal([]byte(tallies), &b.Tallies); err != nil {
		return Batch{}, fmt.Errorf("batch %s/%d tallies: %w", b.State, b.Seq, err)
	}
	if err := json.Unmarshal([]byte(reasons), &b.Reasons); err != nil {
		return Batch{}, fmt.Errorf("batch %s/%d reasons: %w", b.State, b.Seq, err)
	}
	return b, nil
}

// Batches returns up to limit batches, newest first, skipping offset; only
// those of state unless it is empty. total counts all that match.
func (x *Index) Batches(ctx context.Context, state string, offset, limit int) (batches []Batch, total int64, err error) {
	where, args := "", []any{}
	if state != "" {
		where, args = " WHERE state = ?", []any{state}
	}
	if err := x.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM batches`+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count batches: %w", err)
	}
	batches, err = list(ctx, x.db, scanBatch, `SELECT `+batchCols+` FROM batches`+where+` ORDER BY block DESC, time DESC LIMIT ? OFFSET ?`,
		append(args, limit, offset)...)
	return batches, total, err
}

// BlockBatches returns the batches committed in block n.
func (x *Index) BlockBatches(ctx context.Context, n uint64) ([]Batch, error) {
	return list(ctx, x.db, scanBatch, `SELECT `+batchCols+` FROM batches WHERE block = ? ORDER BY tx_id LIMIT 1000`, n)
}

// Batch returns batch (state, seq).
func (x *Index) Batch(ctx context.Context, state string, seq uint64) (Batch, error) {
	return one(ctx, x.db, scanBatch, `SELECT `+batchCols+` FROM batches WHERE state = ? AND seq = ?`, state, seq)
}

// batchVotes returns the votes of batch (state, seq) in order, each marked
// counted or not by the recount; ErrNotFound if the index holds no such
// batch.
func (x *Index) batchVotes(ctx context.Context, state string, seq uint64) ([]Vote, error) {
	var data []byte
	var rejected string
	err := x.db.QueryRowContext(ctx, `SELECT v.data, b.rejected FROM batch_votes v JOIN batches b USING (state, seq)
		WHERE v.state = ? AND v.seq = ?`, state, seq).Scan(&data, &rejected)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read votes of batch %s/%d: %w", state, seq, err)
	}
	b, err := ballot.DecodeBatch(data, audit.MaxBatchVotes)
	if err != nil {
		return nil, fmt.Errorf("votes of batch %s/%d: %w", state, seq, err)
	}
	var out []int
	if err := json.Unmarshal([]byte(rejected), &out); err != nil {
		return nil, fmt.Errorf("batch %s/%d rejected: %w", state, seq, err)
	}
	votes := make([]Vote, len(b.Votes))
	for i, v := range b.Votes {
		votes[i] = Vote{Vote: v, Seq: seq, Index: i, Counted: true}
	}
	for _, i := range out {
		if i >= 0 && i < len(votes) {
			votes[i].Counted = false
		}
	}
	return votes, nil
}

// Votes returns up to limit votes of batch (state, seq) in order, skipping offset.
func (x *Index) Votes(ctx context.Context, state string, seq uint64, offset, limit int) ([]Vote, error) {
	votes, err := x.batchVotes(ctx, state, seq)
	if errors.Is(err, ErrNotFound) {
		return []Vote{}, nil
	}
	if err != nil {
		return nil, err
	}
	offset = min(max(offset, 0), len(votes))
	return votes[offset:min(offset+max(limit, 0), len(votes))], nil
}

// BatchVotes returns every vote of batch (state, seq) in order, as
// committed: what its Merkle tree is built over.
func (x *Index) BatchVotes(ctx context.Context, state string, seq uint64) ([]ballot.Vote, error) {
	rows, err := x.batchVotes(ctx, state, seq)
	if errors.Is(err, ErrNotFound) {
		return []ballot.Vote{}, nil
	}
	if err != nil {
		return nil, err
	}
	votes := make([]ballot.Vote, len(rows))
	for i, r := range rows {
		votes[i] = r.Vote
	}
	return votes, nil
}

// Vote returns the first committed vote with id (of the lowest state, seq
// and index, should a client have reused the id).
func (x *Index) Vote(ctx context.Context, id string) (Vote, error) {
	type place struct {
		state   string
		seq     uint64
		i       int
		pending bool // from the keys in memory, maybe a committing Writer's
	}
	// The keys in memory first, then the segments and tables: a commit
	// that writes the former into the latter in between leaves the vote in
	// the segments (found twice then, which is harmless), whereas the other
	// order could miss it in both.
	var places []place
	key := voteKey(id)
	inMemory := x.committedPlaces(pendingIDs, key) // not in the segments yet
	inSegments, err := segmentPlaces(ctx, x.segs, segmentIDs, key, nil)
	if err != nil {
		return Vote{}, fmt.Errorf("look up vote %s: %w", id, err)
	}
	for k, p := range slices.Concat(inMemory, inSegments) {
		pl := place{i: int(p.idx), pending: k < len(inMemory)}
		err := x.db.QueryRowContext(ctx, `SELECT state, seq FROM batch_votes WHERE id = ?`, p.batch).Scan(&pl.state, &pl.seq)
		if pl.pending && errors.Is(err, sql.ErrNoRows) { // a committing Writer's batch, not committed yet
			continue
		}
		if err != nil {
			return Vote{}, fmt.Errorf("look up vote %s: %w", id, err)
		}
		places = append(places, pl)
	}
	stored, err := list(ctx, x.db, func(r rowScanner) (place, error) {
		var p place
		err := r.Scan(&p.state, &p.seq, &p.i)
		return p, err
	}, `SELECT b.state, b.seq, k.idx FROM (SELECT batch, idx FROM vote_keys WHERE key = ?1 UNION ALL SELECT batch, idx FROM vote_keys_recent WHERE key = ?1) k
		JOIN batch_votes b ON b.id = k.batch ORDER BY b.state, b.seq, k.idx`, key)
	if err != nil {
		return Vote{}, fmt.Errorf("look up vote %s: %w", id, err)
	}
	places = append(places, stored...)
	slices.SortFunc(places, func(a, b place) int {
		return cmp.Or(cmp.Compare(a.state, b.state), cmp.Compare(a.seq, b.seq), cmp.Compare(a.i, b.i))
	})
	for _, p := range places { // the votes whose ids hash as id's
		votes, err := x.batchVotes(ctx, p.state, p.seq)
		if err != nil {
			return Vote{}, err
		}
		if p.i >= len(votes) {
			if p.pending {
				// A failed commit's place whose batch number the next
				// Writer's batch took meanwhile: not this vote.
				continue
			}
			return Vote{}, fmt.Errorf("vote %s: batch %s/%d has no vote %d", id, p.state, p.seq, p.i)
		}
		if votes[p.i].ID == id {
			return votes[p.i], nil
		}
	}
	return Vote{}, ErrNotFound
}

// Recount returns the results recounted from the ledger's transactions, in
// the chaincode's form (without election id and status), for comparison.
func (x *Index) Recount(ctx context.Context) (ballot.Results, error) {
	res := ballot.Results{National: ballot.Tally{}, States: map[string]ballot.StateResult{}}
	states, err := list(ctx, x.db, func(r rowScanner) (ballot.StateResult, error) {
		s := ballot.StateResult{Tallies: ballot.Tally{}}
		err := r.Scan(&s.State, &s.Batches, &s.Counted, &s.Rejected)
		return s, err
	}, `SELECT state, COUNT(*), SUM(counted), SUM(votes - counted) FROM batches GROUP BY state`)
	if err != nil {
		return res, fmt.Errorf("recount states: %w", err)
	}
	for _, s := range states {
		res.States[s.State] = s
		res.Counted += s.Counted
		res.Rejected += s.Rejected
	}
	type tally struct {
		state, contest, choice string
		votes                  uint64
	}
	tallies, err := list(ctx, x.db, func(r rowScanner) (tally, error) {
		var t tally
		err := r.Scan(&t.state, &t.contest, &t.choice, &t.votes)
		return t, err
	}, `SELECT state, contest, choice, votes FROM tallies`)
	if err != nil {
		return res, fmt.Errorf("recount tallies: %w", err)
	}
	for _, t := range tallies {
		res.States[t.state].Tallies.Add(t.contest, t.choice, t.votes)
		res.National.Add(t.contest, t.choice, t.votes)
	}
	return res, nil
}

const issueCols = `id, kind, block, tx_id, message`

func scanIssue(r rowScanner) (Issue, error) {
	var is Issue
	err := r.Scan(&is.ID, &is.Kind, &is.Block, &is.TxID, &is.Message)
	return is, err
}

// Issues returns up to limit issues, newest first, skipping offset.
func (x *Index) Issues(ctx context.Context, offset, limit int) ([]Issue, error) {
	return list(ctx, x.db, scanIssue, `SELECT `+issueCols+` FROM issues ORDER BY id DESC LIMIT ? OFFSET ?`, limit, offset)
}

// BlockIssues returns the issues found in block n.
func (x *Index) BlockIssues(ctx context.Context, n uint64) ([]Issue, error) {
	return list(ctx, x.db, scanIssue, `SELECT `+issueCols+` FROM issues WHERE block = ? ORDER BY id LIMIT 1000`, n)
}

// IssueCounts counts issues by kind.
func (x *Index) IssueCounts(ctx context.Context) (map[string]int64, error) {
	return countBy(ctx, x.db, `SELECT kind, COUNT(*) FROM issues GROUP BY kind`)
}

// countBy runs query, which returns (key, count) rows, into a map.
func countBy(ctx context.Context, db *sql.DB, query string) (map[string]int64, error) {
	type kc struct {
		key string
		n   int64
	}
	rows, err := list(ctx, db, func(r rowScanner) (kc, error) {
		var k kc
		err := r.Scan(&k.key, &k.n)
		return k, err
	}, query)
	out := map[string]int64{}
	for _, r := range rows {
		out[r.key] = r.n
	}
	return out, err
}

// RejectedByReason counts the recount's rejected votes by reason
// (ballot.Reject*).
func (x *Index) RejectedByReason(ctx context.Context) (map[string]int64, error) {
	return countBy(ctx, x.db, `SELECT j.value, COUNT(*) FROM batches, json_each(batches.reasons) AS j GROUP BY j.value`)
}

// Roll is the roll as the indexed blocks wrote it.
type Roll struct {
	// Voters counts the roll entries LoadRoll transactions wrote: one per
	// voter and contest (a voter on the roll for three contests is three).
	Voters int64 `json:"voters"`
	// ByContest counts the entries per contest: the voters on the roll
	// for each.
	ByContest map[string]int64 `json:"by_contest"`
	Sealed    bool             `json:"sealed"`     // a SealRoll transaction sealed it
	SealBlock uint64           `json:"seal_block"` // the block of that transaction
	// RollEntries is the roll's size the election record states, which
	// the seal is held to with the roll root (ballot.SealRoll); nil if
	// there is no record or it states none (an earlier chaincode's: its
	// seal is bound to the root alone).
	RollEntries *int `json:"roll_entries,omitempty"`
}

// Roll returns the indexed roll's size, per contest, and seal, and the
// size the election record states.
func (x *Index) Roll(ctx context.Context) (Roll, error) {
	var r Roll
	byContest, err := countBy(ctx, x.db, `SELECT contest, COUNT(*) FROM roll GROUP BY contest`)
	if err != nil {
		return r, fmt.Errorf("count roll: %w", err)
	}
	r.ByContest = byContest
	for _, n := range byContest {
		r.Voters += n
	}
	e, err := x.Election(ctx)
	if err != nil {
		return r, err
	}
	if e != nil {
		r.RollEntries = e.RollEntries
	}
	err = x.db.QueryRowContext(ctx, `SELECT block FROM roll_seal WHERE id = 1`).Scan(&r.SealBlock)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return r, nil
	case err != nil:
		return r, fmt.Errorf("read roll seal: %w", err)
	}
	r.Sealed = true
	return r, nil
}

// Orderers is the ordering service the audit checks block signatures
// against, as the indexed blocks configured it.
type Orderers struct {
	// Checked reports whether the index holds the configuration; if not
	// (an index written before it kept one), no signature was checked.
	Checked    bool     `json:"checked"`
	Consensus  string   `json:"consensus,omitempty"`  // "BFT" or "etcdraft"
	Consenters []string `json:"consenters,omitempty"` // BFT: each consenter as "id MSP"
	Orgs       []string `json:"orgs,omitempty"`       // the orderer organisations' MSP ids
	// Needed is the valid signatures of distinct orderers a block needs.
	Needed int `json:"signatures_needed,omitempty"`
}

// Orderers returns the ordering service the audit checks blocks against.
func (x *Index) Orderers(ctx context.Context) (Orderers, error) {
	cfg, err := x.ChannelConfig(ctx)
	switch {
	case errors.Is(err, audit.ErrNotRecorded):
		return Orderers{}, nil
	case err != nil:
		return Orderers{}, err
	}
	o := Orderers{Checked: true, Consensus: cfg.Consensus, Needed: audit.SignaturesNeeded(cfg)}
	for _, c := range cfg.Consenters {
		o.Consenters = append(o.Consenters, fmt.Sprintf("%d %s", c.ID, c.MSPID))
	}
	for _, org := range cfg.OrdererOrgs {
		o.Orgs = append(o.Orgs, org.MSPID)
	}
	return o, nil
}

// EndorsementPolicies returns each chaincode's endorsement policy as its
// last indexed definition states it, in Fabric's CLI notation, a channel
// policy it names followed by ": " and the rule the channel's
// configuration gives it (none on an index that did not keep them).
func (x *Index) EndorsementPolicies(ctx context.Context) (map[string]string, error) {
	ps, err := x.Policies(ctx)
	if err != nil && !errors.Is(err, audit.ErrNotRecorded) {
		return nil, err
	}
	cfg, err := x.ChannelConfig(ctx)
	if err != nil && !errors.Is(err, audit.ErrNotRecorded) {
		return nil, err
	}
	out := map[string]string{}
	for cc, p := range ps {
		out[cc] = p.String()
		if p.Signature != nil || cfg == nil {
			continue
		}
		if rule, ok := cfg.ApplicationPolicies[p.ChannelReference]; ok {
			out[cc] += ": " + rule.String()
		}
	}
	return out, nil
}

// LogAnchors is the intake log's record on the ledger as the indexed
// blocks left it, each anchored head beside the votes its state's batches
// hold.
type LogAnchors struct {
	// Checked reports whether the index kept the record from block 0; if
	// not (an index written before it did), the log's transactions were
	// not checked and what is shown is what was anchored since.
	Checked bool            `json:"checked"`
	Keys    []ballot.LogKey `json:"keys"`
	Heads   []AnchoredState `json:"heads"` // by state
}

// AnchoredState is a state's last anchored intake log head.
type AnchoredState struct {
	State      string `json:"state"`
	Size       uint64 `json:"size"`      // votes the head says the state's gateways accepted
	Root       string `json:"root"`      // the log's root at that size
	SignedAt   int64  `json:"signed_at"` // the head's timestamp, Unix ms
	KeyID      string `json:"key_id"`
	TxID       string `json:"tx_id"`
	AnchoredAt int64  `json:"anchored_at"` // the anchoring transaction's time, Unix ms
	Block      uint64 `json:"block"`
	// Batched is the votes in the state's batches on the ledger (counted or
	// rejected), Unaccounted how many of the head's votes are in none yet
	// (ballot.AnchoredHead.Unaccounted): accepted votes still on their way
	// while the election runs, missing votes once it is finalised (the
	// chaincode then refuses to finalise, and the audit flags it).
	Batched     uint64 `json:"batched"`
	Unaccounted uint64 `json:"unaccounted"`
}

// LogAnchors returns the intake log's record the audit checked.
func (x *Index) LogAnchors(ctx context.Context) (LogAnchors, error) {
	log, err := x.IntakeLog(ctx)
	out := LogAnchors{Checked: err == nil, Keys: log.Keys.Keys, Heads: []AnchoredState{}}
	if err != nil && !errors.Is(err, audit.ErrNotRecorded) {
		return out, err
	}
	heads, err := x.logHeads(ctx)
	if err != nil {
		return out, err
	}
	batched, err := x.Batched(ctx)
	if err != nil {
		return out, err
	}
	for _, h := range heads {
		out.Heads = append(out.Heads, AnchoredState{State: h.Head.State, Size: h.Head.Size, Root: h.Head.Root, SignedAt: h.Head.Timestamp,
			KeyID: h.Head.KeyID, TxID: h.TxID, AnchoredAt: h.AnchoredAt, Block: h.Block, Batched: batched[h.Head.State].Votes,
			Unaccounted: h.Unaccounted(ballot.StateResult{Counted: batched[h.Head.State].Votes})})
	}
	return out, nil
}

// Throughput returns votes counted per second over the latest n seconds
// in which batches were committed, oldest first.
func (x *Index) Throughput(ctx context.Context, n int) ([]Point, error) {
	pts, err := list(ctx, x.db, func(r rowScanner) (Point, error) {
		var p Point
		var s int64
		err := r.Scan(&s, &p.Votes)
		p.Time = time.Unix(s, 0).UTC()
		return p, err
	}, `SELECT time / 1000 AS s, SUM(counted) FROM batches GROUP BY s ORDER BY s DESC LIMIT ?`, n)
	for i, j := 0, len(pts)-1; i < j; i, j = i+1, j-1 {
		pts[i], pts[j] = pts[j], pts[i]
	}
	return pts, err
}

func msTime(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
