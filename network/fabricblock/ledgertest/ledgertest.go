// Package ledgertest builds Fabric blocks for tests of the explorer: endorser
// transactions with a chaincode call, writes and an event, chained by
// header hashes, as a peer would deliver them.
package ledgertest

import (
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/votechain/votechain/network/fabricblock"
)

// Tx describes one transaction to build.
type Tx struct {
	ID        string
	Creator   string // MSP id; default "CommissionMSP"
	Chaincode string // default "ballot"
	Function  string // as invoked, e.g. "CommitBatch" or "ballot:CommitBatch"
	Args      [][]byte
	Event     *fabricblock.Event
	Writes    []fabricblock.Write
	Reads     []string              // keys read (in Chaincode's namespace, at version 1:0)
	Code      peer.TxValidationCode // default VALID
	Config    bool                  // a CONFIG envelope instead of an endorser transaction
	Time      time.Time             // the channel header's timestamp; default now
}

// Chain builds blocks 0, 1, ... each holding the transactions of one
// element of txs, linked by header hashes.
func Chain(txs ...[]Tx) []*common.Block {
	var blocks []*common.Block
	var prev []byte
	for i, t := range txs {
		b := Block(uint64(i), prev, t...)
		prev = fabricblock.HeaderHash(b.Header)
		blocks = append(blocks, b)
	}
	return blocks
}

// Block builds block number with the given previous hash and transactions.
func Block(number uint64, prev []byte, txs ...Tx) *common.Block {
	data := make([][]byte, len(txs))
	filter := make([]byte, len(txs))
	for i, t := range txs {
		data[i] = Envelope(t)
		filter[i] = byte(t.Code)
	}
	md := make([][]byte, len(common.BlockMetadataIndex_name))
	md[common.BlockMetadataIndex_TRANSACTIONS_FILTER] = filter
	return &common.Block{
		Header:   &common.BlockHeader{Number: number, PreviousHash: prev, DataHash: fabricblock.DataHash(data)},
		Data:     &common.BlockData{Data: data},
		Metadata: &common.BlockMetadata{Metadata: md},
	}
}

// Envelope encodes one transaction.
func Envelope(t Tx) []byte {
	if t.Creator == "" {
		t.Creator = "CommissionMSP"
	}
	if t.Chaincode == "" {
		t.Chaincode = "ballot"
	}
	typ := common.HeaderType_ENDORSER_TRANSACTION
	if t.Config {
		typ = common.HeaderType_CONFIG
	}
	ts := timestamppb.Now()
	if !t.Time.IsZero() {
		ts = timestamppb.New(t.Time)
	}
	ch := &common.ChannelHeader{Type: int32(typ), TxId: t.ID, ChannelId: "election", Timestamp: ts}
	sh := &common.SignatureHeader{Creator: marshal(&msp.SerializedIdentity{Mspid: t.Creator, IdBytes: []byte("cert")})}
	payload := &common.Payload{Header: &common.Header{ChannelHeader: marshal(ch), SignatureHeader: marshal(sh)}}
	if !t.Config {
		payload.Data = marshal(transaction(t))
	}
	return marshal(&common.Envelope{Payload: marshal(payload), Signature: []byte("sig")})
}

func transaction(t Tx) *peer.Transaction {
	args := append([][]byte{[]byte(t.Function)}, t.Args...)
	cis := &peer.ChaincodeInvocationSpec{ChaincodeSpec: &peer.ChaincodeSpec{
		ChaincodeId: &peer.ChaincodeID{Name: t.Chaincode}, Input: &peer.ChaincodeInput{Args: args}}}
	kv := &kvrwset.KVRWSet{}
	for _, k := range t.Reads {
		kv.Reads = append(kv.Reads, &kvrwset.KVRead{Key: k, Version: &kvrwset.Version{BlockNum: 1}})
	}
	for _, w := range t.Writes {
		kv.Writes = append(kv.Writes, &kvrwset.KVWrite{Key: w.Key, Value: w.Value, IsDelete: w.Delete})
	}
	rws := &rwset.TxReadWriteSet{DataModel: rwset.TxReadWriteSet_KV,
		NsRwset: []*rwset.NsReadWriteSet{{Namespace: t.Chaincode, Rwset: marshal(kv)}}}
	action := &peer.ChaincodeAction{Results: marshal(rws), ChaincodeId: &peer.ChaincodeID{Name: t.Chaincode}}
	if t.Event != nil {
		action.Events = marshal(&peer.ChaincodeEvent{ChaincodeId: t.Chaincode, TxId: t.ID, EventName: t.Event.Name, Payload: t.Event.Payload})
	}
	prp := &peer.ProposalResponsePayload{ProposalHash: []byte("hash"), Extension: marshal(action)}
	cap := &peer.ChaincodeActionPayload{
		ChaincodeProposalPayload: marshal(&peer.ChaincodeProposalPayload{Input: marshal(cis)}),
		Action:                   &peer.ChaincodeEndorsedAction{ProposalResponsePayload: marshal(prp)},
	}
	return &peer.Transaction{Actions: []*peer.TransactionAction{{Header: []byte("hdr"), Payload: marshal(cap)}}}
}

func marshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil { // unreachable for these well-formed messages
		panic(err)
	}
	return b
}
