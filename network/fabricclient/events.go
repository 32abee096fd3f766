package fabricclient

import (
	"context"
	"fmt"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"google.golang.org/protobuf/proto"

	"github.com/votechain/votechain/ballot"
)

// BatchEvents streams, per transaction, the batches its BatchCommitted or
// BatchesCommitted event reports committed after from, in ledger order,
// until ctx ends. Malformed payloads end the stream with an error on errs
// (they would mean a chaincode bug, never to be skipped).
func (b *Ballot) BatchEvents(ctx context.Context, from ballot.Position) (<-chan ballot.BatchCommitted, <-chan error, error) {
	events, err := b.network.ChaincodeEvents(ctx, b.contract.ChaincodeName(), client.WithStartBlock(from.Block), client.WithCheckpoint(from))
	if err != nil {
		return nil, nil, fmt.Errorf("listen for chaincode events: %w", err)
	}
	out := make(chan ballot.BatchCommitted, 64)
	errs := make(chan error, 1)
	go func() {
		defer close(out)
		for ev := range events {
			evs, ok, err := ballot.BatchEvents(ev.EventName, ev.Payload)
			if !ok {
				continue
			}
			if err != nil {
				errs <- fmt.Errorf("tx %s: %w", ev.TransactionID, err)
				return
			}
			select {
			case out <- ballot.BatchCommitted{Events: evs, At: ballot.Position{Block: ev.BlockNumber, TxID: ev.TransactionID}}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, errs, nil
}

// Height is the number of blocks on the channel (the next block's number).
// A peer's refusal of this client's clock wraps ballot.ErrClockSkew
// (txError).
func (b *Ballot) Height(ctx context.Context) (uint64, error) { return b.height(ctx) }

// height is Height of the peer opts choose (by default this client's).
func (b *Ballot) height(ctx context.Context, opts ...client.ProposalOption) (uint64, error) {
	data, err := b.qscc.EvaluateWithContext(ctx, "GetChainInfo", append(opts, client.WithArguments(b.channel))...)
	if err != nil {
		return 0, txError("chain info", err)
	}
	var info common.BlockchainInfo
	if err := proto.Unmarshal(data, &info); err != nil {
		return 0, fmt.Errorf("decode chain info: %w", err)
	}
	return info.GetHeight(), nil
}
