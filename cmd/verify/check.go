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

// checker verifies receipts, reading each batch record once.
type checker struct {
	ledger  batchRecords
	records map[string]ballot.BatchRecord
}

func newChecker(l batchRecords) *checker {
	return &checker{ledger: l, records: map[string]ballot.BatchRecord{}}
}

// check verifies one receipt and describes it, or says precisely why it fails.
func (c *checker) check(ctx context.Context, r ballot.Receipt) (string, error) {
	if r.Status == ballot.ReceiptPending {
		return "", errPending
	}
	if r.Status != ballot.ReceiptCounted && r.Status != ballot.ReceiptDuplicate {
		return "", fmt.Errorf("unknown receipt status %q", r.Status)
	}
	if err := r.VerifyVote(); err != nil {
		return "", err
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
	switch {
	case rec.Root != r.Root:
		return "", fmt.Errorf("root %.16s… is not the root %.16s… the ledger recorded for batch %s", r.Root, rec.Root, key)
	case rec.Votes != r.Size:
		return "", fmt.Errorf("receipt says batch %s has %d votes; the ledger says %d", key, r.Size, rec.Votes)
	case rec.TxID != r.TxID:
		return "", fmt.Errorf("receipt names transaction %.16s…; the ledger's batch %s came in %.16s…", r.TxID, key, rec.TxID)
	}
	status := ballot.ReceiptCounted
	for _, i := range rec.Rejected {
		if i == r.Index {
			status = ballot.ReceiptDuplicate
		}
	}
	if status != r.Status {
		return "", fmt.Errorf("receipt says %s; the ledger says %s", r.Status, status)
	}
	return fmt.Sprintf("%s for %s, leaf %d of %d in batch %s, root on the ledger (tx %.16s…, block %d)",
		status, r.Vote.Candidate, r.Index, r.Size, key, r.TxID, r.Block), nil
}
