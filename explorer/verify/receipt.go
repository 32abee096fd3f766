package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/votechain/votechain/ballot"
)

var (
	errPending    = errors.New("receipt is pending")
	errAhead      = errors.New("not on the peer yet")
	errLedger     = errors.New("cannot read the ledger")
	errNotReceipt = errors.New("not a receipt")
)

// notReceipt says why something is not a receipt, what a receipt is and
// how to get one.
func notReceipt(why string) error {
	return fmt.Errorf("%w: %s; a receipt is the JSON body of the gateway's %s "+
		"(curl -s http://GATEWAY%s > receipt.json), or let verify fetch it: verify --vote-id VOTE_ID", errNotReceipt, why, ReceiptRoute, ballot.ReceiptPath("VOTE_ID"))
}

// BatchRecords reads batch records, the election record and where a
// nullifier was counted from the ledger, and the height of the peer it
// reads (*fabricclient.Ballot).
type BatchRecords interface {
	Batch(ctx context.Context, state string, seq uint64) (ballot.BatchRecord, error)
	Height(ctx context.Context) (uint64, error)
	Election(ctx context.Context) (*ballot.Election, error)
	NullifierLocator
}

// peerWait bounds how long verify waits, over all its receipts, for its
// peer to reach the blocks they name (Checker.record).
const peerWait = 30 * time.Second

// Checker audits receipts against the ledger (ballot's Receipt.Audit),
// reading each batch record once.
type Checker struct {
	ledger  BatchRecords
	records map[string]ballot.BatchRecord
	// peerWait bounds the wait for the peer to reach receipts' blocks, all
	// receipts' together: it ends at waitEnds (zero until one first waits).
	peerWait time.Duration
	waitEnds time.Time
	// finalised: the ledger's election record said finalised (for good).
	finalised bool
}

// NewChecker is a Checker of receipts against ledger l, which waits up to
// 30 s over all its receipts for the peer to reach their blocks.
func NewChecker(l BatchRecords) *Checker {
	return &Checker{ledger: l, records: map[string]ballot.BatchRecord{}, peerWait: peerWait}
}

// check audits one receipt and describes it, or says precisely why it fails.
// A receipt whose vote_id is not a vote id (ballot.ValidVoteID) is not a
// receipt (errNotReceipt), pending or not: no such vote can ever reach the
// ledger. A pending receipt with a vote id is errPending; it need carry
// nothing else (the gateway's names no state while the batcher has not
// placed the vote). A receipt of a vote rejected as a duplicate also says
// where its nullifier was counted (whyDuplicate, one more ledger read): with
// another vote id, the receipt's description is returned with
// errOtherCounted.
func (c *Checker) check(ctx context.Context, r ballot.Receipt) (string, error) {
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
	summary := fmt.Sprintf("%s for %s in contest %s, leaf %d of %d in batch %s, root on the ledger (tx %.16s…, block %d)",
		status, r.Vote.Choice, r.Vote.Contest, r.Index, r.Size, key, r.TxID, r.Block)
	if r.Status != ballot.ReceiptDuplicate {
		return summary, nil
	}
	why, other, err := whyDuplicate(ctx, c.ledger, *r.Vote)
	switch {
	case err != nil:
		return "", err
	case other:
		return summary + "; " + why, errOtherCounted
	}
	return summary + "; " + why, nil
}

// record reads the record of the receipt's batch (key). The receipt comes
// from the gateway once the Commission's peer has committed the batch, and
// verify reads another peer (the Observers'), which may not hold that block
// yet. A batch missing from the ledger therefore fails the receipt only once
// the peer holds the block the receipt names, or once the election is
// finalised: no batch is committed after that, and a peer that holds the
// finalised record holds every batch committed before it, so the receipt's
// block number no longer matters. Until then record waits for the peer to
// reach the block, up to the checker's peerWait over all its receipts; a
// receipt still ahead of the peer is errAhead (no verdict yet, not a
// failure). An error reading the ledger is errLedger.
func (c *Checker) record(ctx context.Context, r ballot.Receipt, key string) (ballot.BatchRecord, error) {
	for {
		// The height, and a finalised record, before the batch: a batch
		// missing at a height read before it, or after the finalised
		// record, is missing for good.
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
		switch {
		case height > r.Block:
			return rec, fmt.Errorf("the ledger has no batch %s", key)
		case c.finalised:
			return rec, fmt.Errorf("the ledger has no batch %s, and its election is finalised: no batch can be committed any more (the receipt names block %d, the peer is at height %d)",
				key, r.Block, height)
		}
		if c.finalised, err = c.electionFinalised(ctx); err != nil {
			return rec, fmt.Errorf("%w: the election record: %v", errLedger, err)
		}
		if c.finalised {
			continue // read the batch again, after the finalised record
		}
		if c.waitEnds.IsZero() {
			c.waitEnds = time.Now().Add(c.peerWait)
		}
		if time.Now().After(c.waitEnds) {
			return rec, fmt.Errorf("%w: the receipt names block %d for batch %s, and the peer is at height %d (waited for up to %s); check again later",
				errAhead, r.Block, key, height, c.peerWait)
		}
		select {
		case <-ctx.Done():
			return rec, fmt.Errorf("%w: batch %s: %v", errLedger, key, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// electionFinalised reads whether the ledger's election is finalised; a
// ledger with no election record yet (a peer short of its block) is not.
func (c *Checker) electionFinalised(ctx context.Context) (bool, error) {
	e, err := c.ledger.Election(ctx)
	if errors.Is(err, ballot.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return e.Status == ballot.StatusFinalised, nil
}

// label names the receipt in output: its vote id and, when it carries its
// vote, the vote's contest.
func label(r ballot.Receipt) string {
	if r.Vote == nil {
		return r.VoteID
	}
	return fmt.Sprintf("%s (contest %s)", r.VoteID, r.Vote.Contest)
}

// ReceiptSummary is the summary line of receipt checks t (without a
// newline): "N passed, N failed, N pending", and ", N duplicate of another
// vote counted first" when there are any (DUPLICATE).
func ReceiptSummary(t Outcomes) string {
	s := fmt.Sprintf("%d passed, %d failed, %d pending", t.ok, t.fail, t.pending)
	if t.otherCounted > 0 {
		s += fmt.Sprintf(", %d %s", t.otherCounted, otherCountedSummary)
	}
	return s
}

// CheckReceipts checks each receipt and prints PASS (unless quiet), FAIL,
// PENDING (pending on the gateway, or ahead of the peer: errAhead) or
// DUPLICATE (rejected as a duplicate of another vote counted first:
// errOtherCounted, whatever quiet); a value
// that is not a receipt FAILs, named by where it was read. A batch the
// ledger cannot be read for ends the check (errLedger) with the outcomes so
// far. progress, if not nil, is told of each receipt as its check begins.
func CheckReceipts(ctx context.Context, w io.Writer, c *Checker, receipts []Decoded[ballot.Receipt], quiet bool, progress Progress) (Outcomes, error) {
	var t Outcomes
	for _, d := range receipts {
		if progress != nil {
			progress.Add(1)
		}
		name, summary, err := label(d.V), "", d.Err
		if err != nil {
			err = notReceipt(err.Error())
		} else {
			summary, err = c.check(ctx, d.V)
		}
		if errors.Is(err, errNotReceipt) {
			name = d.At
		}
		switch {
		case errors.Is(err, errPending):
			t.pending++
			fmt.Fprintf(w, "PENDING %s: accepted, not yet on the ledger\n", name)
		case errors.Is(err, errAhead):
			t.pending++
			fmt.Fprintf(w, "PENDING %s: %v\n", name, err)
		case errors.Is(err, errLedger):
			return t, err
		case errors.Is(err, errOtherCounted):
			t.otherCounted++
			fmt.Fprintf(w, "DUPLICATE %s: %s\n", name, summary)
		case err != nil:
			t.fail++
			fmt.Fprintf(w, "FAIL %s: %v\n", name, err)
		default:
			t.ok++
			if !quiet {
				fmt.Fprintf(w, "PASS %s: %s\n", name, summary)
			}
		}
	}
	return t, nil
}
