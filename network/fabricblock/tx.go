package fabricblock

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"unicode/utf8"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// ParseTx decodes one transaction envelope, recording the first failure in
// Tx.Err (the fields decoded before it are kept).
func ParseTx(env []byte) Tx {
	var tx Tx
	if err := decodeTx(env, &tx); err != nil {
		tx.Err = err.Error()
	}
	return tx
}

// decodeTx fills tx from the envelope, layer by layer: payload and headers
// (id, type, time, creator, the client's signature), then for endorser
// transactions the chaincode invocation (proposal input) and its outcome
// (events and writes).
func decodeTx(env []byte, tx *Tx) error {
	var e common.Envelope
	var payload common.Payload
	var ch common.ChannelHeader
	if err := unmarshal(env, &e, "envelope"); err != nil {
		return err
	}
	if err := unmarshal(e.GetPayload(), &payload, "payload"); err != nil {
		return err
	}
	if err := unmarshal(payload.GetHeader().GetChannelHeader(), &ch, "channel header"); err != nil {
		return err
	}
	tx.ID, tx.Type, tx.Time = ch.GetTxId(), common.HeaderType(ch.GetType()).String(), ch.GetTimestamp().AsTime()
	var sh common.SignatureHeader
	var creator msp.SerializedIdentity
	if err := unmarshal(payload.GetHeader().GetSignatureHeader(), &sh, "signature header"); err != nil {
		return err
	}
	if err := unmarshal(sh.GetCreator(), &creator, "creator"); err != nil {
		return err
	}
	tx.Creator, tx.CreatorCert = creator.GetMspid(), creator.GetIdBytes()
	tx.ClientSignature = ClientSignature{Digest: sha256.Sum256(e.GetPayload()), Signature: e.GetSignature()}
	derived := sha256.Sum256(append(sh.GetNonce(), sh.GetCreator()...))
	tx.IDDerived = tx.ID == hex.EncodeToString(derived[:])
	if common.HeaderType(ch.GetType()) != common.HeaderType_ENDORSER_TRANSACTION {
		return nil
	}
	var t peer.Transaction
	if err := unmarshal(payload.GetData(), &t, "transaction"); err != nil {
		return err
	}
	if len(t.GetActions()) != 1 {
		return fmt.Errorf("transaction has %d actions; want 1", len(t.GetActions()))
	}
	var cap peer.ChaincodeActionPayload
	if err := unmarshal(t.GetActions()[0].GetPayload(), &cap, "chaincode action payload"); err != nil {
		return err
	}
	if err := decodeInvocation(cap.GetChaincodeProposalPayload(), tx); err != nil {
		return err
	}
	if err := decodeEndorsements(cap.GetAction(), tx); err != nil {
		return err
	}
	return decodeOutcome(cap.GetAction().GetProposalResponsePayload(), tx)
}

// decodeEndorsements reads each endorser's identity and signature, with
// the digest it signed: SHA-256 of the proposal response payload followed
// by the endorser's serialized identity (the payload hashed once, its
// state cloned for each endorser).
func decodeEndorsements(action *peer.ChaincodeEndorsedAction, tx *Tx) error {
	payload := sha256.New()
	payload.Write(action.GetProposalResponsePayload())
	for i, e := range action.GetEndorsements() {
		var id msp.SerializedIdentity
		if err := unmarshal(e.GetEndorser(), &id, fmt.Sprintf("endorser %d", i)); err != nil {
			return err
		}
		h, err := payload.(hash.Cloner).Clone()
		if err != nil {
			return fmt.Errorf("endorser %d: %w", i, err)
		}
		h.Write(e.GetEndorser())
		en := Endorsement{Endorser: Identity{MSPID: id.GetMspid(), Cert: id.GetIdBytes()}, Signature: e.GetSignature()}
		h.Sum(en.Digest[:0])
		tx.Endorsements = append(tx.Endorsements, en)
	}
	return nil
}

// decodeInvocation reads the chaincode name, function and arguments from the
// proposal payload the client signed.
func decodeInvocation(proposalPayload []byte, tx *Tx) error {
	var cpp peer.ChaincodeProposalPayload
	var cis peer.ChaincodeInvocationSpec
	if err := unmarshal(proposalPayload, &cpp, "proposal payload"); err != nil {
		return err
	}
	if err := unmarshal(cpp.GetInput(), &cis, "invocation spec"); err != nil {
		return err
	}
	spec := cis.GetChaincodeSpec()
	tx.Chaincode = spec.GetChaincodeId().GetName()
	args := spec.GetInput().GetArgs()
	if len(args) == 0 {
		return errors.New("invocation without a function name")
	}
	tx.Function, tx.Args = string(args[0]), args[1:]
	if contract, fn, ok := strings.Cut(tx.Function, ":"); ok {
		tx.Contract, tx.Function = contract, fn
	}
	return nil
}

// decodeOutcome reads what the endorsed execution produced: its chaincode
// event and its public writes.
func decodeOutcome(responsePayload []byte, tx *Tx) error {
	var prp peer.ProposalResponsePayload
	var action peer.ChaincodeAction
	if err := unmarshal(responsePayload, &prp, "proposal response payload"); err != nil {
		return err
	}
	if err := unmarshal(prp.GetExtension(), &action, "chaincode action"); err != nil {
		return err
	}
	if len(action.GetEvents()) > 0 {
		var ev peer.ChaincodeEvent
		if err := unmarshal(action.GetEvents(), &ev, "chaincode event"); err != nil {
			return err
		}
		tx.Events = append(tx.Events, Event{Chaincode: ev.GetChaincodeId(), Name: ev.GetEventName(), Payload: ev.GetPayload()})
	}
	var rws rwset.TxReadWriteSet
	if err := unmarshal(action.GetResults(), &rws, "read-write set"); err != nil {
		return err
	}
	for _, ns := range rws.GetNsRwset() {
		if err := decodeWrites(ns.GetRwset(), ns.GetNamespace(), tx); err != nil {
			return fmt.Errorf("decode key-value set of %s: %w", ns.GetNamespace(), err)
		}
		for _, c := range ns.GetCollectionHashedRwset() {
			var h kvrwset.HashedRWSet
			if err := unmarshal(c.GetHashedRwset(), &h, "hashed set of "+c.GetCollectionName()); err != nil {
				return err
			}
			for _, w := range h.GetHashedWrites() {
				tx.HashedWrites = append(tx.HashedWrites, HashedWrite{Namespace: ns.GetNamespace(), Collection: c.GetCollectionName(),
					KeyHash: w.GetKeyHash(), ValueHash: w.GetValueHash(), Delete: w.GetIsDelete()})
			}
		}
	}
	return nil
}

// Field numbers of kvrwset.KVRWSet's writes and of kvrwset.KVWrite.
const (
	kvWritesField = 3
	kvKeyField    = 1
	kvDeleteField = 2
	kvValueField  = 3
)

// decodeWrites appends the writes of a serialized kvrwset.KVRWSet to tx,
// as proto.Unmarshal would decode them, but reading the wire format
// directly: the reads (one or two per vote), range queries and metadata
// writes are skipped over as well-formed fields without being decoded,
// and each write's key and value are taken from rwset without a message
// per write. Like proto.Unmarshal it refuses malformed fields and a key
// that is not UTF-8.
func decodeWrites(rwset []byte, namespace string, tx *Tx) error {
	keys := string(rwset) // every key is a substring of one copy
	for b := rwset; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if num != kvWritesField || typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			continue
		}
		msg, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		w, err := decodeWrite(msg, keys[len(rwset)-len(b)-len(msg):])
		if err != nil {
			return err
		}
		w.Namespace = namespace
		tx.Writes = append(tx.Writes, w)
	}
	return nil
}

// decodeWrite decodes one serialized kvrwset.KVWrite, msg; keys holds
// msg's bytes (and maybe more after them) as a string, of which the key
// is a substring.
func decodeWrite(msg []byte, keys string) (Write, error) {
	var w Write
	for pos := 0; pos < len(msg); {
		num, typ, n := protowire.ConsumeTag(msg[pos:])
		if n < 0 {
			return Write{}, protowire.ParseError(n)
		}
		pos += n
		switch {
		case (num == kvKeyField || num == kvValueField) && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(msg[pos:])
			if n < 0 {
				return Write{}, protowire.ParseError(n)
			}
			at := pos + n - len(v)
			pos += n
			if num == kvValueField {
				w.Value = v
			} else if w.Key = keys[at : at+len(v)]; !utf8.ValidString(w.Key) {
				return Write{}, errors.New("key is not valid UTF-8")
			}
		case num == kvDeleteField && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(msg[pos:])
			if n < 0 {
				return Write{}, protowire.ParseError(n)
			}
			pos += n
			w.Delete = v != 0
		default:
			n := protowire.ConsumeFieldValue(num, typ, msg[pos:])
			if n < 0 {
				return Write{}, protowire.ParseError(n)
			}
			pos += n
		}
	}
	return w, nil
}

// IsCommitBatch reports whether the transaction calls the ballot contract's
// CommitBatch (of the default or the "ballot" contract) with its one argument.
func (t Tx) IsCommitBatch() bool {
	return t.Function == "CommitBatch" && (t.Contract == "" || t.Contract == "ballot") && len(t.Args) == 1
}

// IsCommitBatches reports whether the transaction calls the ballot
// contract's CommitBatches (several states' batches) with its one argument.
func (t Tx) IsCommitBatches() bool {
	return t.Function == "CommitBatches" && (t.Contract == "" || t.Contract == "ballot") && len(t.Args) == 1
}

func unmarshal(b []byte, m proto.Message, what string) error {
	if err := proto.Unmarshal(b, m); err != nil {
		return fmt.Errorf("decode %s: %w", what, err)
	}
	return nil
}
