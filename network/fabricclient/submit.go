package fabricclient

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hyperledger/fabric-gateway/pkg/client"

	"github.com/votechain/votechain/ballot"
)

// PendingBatch is a CommitBatch transaction that was endorsed and accepted by
// an orderer but whose commit is not yet known. A transaction the orderer
// loses (it dies before cutting the block) never commits: callers bound Wait
// and submit the same batch again (CommitBatch is idempotent per batch id).
type PendingBatch struct {
	batch  ballot.Batch
	result []byte
	commit *client.Commit
}

// SubmitBatch endorses the batch and hands its transaction to ordering.
// The peers of every organisation the endorsement policy requires run the
// chaincode at once (unless the connection leaves the choice to the
// gateway, WithGatewayEndorsers).
func (b *Ballot) SubmitBatch(ctx context.Context, batch ballot.Batch) (*PendingBatch, error) {
	payload, err := json.Marshal(batch)
	if err != nil {
		return nil, fmt.Errorf("encode batch %s: %w", batch.ID(), err)
	}
	opts := []client.ProposalOption{client.WithBytesArguments(payload)}
	if len(b.endorsers) > 0 {
		opts = append(opts, client.WithEndorsingOrganizations(b.endorsers...))
	}
	for attempt := 1; ; attempt++ {
		result, commit, err := b.contract.SubmitAsyncWithContext(ctx, "CommitBatch", opts...)
		if err == nil {
			return &PendingBatch{batch: batch, result: result, commit: commit}, nil
		}
		if !peersDisagree(err) || attempt == disagreementAttempts {
			return nil, fmt.Errorf("submit batch %s: %w", batch.ID(), err)
		}
		if serr := b.SyncEndorsers(ctx); serr != nil {
			return nil, fmt.Errorf("submit batch %s: %w (after the peers disagreed: %v)", batch.ID(), serr, err)
		}
	}
}

// Endorsing peers at different block heights can answer the same proposal
// differently: just after a batch commits, one peer returns its stored record
// while another has not committed it yet and counts it afresh. Fabric then
// refuses the endorsement ("ProposalResponsePayloads do not match"); the
// answers agree once the lagging peer catches up, so SubmitBatch waits until
// every endorsing peer holds the blocks the highest one held (SyncEndorsers)
// and tries again, up to disagreementAttempts in all (blocks committed
// meanwhile can cause another disagreement; peers that disagree at the
// same height, a non-deterministic chaincode, fail at once).
const disagreementAttempts = 6

// TransactionID is the transaction's id.
func (p *PendingBatch) TransactionID() string { return p.commit.TransactionID() }

// Wait waits until the peer commits the transaction and returns the ledger's
// record of the batch; a transaction committed invalid gives a *ballot.CommitError.
func (p *PendingBatch) Wait(ctx context.Context) (ballot.Committed, error) {
	status, err := p.commit.StatusWithContext(ctx)
	if err != nil {
		return ballot.Committed{}, fmt.Errorf("commit status of batch %s (tx %s): %w", p.batch.ID(), p.commit.TransactionID(), err)
	}
	if !status.Successful {
		return ballot.Committed{}, &ballot.CommitError{TxID: status.TransactionID, Code: status.Code.String()}
	}
	var rec ballot.BatchRecord
	if err := json.Unmarshal(p.result, &rec); err != nil {
		return ballot.Committed{}, fmt.Errorf("decode record of batch %s: %w", p.batch.ID(), err)
	}
	return ballot.Committed{Record: rec, TxID: status.TransactionID, Block: status.BlockNumber}, nil
}

// BlockNumbers streams the number of every block the peer commits from now
// on, until ctx ends or the stream breaks (the channel closes).
func (b *Ballot) BlockNumbers(ctx context.Context) (<-chan uint64, error) {
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
