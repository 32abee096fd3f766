// The intake log's Redis side (see the package comment, "The intake log").

package votequeue

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
)

// ErrNoHead is returned by GetHead when no head was published for a
// partition's log yet.
var ErrNoHead = errors.New("votequeue: no signed tree head yet")

// LogLen returns the number of entries in a partition's log.
func LogLen(ctx context.Context, rdb redis.Cmdable, partition string) (uint64, error) {
	n, err := rdb.LLen(ctx, LogKey(partition)).Uint64()
	if err != nil {
		return 0, fmt.Errorf("votequeue: length of the %s log: %w", partition, err)
	}
	return n, nil
}

// LogEntries returns entries [start, end) of a partition's log (fewer if
// the log is shorter), each as its vote's canonical encoding
// (ballot.Vote.Encode): compact entries are expanded, and entries kept as
// canonical encodings (by gateways before the compact form) come as they are.
// Its errors are *LogEntriesError.
func LogEntries(ctx context.Context, rdb redis.Cmdable, partition string, start, end uint64) ([][]byte, error) {
	if end <= start {
		return nil, nil
	}
	vals, err := rdb.LRange(ctx, LogKey(partition), int64(start), int64(end-1)).Result()
	if err != nil {
		return nil, &LogEntriesError{Partition: partition, Start: start, End: end, Err: err}
	}
	state, _, _ := strings.Cut(partition, "#")
	out := make([][]byte, len(vals))
	for i, val := range vals {
		if len(val) > 0 && val[0] == ballot.VoteEncodingV2 {
			if _, err := ballot.DecodeVote([]byte(val)); err != nil {
				return nil, badEntry(partition, start+uint64(i), err)
			}
			out[i] = []byte(val)
			continue
		}
		v, err := DecodeLogEntry(state, []byte(val))
		if err != nil {
			return nil, badEntry(partition, start+uint64(i), err)
		}
		if out[i], err = v.Encode(); err != nil {
			return nil, badEntry(partition, start+uint64(i), err)
		}
	}
	return out, nil
}

// LogEntriesError is an error of LogEntries. Its text names the partition
// and the range read, or the index of the entry that did not decode; Err,
// which it wraps, names neither. For a read (Decode false) Err is the Redis
// client's error and names no vote either; a decoding error may name the
// entry's vote. A caller that must not tie a vote to its request (the
// request's id, which the access log ties to the client's address) logs
// Err of a read in place of the whole.
type LogEntriesError struct {
	Partition  string
	Start, End uint64 // the range read, or [i, i+1) for entry i
	Decode     bool   // entry Start did not decode; else Redis did not answer the read
	Err        error
}

func (e *LogEntriesError) Error() string {
	if e.Decode {
		return fmt.Sprintf("votequeue: %s log entry %d: %v", e.Partition, e.Start, e.Err)
	}
	return fmt.Sprintf("votequeue: read the %s log [%d, %d): %v", e.Partition, e.Start, e.End, e.Err)
}

func (e *LogEntriesError) Unwrap() error { return e.Err }

// badEntry is LogEntries' error for entry i of partition's log, which did
// not decode.
func badEntry(partition string, i uint64, err error) error {
	return &LogEntriesError{Partition: partition, Start: i, End: i + 1, Decode: true, Err: err}
}

// logEntryTag is the first byte of a log entry as Redis keeps it; a
// canonical encoding starts with ballot.VoteEncodingV2 instead.
const logEntryTag = 0x10

// AppendLogEntry appends the form in which a partition's log keeps v in
// Redis to dst (see the package comment, "The intake log"): the vote
// without its state, which the key names, and with its id and nullifier
// as raw bytes:
//
//	tag        1 byte, 0x10
//	id         16 bytes
//	nullifier  32 bytes
//	cast_at    int64 big-endian, Unix milliseconds
//	contest    1 byte length, then the characters
//	choice     1 byte length, then the characters
func AppendLogEntry(dst []byte, v ballot.Vote) ([]byte, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	dst = append(dst, logEntryTag)
	dst = appendUnhex(dst, v.ID)
	dst = appendUnhex(dst, v.Nullifier)
	dst = binary.BigEndian.AppendUint64(dst, uint64(v.CastAt))
	dst = append(append(dst, byte(len(v.Contest))), v.Contest...)
	return append(append(dst, byte(len(v.Choice))), v.Choice...), nil
}

// appendUnhex appends the bytes of s, lower-case hex that Validate checked,
// without converting s to a slice first (an allocation for the nullifier).
func appendUnhex(dst []byte, s string) []byte {
	unhex := func(c byte) byte {
		if c <= '9' {
			return c - '0'
		}
		return c - 'a' + 10
	}
	for i := 0; i+1 < len(s); i += 2 {
		dst = append(dst, unhex(s[i])<<4|unhex(s[i+1]))
	}
	return dst
}

// LogEntrySize is the length of v's log entry (AppendLogEntry).
func LogEntrySize(v ballot.Vote) int { return 1 + 16 + 32 + 8 + 2 + len(v.Contest) + len(v.Choice) }

// DecodeLogEntry is the strict inverse of AppendLogEntry for a log of state.
func DecodeLogEntry(state string, b []byte) (ballot.Vote, error) {
	const fixed = 1 + 16 + 32 + 8
	if len(b) < fixed+2 || b[0] != logEntryTag {
		return ballot.Vote{}, fmt.Errorf("not a log entry (%d bytes)", len(b))
	}
	v := ballot.Vote{ID: hex.EncodeToString(b[1:17]), State: state, Nullifier: hex.EncodeToString(b[17:49]),
		CastAt: int64(binary.BigEndian.Uint64(b[49:57]))}
	rest := b[fixed:]
	for _, f := range []*string{&v.Contest, &v.Choice} {
		if len(rest) == 0 || len(rest) < 1+int(rest[0]) {
			return ballot.Vote{}, fmt.Errorf("log entry %s is truncated", v.ID)
		}
		n := 1 + int(rest[0])
		*f, rest = string(rest[1:n]), rest[n:]
	}
	if len(rest) > 0 {
		return ballot.Vote{}, fmt.Errorf("log entry %s has %d trailing bytes", v.ID, len(rest))
	}
	return v, v.Validate()
}

// Publication is what PublishHead or RepublishHead did with a head:
// publishScript's answer.
type Publication int

const (
	// HeadLarger: not stored, the stored head is of a larger log.
	HeadLarger Publication = 0
	// HeadStored: stored, or stored already byte for byte.
	HeadStored Publication = 1
	// HeadSameSize: not stored, a head of its size is (stamped or signed
	// otherwise, or of another root).
	HeadSameSize Publication = 2
)

// publishScript replaces a head only with one of a larger log or, given
// a root (ARGV[3], "" for none), one of the same size with that root
// (stamped otherwise: a head signed again for the ledger); the head
// already stored, byte for byte, counts as stored (a call sent again after
// its answer was lost, as a Redis Cluster client does).
// KEYS: head; ARGV: new size, new head JSON, root. Returns a Publication:
// 1 stored, 0 refused for a larger head, 2 refused for one of its size.
var publishScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[2] then return 1 end
if cur then
  local c = cjson.decode(cur)
  local n = tonumber(ARGV[1])
  if c.size > n then return 0 end
  if c.size == n and not (ARGV[3] ~= '' and c.root == ARGV[3]) then return 2 end
end
redis.call('SET', KEYS[1], ARGV[2])
return 1`)

// PublishHead stores h as its partition's latest head unless the stored
// one covers at least as many entries; it says whether it stored h, and
// if not whether the stored head is of h's size (HeadSameSize) or larger
// (HeadLarger), so a caller looks at the stored head only when it may be
// of use to it. A call repeated with the same h reports HeadStored again,
// so a publication whose answer was lost and that was sent again (a Redis
// Cluster client re-sends after a dropped connection) leaves h the
// caller's to anchor.
func PublishHead(ctx context.Context, rdb redis.Scripter, h ballot.TreeHead) (Publication, error) {
	return publishHead(ctx, rdb, h, "")
}

// RepublishHead is PublishHead for a head its signer signed again at the
// size it published, stamped otherwise for the ledger to take it: later,
// the first being stamped before its state's anchored head, or earlier,
// the first being stamped by the signer's clock while it ran too far ahead
// (the ledger refuses a head stamped more than ballot.MaxClockSkew after
// its transaction). It also replaces a stored head of h's size and root,
// whatever its stamp and key, so that the head served is the one its caller
// anchors. A head of another root (HeadSameSize), or of a larger log
// (HeadLarger), stays.
//
// The guarantee is of size and root only: the stored head has the size
// and root of the head the ledger holds of that size, not necessarily its
// stamp and signature. A signer signs again a head its key signed, and
// gateways may share a key (make up gives them one): several may sign the
// same size again, in any order, and the ledger keeps the first anchored
// (it takes one head of a size, of any registered key). One taking over
// another key's head of its log's size and root (gateway/intakelog)
// anchors its own head of them without calling RepublishHead, so the
// head stored stays the other key's.
func RepublishHead(ctx context.Context, rdb redis.Scripter, h ballot.TreeHead) (Publication, error) {
	return publishHead(ctx, rdb, h, h.Root)
}

// publishHead runs publishScript for h, replacing a head of its size with
// root, if not "".
func publishHead(ctx context.Context, rdb redis.Scripter, h ballot.TreeHead, root string) (Publication, error) {
	data, err := json.Marshal(h)
	if err != nil {
		return HeadLarger, err
	}
	n, err := publishScript.Run(ctx, rdb, []string{HeadKey(h.State)}, h.Size, data, root).Int()
	if err != nil {
		return HeadLarger, fmt.Errorf("votequeue: publish the %s head: %w", h.State, err)
	}
	return Publication(n), nil
}

// GetHead reads a partition's latest published head, or ErrNoHead.
func GetHead(ctx context.Context, rdb redis.Cmdable, partition string) (ballot.TreeHead, error) {
	data, err := rdb.Get(ctx, HeadKey(partition)).Bytes()
	if errors.Is(err, redis.Nil) {
		return ballot.TreeHead{}, ErrNoHead
	}
	if err != nil {
		return ballot.TreeHead{}, fmt.Errorf("votequeue: read the %s head: %w", partition, err)
	}
	var h ballot.TreeHead
	if err := json.Unmarshal(data, &h); err != nil {
		return ballot.TreeHead{}, fmt.Errorf("votequeue: decode the %s head: %w", partition, err)
	}
	return h, nil
}
