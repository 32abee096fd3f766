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
// record (JSON ballot.BatchRecord). Only Commission clients may call it.
//
// The batch must decode strictly, hold at most MaxBatchVotes votes, and its
// claimed root and tallies must equal those recomputed from its votes. The
// election must have opened (by transaction time) and not be finalised, and
// must list the batch's state and every vote's candidate; every vote must
// have been cast inside the voting window.
//
// A vote whose nullifier is already on the ledger, or repeats an earlier
// vote of the same batch, is recorded as rejected and not counted; every
// other vote's nullifier is written, locating the vote. The record holds the
// counted tallies, and a BatchCommitted event carries them.
//
// Re-submitting a committed batch with the same root returns the existing
// record and writes nothing (an idempotent retry); a different root under a
// committed batch id is refused.
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
	key := ballot.BatchKey(b.State, b.Seq)
	if prev, err := committedBatch(stub, key, b); err != nil || prev != "" {
		return prev, err
	}
	now, err := txTime(ctx)
	if err != nil {
		return "", err
	}
	if err := checkAgainstElection(ctx, b, now); err != nil {
		return "", err
	}
	rec, err := recordVotes(stub, b)
	if err != nil {
		return "", err
	}
	rec.TxID, rec.CommittedAt = stub.GetTxID(), now.UnixMilli()
	out, err := putJSON(ctx, key, rec)
	if err != nil {
		return "", err
	}
	if err := emitCommitted(stub, rec); err != nil {
		return "", err
	}
	return out, nil
}

// committedBatch returns the stored record if batch b is already committed
// with the same root, "" if it is not committed, and an error if another
// batch was committed under its id.
func committedBatch(stub shim.ChaincodeStubInterface, key string, b ballot.Batch) (string, error) {
	data, err := stub.GetState(key)
	if err != nil {
		return "", fmt.Errorf("read batch %s: %w", b.ID(), err)
	}
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

// checkAgainstElection checks the batch against the election: opened at
// now, not finalised, the state and every candidate on the ballot, every
// vote cast inside the window.
func checkAgainstElection(ctx contractapi.TransactionContextInterface, b ballot.Batch, now time.Time) error {
	e, err := loadElection(ctx)
	if err != nil {
		return err
	}
	switch {
	case e.Status == ballot.StatusFinalised:
		return fmt.Errorf("election %s is finalised; batch %s refused", e.ID, b.ID())
	case now.Before(e.OpensAt):
		return fmt.Errorf("election %s opens at %s; batch %s refused", e.ID, e.OpensAt.Format(time.RFC3339), b.ID())
	case !e.HasState(b.State):
		return fmt.Errorf("state %s is not in election %s", b.State, e.ID)
	}
	candidates := make(map[string]bool, len(e.Candidates))
	for _, c := range e.Candidates {
		candidates[c] = true
	}
	for i, v := range b.Votes {
		if !candidates[v.Candidate] {
			return fmt.Errorf("batch %s vote %d: candidate %q is not on the ballot", b.ID(), i, v.Candidate)
		}
		if !e.InWindow(time.UnixMilli(v.CastAt)) {
			return fmt.Errorf("batch %s vote %d: cast at %s, outside the voting window", b.ID(), i,
				time.UnixMilli(v.CastAt).UTC().Format(time.RFC3339Nano))
		}
	}
	return nil
}

// recordVotes marks each vote's nullifier used, or rejects the vote as a
// duplicate, and returns the batch record without transaction details.
// Per vote it does one GetState and one PutState (none for a repeat inside
// the batch, which GetState could not see: a transaction does not read its
// own writes).
func recordVotes(stub shim.ChaincodeStubInterface, b ballot.Batch) (ballot.BatchRecord, error) {
	rec := ballot.BatchRecord{State: b.State, Seq: b.Seq, Root: b.Root, Votes: len(b.Votes),
		Tallies: make(ballot.Tally), Rejected: []int{}}
	seen := make(map[string]struct{}, len(b.Votes))
	for i, v := range b.Votes {
		used, err := nullifierUsed(stub, seen, v)
		if err != nil {
			return ballot.BatchRecord{}, fmt.Errorf("batch %s vote %d: %w", b.ID(), i, err)
		}
		if used {
			rec.Rejected = append(rec.Rejected, i)
			continue
		}
		loc, err := json.Marshal(ballot.NullifierRecord{State: b.State, Seq: b.Seq, Index: i, VoteID: v.ID})
		if err != nil {
			return ballot.BatchRecord{}, fmt.Errorf("encode nullifier record: %w", err)
		}
		if err := stub.PutState(ballot.NullifierKey(v.State, v.Nullifier), loc); err != nil {
			return ballot.BatchRecord{}, fmt.Errorf("batch %s vote %d: write nullifier: %w", b.ID(), i, err)
		}
		rec.Tallies.Add(v.Candidate, 1)
		rec.Counted++
	}
	return rec, nil
}

// nullifierUsed reports whether v's nullifier was used earlier in the batch
// (seen) or on the ledger, and adds it to seen.
func nullifierUsed(stub shim.ChaincodeStubInterface, seen map[string]struct{}, v ballot.Vote) (bool, error) {
	if _, dup := seen[v.Nullifier]; dup {
		return true, nil
	}
	seen[v.Nullifier] = struct{}{}
	prev, err := stub.GetState(ballot.NullifierKey(v.State, v.Nullifier))
	if err != nil {
		return false, fmt.Errorf("read nullifier: %w", err)
	}
	return prev != nil, nil
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
