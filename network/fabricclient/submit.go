package fabricclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"

	"github.com/votechain/votechain/ballot"
)

// PendingBatch is a CommitBatch transaction that was endorsed and accepted by
// an orderer but whose commit is not yet known. A transaction the orderer
// loses (it dies before cutting the block) never commits: callers bound Wait
// and submit the same batch again (CommitBatch is idempotent per batch id).
type PendingBatch struct{ p *PendingBatches }

// PendingBatches is a transaction carrying one batch (CommitBatch) or the
// batches of several states (CommitBatches), endorsed and accepted by an
// orderer, whose commit is not yet known; as PendingBatch.
type PendingBatches struct {
	batches []ballot.Batch
	multi   bool // CommitBatches: the result is a list of records
	result  []byte
	commit  *client.Commit
}

// SubmitBatch endorses the batch and hands its transaction to ordering.
// The peers of every organisation the endorsement policy requires run the
// chaincode at once (unless the connection leaves the choice to the
// gateway, WithGatewayEndorsers). A refusal of this client's clock, by the
// chaincode or by a peer before it, wraps ballot.ErrClockSkew.
func (b *Ballot) SubmitBatch(ctx context.Context, batch ballot.Batch) (*PendingBatch, error) {
	p, err := b.submit(ctx, []ballot.Batch{batch}, false)
	if err != nil {
		return nil, err
	}
	return &PendingBatch{p}, nil
}

// SubmitBatches endorses one transaction carrying the batches (of distinct
// states, at most ballot.MaxBatchVotes votes in all) and hands it to
// ordering, as SubmitBatch: one batch goes as CommitBatch, several as
// CommitBatches. If the chaincode refuses one batch, it refuses them all.
func (b *Ballot) SubmitBatches(ctx context.Context, batches []ballot.Batch) (*PendingBatches, error) {
	if len(batches) == 0 {
		return nil, errors.New("submit batches: none given")
	}
	return b.submit(ctx, batches, len(batches) > 1)
}

// submit endorses the batches as CommitBatches (multi) or CommitBatch (one
// batch) and hands the transaction to ordering; see submitError.
func (b *Ballot) submit(ctx context.Context, batches []ballot.Batch, multi bool) (*PendingBatches, error) {
	fn, ids := "CommitBatch", ballot.BatchIDs(batches)
	if multi {
		fn = "CommitBatches"
	}
	payload, err := batchesPayload(batches, multi)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", ids, err)
	}
	opts := []client.ProposalOption{client.WithBytesArguments(payload)}
	if len(b.endorsers) > 0 {
		opts = append(opts, client.WithEndorsingOrganizations(b.endorsers...))
	}
	var result []byte
	var commit *client.Commit
	err = b.untilPeersAgree(ctx, func() (err error) {
		result, commit, err = b.contract.SubmitAsyncWithContext(ctx, fn, opts...)
		return err
	})
	if err != nil {
		return nil, submitError(ids, err)
	}
	return &PendingBatches{batches: batches, multi: multi, result: result, commit: commit}, nil
}

// FateUnknown tells whether err, from submitting a transaction or waiting
// for its commit, leaves the transaction's fate unknown: the ordering
// service refused it (*client.SubmitError) or its commit status was not
// seen (*client.CommitStatusError). Such a transaction may be on the
// ledger all the same: under SmartBFT an orderer back from a stall answers
// "request already processed" for a transaction the others ordered, and
// the gateway counts that as a refusal. The caller finds out by reading
// the ledger (for a batch, Ballot.Batch) or by submitting again an
// idempotent transaction. An endorsement refusal, a transaction committed
// invalid and any other error are not of unknown fate.
func FateUnknown(err error) bool {
	var subErr *client.SubmitError
	var statusErr *client.CommitStatusError
	return errors.As(err, &subErr) || errors.As(err, &statusErr)
}

// submitError describes a failed submission of the batches ids (txError).
func submitError(ids string, err error) error {
	return txError("submit "+ids, err)
}

// batchesPayload is the JSON argument of CommitBatch (one batch's object)
// or of CommitBatches (multi: an array of them). Each batch is encoded by
// its MarshalJSON directly: through json.Marshal the encoder would scan and
// compact every batch's output once more (a fifth of the batcher's CPU).
func batchesPayload(batches []ballot.Batch, multi bool) ([]byte, error) {
	if !multi {
		return batches[0].MarshalJSON()
	}
	parts := make([][]byte, len(batches))
	size := len(batches) + 1 // brackets and commas
	for i, b := range batches {
		data, err := b.MarshalJSON()
		if err != nil {
			return nil, err
		}
		parts[i] = data
		size += len(data)
	}
	out := make([]byte, 0, size)
	out = append(out, '[')
	for i, data := range parts {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, data...)
	}
	return append(out, ']'), nil
}

// TransactionID is the transaction's id.
func (p *PendingBatch) TransactionID() string { return p.p.TransactionID() }

// Wait waits until the peer commits the transaction and returns the ledger's
// record of the batch; a transaction committed invalid gives a *ballot.CommitError.
func (p *PendingBatch) Wait(ctx context.Context) (ballot.Committed, error) {
	done, err := p.p.Wait(ctx)
	if err != nil {
		return ballot.Committed{}, err
	}
	return done[0], nil
}

// TransactionID is the transaction's id.
func (p *PendingBatches) TransactionID() string { return p.commit.TransactionID() }

// Wait waits until the peer commits the transaction and returns the ledger's
// record of each batch, in the order submitted; a transaction committed
// invalid gives a *ballot.CommitError. A batch committed before by another
// transaction has a record naming that transaction.
func (p *PendingBatches) Wait(ctx context.Context) ([]ballot.Committed, error) {
	ids := ballot.BatchIDs(p.batches)
	status, err := p.commit.StatusWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("commit status of %s (tx %s): %w", ids, p.commit.TransactionID(), err)
	}
	if !status.Successful {
		return nil, &ballot.CommitError{TxID: status.TransactionID, Code: status.Code.String()}
	}
	recs := make([]ballot.BatchRecord, 1)
	if p.multi {
		err = json.Unmarshal(p.result, &recs)
	} else {
		err = json.Unmarshal(p.result, &recs[0])
	}
	if err == nil && len(recs) != len(p.batches) {
		err = fmt.Errorf("%d records for %d batches", len(recs), len(p.batches))
	}
	if err != nil {
		return nil, fmt.Errorf("decode records of %s: %w", ids, err)
	}
	out := make([]ballot.Committed, len(recs))
	for i, rec := range recs {
		out[i] = ballot.Committed{Record: rec, TxID: status.TransactionID, Block: status.BlockNumber}
	}
	return out, nil
}

// chainInfoTimeout bounds BlockNumbers' check of the client's clock (the
// chain info asked before each block stream), so that a peer that takes the
// query and stalls delays the stream by this much at most, not by the
// evaluate timeout (30 s by default).
const chainInfoTimeout = 5 * time.Second

// BlockNumbers streams the number of every block the peer commits from now
// on, until ctx ends or the stream breaks (the channel closes). The peer's
// refusal of this client's clock is an error wrapping ballot.ErrClockSkew,
// not a stream that closes at once: the deliver service refuses the
// stream's request outside peer.authentication.timewindow without words the
// client gets (clockRefused), so the peer's chain info is asked first, a
// query the peer refuses for the same window, saying so, within
// chainInfoTimeout. Other failures of that query, its timeout included, are
// left to the stream.
func (b *Ballot) BlockNumbers(ctx context.Context) (<-chan uint64, error) {
	infoCtx, cancel := context.WithTimeout(ctx, chainInfoTimeout)
	_, err := b.height(infoCtx)
	cancel()
	if errors.Is(err, ballot.ErrClockSkew) {
		return nil, fmt.Errorf("listen for blocks: %w", err)
	}
	blocks, err := b.network.FilteredBlockEvents(ctx)
	if err != nil {
		return nil, fmt.Errorf("listen for blocks: %w", err)
	}
	out := make(chan uint64, 16)
	go func() {
		defer close(out)
		for blk := range blocks {
			select {
			case out <- blk.GetNumber():
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}
