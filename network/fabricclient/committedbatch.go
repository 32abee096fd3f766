package fabricclient

import (
	"context"
	"fmt"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/network/fabricblock"
)

// CommittedBatch reads batch state/seq as the VALID CommitBatch or
// CommitBatches transaction txID carried it, from the ledger's copy of the
// transaction: the votes come from the ledger, not from anything the caller
// holds. A peer's refusal of this client's clock wraps ballot.ErrClockSkew
// (txError).
func (b *Ballot) CommittedBatch(ctx context.Context, txID, state string, seq uint64) (ballot.Batch, error) {
	data, err := b.qscc.EvaluateWithContext(ctx, "GetTransactionByID", client.WithArguments(b.channel, txID))
	if err != nil {
		return ballot.Batch{}, txError("read transaction "+txID, err)
	}
	var ptx peer.ProcessedTransaction
	if err := proto.Unmarshal(data, &ptx); err != nil {
		return ballot.Batch{}, fmt.Errorf("decode transaction %s: %w", txID, err)
	}
	if code := peer.TxValidationCode(ptx.GetValidationCode()); code != peer.TxValidationCode_VALID {
		return ballot.Batch{}, fmt.Errorf("transaction %s is %s, not VALID", txID, code)
	}
	env, err := proto.Marshal(ptx.GetTransactionEnvelope())
	if err != nil {
		return ballot.Batch{}, err
	}
	tx := fabricblock.ParseTx(env)
	if tx.Err != "" {
		return ballot.Batch{}, fmt.Errorf("transaction %s: %s", txID, tx.Err)
	}
	var batches []ballot.Batch
	switch {
	case tx.IsCommitBatch():
		var one ballot.Batch
		one, err = ballot.DecodeBatch(tx.Args[0], ballot.MaxBatchVotes)
		batches = []ballot.Batch{one}
	case tx.IsCommitBatches():
		batches, _, err = ballot.DecodeBatches(tx.Args[0], ballot.MaxBatchVotes)
	default:
		return ballot.Batch{}, fmt.Errorf("transaction %s is %s, not CommitBatch or CommitBatches", txID, tx.Function)
	}
	if err != nil {
		return ballot.Batch{}, fmt.Errorf("batch in transaction %s: %w", txID, err)
	}
	for _, bt := range batches {
		if bt.State == state && bt.Seq == seq {
			return bt, nil
		}
	}
	return ballot.Batch{}, fmt.Errorf("transaction %s does not carry batch %s/%d", txID, state, seq)
}
