// Package fabricblock decodes Fabric blocks into what the explorer indexes and
// audits: the header and its recomputed hashes, each transaction's id,
// creator, chaincode call, validation code, events and writes, and the
// orderers' signatures with the configuration they are checked against. It is pure: no
// I/O, no Fabric dependency beyond the protobuf definitions.
package fabricblock

import (
	"bytes"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// Block is a decoded block.
type Block struct {
	Number       uint64
	PreviousHash []byte // as the header states it
	DataHash     []byte // as the header states it
	Hash         []byte // SHA-256 of the header, recomputed (what the next block must link to)
	// DataHashOK reports whether DataHash equals the hash recomputed over
	// the block's data.
	DataHashOK bool
	// Time is the latest transaction timestamp in the block (Fabric blocks
	// carry no time of their own); zero for a block without transactions.
	Time time.Time
	Size int // bytes of transaction data
	Txs  []Tx
	// Signatures are the orderers' signatures of the block (orderers.go);
	// SignaturesErr says why its signatures metadata did not decode.
	Signatures    []Signature
	SignaturesErr string
	// ChannelConfig is the ordering service's configuration the block's
	// CONFIG transaction carries (nil if none; a config that does not
	// decode is that transaction's Err).
	ChannelConfig *ChannelConfig
}

// Tx is one transaction (envelope) of a block.
type Tx struct {
	Index       int
	ID          string
	Type        string // channel header type: ENDORSER_TRANSACTION, CONFIG, ...
	Creator     string // MSP id of the submitting client
	CreatorCert []byte // the submitting client's certificate (PEM), as its signature header names it
	// ClientSignature is the submitting client's signature of the
	// envelope, which the orderers checked before ordering it.
	ClientSignature ClientSignature
	// IDDerived reports whether ID is what Fabric derives from the
	// signature header: hex SHA-256 of its nonce followed by the creator.
	IDDerived bool
	Time      time.Time
	// Code is the peer's validation code, e.g. "VALID" or "MVCC_READ_CONFLICT".
	Code string

	// Chaincode call (endorser transactions only).
	Chaincode string   // chaincode name
	Contract  string   // contract prefix of the function; "" for the default contract
	Function  string   // function name without the contract prefix
	Args      [][]byte // arguments after the function name
	Events    []Event  // chaincode events set by the transaction
	Writes    []Write  // public key writes, all namespaces
	// HashedWrites are the writes to private data collections, as hashes.
	HashedWrites []HashedWrite
	// Endorsements are the endorsers' signatures of the execution's
	// outcome (the proposal response payload).
	Endorsements []Endorsement

	// Err says why the envelope could not be fully decoded; the fields
	// above hold what was decoded before the failure.
	Err string
}

// Valid reports whether the peer committed the transaction as VALID.
func (t Tx) Valid() bool { return t.Code == peer.TxValidationCode_VALID.String() }

// ClientSignature is a client's signature of its transaction's envelope.
type ClientSignature struct {
	// Digest is what was signed: SHA-256 of the envelope's payload.
	Digest [32]byte
	// Signature is the ASN.1 ECDSA signature of Digest.
	Signature []byte
}

// Event is a chaincode event.
type Event struct {
	Chaincode string
	Name      string
	Payload   []byte
}

// Endorsement is one endorser's signature of a transaction's outcome.
type Endorsement struct {
	Endorser Identity
	// Digest is what was signed: SHA-256 of the proposal response payload
	// followed by the endorser's serialized identity.
	Digest [32]byte
	// Signature is the ASN.1 ECDSA signature of Digest.
	Signature []byte
}

// Write is one key written (or deleted) by a transaction.
type Write struct {
	Namespace string
	Key       string
	Value     []byte
	Delete    bool
}

// Write returns the value tx wrote to key in namespace, if it did.
func (t Tx) Write(namespace, key string) ([]byte, bool) {
	for _, w := range t.Writes {
		if w.Namespace == namespace && w.Key == key && !w.Delete {
			return w.Value, true
		}
	}
	return nil, false
}

// Parse decodes a block. It fails only when the block has no header;
// undecodable transactions are reported in their Tx.Err so that one bad
// envelope never hides the rest of the block.
func Parse(b *common.Block) (Block, error) {
	h := b.GetHeader()
	if h == nil {
		return Block{}, errors.New("ledger: block has no header")
	}
	data := b.GetData().GetData()
	out := Block{
		Number:       h.GetNumber(),
		PreviousHash: h.GetPreviousHash(),
		DataHash:     h.GetDataHash(),
		Hash:         HeaderHash(h),
		DataHashOK:   bytes.Equal(DataHash(data), h.GetDataHash()),
		Txs:          make([]Tx, len(data)),
	}
	codes := validationCodes(b)
	for i, env := range data {
		out.Size += len(env)
		tx := ParseTx(env)
		tx.Index = i
		tx.Code = codes(i)
		if tx.Time.After(out.Time) {
			out.Time = tx.Time
		}
		if tx.Type == common.HeaderType_CONFIG.String() && tx.Err == "" {
			cfg, err := parseChannelConfig(env)
			if err != nil {
				tx.Err = fmt.Sprintf("config: %v", err)
			}
			out.ChannelConfig = cfg
		}
		out.Txs[i] = tx
	}
	sigs, err := signatures(b)
	if err != nil {
		out.SignaturesErr = err.Error()
	}
	out.Signatures = sigs
	return out, nil
}

// FileHeaderHash returns the header hash of a block stored as a file (a
// serialized common.Block, such as the channel's genesis block that
// configtxgen writes and peers join with).
func FileHeaderHash(raw []byte) ([]byte, error) {
	var b common.Block
	if err := proto.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("decode block: %w", err)
	}
	if b.GetHeader() == nil {
		return nil, errors.New("decode block: no header")
	}
	return HeaderHash(b.GetHeader()), nil
}

// asn1Header is the structure Fabric hashes as a block header: the number as
// an ASN.1 INTEGER, then the previous block's hash and the data hash.
type asn1Header struct {
	Number       *big.Int
	PreviousHash []byte
	DataHash     []byte
}

// HeaderHash returns the block header's hash as Fabric computes it (and as
// the next block's PreviousHash states it): SHA-256 of the DER encoding of
// {number, previous hash, data hash}.
func HeaderHash(h *common.BlockHeader) []byte {
	sum := sha256.Sum256(headerDER(h))
	return sum[:]
}

// headerDER is the DER encoding of {number, previous hash, data hash}: what
// Fabric hashes as the header and what the orderers sign with it.
func headerDER(h *common.BlockHeader) []byte {
	der, err := asn1.Marshal(asn1Header{
		Number:       new(big.Int).SetUint64(h.GetNumber()),
		PreviousHash: h.GetPreviousHash(),
		DataHash:     h.GetDataHash(),
	})
	if err != nil { // unreachable: the structure always encodes
		panic(fmt.Sprintf("ledger: encode block header: %v", err))
	}
	return der
}

// DataHash returns the hash of a block's data as Fabric computes it: SHA-256
// of the concatenated envelopes.
func DataHash(data [][]byte) []byte {
	h := sha256.New()
	for _, d := range data {
		h.Write(d)
	}
	return h.Sum(nil)
}

// validationCodes returns the validation code of transaction i from the
// block's TRANSACTIONS_FILTER metadata ("" if the block has none for i).
func validationCodes(b *common.Block) func(i int) string {
	var filter []byte
	if md := b.GetMetadata().GetMetadata(); len(md) > int(common.BlockMetadataIndex_TRANSACTIONS_FILTER) {
		filter = md[common.BlockMetadataIndex_TRANSACTIONS_FILTER]
	}
	return func(i int) string {
		if i >= len(filter) {
			return ""
		}
		return peer.TxValidationCode(filter[i]).String()
	}
}
