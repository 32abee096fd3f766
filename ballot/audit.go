package ballot

import (
	"fmt"
)

// The audit rules of a receipt, written once: the gateway's receipt service,
// the batcher's receipt locations, the verify command and the explorer all
// call these. A receipt passes when Verify (or VerifyVote) shows its vote's
// leaf leads through its proof to its root, and CheckRecord shows that root,
// its batch's size, its transaction and its status are those of the ledger's
// record of the batch. Audit does both.

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
