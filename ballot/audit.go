package ballot

import (
	"fmt"
	"time"
)

// The counting rule and the audit rules of a receipt, written once. Count is
// how the chaincode decides which votes of a batch count and how the
// explorer recounts them. The gateway's receipt service, the batcher's
// receipt locations, the verify command and the explorer call the receipt
// rules. A receipt passes when Verify (or VerifyVote) shows its vote's
// leaf leads through its proof to its root, and CheckRecord shows that root,
// its batch's size, its transaction and its status are those of the ledger's
// record of the batch. Audit does both.

// Count applies the counting rule to the batch, committed by a
// transaction of time txTime: a vote the election refuses (e.Refusal; with a
// nil e none is refused) is rejected with that reason; with a roll (onRoll
// not nil, the chaincode's once the roll is sealed) a vote whose nullifier is
// not on the roll of its state and contest is rejected as RejectNotOnRoll; a vote whose
// nullifier is on the ledger (used reports it) or repeats the nullifier of an
// earlier counted vote of the batch is rejected as RejectDuplicate; every
// other vote counts. counted, if not nil, is called for each counted vote in
// order (the chaincode writes its nullifier there). It returns the batch's
// record without transaction details (TxID, CommittedAt); Rejected and
// Reasons are never nil.
func (b Batch) Count(e *Election, txTime time.Time, onRoll, used func(Vote) (bool, error), counted func(i int, v Vote) error) (BatchRecord, error) {
	rec := BatchRecord{State: b.State, Seq: b.Seq, Root: b.Root, Votes: len(b.Votes),
		Tallies: Tally{}, Rejected: []int{}, Reasons: []string{}}
	seen := make(map[string]bool, len(b.Votes))
	for i, v := range b.Votes {
		if e != nil {
			if reason := e.Refusal(v, txTime); reason != "" {
				rec.Reject(i, reason)
				continue
			}
		}
		if onRoll != nil {
			ok, err := onRoll(v)
			if err != nil {
				return BatchRecord{}, fmt.Errorf("batch %s vote %d: %w", b.ID(), i, err)
			}
			if !ok {
				rec.Reject(i, RejectNotOnRoll)
				continue
			}
		}
		dup := seen[v.Nullifier]
		if !dup {
			var err error
			if dup, err = used(v); err != nil {
				return BatchRecord{}, fmt.Errorf("batch %s vote %d: %w", b.ID(), i, err)
			}
		}
		if dup {
			rec.Reject(i, RejectDuplicate)
			continue
		}
		seen[v.Nullifier] = true
		if counted != nil {
			if err := counted(i, v); err != nil {
				return BatchRecord{}, fmt.Errorf("batch %s vote %d: %w", b.ID(), i, err)
			}
		}
		rec.Tallies.Add(v.Contest, v.Choice, 1)
		rec.Counted++
	}
	return rec, nil
}

// Status returns the receipt status the record gives vote index i of its
// batch: ReceiptCounted if the chaincode counted it, ReceiptDuplicate if it
// rejected it as a duplicate (its nullifier was used before), else
// ReceiptRejected (Reason says why).
func (r BatchRecord) Status(i int) string {
	switch r.Reason(i) {
	case "":
		return ReceiptCounted
	case RejectDuplicate:
		return ReceiptDuplicate
	}
	return ReceiptRejected
}

// Committed returns the receipt as the ledger committed its batch: with the
// record's transaction, the block that holds it, and the status and reason
// the record gives the receipt's vote.
func (r Receipt) Committed(rec BatchRecord, block uint64) Receipt {
	r.TxID, r.Block, r.Status, r.Reason = rec.TxID, block, rec.Status(r.Index), rec.Reason(r.Index)
	return r
}

// CheckRecord checks the receipt against the ledger's record of its batch:
// the same batch, root, number of votes and transaction, and the status the
// record gives the receipt's vote. It does not check the vote or the proof
// (Verify does). The error names the first difference.
func (r Receipt) CheckRecord(rec BatchRecord) error {
	id := fmt.Sprintf("%s/%d", r.State, r.Seq)
	switch status := rec.Status(r.Index); {
	case rec.State != r.State || rec.Seq != r.Seq:
		return fmt.Errorf("receipt is of batch %s; the record is of batch %s/%d", id, rec.State, rec.Seq)
	case rec.Root != r.Root:
		return fmt.Errorf("receipt root %s is not the root %s the ledger recorded for batch %s", r.Root, rec.Root, id)
	case rec.Votes != r.Size:
		return fmt.Errorf("receipt says batch %s has %d votes; the ledger says %d", id, r.Size, rec.Votes)
	case rec.TxID != r.TxID:
		return fmt.Errorf("receipt names transaction %s; the ledger's batch %s came in %s", r.TxID, id, rec.TxID)
	case status != r.Status:
		return fmt.Errorf("receipt says %s; the ledger says %s", r.Status, status)
	case r.Reason != "" && r.Reason != rec.Reason(r.Index):
		return fmt.Errorf("receipt gives reason %s; the ledger says %s", r.Reason, rec.Reason(r.Index))
	}
	return nil
}

// Audit is the whole check of a receipt against the ledger's record of its
// batch: VerifyVote, then CheckRecord.
func (r Receipt) Audit(rec BatchRecord) error {
	if err := r.VerifyVote(); err != nil {
		return err
	}
	return r.CheckRecord(rec)
}
