package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/votechain/votechain/ballot"
)

var (
	errPending    = errors.New("receipt is pending")
	errLedger     = errors.New("cannot read the ledger")
	errNotReceipt = errors.New("not a receipt")
)

// notReceipt says why something is not a receipt, what a receipt is and
// how to get one.
func notReceipt(why string) error {
	return fmt.Errorf("%w: %s; a receipt is the JSON body of the gateway's GET /api/v1/votes/{vote_id} "+
		"(curl -s http://GATEWAY/api/v1/votes/VOTE_ID > receipt.json), or let verify fetch it: verify --vote-id VOTE_ID", errNotReceipt, why)
}

// batchRecords reads batch records from the ledger, and the height of the
// peer it reads (*fabricclient.Ballot).
type batchRecords interface {
	Batch(ctx context.Context, state string, seq uint64) (ballot.BatchRecord, error)
	Height(ctx context.Context) (uint64, error)
}

// peerWait bounds how long verify waits for its peer to reach a receipt's
// block (checker.record).
const peerWait = 30 * time.Second

// checker audits receipts against the ledger (ballot's Receipt.Audit),
// reading each batch record once.
type checker struct {
	ledger  batchRecords
	records map[string]ballot.BatchRecord
	// peerWait bounds the wait for the peer to reach a receipt's block.
	peerWait time.Duration
}

func newChecker(l batchRecords) *checker {
	return &checker{ledger: l, records: map[string]ballot.BatchRecord{}, peerWait: peerWait}
}

// check audits one receipt and describes it, or says precisely why it fails.
// A receipt whose vote_id is not a vote id (ballot.ValidVoteID) is not a
// receipt (errNotReceipt), pending or not: no such vote can ever reach the
// ledger. A pending receipt with a vote id is errPending; it need carry
// nothing else (the gateway's names no state while the batcher has not
// placed the vote).
func (c *checker) check(ctx context.Context, r ballot.Receipt) (string, error) {
	switch {
	case !ballot.ValidVoteID(r.VoteID):
		return "", notReceipt(fmt.Sprintf("its vote_id %q is not 32 lower-case hex characters", r.VoteID))
	case r.Status == ballot.ReceiptPending:
		return "", errPending
	case !ballot.ValidState(r.State):
		return "", notReceipt(fmt.Sprintf("its state %q is not a state code (2 to 8 of A-Z, 0-9)", r.State))
	}
	key := fmt.Sprintf("%s/%d", r.State, r.Seq)
	rec, ok := c.records[key]
	if !ok {
		var err error
		if rec, err = c.record(ctx, r, key); err != nil {
			return "", err
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

// record reads the record of the receipt's batch (key). The receipt comes
// from the gateway once the Commission's peer has committed the batch, and
// verify reads another peer (the Observers'), which may not hold that block
// yet: a batch missing from the ledger fails the receipt only once the peer
// holds the block the receipt names; until then record waits for it, up to
// peerWait, and a peer that stays short of it gives errLedger (no verdict).
func (c *checker) record(ctx context.Context, r ballot.Receipt, key string) (ballot.BatchRecord, error) {
	deadline := time.Now().Add(c.peerWait)
	for {
		// The height first: a batch missing at a height read before it is missing.
		height, err := c.ledger.Height(ctx)
		if err != nil {
			return ballot.BatchRecord{}, fmt.Errorf("%w: batch %s: %v", errLedger, key, err)
		}
		rec, err := c.ledger.Batch(ctx, r.State, r.Seq)
		if err == nil {
			return rec, nil
		}
		if !errors.Is(err, ballot.ErrNotFound) {
			return rec, fmt.Errorf("%w: batch %s: %v", errLedger, key, err)
		}
		if height > r.Block {
			return rec, fmt.Errorf("the ledger has no batch %s", key)
		}
		if time.Now().After(deadline) {
			return rec, fmt.Errorf("%w: batch %s: the peer is at height %d and has not reached the receipt's block %d; try again later",
				errLedger, key, height, r.Block)
		}
		select {
		case <-ctx.Done():
			return rec, fmt.Errorf("%w: batch %s: %v", errLedger, key, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// label names the receipt in output: its vote id and, when it carries its
// vote, the vote's contest.
func label(r ballot.Receipt) string {
	if r.Vote == nil {
		return r.VoteID
	}
	return fmt.Sprintf("%s (contest %s)", r.VoteID, r.Vote.Contest)
}
