package fabricblock

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/hyperledger/fabric-protos-go-apiv2/peer/lifecycle"
)

// The lifecycle's approvals. An organisation approves a chaincode
// definition by writing its parameters to its implicit collection
// (ImplicitOrgCollectionPrefix + its MSP id) in the lifecycle's namespace;
// the block carries only the SHA-256 hashes of those keys and values
// (HashedWrite). A commit writes the definition publicly; each of its
// approved fields' values hashes to what an organisation that approved
// the same definition wrote under ApprovalKeyHash.

// ImplicitOrgCollectionPrefix prefixes an organisation's implicit
// collection: "_implicit_org_" followed by its MSP id.
const ImplicitOrgCollectionPrefix = "_implicit_org_"

// ApprovedFields are the fields of a chaincode definition an organisation
// approves (its parameters; the sequence is part of the approval's key).
// Each call returns a new slice, so no caller can change the fields for
// the others.
func ApprovedFields() []string {
	return []string{"EndorsementInfo", "ValidationInfo", "Collections"}
}

// HashedWrite is one write to a private data collection as a block
// carries it: the SHA-256 hashes of its key and value.
type HashedWrite struct {
	Namespace  string
	Collection string
	KeyHash    []byte
	ValueHash  []byte
	Delete     bool
}

// Definition is a chaincode definition a transaction commits: its name,
// sequence and the SHA-256 of each approved field's value as written.
type Definition struct {
	Name        string
	Sequence    int64
	FieldHashes map[string][32]byte
}

// ApprovalKeyHash is the hash of the key under which an organisation's
// approval keeps field of the definition of chaincode name at sequence seq.
func ApprovalKeyHash(name string, seq int64, field string) [32]byte {
	return sha256.Sum256(fmt.Appendf(nil, "namespaces/fields/%s#%d/%s", name, seq, field))
}

// Approvals returns the lifecycle's hashed writes of the transaction to
// each organisation's implicit collection: by MSP id, the value hash by
// hex key hash (nil for a delete).
func (t Tx) Approvals() map[string]map[string][]byte {
	var out map[string]map[string][]byte
	for _, w := range t.HashedWrites {
		org, ok := strings.CutPrefix(w.Collection, ImplicitOrgCollectionPrefix)
		if w.Namespace != LifecycleNamespace || !ok {
			continue
		}
		if out == nil {
			out = map[string]map[string][]byte{}
		}
		if out[org] == nil {
			out[org] = map[string][]byte{}
		}
		v := w.ValueHash
		if w.Delete {
			v = nil
		}
		out[org][hex.EncodeToString(w.KeyHash)] = v
	}
	return out
}

// CommittedDefinitions returns the chaincode definitions the transaction's
// public lifecycle writes commit: each chaincode whose
// namespaces/fields/<name>/Sequence it writes.
func (t Tx) CommittedDefinitions() ([]Definition, error) {
	var out []Definition
	for _, w := range t.Writes {
		if w.Namespace != LifecycleNamespace || w.Delete {
			continue
		}
		rest, ok := strings.CutPrefix(w.Key, "namespaces/fields/")
		name, isSeq := strings.CutSuffix(rest, "/Sequence")
		if !ok || !isSeq || name == "" || strings.Contains(name, "/") {
			continue
		}
		var sd lifecycle.StateData
		if err := unmarshal(w.Value, &sd, "chaincode "+name+"'s sequence"); err != nil {
			return nil, err
		}
		seq, ok := sd.GetType().(*lifecycle.StateData_Int64)
		if !ok {
			return nil, fmt.Errorf("chaincode %s's sequence is not an integer", name)
		}
		d := Definition{Name: name, Sequence: seq.Int64, FieldHashes: map[string][32]byte{}}
		for _, f := range ApprovedFields() {
			if v, ok := t.Write(LifecycleNamespace, "namespaces/fields/"+name+"/"+f); ok {
				d.FieldHashes[f] = sha256.Sum256(v)
			}
		}
		out = append(out, d)
	}
	return out, nil
}
