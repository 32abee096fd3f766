package chaincode

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/votechain/votechain/ballot"
)

// CommitBatch records a batch of votes (JSON ballot.Batch) and returns its
// record (JSON ballot.BatchRecord). Only the Commission clients the election
// record names as batchers may call it (ballot.Election.MayCommit).
//
// The batch must decode strictly, hold at most MaxBatchVotes votes, and its
// claimed root and tallies must equal those recomputed from its votes. The
// transaction time must be within MaxClockSkew of the peer's clock, the
// election must have opened (by transaction time), not be finalised, and
// list the batch's state. Otherwise the batch is refused.
//
// Each vote is then decided on its own, in order: one the election refuses
// (ballot.Election.Refusal: unknown contest, a choice not of its contest,
// cast outside the window or after the transaction's time), once the roll is
// sealed (SealRoll) one whose nullifier key in the batch's state holds no
// mark or record of the vote's contest (not_on_roll), or whose nullifier is
// already on the ledger or used by an earlier counted vote of the batch
// (duplicate), is recorded as rejected with its reason and not counted;
// every other vote's nullifier is written (its ballot.NullifierRecord,
// naming the contest), locating the vote. Nullifiers are per voter and
// contest (ballot.NullifierOf), so a voter's votes in different contests
// never collide. A deterministic refusal of one vote never refuses the
// batch. The record holds the counted tallies per contest and choice, and a
// BatchCommitted event carries them.
//
// Re-submitting a committed batch with the same root returns the existing
// record and writes nothing (an idempotent retry); a different root under a
// committed batch id is refused.
//
// Ledger access is two exchanges with the peer, whatever the batch size:
// one GetMultipleStates reads the batch key, the election, the roll's seal
// and every nullifier key (which holds the roll's mark for a voter on the
// roll who has not voted), and one write batch carries every write (Fabric 3.1; with the
// peer's batching off the shim falls back to one exchange per key).
func (c *BallotContract) CommitBatch(ctx contractapi.TransactionContextInterface, batchJSON string) (string, error) {
	if err := requireCommission(ctx); err != nil {
		return "", err
	}
	b, err := ballot.DecodeBatch([]byte(batchJSON), MaxBatchVotes)
	if err != nil {
		return "", err
	}
	if _, err := b.Verify(); err != nil {
		return "", err
	}
	stub := ctx.GetStub()
	in, err := readForBatch(stub, b)
	if err != nil {
		return "", err
	}
	e, err := decodeElection(in.election)
	if err != nil {
		return "", err
	}
	if err := requireBatcher(ctx, e); err != nil {
		return "", err
	}
	if prev, err := committedBatch(in.record, b); err != nil || prev != "" {
		return prev, err
	}
	now, err := c.txTime(ctx)
	if err != nil {
		return "", err
	}
	if err := checkAgainstElection(e, b, now); err != nil {
		return "", err
	}
	stub.StartWriteBatch()
	rec, err := recordVotes(stub, b, e, now, in)
	if err != nil {
		return "", err
	}
	rec.TxID, rec.CommittedAt = stub.GetTxID(), now.UnixMilli()
	out, err := putJSON(ctx, ballot.BatchKey(b.State, b.Seq), rec)
	if err != nil {
		return "", err
	}
	if err := stub.FinishWriteBatch(); err != nil {
		return "", fmt.Errorf("write batch %s: %w", b.ID(), err)
	}
	if err := emitCommitted(stub, rec); err != nil {
		return "", err
	}
	return out, nil
}

// batchInputs is what the ledger holds that CommitBatch needs.
type batchInputs struct {
	record   []byte              // the batch's stored record; nil if not committed
	election []byte              // the election record; nil before set-up
	sealed   bool                // the roll is sealed: only its voters count
	used     map[string]struct{} // the batch's nullifiers already used on the ledger
	onRoll   map[string]string   // the batch's nullifiers on the roll of its state (used or not) → their contest
}

// readForBatch reads the batch key, the election, the roll's seal and every
// distinct nullifier key of b in one GetMultipleStates. A nullifier key
// holding the roll's mark is on the roll for the mark's contest and unused;
// one holding a record is used (and, once the roll is sealed, on the roll
// for the record's contest).
func readForBatch(stub shim.ChaincodeStubInterface, b ballot.Batch) (batchInputs, error) {
	const fixed = 3 // the batch key, the election key and the roll seal come first
	keys := make([]string, fixed, fixed+len(b.Votes))
	keys[0], keys[1], keys[2] = ballot.BatchKey(b.State, b.Seq), ballot.ElectionKey, ballot.RollSealKey
	nullifiers := make([]string, 0, len(b.Votes))
	seen := make(map[string]struct{}, len(b.Votes))
	for _, v := range b.Votes {
		if _, dup := seen[v.Nullifier]; !dup {
			seen[v.Nullifier] = struct{}{}
			nullifiers = append(nullifiers, v.Nullifier)
			keys = append(keys, ballot.NullifierKey(b.State, v.Nullifier))
		}
	}
	vals, err := stub.GetMultipleStates(keys...)
	if err != nil {
		return batchInputs{}, fmt.Errorf("read ledger for batch %s: %w", b.ID(), err)
	}
	if len(vals) != len(keys) {
		return batchInputs{}, fmt.Errorf("read ledger for batch %s: %d values for %d keys", b.ID(), len(vals), len(keys))
	}
	in := batchInputs{record: vals[0], election: vals[1], sealed: vals[2] != nil,
		used: make(map[string]struct{}), onRoll: make(map[string]string, len(nullifiers))}
	for i, n := range nullifiers {
		v := vals[fixed+i]
		if v == nil {
			continue
		}
		if contest, ok := ballot.ParseRollMark(v); ok {
			in.onRoll[n] = contest
			continue
		}
		var rec ballot.NullifierRecord
		if err := json.Unmarshal(v, &rec); err != nil {
			return batchInputs{}, fmt.Errorf("decode stored nullifier %s of %s: %w", n, b.State, err)
		}
		in.onRoll[n], in.used[n] = rec.Contest, struct{}{}
	}
	return in, nil
}

// committedBatch returns the stored record data if batch b is already
// committed with the same root, "" if it is not committed (data is nil),
// and an error if another batch was committed under its id.
func committedBatch(data []byte, b ballot.Batch) (string, error) {
	if data == nil {
		return "", nil
	}
	var prev ballot.BatchRecord
	if err := json.Unmarshal(data, &prev); err != nil {
		return "", fmt.Errorf("decode stored batch %s: %w", b.ID(), err)
	}
	if prev.Root != b.Root {
		return "", fmt.Errorf("batch %s is already committed with root %s; refusing root %s", b.ID(), prev.Root, b.Root)
	}
	return string(data), nil
}

// checkAgainstElection checks the batch as a whole against the election:
// opened at now, not finalised, the batch's state on it.
func checkAgainstElection(e *ballot.Election, b ballot.Batch, now time.Time) error {
	switch {
	case e.Status == ballot.StatusFinalised:
		return fmt.Errorf("election %s is finalised; batch %s refused", e.ID, b.ID())
	case now.Before(e.OpensAt):
		return fmt.Errorf("election %s opens at %s; batch %s refused", e.ID, e.OpensAt.Format(time.RFC3339), b.ID())
	case !e.HasState(b.State):
		return fmt.Errorf("state %s is not in election %s", b.State, e.ID)
	}
	return nil
}

// recordVotes counts the batch by ballot's rule (Batch.Count: a vote the
// election refuses, not on the sealed roll, or whose nullifier is on the
// ledger, used, or earlier in the batch, is rejected with its reason) and
// writes each counted vote's nullifier record. It returns the batch record
// without transaction details. The in-batch check is the rule's: a
// transaction does not read its own writes.
func recordVotes(stub shim.ChaincodeStubInterface, b ballot.Batch, e *ballot.Election, now time.Time, in batchInputs) (ballot.BatchRecord, error) {
	onLedger := func(v ballot.Vote) (bool, error) {
		_, ok := in.used[v.Nullifier]
		return ok, nil
	}
	var onRoll func(ballot.Vote) (bool, error)
	if in.sealed {
		onRoll = func(v ballot.Vote) (bool, error) {
			contest, ok := in.onRoll[v.Nullifier]
			return ok && contest == v.Contest, nil
		}
	}
	return b.Count(e, now, onRoll, onLedger, func(i int, v ballot.Vote) error {
		loc, err := json.Marshal(ballot.NullifierRecord{State: b.State, Contest: v.Contest, Seq: b.Seq, Index: i, VoteID: v.ID})
		if err != nil {
			return fmt.Errorf("encode nullifier record: %w", err)
		}
		if err := stub.PutState(ballot.NullifierKey(b.State, v.Nullifier), loc); err != nil {
			return fmt.Errorf("write nullifier: %w", err)
		}
		return nil
	})
}

// emitCommitted sets the transaction's BatchCommitted event.
func emitCommitted(stub shim.ChaincodeStubInterface, rec ballot.BatchRecord) error {
	payload, err := json.Marshal(rec.Event())
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	if err := stub.SetEvent(ballot.EventBatchCommitted, payload); err != nil {
		return fmt.Errorf("emit %s: %w", ballot.EventBatchCommitted, err)
	}
	return nil
}
