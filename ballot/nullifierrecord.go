package ballot

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
)

// NullifierRecord is where the vote that used a nullifier sits on the
// ledger: the value under NullifierKey(State, nullifier) once the vote is
// counted, stored as Value encodes it. LocateNullifier answers it as JSON.
type NullifierRecord struct {
	State   string `json:"state"`
	Contest string `json:"contest"`
	Seq     uint64 `json:"seq"`
	Index   int    `json:"index"`
	VoteID  string `json:"vote_id"`
}

// NullifierRecordV1 is the first byte of every stored nullifier record. It
// is neither '{' nor the 'r' of a roll mark (RollMark), so a record, a mark
// and the JSON records of earlier versions never look alike.
const NullifierRecordV1 = 0x01

// nullifierRecordFixed is the length of a stored record without its contest.
const nullifierRecordFixed = 1 + 8 + 2 + 16

// Value returns the record as the ledger stores it under its NullifierKey;
// the state is the key's, so it is not repeated:
//
//	version  1 byte, NullifierRecordV1
//	seq      uint64 big-endian: the batch's sequence number
//	index    uint16 big-endian: the vote's position in the batch (< MaxBatchVotes)
//	vote_id  16 bytes: the vote id's 32 hex characters decoded
//	contest  the rest: the contest id's characters (1..64)
func (r NullifierRecord) Value() ([]byte, error) {
	return r.AppendValue(make([]byte, 0, nullifierRecordFixed+len(r.Contest)))
}

// AppendValue appends the record as Value encodes it to dst and returns
// the extended buffer, or nil and the error: for a caller that
// encodes many records in one buffer, such as the auditor comparing a
// batch's records with its write set.
func (r NullifierRecord) AppendValue(dst []byte) ([]byte, error) {
	switch {
	case !ValidState(r.State):
		return nil, fmt.Errorf("ballot: nullifier record: state %q must be 2..8 characters of [A-Z0-9]", truncate(r.State))
	case !ValidIdent(r.Contest):
		return nil, fmt.Errorf("ballot: nullifier record: contest %q must be 1..64 characters of [A-Za-z0-9_-]", truncate(r.Contest))
	case r.Index < 0 || r.Index >= MaxBatchVotes:
		return nil, fmt.Errorf("ballot: nullifier record: index %d is outside 0..%d", r.Index, MaxBatchVotes-1)
	case !ValidVoteID(r.VoteID):
		return nil, fmt.Errorf("ballot: nullifier record: vote id %q is not 32 lowercase hex characters", truncate(r.VoteID))
	}
	dst = append(dst, NullifierRecordV1)
	dst = binary.BigEndian.AppendUint64(dst, r.Seq)
	dst = binary.BigEndian.AppendUint16(dst, uint16(r.Index))
	for i := 0; i < len(r.VoteID); i += 2 { // valid: checked above
		dst = append(dst, hexNibble(r.VoteID[i])<<4|hexNibble(r.VoteID[i+1]))
	}
	return append(dst, r.Contest...), nil
}

// DecodeNullifierRecord is the strict inverse of Value for the record stored
// under a NullifierKey of state: it refuses other versions (a roll mark
// included: check ParseRollMark first), short values, an index of
// MaxBatchVotes or more and a contest that is not an id.
func DecodeNullifierRecord(state string, value []byte) (NullifierRecord, error) {
	switch {
	case len(value) == 0:
		return NullifierRecord{}, errors.New("ballot: decode nullifier record: empty value")
	case value[0] != NullifierRecordV1:
		return NullifierRecord{}, fmt.Errorf("ballot: decode nullifier record: unknown version byte 0x%02x", value[0])
	case len(value) <= nullifierRecordFixed:
		return NullifierRecord{}, fmt.Errorf("ballot: decode nullifier record: %d bytes, want more than %d", len(value), nullifierRecordFixed)
	}
	r := NullifierRecord{State: state, Seq: binary.BigEndian.Uint64(value[1:]), Index: int(binary.BigEndian.Uint16(value[9:])),
		VoteID: hex.EncodeToString(value[11:nullifierRecordFixed]), Contest: string(value[nullifierRecordFixed:])}
	if _, err := r.Value(); err != nil { // the same checks as encoding
		return NullifierRecord{}, fmt.Errorf("decode: %w", err)
	}
	return r, nil
}
