package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/votechain/votechain/ballot"
)

var (
	errPending = errors.New("receipt is pending")
	errLedger  = errors.New("cannot read the ledger")
)

// batchRecords reads batch records from the ledger (*fabricclient.Ballot).
type batchRecords interface {
	Batch(ctx context.Context, state string, seq uint64) (ballot.BatchRecord, error)
}

// checker audits receipts against the ledger (ballot's Receipt.Audit),
// reading each batch record once.
type checker struct {
	ledger  batchRecords
	records map[string]ballot.BatchRecord
}

func newChecker(l batchRecords) *checker {
	return &checker{ledger: l, records: map[string]ballot.BatchRecord{}}
}

// check audits one receipt and describes it, or says precisely why it fails.
func (c *checker) check(ctx context.Context, r ballot.Receipt) (string, error) {
	if r.Status == ballot.ReceiptPending {
		return "", errPending
	}
	key := fmt.Sprintf("%s/%d", r.State, r.Seq)
	rec, ok := c.records[key]
	if !ok {
		var err error
		rec, err = c.ledger.Batch(ctx, r.State, r.Seq)
		if errors.Is(err, ballot.ErrNotFound) {
			return "", fmt.Errorf("the ledger has no batch %s", key)
		}
		if err != nil {
			return "", fmt.Errorf("%w: batch %s: %v", errLedger, key, err)
		}
		c.records[key] = rec
	}
	if err := r.Audit(rec); err != nil {
		return "", err
	}
	status := r.Status
	if r.Reason != "" && r.Reason != ballot.RejectDuplicate {
		status += " (" + r.Reason + ")"
	}
	return fmt.Sprintf("%s for %s in contest %s, leaf %d of %d in batch %s, root on the ledger (tx %.16s…, block %d)",
		status, r.Vote.Choice, r.Vote.Contest, r.Index, r.Size, key, r.TxID, r.Block), nil
}

// label names the receipt in output: its vote id and, when it carries its
// vote, the vote's contest.
func label(r ballot.Receipt) string {
	if r.Vote == nil {
		return r.VoteID
	}
	return fmt.Sprintf("%s (contest %s)", r.VoteID, r.Vote.Contest)
}
