// Package audit verifies decoded blocks as the explorer indexes them: the
// hash chain (each block's previous hash and data hash) and every committed
// batch, whose votes are decoded from the transaction itself and recounted
// with the shared ballot package, then compared with the record and event
// the chaincode wrote, and refused if the chaincode refuses it whole; the
// nullifier records written (nullifiers.go); the election record's steps
// (election.go); the roll, whose chunk records and seal it recomputes
// from the roll marks written (roll.go); and the intake log's keys and
// anchored heads (intakelog.go). It is pure: what it
// needs to know of earlier blocks comes through the History interface.
package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/network/fabricblock"
)

// Kinds of issues. Each is a way the ledger disagrees with itself, but
// cross_state, a way it breaks the election's rule of one vote per voter
// and contest that its chaincode cannot hold while the roll is not sealed;
// none should ever occur on an honest network.
const (
	KindPreviousHash    = "previous_hash"    // previous-hash link broken
	KindDataHash        = "data_hash"        // data hash does not match the block's data
	KindTxDecode        = "tx_decode"        // transaction envelope undecodable
	KindBatchDecode     = "batch_decode"     // CommitBatch(es) argument is not a valid batch (list)
	KindBatchRoot       = "batch_root"       // claimed root differs from the votes' root
	KindBatchTally      = "batch_tally"      // claimed tallies differ from the votes' tallies
	KindBatchRecord     = "batch_record"     // written batch record missing or differing from the recount, or written by a transaction that does not commit its batch
	KindBatchEvent      = "batch_event"      // BatchCommitted event missing or differing from the record
	KindRollChunk       = "roll_chunk"       // roll chunk record missing, written again or differing from its transaction's roll marks, or the roll loaded once a batch is committed
	KindRollSeal        = "roll_seal"        // roll seal differing from the loaded chunks and the election's roll root, written once a batch is committed, or roll written after it
	KindBlockSignature  = "block_signature"  // orderers' signatures missing, invalid or short of the block validation's quorum
	KindEndorsement     = "endorsement"      // VALID transaction whose valid endorsements do not satisfy its chaincode's endorsement policy
	KindGenesis         = "genesis"          // block 0 is not the channel's genesis block the auditor was given
	KindCaller          = "caller"           // VALID transaction whose client may not write what it wrote
	KindClientSignature = "client_signature" // VALID endorser transaction not signed by the client it names, or whose id its signature header does not give
	KindReplay          = "replay"           // VALID endorser transaction whose id an earlier VALID transaction carried
	KindApproval        = "approval"         // VALID lifecycle approval not endorsed by its organisation, or commit endorsed by an organisation that did not approve the definition
	KindLogKeys         = "log_keys"         // intake log keys record not as RegisterLogKeys must write it
	KindLogAnchor       = "log_anchor"       // anchored intake log head not as AnchorLogHeads must write it, or an election finalised with anchored votes missing, with batch totals its batches do not give or without the totals its record requires, or a record dropping that requirement
	KindBatchRefused    = "batch_refused"    // batch committed that the chaincode refuses whole: no election record, the election finalised (even if its record was taken back since), not yet open or without the batch's state
	KindElection        = "election"         // election record written as the chaincode never writes it: after the election is finalised, deleted, not by one of its set-up, close and finalise steps, or stamped with another time than its transaction's
	KindNullifier       = "nullifier"        // nullifier key written as the chaincode never writes it: a commit's records not exactly its counted votes', a record by another function, or a delete
	KindCrossState      = "cross_state"      // vote counted whose nullifier a vote of another state was counted with before, the roll not sealed: one voter counted twice in a contest
)

// Kinds lists every issue kind, each once, in the order declared above:
// the explorer's metrics give each a series and docs/ledger.md a row
// (TestKindsComplete keeps the three in step). Each call returns a new
// slice, so no caller can change the kinds for the others.
func Kinds() []string {
	return []string{KindPreviousHash, KindDataHash, KindTxDecode, KindBatchDecode,
		KindBatchRoot, KindBatchTally, KindBatchRecord, KindBatchEvent, KindRollChunk, KindRollSeal,
		KindBlockSignature, KindEndorsement, KindGenesis, KindCaller, KindClientSignature, KindReplay,
		KindApproval, KindLogKeys, KindLogAnchor, KindBatchRefused, KindElection, KindNullifier, KindCrossState}
}

// Issue is one verification failure.
type Issue struct {
	Kind    string `json:"kind"`
	Block   uint64 `json:"block"`
	TxID    string `json:"tx_id,omitempty"`
	Message string `json:"message"`
}

// MaxBatchVotes bounds the votes decoded from one transaction. It is far
// above the chaincode's own bound on purpose: the auditor must read whatever
// the ledger holds, not what the chaincode should have accepted.
const MaxBatchVotes = 1 << 20

// Nullifier is a nullifier of a state: the key of the duplicate rule and of
// the roll.
type Nullifier struct{ State, Nullifier string }

// History is what the audit of a block needs from the blocks before it.
// The audit asks for a whole batch's nullifiers at once, so that a store
// answers with one lookup per batch rather than one per vote, and of each
// vote's nullifier one key: its state's for the duplicate rule, the
// nullifier alone for the cross_state check (MaybeUsedAnywhere), whose
// lookup by state is for the few a store cannot rule out. Each method's
// ctx bounds its read: a store gives up with ctx's error once ctx is done.
type History interface {
	// UsedNullifiers returns those of keys that a counted vote already used.
	UsedNullifiers(ctx context.Context, keys []Nullifier) (map[Nullifier]bool, error)
	// MaybeUsedAnywhere returns those of nullifiers that a vote of any
	// state may have used: every one a counted vote used, and perhaps
	// others (a filter's false positives, a vote not counted); known
	// false if the store cannot rule any out (each is then taken as
	// maybe used).
	MaybeUsedAnywhere(ctx context.Context, nullifiers []string) (maybe map[string]bool, known bool, err error)
	// BatchRoot returns the root of batch (state, seq) if it was committed.
	BatchRoot(ctx context.Context, state string, seq uint64) (root string, ok bool, err error)
	// Election returns the election record as last written before the
	// block, or nil if none was (or the index predates recording it: then
	// only the duplicate rule is recounted).
	Election(ctx context.Context) (*ballot.Election, error)
	// ElectionFinalised reports whether a block before wrote the election
	// record finalised (status finalised, or finalised_at stamped), even
	// if a later write took it back; ErrNotRecorded if the store did not
	// keep the election's writes from the first block and saw no finalise
	// since: the audit then goes by the last record alone, so a write over
	// none is not held to be a set-up, and an un-finalise that also cleared
	// finalised_at is remembered for the rest of its block only.
	ElectionFinalised(ctx context.Context) (bool, error)
	// RollSealed reports whether a block before wrote the roll's seal.
	RollSealed(ctx context.Context) (bool, error)
	// RollContests returns, for those of keys a block before wrote on the
	// roll (a LoadRoll transaction's roll key and mark), the contest of
	// the mark.
	RollContests(ctx context.Context, keys []Nullifier) (map[Nullifier]string, error)
	// ChannelConfig returns the ordering service's configuration as the
	// last config block before left it (nil if none carried one);
	// ErrNotRecorded if the store did not keep it (block signatures are
	// then not checked).
	ChannelConfig(ctx context.Context) (*fabricblock.ChannelConfig, error)
	// RollChunks returns the roll chunk records the blocks before wrote,
	// the last written of each index, in index order; ErrNotRecorded if
	// the store did not keep them (the seal is then not recomputed).
	RollChunks(ctx context.Context) ([]ballot.RollChunkRecord, error)
	// IntakeLog returns the intake log's record the blocks before wrote:
	// the registered keys and each state's anchored head;
	// ErrNotRecorded if the store did not keep it (the log's
	// transactions are then not checked).
	IntakeLog(ctx context.Context) (IntakeLog, error)
	// Batched returns the totals of each state's committed batches (first
	// commits: how many, and their votes, counted or rejected) in the
	// blocks before.
	Batched(ctx context.Context) (map[string]ballot.BatchTotals, error)
	// Policies returns each chaincode's endorsement policy as its last
	// definition the blocks before committed; ErrNotRecorded if the store
	// did not keep them (the ballot chaincode's is then taken as every
	// peer organisation's peer).
	Policies(ctx context.Context) (map[string]fabricblock.EndorsementPolicy, error)
	// ValidTxIDs returns those of ids that a VALID transaction of a block
	// before carried.
	ValidTxIDs(ctx context.Context, ids []string) (map[string]bool, error)
	// Approvals returns the organisations' lifecycle approvals the blocks
	// before wrote (Report.Approvals, the last write of each key);
	// ErrNotRecorded if the store did not keep them (commits of
	// definitions are then not checked against them).
	Approvals(ctx context.Context) (Approvals, error)
}

// Approvals are the hashed writes of VALID lifecycle transactions to the
// organisations' implicit collections: by MSP id, the value hash by hex
// key hash (nil for a delete), as fabricblock.Tx.Approvals gives them.
type Approvals map[string]map[string][]byte

// ErrNotRecorded is returned (wrapped) by a History that did not keep
// what a check needs, such as an index written before it kept roll chunk
// records: the check is skipped, with no issue.
var ErrNotRecorded = errors.New("audit: not recorded by this history")

// Batch is a committed batch as the audit recounted it.
type Batch struct {
	TxID    string
	TxIndex int
	Batch   ballot.Batch // as the transaction carried it
	// Leaves are the votes' leaf hashes in order (ballot.Leaves), nil when
	// they do not give the batch's root and tallies.
	Leaves [][32]byte
	Raw    []byte // the batch's JSON as the transaction carried it
	// Rejected are the indices of the votes the recount rejects, and
	// Reasons why (ballot.Reject*): the election's refusals, votes off the
	// sealed roll, then nullifiers used before (earlier on the ledger or
	// earlier in the batch).
	Rejected []int
	Reasons  []string
	Tallies  ballot.Tally // recount of the counted votes
	RootOK   bool         // the votes give the claimed root
	// RecordOK reports that the written record and the event agree with
	// the recount.
	RecordOK bool
	// Resubmission marks a retry of a batch already committed with the same
	// root: the chaincode wrote and counted nothing, and neither does the audit.
	Resubmission bool
	// RecordAgain marks a VALID transaction that wrote the record of a
	// batch already committed (flagged KindBatchRecord; the honest
	// chaincode refuses it): the first commit stands.
	RecordAgain bool
	Record      *ballot.BatchRecord // the record the transaction wrote, if any
	// recounted marks a batch the audit recounted: Rejected is then the
	// recount's (not for a resubmission, nor a batch whose transaction
	// wrote no record).
	recounted bool
}

// First reports whether b is its batch's first commit, neither a
// resubmission nor a record written again: only a first commit is
// counted and indexed.
func (b Batch) First() bool { return !b.Resubmission && !b.RecordAgain }

// Counted returns the number of votes the recount counted.
func (b Batch) Counted() int { return len(b.Batch.Votes) - len(b.Rejected) }

// Report is the outcome of auditing one block.
type Report struct {
	Block   fabricblock.Block
	Batches []Batch
	Issues  []Issue
	// Election is the election record as the block's last VALID write of
	// it left it; nil if the block did not write it.
	Election *ballot.Election
	// ElectionFinalised reports that one of the block's VALID writes of
	// the election record left it finalised (status finalised, or
	// finalised_at stamped): History.ElectionFinalised after it.
	ElectionFinalised bool
	// Roll are the roll entries the block's VALID transactions wrote
	// (LoadRoll), RollChunks the chunk records they wrote, in order, and
	// RollSealed whether one of them sealed the roll.
	Roll       []ballot.RollEntry
	RollChunks []ballot.RollChunkRecord
	RollSealed bool
	// ChannelConfig is the ordering service's configuration the block
	// carries (a config block), nil if none.
	ChannelConfig *fabricblock.ChannelConfig
	// LogKeys is the intake log's keys record as the block's last VALID
	// write of it left it (nil if none wrote it), LogHeads the anchored
	// heads its VALID transactions wrote, in order.
	LogKeys  *ballot.LogKeys
	LogHeads []ballot.AnchoredHead
	// Policies are the endorsement policies of the chaincode definitions
	// the block's VALID lifecycle transactions committed, by chaincode.
	Policies map[string]fabricblock.EndorsementPolicy
	// Approvals are the organisations' lifecycle approvals the block's
	// VALID transactions wrote.
	Approvals Approvals
}

// Votes counts the votes of the block's committed batches (retries of a
// committed batch are not counted again).
func (r Report) Votes() int {
	n := 0
	for _, b := range r.Batches {
		if b.First() {
			n += len(b.Batch.Votes)
		}
	}
	return n
}

// Auditor audits blocks of one channel.
type Auditor struct {
	// Chaincode is the name of the ballot chaincode ("ballot"): the
	// namespace of its writes and the target of CommitBatch transactions.
	Chaincode string
	// SkipSignatures turns off the checks of the orderers' block
	// signatures, the clients' signatures, the endorsements and the
	// callers (blocksig.go, client.go, endorse.go, caller.go): for tests
	// of the other checks, whose blocks no orderer signed, no peer
	// endorsed and no real client sent.
	SkipSignatures bool
	// Identities, if set, remembers the signers' certificates already
	// parsed and chained to their CAs, across blocks: the follower keeps
	// one, so that each signature costs one ECDSA verification.
	Identities *IdentityCache
	// Genesis, if set, is the header hash of the channel's genesis block
	// as published (the trust anchor of the signature checks): block 0
	// must hash to it.
	Genesis []byte
}

// Block audits block b, whose predecessor's recomputed hash is prev (nil
// for block 0). Transactions are audited in order, each seeing the
// nullifiers and batches of those before it. It fails only when h does;
// ctx is passed to each of h's reads (the audit itself reads nothing else).
func (a Auditor) Block(ctx context.Context, prev []byte, b fabricblock.Block, h History) (Report, error) {
	r := Report{Block: b}
	if b.Number == 0 && a.Genesis != nil && !bytes.Equal(b.Hash, a.Genesis) {
		// The message names the pin: explorer.OpenIndex looks for it there.
		r.issue(KindGenesis, "", fmt.Sprintf("block 0 hashes to %x, the channel's genesis block to %x", b.Hash, a.Genesis))
	}
	if b.Number > 0 && !bytes.Equal(b.PreviousHash, prev) {
		r.issue(KindPreviousHash, "", fmt.Sprintf("previous hash %x, but block %d hashes to %x", b.PreviousHash, b.Number-1, prev))
	}
	if !b.DataHashOK {
		r.issue(KindDataHash, "", fmt.Sprintf("data hash %x does not match the block's %d transactions", b.DataHash, len(b.Txs)))
	}
	cfg, err := a.blockSignatures(ctx, &r, b, h)
	if err != nil {
		return Report{}, fmt.Errorf("audit block %d: %w", b.Number, err)
	}
	e, err := h.Election(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("audit block %d: %w", b.Number, err)
	}
	sealed, err := h.RollSealed(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("audit block %d: %w", b.Number, err)
	}
	finalised, electionKept, err := kept(ctx, h.ElectionFinalised)
	if err != nil {
		return Report{}, fmt.Errorf("audit block %d: %w", b.Number, err)
	}
	bh := &blockHistory{History: h, nullifiers: map[Nullifier]bool{}, countedIn: map[string][]string{}, roots: map[batchID]string{}, election: e,
		electionKept: electionKept, finalised: finalised || wasFinalised(e), roll: map[Nullifier]string{}, sealed: sealed}
	if err := checkReplays(ctx, &r, b, h); err != nil {
		return Report{}, fmt.Errorf("audit block %d: %w", b.Number, err)
	}
	for _, tx := range b.Txs {
		if tx.Err != "" {
			r.issue(KindTxDecode, tx.ID, fmt.Sprintf("transaction %d: %s", tx.Index, tx.Err))
			continue
		}
		if !tx.Valid() {
			continue
		}
		if cfg != nil {
			checkClient(&r, tx, cfg, a.Identities)
			for _, cc := range a.endorsedAs(tx) {
				rule, err := bh.policyRule(ctx, cc, cfg)
				if err != nil {
					return Report{}, fmt.Errorf("audit block %d tx %s: %w", b.Number, tx.ID, err)
				}
				checkEndorsements(&r, tx, cc, cfg, rule, a.Identities)
			}
		}
		if err := bh.definitions(ctx, &r, tx); err != nil {
			return Report{}, fmt.Errorf("audit block %d tx %s: %w", b.Number, tx.ID, err)
		}
		if cfg != nil {
			if err := bh.approvalsOf(ctx, &r, tx, cfg, a.Identities); err != nil {
				return Report{}, fmt.Errorf("audit block %d tx %s: %w", b.Number, tx.ID, err)
			}
		}
		bh.need = 0
		if a.commits(tx) {
			bh.need |= needBatcher // a retry writes nothing, yet the chaincode asks for a batcher first
		}
		records := a.batchRecordWrites(tx)
		if len(records) > 0 {
			bh.need |= needBatcher
		}
		if err := a.electionWrites(ctx, &r, tx, bh); err != nil {
			return Report{}, fmt.Errorf("audit block %d tx %s: %w", b.Number, tx.ID, err)
		}
		if err := a.rollWrites(ctx, &r, tx, bh); err != nil {
			return Report{}, fmt.Errorf("audit block %d tx %s: %w", b.Number, tx.ID, err)
		}
		if err := a.intakeLogWrites(ctx, &r, tx, bh); err != nil {
			return Report{}, fmt.Errorf("audit block %d tx %s: %w", b.Number, tx.ID, err)
		}
		if cfg != nil {
			checkCaller(&r, tx, bh.need, cfg, bh.election, a.Identities)
		}
		issues := len(r.Issues)
		raws, decoded := a.batchArgs(&r, tx)
		evs := &txEvents{tx: tx}
		undecoded := len(r.Issues) > issues // a CommitBatches argument that does not decode
		first, unrecorded := len(r.Batches), false
		for i, raw := range raws {
			var pre *ballot.Batch
			if decoded != nil {
				pre = &decoded[i]
			}
			batch, err := a.batch(ctx, &r, tx, raw, pre, bh, evs)
			if err != nil {
				return Report{}, fmt.Errorf("audit block %d tx %s: %w", b.Number, tx.ID, err)
			}
			if batch == nil {
				undecoded = true
			} else {
				unrecorded = unrecorded || !batch.recounted && !batch.Resubmission
				r.Batches = append(r.Batches, *batch)
				if key := ballot.BatchKey(batch.Batch.State, batch.Batch.Seq); !records[key] {
					delete(records, key) // its record, audited above
				}
			}
		}
		if !undecoded { // else the records of the batches that do not decode are its batch_decode issue's
			checkUncarriedRecords(&r, tx, records)
		}
		a.checkNullifierWrites(&r, tx, r.Batches[first:], !undecoded && !unrecorded)
	}
	return r, nil
}

// commits reports whether tx is a CommitBatch or CommitBatches of the
// chaincode.
func (a Auditor) commits(tx fabricblock.Tx) bool {
	return tx.Chaincode == a.Chaincode && (tx.IsCommitBatch() || tx.IsCommitBatches())
}

// batchRecordWrites returns the keys in the range of batch records
// (ballot.InBatchRange) that tx wrote or deleted, each with whether it
// deleted it.
func (a Auditor) batchRecordWrites(tx fabricblock.Tx) map[string]bool {
	var keys map[string]bool
	for _, w := range tx.Writes {
		if w.Namespace == a.Chaincode && ballot.InBatchRange(w.Key) {
			if keys == nil {
				keys = map[string]bool{}
			}
			keys[w.Key] = w.Delete
		}
	}
	return keys
}

// checkUncarriedRecords flags the batch records (key → deleted) tx wrote
// that are no record of a batch it carries: the chaincode writes a batch
// record only in the CommitBatch or CommitBatches that commits the
// batch, never deletes one, and its results (GetResults) sum every record
// in the range, which no recount would then cover.
func checkUncarriedRecords(r *Report, tx fabricblock.Tx, records map[string]bool) {
	for _, key := range slices.Sorted(maps.Keys(records)) {
		name := fmt.Sprintf("%q", key)
		if state, seq, err := ballot.ParseBatchKey(key); err == nil {
			name = fmt.Sprintf("%s/%d", state, seq)
		}
		if records[key] {
			r.issue(KindBatchRecord, tx.ID, fmt.Sprintf("a %s transaction deleted the record of batch %s: the chaincode never deletes one", cmpFunction(tx), name))
		} else {
			r.issue(KindBatchRecord, tx.ID, fmt.Sprintf("a %s transaction wrote a record of batch %s, which it does not commit: no recount covers the record, yet the chaincode's results count it", cmpFunction(tx), name))
		}
	}
}

// batchArgs returns the JSON of each batch a VALID CommitBatch or
// CommitBatches transaction of the chaincode carries (none for other
// transactions), and the batches decoded if a CommitBatches argument
// decoded whole (nil: decode each). A CommitBatches argument that does not
// decode is an issue; its batches are then audited one by one as far as
// they decode.
func (a Auditor) batchArgs(r *Report, tx fabricblock.Tx) ([]json.RawMessage, []ballot.Batch) {
	switch {
	case tx.Chaincode != a.Chaincode:
		return nil, nil
	case tx.IsCommitBatch():
		return []json.RawMessage{tx.Args[0]}, nil
	case tx.IsCommitBatches():
	default:
		return nil, nil
	}
	batches, raws, err := ballot.DecodeBatches(tx.Args[0], MaxBatchVotes)
	if err == nil {
		return raws, batches
	}
	r.issue(KindBatchDecode, tx.ID, err.Error())
	if json.Unmarshal(tx.Args[0], &raws) != nil {
		return nil, nil
	}
	return raws, nil
}

func (r *Report) issue(kind, txID, msg string) {
	r.Issues = append(r.Issues, Issue{Kind: kind, Block: r.Block.Number, TxID: txID, Message: msg})
}

// batch audits one batch (JSON raw, decoded already if pre is not nil) of
// a VALID CommitBatch or CommitBatches transaction, whose batch events are
// evs; nil if it does not decode (an issue is recorded).
func (a Auditor) batch(ctx context.Context, r *Report, tx fabricblock.Tx, raw []byte, pre *ballot.Batch, h *blockHistory, evs *txEvents) (*Batch, error) {
	var b ballot.Batch
	var err error
	if pre != nil {
		b = *pre
	} else if b, err = ballot.DecodeBatch(raw, MaxBatchVotes); err != nil {
		r.issue(KindBatchDecode, tx.ID, err.Error())
		return nil, nil
	}
	out := &Batch{TxID: tx.ID, TxIndex: tx.Index, Batch: b, Raw: raw, RootOK: true, RecordOK: true}
	if out.Leaves, err = b.Verify(); err != nil {
		out.RootOK = false
		kind := KindBatchRoot
		if errors.Is(err, ballot.ErrBatchTally) {
			kind = KindBatchTally
		}
		r.issue(kind, tx.ID, err.Error())
	}
	prevRoot, committed, err := h.BatchRoot(ctx, b.State, b.Seq)
	if err != nil {
		return nil, err
	}
	raw, wrote := tx.Write(a.Chaincode, ballot.BatchKey(b.State, b.Seq))
	switch {
	case !wrote && committed && prevRoot == b.Root:
		out.Resubmission = true
		return out, nil
	case !wrote:
		out.RecordOK = false
		r.issue(KindBatchRecord, tx.ID, fmt.Sprintf("batch %s: VALID transaction wrote no batch record and is no retry of a committed batch", b.ID()))
		return out, nil
	case committed:
		out.RecordOK, out.RecordAgain = false, true
		r.issue(KindBatchRecord, tx.ID, fmt.Sprintf("batch %s: record written again (first root %s)", b.ID(), prevRoot))
	}
	switch {
	case h.election == nil && h.electionKept:
		r.issue(KindBatchRefused, tx.ID, fmt.Sprintf("batch %s committed VALID while no election record exists: the chaincode refuses every batch before SetupElection, as it reads its batchers and rules from the record", b.ID()))
	case h.election != nil:
		if err := h.election.BatchRefusal(b, tx.Time); err != nil {
			r.issue(KindBatchRefused, tx.ID, fmt.Sprintf("batch %s committed VALID, yet the chaincode refuses it whole: %v", b.ID(), err))
		} else if h.finalised {
			r.issue(KindBatchRefused, tx.ID, fmt.Sprintf("batch %s committed VALID after election %s was finalised (its record taken back to %s since): the chaincode refuses it whole",
				b.ID(), h.election.ID, h.election.Status))
		}
	}
	if err := h.recount(ctx, out, tx.Time); err != nil {
		return nil, err
	}
	if err := h.checkCrossState(ctx, r, tx.ID, *out); err != nil {
		return nil, err
	}
	var rec ballot.BatchRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		out.RecordOK = false
		r.issue(KindBatchRecord, tx.ID, fmt.Sprintf("batch %s: undecodable record: %v", b.ID(), err))
		return out, nil
	}
	out.Record = &rec
	for _, msg := range compareRecord(rec, *out, tx.ID) {
		out.RecordOK = false
		r.issue(KindBatchRecord, tx.ID, fmt.Sprintf("batch %s: %s", b.ID(), msg))
	}
	if msg := compareEvent(rec, evs); msg != "" {
		out.RecordOK = false
		r.issue(KindBatchEvent, tx.ID, fmt.Sprintf("batch %s: %s", b.ID(), msg))
	}
	return out, nil
}

// compareRecord lists how the written record differs from the recount.
func compareRecord(rec ballot.BatchRecord, b Batch, txID string) []string {
	var diffs []string
	check := func(ok bool, format string, args ...any) {
		if !ok {
			diffs = append(diffs, fmt.Sprintf(format, args...))
		}
	}
	check(rec.State == b.Batch.State && rec.Seq == b.Batch.Seq, "record is of batch %s/%d", rec.State, rec.Seq)
	check(rec.Root == b.Batch.Root, "record root %s, transaction root %s", rec.Root, b.Batch.Root)
	check(rec.Votes == len(b.Batch.Votes), "record holds %d votes, transaction %d", rec.Votes, len(b.Batch.Votes))
	check(rec.Counted == b.Counted(), "record counts %d votes, recount %d", rec.Counted, b.Counted())
	check(slices.Equal(rec.Rejected, b.Rejected), "record rejects %v, recount %v", rec.Rejected, b.Rejected)
	for k, i := range b.Rejected {
		check(rec.Reason(i) == b.Reasons[k], "record rejects vote %d as %s, recount as %s", i, rec.Reason(i), b.Reasons[k])
	}
	check(rec.Tallies.Equal(b.Tallies), "record tallies %v, recount %v", rec.Tallies, b.Tallies)
	check(rec.TxID == txID, "record names transaction %s", rec.TxID)
	return diffs
}

// txEvents are the batch events of a transaction, decoded once for all
// of its batches (a CommitBatches transaction's event carries every one).
type txEvents struct {
	tx      fabricblock.Tx
	decoded bool
	name    string // the first batch event's name; "" if there is none
	evs     []ballot.BatchEvent
	err     error
}

// decode decodes the transaction's first batch event, once.
func (e *txEvents) decode() {
	if e.decoded {
		return
	}
	e.decoded = true
	for _, ev := range e.tx.Events {
		if evs, ok, err := ballot.BatchEvents(ev.Name, ev.Payload); ok {
			e.name, e.evs, e.err = ev.Name, evs, err
			return
		}
	}
}

// compareEvent checks that the transaction's first BatchCommitted or
// BatchesCommitted event (evs) carries rec.
func compareEvent(rec ballot.BatchRecord, evs *txEvents) string {
	evs.decode()
	switch {
	case evs.name == "":
		return "no " + ballot.EventBatchCommitted + " or " + ballot.EventBatchesCommitted + " event"
	case evs.err != nil:
		return fmt.Sprintf("undecodable event: %v", evs.err)
	}
	want := rec.Event()
	for _, got := range evs.evs {
		if got.State != want.State || got.Seq != want.Seq {
			continue
		}
		if got.Root != want.Root || got.Counted != want.Counted ||
			!slices.Equal(got.Rejected, want.Rejected) || !slices.Equal(got.Reasons, want.Reasons) || !got.Tallies.Equal(want.Tallies) {
			return fmt.Sprintf("event %+v differs from record %+v", got, want)
		}
		return ""
	}
	return fmt.Sprintf("event %s does not carry the batch", evs.name)
}

type batchID struct {
	state string
	seq   uint64
}

// blockHistory overlays the batches and nullifiers of the block being
// audited on the History of the blocks before it.
type blockHistory struct {
	History
	nullifiers map[Nullifier]bool
	countedIn  map[string][]string // nullifier → the states whose votes in this block counted it
	roots      map[batchID]string
	election   *ballot.Election // as of the transaction being audited
	// electionKept reports that History kept the election's writes from
	// the first block: with election nil, none was written before.
	electionKept bool
	roll         map[Nullifier]string // nullifier → contest, of this block's roll marks
	sealed       bool                 // the roll is sealed as of the transaction being audited
	// finalised reports that the election was finalised as of the
	// transaction being audited, even if a (flagged) write took its record
	// back since: a batch is then refused whole, and any write of the
	// record flagged. Across blocks it is History.ElectionFinalised, or
	// where History did not keep that, read from the record it gives
	// (wasFinalised); this block's writes are all seen.
	finalised bool
	// chunks are the roll chunk records as of the transaction being
	// audited, by index (read from History when a transaction first
	// writes a chunk or the seal), chunksKnown false if History did not
	// keep them.
	chunks      map[int]ballot.RollChunkRecord
	chunksKnown bool
	// log is the intake log's record as of the transaction being audited
	// (read from History when a transaction first touches it), logKnown
	// false if History did not keep it.
	log      *IntakeLog
	logKnown bool
	// policies are the chaincodes' endorsement policies as of the
	// transaction being audited (read from History when first needed).
	policies map[string]fabricblock.EndorsementPolicy
	// approvals are the organisations' approvals as of the transaction
	// being audited (read from History when first needed),
	// approvalsKnown false if History did not keep them.
	approvals      Approvals
	approvalsKnown bool
	// need is what the writes of the transaction being audited ask of
	// its creator (caller.go).
	need callerNeed
}

func (h *blockHistory) BatchRoot(ctx context.Context, state string, seq uint64) (string, bool, error) {
	if root, ok := h.roots[batchID{state, seq}]; ok {
		return root, true, nil
	}
	return h.History.BatchRoot(ctx, state, seq)
}

// recount decides which of b's votes count, as the chaincode must in a
// transaction of time txTime, by the chaincode's own rule (ballot's
// Batch.Count): a vote the election refuses, once the roll is sealed one
// not on the roll its LoadRoll transactions wrote, or whose nullifier a
// counted vote used before (on the ledger or earlier in the batch), is
// rejected with its reason. It records b's batch and counted nullifiers.
// What the blocks before say of b's nullifiers is read in one lookup each
// for the duplicate rule and the roll.
func (h *blockHistory) recount(ctx context.Context, b *Batch, txTime time.Time) error {
	keys := make([]Nullifier, 0, len(b.Batch.Votes))
	for _, v := range b.Batch.Votes {
		keys = append(keys, Nullifier{v.State, v.Nullifier})
	}
	usedBefore, err := h.History.UsedNullifiers(ctx, keys)
	if err != nil {
		return err
	}
	used := func(v ballot.Vote) (bool, error) {
		k := Nullifier{v.State, v.Nullifier}
		return h.nullifiers[k] || usedBefore[k], nil
	}
	var onRoll func(ballot.Vote) (bool, error)
	if h.sealed {
		rolled, err := h.History.RollContests(ctx, keys)
		if err != nil {
			return err
		}
		onRoll = func(v ballot.Vote) (bool, error) {
			k := Nullifier{v.State, v.Nullifier}
			contest, ok := h.roll[k]
			if !ok {
				contest, ok = rolled[k]
			}
			return ok && contest == v.Contest, nil
		}
	}
	rec, err := b.Batch.Count(h.election, txTime, onRoll, used, func(_ int, v ballot.Vote) error {
		h.nullifiers[Nullifier{v.State, v.Nullifier}] = true
		h.countedIn[v.Nullifier] = append(h.countedIn[v.Nullifier], v.State)
		return nil
	})
	if err != nil {
		return err
	}
	b.Rejected, b.Reasons, b.Tallies, b.recounted = rec.Rejected, rec.Reasons, rec.Tallies, true
	h.roots[batchID{b.Batch.State, b.Batch.Seq}] = b.Batch.Root
	return nil
}
