package chaincode

import (
	"bytes"
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
// election must not be finalised, must have opened (by transaction time),
// and must list the batch's state (ballot.Election.BatchRefusal, the rule
// the explorer's auditor holds committed batches to). Otherwise the batch
// is refused.
//
// Each vote is then decided on its own, in order: one the election refuses
// (ballot.Election.Refusal: unknown contest, a choice not of its contest,
// cast outside the window or after the transaction's time), once the roll is
// sealed (SealRoll) one whose nullifier key in the batch's state holds no
// mark or record of the vote's contest (not_on_roll), or whose nullifier is
// already on the ledger or used by an earlier counted vote of the batch
// (duplicate), is recorded as rejected with its reason and not counted;
// every other vote's nullifier is written (its ballot.NullifierRecord,
// naming the contest, as NullifierRecord.Value encodes it), locating the vote. Nullifiers are per voter and
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
	recs, fresh, err := c.commit(ctx, []ballot.Batch{b})
	if err != nil {
		return "", err
	}
	if len(fresh) > 0 {
		if err := emit(ctx.GetStub(), ballot.EventBatchCommitted, fresh[0].Event()); err != nil {
			return "", err
		}
	}
	return string(recs[0]), nil
}

// CommitBatches records the batches of several states in one transaction
// (JSON array of ballot.Batch, as ballot.DecodeBatches accepts it: at most
// MaxBatchVotes votes in all, no state twice) and returns their records
// (JSON array of ballot.BatchRecord, in argument order). Each batch is
// judged and recorded exactly as CommitBatch does it, under its own key,
// root and record; a batch already committed with the same root returns its
// existing record and writes nothing. If any batch is refused, the whole
// transaction is: the caller commits the batches one by one to find which.
// One BatchesCommitted event carries the records of the batches this
// transaction committed (none if all were committed before).
//
// Ledger access is the same two exchanges with the peer, for all the
// batches together.
func (c *BallotContract) CommitBatches(ctx contractapi.TransactionContextInterface, batchesJSON string) (string, error) {
	if err := requireCommission(ctx); err != nil {
		return "", err
	}
	bs, _, err := ballot.DecodeBatches([]byte(batchesJSON), MaxBatchVotes)
	if err != nil {
		return "", err
	}
	recs, fresh, err := c.commit(ctx, bs)
	if err != nil {
		return "", err
	}
	if len(fresh) > 0 {
		if err := emit(ctx.GetStub(), ballot.EventBatchesCommitted, ballot.BatchesEvent(fresh)); err != nil {
			return "", err
		}
	}
	return "[" + string(bytes.Join(recs, []byte(","))) + "]", nil // records as stored: valid JSON
}

// commit judges and records batches of distinct states: it returns every
// batch's record as stored (in order) and the records of those this
// transaction committed (the others were committed before).
func (c *BallotContract) commit(ctx contractapi.TransactionContextInterface, bs []ballot.Batch) ([][]byte, []ballot.BatchRecord, error) {
	for _, b := range bs {
		if _, err := b.Verify(); err != nil {
			return nil, nil, err
		}
	}
	stub := ctx.GetStub()
	election, ins, err := readForBatches(stub, bs)
	if err != nil {
		return nil, nil, err
	}
	e, err := decodeElection(election)
	if err != nil {
		return nil, nil, err
	}
	if err := requireBatcher(ctx, e); err != nil {
		return nil, nil, err
	}
	recs := make([][]byte, len(bs))
	var todo []int // the batches not yet committed
	for i, b := range bs {
		prev, err := committedBatch(ins[i].record, b)
		if err != nil {
			return nil, nil, err
		}
		if prev == "" {
			todo = append(todo, i)
		}
		recs[i] = []byte(prev)
	}
	if len(todo) == 0 {
		return recs, nil, nil
	}
	now, err := c.txTime(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, i := range todo {
		if err := e.BatchRefusal(bs[i], now); err != nil {
			return nil, nil, err
		}
	}
	stub.StartWriteBatch()
	fresh := make([]ballot.BatchRecord, 0, len(todo))
	for _, i := range todo {
		b := bs[i]
		rec, err := recordVotes(stub, b, e, now, ins[i])
		if err != nil {
			return nil, nil, err
		}
		rec.TxID, rec.CommittedAt = stub.GetTxID(), now.UnixMilli()
		out, err := putJSON(ctx, ballot.BatchKey(b.State, b.Seq), rec)
		if err != nil {
			return nil, nil, err
		}
		recs[i] = []byte(out)
		fresh = append(fresh, rec)
	}
	if err := stub.FinishWriteBatch(); err != nil {
		return nil, nil, fmt.Errorf("write batches: %w", err)
	}
	return recs, fresh, nil
}

// batchInputs is what the ledger holds that committing one batch needs.
type batchInputs struct {
	record []byte              // the batch's stored record; nil if not committed
	sealed bool                // the roll is sealed: only its voters count
	used   map[string]struct{} // the batch's nullifiers already used on the ledger
	onRoll map[string]string   // the batch's nullifiers on the roll of its state (used or not) → their contest
}

// readForBatches reads the election, the roll's seal and, for each batch,
// its batch key and every distinct nullifier key, all in one
// GetMultipleStates; it returns the election record and each batch's
// inputs. A nullifier key holding the roll's mark is on the roll for the
// mark's contest and unused; one holding a record is used (and, once the
// roll is sealed, on the roll for the record's contest).
func readForBatches(stub shim.ChaincodeStubInterface, bs []ballot.Batch) ([]byte, []batchInputs, error) {
	keys := []string{ballot.ElectionKey, ballot.RollSealKey} // then each batch's keys
	type span struct {
		first      int      // index of the batch key in keys; its nullifiers follow
		nullifiers []string // distinct, in order
	}
	spans := make([]span, len(bs))
	for i, b := range bs {
		spans[i].first = len(keys)
		keys = append(keys, ballot.BatchKey(b.State, b.Seq))
		seen := make(map[string]struct{}, len(b.Votes))
		for _, v := range b.Votes {
			if _, dup := seen[v.Nullifier]; !dup {
				seen[v.Nullifier] = struct{}{}
				spans[i].nullifiers = append(spans[i].nullifiers, v.Nullifier)
				keys = append(keys, ballot.NullifierKey(b.State, v.Nullifier))
			}
		}
	}
	vals, err := stub.GetMultipleStates(keys...)
	if err != nil {
		return nil, nil, fmt.Errorf("read ledger for %s: %w", ballot.BatchIDs(bs), err)
	}
	if len(vals) != len(keys) {
		return nil, nil, fmt.Errorf("read ledger for %s: %d values for %d keys", ballot.BatchIDs(bs), len(vals), len(keys))
	}
	ins := make([]batchInputs, len(bs))
	for i, sp := range spans {
		in := batchInputs{record: vals[sp.first], sealed: vals[1] != nil,
			used: make(map[string]struct{}), onRoll: make(map[string]string, len(sp.nullifiers))}
		for k, n := range sp.nullifiers {
			v := vals[sp.first+1+k]
			if v == nil {
				continue
			}
			if contest, ok := ballot.ParseRollMark(v); ok {
				in.onRoll[n] = contest
				continue
			}
			rec, err := ballot.DecodeNullifierRecord(bs[i].State, v)
			if err != nil {
				return nil, nil, fmt.Errorf("stored nullifier %s of %s: %w", n, bs[i].State, err)
			}
			in.onRoll[n], in.used[n] = rec.Contest, struct{}{}
		}
		ins[i] = in
	}
	return vals[0], ins, nil
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
		loc, err := ballot.NullifierRecord{State: b.State, Contest: v.Contest, Seq: b.Seq, Index: i, VoteID: v.ID}.Value()
		if err != nil {
			return err
		}
		if err := stub.PutState(ballot.NullifierKey(b.State, v.Nullifier), loc); err != nil {
			return fmt.Errorf("write nullifier: %w", err)
		}
		return nil
	})
}

// emit sets the transaction's chaincode event name with payload v (JSON).
func emit(stub shim.ChaincodeStubInterface, name string, v any) error {
	payload, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	if err := stub.SetEvent(name, payload); err != nil {
		return fmt.Errorf("emit %s: %w", name, err)
	}
	return nil
}
