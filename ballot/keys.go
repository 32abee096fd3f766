package ballot

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Ledger key layout. Keys are Fabric composite keys, built with exactly the
// bytes of shim's CreateCompositeKey ("\x00" objectType "\x00" attr "\x00" ...),
// so the chaincode can range over them with GetStateByPartialCompositeKey and
// the explorer can recognise them in write sets without the shim.
//
// Every hot-path key is scoped by state: batches of different states never
// touch the same key, and batches of one state write disjoint keys.
const (
	// ElectionKey holds the single election record (JSON Election).
	ElectionKey = "\x00election\x00"

	// BatchObject is the composite-key object type of batch records.
	BatchObject = "batch"
	// NullifierObject is the composite-key object type of used nullifiers
	// and the roll's marks: one letter, because every vote reads and writes
	// one such key.
	NullifierObject = "n"
)

const compositeSep = "\x00"

// MaxStateBatches is the most batch records of one state the chaincode reads
// whole, in one range query (its results, the finalise's totals): the
// peers' ledger.state.totalQueryLimit, set to it (Fabric's default, 100,000,
// ends a range query there without an error). A state's batches hold one
// vote or more each, so it bounds a state's votes only at the lowest load
// (5 batches a second at the batcher's 200 ms tick: 23 days). The chaincode
// refuses to sum a state that reaches it (its read may have been cut), so
// the peers' limit and this must change together.
const MaxStateBatches = 10_000_000

// BatchKey is the ledger key of the record of batch seq of state:
// object "batch", attributes [state, seq as 20 zero-padded digits], so that
// keys sort in sequence order.
func BatchKey(state string, seq uint64) string {
	return compositeKey(BatchObject, state, fmt.Sprintf("%020d", seq))
}

// InBatchRange reports whether key lies in the range of batch record
// keys: a composite key of object BatchObject, whatever its attributes,
// as the chaincode's range reads of the batches (its results, the
// finalise's totals) cover it. BatchKey gives every key the chaincode
// writes there.
func InBatchRange(key string) bool {
	return strings.HasPrefix(key, compositeSep+BatchObject+compositeSep)
}

// NullifierKey is the ledger key marking nullifier as used in state:
// object "n", attributes [state, the nullifier's 32 bytes in unpadded
// base64url (43 characters)]. For a two-letter state that is 50 bytes,
// against 79 with the nullifier's hex and the object "nullifier": every
// counted vote's transaction carries its key twice (read and write), and
// every peer's state database keeps it. A nullifier that is not 64
// lowercase hex (ValidNullifier), which the chaincode never writes, is
// kept as it is.
func NullifierKey(state, nullifier string) string {
	return string(AppendNullifierKey(make([]byte, 0, len(nullifierPrefix)+len(state)+nullifierAttrLen+2), state, nullifier))
}

// AppendNullifierKey appends NullifierKey(state, nullifier) to dst and
// returns the extended buffer: for a caller that builds many keys in one
// buffer, such as the auditor looking a batch's keys up in a write set.
func AppendNullifierKey(dst []byte, state, nullifier string) []byte {
	dst = append(dst, nullifierPrefix...)
	dst = append(dst, state...)
	dst = append(dst, compositeSep...)
	if !ValidNullifier(nullifier) {
		dst = append(dst, nullifier...)
	} else {
		var raw [32]byte
		for i := range raw {
			raw[i] = hexNibble(nullifier[2*i])<<4 | hexNibble(nullifier[2*i+1])
		}
		dst = base64.RawURLEncoding.AppendEncode(dst, raw[:])
	}
	return append(dst, compositeSep...)
}

// hexNibble is the value of a lowercase hex digit.
func hexNibble(c byte) byte {
	if c >= 'a' {
		return c - 'a' + 10
	}
	return c - '0'
}

// nullifierPrefix begins every key in the range of nullifier keys.
const nullifierPrefix = compositeSep + NullifierObject + compositeSep

// InNullifierRange reports whether key lies in the range of nullifier
// keys: a composite key of object NullifierObject, whatever its
// attributes, as the chaincode's range reads of them (ListNullifiers)
// cover it. NullifierKey gives every key the chaincode writes there.
func InNullifierRange(key string) bool {
	return strings.HasPrefix(key, nullifierPrefix)
}

// ParseNullifierKey returns the state and the nullifier (64 lowercase hex,
// or the attribute as it is when it is not an encoded nullifier) of a key
// built by NullifierKey; ok is false for any other key.
func ParseNullifierKey(key string) (state, nullifier string, ok bool) {
	object, attrs, err := SplitKey(key)
	if err != nil || object != NullifierObject || len(attrs) != 2 {
		return "", "", false
	}
	nullifier = attrs[1]
	var raw [32]byte
	if len(nullifier) == nullifierAttrLen {
		if n, err := base64.RawURLEncoding.Decode(raw[:], []byte(nullifier)); err == nil && n == len(raw) {
			nullifier = hex.EncodeToString(raw[:])
		}
	}
	return attrs[0], nullifier, true
}

// nullifierAttrLen is the length of an encoded nullifier attribute.
var nullifierAttrLen = base64.RawURLEncoding.EncodedLen(32)

// compositeKey builds a composite key; attributes must be valid UTF-8 with
// no NUL bytes, which every validated state, seq and nullifier is.
func compositeKey(object string, attrs ...string) string {
	var b strings.Builder
	b.WriteString(compositeSep)
	b.WriteString(object)
	b.WriteString(compositeSep)
	for _, a := range attrs {
		b.WriteString(a)
		b.WriteString(compositeSep)
	}
	return b.String()
}

// SplitKey splits a composite key into its object type and attributes, the
// inverse of the key builders above (and of shim's CreateCompositeKey).
func SplitKey(key string) (object string, attrs []string, err error) {
	if !strings.HasPrefix(key, compositeSep) || !strings.HasSuffix(key, compositeSep) || len(key) < 2 {
		return "", nil, fmt.Errorf("ballot: %q is not a composite key", truncate(key))
	}
	parts := strings.Split(key[1:len(key)-1], compositeSep)
	return parts[0], parts[1:], nil
}

// ParseBatchKey returns the state and seq of a key built by BatchKey.
func ParseBatchKey(key string) (state string, seq uint64, err error) {
	object, attrs, err := SplitKey(key)
	if err != nil {
		return "", 0, err
	}
	if object != BatchObject || len(attrs) != 2 || len(attrs[1]) != 20 {
		return "", 0, errors.New("ballot: not a batch key")
	}
	seq, err = strconv.ParseUint(attrs[1], 10, 64)
	if err != nil {
		return "", 0, fmt.Errorf("ballot: batch key seq: %w", err)
	}
	return attrs[0], seq, nil
}
