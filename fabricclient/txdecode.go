package fabricclient

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"

	"github.com/votechain/votechain/ballot"
)

// Invocation is a chaincode call as a transaction records it.
type Invocation struct {
	TxID      string
	Creator   string // MSP id of the submitting client
	Chaincode string
	Function  string // without the contract prefix ("CommitBatch", not "ballot:CommitBatch")
	Contract  string // the contract prefix, "" when the default contract was called
	Args      [][]byte
	Timestamp time.Time
}

// ErrNotInvocation is returned for envelopes that are not endorser
// transactions (channel configuration, for example).
var ErrNotInvocation = errors.New("not a chaincode invocation")

// DecodeInvocation reads the chaincode call out of a transaction envelope.
func DecodeInvocation(env *common.Envelope) (Invocation, error) {
	var payload common.Payload
	if err := proto.Unmarshal(env.GetPayload(), &payload); err != nil {
		return Invocation{}, fmt.Errorf("payload: %w", err)
	}
	var ch common.ChannelHeader
	if err := proto.Unmarshal(payload.GetHeader().GetChannelHeader(), &ch); err != nil {
		return Invocation{}, fmt.Errorf("channel header: %w", err)
	}
	if common.HeaderType(ch.GetType()) != common.HeaderType_ENDORSER_TRANSACTION {
		return Invocation{TxID: ch.GetTxId()}, ErrNotInvocation
	}
	var sh common.SignatureHeader
	if err := proto.Unmarshal(payload.GetHeader().GetSignatureHeader(), &sh); err != nil {
		return Invocation{}, fmt.Errorf("signature header: %w", err)
	}
	var creator msp.SerializedIdentity
	if err := proto.Unmarshal(sh.GetCreator(), &creator); err != nil {
		return Invocation{}, fmt.Errorf("creator: %w", err)
	}
	var tx peer.Transaction
	if err := proto.Unmarshal(payload.GetData(), &tx); err != nil {
		return Invocation{}, fmt.Errorf("transaction: %w", err)
	}
	if len(tx.GetActions()) == 0 {
		return Invocation{}, errors.New("transaction has no actions")
	}
	var cap peer.ChaincodeActionPayload
	if err := proto.Unmarshal(tx.GetActions()[0].GetPayload(), &cap); err != nil {
		return Invocation{}, fmt.Errorf("chaincode action payload: %w", err)
	}
	var cpp peer.ChaincodeProposalPayload
	if err := proto.Unmarshal(cap.GetChaincodeProposalPayload(), &cpp); err != nil {
		return Invocation{}, fmt.Errorf("proposal payload: %w", err)
	}
	var cis peer.ChaincodeInvocationSpec
	if err := proto.Unmarshal(cpp.GetInput(), &cis); err != nil {
		return Invocation{}, fmt.Errorf("invocation spec: %w", err)
	}
	args := cis.GetChaincodeSpec().GetInput().GetArgs()
	if len(args) == 0 {
		return Invocation{}, errors.New("invocation without a function name")
	}
	inv := Invocation{
		TxID: ch.GetTxId(), Creator: creator.GetMspid(),
		Chaincode: cis.GetChaincodeSpec().GetChaincodeId().GetName(),
		Function:  string(args[0]), Args: args[1:],
		Timestamp: ch.GetTimestamp().AsTime(),
	}
	if contract, fn, ok := strings.Cut(inv.Function, ":"); ok {
		inv.Contract, inv.Function = contract, fn
	}
	return inv, nil
}

// IsCommitBatch reports whether the invocation is a ballot CommitBatch.
func (inv Invocation) IsCommitBatch() bool {
	return inv.Function == "CommitBatch" && (inv.Contract == "" || inv.Contract == "ballot") && len(inv.Args) == 1
}

// CommittedBatch reads the batch a VALID CommitBatch transaction carried,
// from the ledger's copy of the transaction: the votes come from the ledger,
// not from anything the caller holds.
func (b *Ballot) CommittedBatch(ctx context.Context, txID string) (ballot.Batch, error) {
	data, err := b.qscc.EvaluateWithContext(ctx, "GetTransactionByID", client.WithArguments(b.channel, txID))
	if err != nil {
		return ballot.Batch{}, fmt.Errorf("read transaction %s: %w", txID, err)
	}
	var ptx peer.ProcessedTransaction
	if err := proto.Unmarshal(data, &ptx); err != nil {
		return ballot.Batch{}, fmt.Errorf("decode transaction %s: %w", txID, err)
	}
	if code := peer.TxValidationCode(ptx.GetValidationCode()); code != peer.TxValidationCode_VALID {
		return ballot.Batch{}, fmt.Errorf("transaction %s is %s, not VALID", txID, code)
	}
	inv, err := DecodeInvocation(ptx.GetTransactionEnvelope())
	if err != nil {
		return ballot.Batch{}, fmt.Errorf("transaction %s: %w", txID, err)
	}
	if !inv.IsCommitBatch() {
		return ballot.Batch{}, fmt.Errorf("transaction %s is %s, not CommitBatch", txID, inv.Function)
	}
	batch, err := ballot.DecodeBatch(inv.Args[0], ballot.MaxBatchVotes)
	if err != nil {
		return ballot.Batch{}, fmt.Errorf("batch in transaction %s: %w", txID, err)
	}
	return batch, nil
}
