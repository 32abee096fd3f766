package ballot

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Domain-separation prefixes of RFC 6962: a leaf hash can never equal an
// interior node hash.
const (
	leafPrefix = 0x00
	nodePrefix = 0x01
)

// VoteEncodingV2 is the first byte of every vote encoded by Encode. Version
// 1, before contests, had no contest field; no ledger holds it any more.
const VoteEncodingV2 = 2

// Vote is one accepted vote as it travels through the queue, the batch and
// the ledger. It carries no personal data: the voter appears only as a
// nullifier.
type Vote struct {
	ID        string `json:"id"`        // 32 lowercase hex
	State     string `json:"state"`     // e.g. "CA": 2..8 chars [A-Z0-9]
	Contest   string `json:"contest"`   // the contest's id: 1..64 chars [A-Za-z0-9_-]
	Nullifier string `json:"nullifier"` // 64 lowercase hex: the voter's nullifier for this contest
	Choice    string `json:"choice"`    // a candidate or an answer: 1..64 chars [A-Za-z0-9_-]
	CastAt    int64  `json:"cast_at"`   // Unix milliseconds, set by the gateway
}

// Validate checks every field's form. It does not know the election, so it
// cannot check that the state, contest and choice are on the ballot.
func (v Vote) Validate() error {
	switch {
	case !ValidVoteID(v.ID):
		return fmt.Errorf("ballot: vote id %q is not 32 lowercase hex characters", truncate(v.ID))
	case !ValidState(v.State):
		return fmt.Errorf("ballot: vote %s: state %q must be 2..8 characters of [A-Z0-9]", v.ID, truncate(v.State))
	case !ValidIdent(v.Contest):
		return fmt.Errorf("ballot: vote %s: contest %q must be 1..64 characters of [A-Za-z0-9_-]", v.ID, truncate(v.Contest))
	case !ValidNullifier(v.Nullifier):
		return fmt.Errorf("ballot: vote %s: nullifier %q is not 64 lowercase hex characters", v.ID, truncate(v.Nullifier))
	case !ValidIdent(v.Choice):
		return fmt.Errorf("ballot: vote %s: choice %q must be 1..64 characters of [A-Za-z0-9_-]", v.ID, truncate(v.Choice))
	}
	return nil
}

// Encode returns the canonical encoding of a valid vote, the bytes its
// Merkle leaf is computed over:
//
//	version  1 byte, VoteEncodingV2
//	id        uint16 big-endian length, then the 32 hex characters
//	state     uint16 big-endian length, then the characters
//	contest   uint16 big-endian length, then the characters
//	nullifier uint16 big-endian length, then the 64 hex characters
//	choice    uint16 big-endian length, then the characters
//	cast_at   int64 big-endian (two's complement), Unix milliseconds
//
// The encoding is deterministic and injective: equal votes give equal bytes
// and different votes different bytes.
func (v Vote) Encode() ([]byte, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return v.appendEncoding(make([]byte, 0, v.encodedLen())), nil
}

func (v Vote) encodedLen() int {
	return 1 + 5*2 + len(v.ID) + len(v.State) + len(v.Contest) + len(v.Nullifier) + len(v.Choice) + 8
}

// appendEncoding appends the encoding of an already validated vote to dst.
func (v Vote) appendEncoding(dst []byte) []byte {
	dst = append(dst, VoteEncodingV2)
	for _, f := range [...]string{v.ID, v.State, v.Contest, v.Nullifier, v.Choice} {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(f)))
		dst = append(dst, f...)
	}
	return binary.BigEndian.AppendUint64(dst, uint64(v.CastAt))
}

// DecodeVote is the strict inverse of Encode: it refuses unknown versions,
// truncated or trailing bytes and votes that do not validate.
func DecodeVote(b []byte) (Vote, error) {
	if len(b) == 0 {
		return Vote{}, errors.New("ballot: decode vote: empty input")
	}
	if b[0] != VoteEncodingV2 {
		return Vote{}, fmt.Errorf("ballot: decode vote: unknown encoding version %d", b[0])
	}
	rest := b[1:]
	var fields [5]string
	for i := range fields {
		if len(rest) < 2 {
			return Vote{}, fmt.Errorf("ballot: decode vote: truncated at field %d length", i)
		}
		n := int(binary.BigEndian.Uint16(rest))
		rest = rest[2:]
		if len(rest) < n {
			return Vote{}, fmt.Errorf("ballot: decode vote: field %d wants %d bytes, %d left", i, n, len(rest))
		}
		fields[i], rest = string(rest[:n]), rest[n:]
	}
	if len(rest) != 8 {
		return Vote{}, fmt.Errorf("ballot: decode vote: cast_at wants 8 bytes, %d left", len(rest))
	}
	v := Vote{ID: fields[0], State: fields[1], Contest: fields[2], Nullifier: fields[3], Choice: fields[4],
		CastAt: int64(binary.BigEndian.Uint64(rest))}
	if err := v.Validate(); err != nil {
		return Vote{}, fmt.Errorf("decode vote: %w", err)
	}
	return v, nil
}

// Leaf returns the vote's Merkle leaf hash, SHA-256(0x00 || Encode()).
func (v Vote) Leaf() ([32]byte, error) {
	if err := v.Validate(); err != nil {
		return [32]byte{}, err
	}
	var room [320]byte // the longest encoding, with its prefix, is 251 bytes: no allocation
	buf := append(room[:0], leafPrefix)
	return sha256.Sum256(v.appendEncoding(buf)), nil
}

// Leaves returns the leaf hashes of votes, in order.
func Leaves(votes []Vote) ([][32]byte, error) {
	leaves := make([][32]byte, len(votes))
	for i, v := range votes {
		l, err := v.Leaf()
		if err != nil {
			return nil, fmt.Errorf("vote %d: %w", i, err)
		}
		leaves[i] = l
	}
	return leaves, nil
}
