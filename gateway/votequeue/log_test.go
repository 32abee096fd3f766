package votequeue

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/internal/redistest"
)

func logVote(i int) ballot.Vote {
	return ballot.Vote{ID: fmt.Sprintf("%032x", i+1), State: "CA", Contest: "president",
		Nullifier: ballot.HashHex(ballot.NullifierOf([32]byte{byte(i), byte(i >> 8)}, "president")), Choice: "alice", CastAt: 1_764_000_000_000 + int64(i)}
}

// A log entry decodes to the vote it was made of, with the state its log
// names; anything else is refused.
func TestLogEntryRoundTripAndStrictness(t *testing.T) {
	v := logVote(7)
	entry, err := AppendLogEntry(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	if len(entry) != LogEntrySize(v) {
		t.Errorf("entry of %d bytes, LogEntrySize says %d", len(entry), LogEntrySize(v))
	}
	if got, err := DecodeLogEntry("CA", entry); err != nil || got != v {
		t.Fatalf("round trip: %+v, %v; want %+v", got, err, v)
	}
	enc, _ := v.Encode()
	if len(entry) >= len(enc)*2/3 {
		t.Errorf("log entry of %d bytes; the canonical encoding has %d: want it at most two thirds", len(entry), len(enc))
	}
	for name, bad := range map[string][]byte{
		"empty":              nil,
		"canonical encoding": enc,
		"truncated":          entry[:len(entry)-1],
		"trailing byte":      append(bytes.Clone(entry), 'x'),
		"no choice":          entry[:len(entry)-len(v.Choice)-1],
	} {
		if got, err := DecodeLogEntry("CA", bad); err == nil {
			t.Errorf("%s: decoded as %+v", name, got)
		}
	}
	if _, err := AppendLogEntry(nil, ballot.Vote{ID: "xyz"}); err == nil {
		t.Error("an invalid vote was encoded")
	}
}

// LogEntries serves the canonical encodings (what the log's leaves hash)
// of the compact entries Redis keeps, and what those cost in Redis.
func TestLogEntriesAreCanonicalAndCompactInRedis(t *testing.T) {
	rdb := redistest.Start(t).Client()
	ctx := context.Background()
	const n = 5000
	var entries, canonical []any
	for i := range n {
		v := logVote(i)
		e, _ := AppendLogEntry(nil, v)
		enc, _ := v.Encode()
		entries, canonical = append(entries, e), append(canonical, enc)
	}
	if err := rdb.RPush(ctx, LogKey("CA"), entries...).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := LogEntries(ctx, rdb, "CA", 10, 13)
	if err != nil || len(got) != 3 {
		t.Fatalf("entries [10, 13): %d, %v", len(got), err)
	}
	for i, e := range got {
		if !bytes.Equal(e, canonical[10+i].([]byte)) {
			t.Fatalf("entry %d = %x; want the canonical encoding %x", 10+i, e, canonical[10+i])
		}
	}
	if err := rdb.RPush(ctx, "canonical", canonical...).Err(); err != nil {
		t.Fatal(err)
	}
	compactBytes, _ := rdb.MemoryUsage(ctx, LogKey("CA"), 0).Result()
	canonicalBytes, _ := rdb.MemoryUsage(ctx, "canonical", 0).Result()
	per, was := float64(compactBytes)/n, float64(canonicalBytes)/n
	t.Logf("Redis memory per log entry: %.1f bytes compact, %.1f bytes as canonical encodings (%d-byte entries, %d-byte encodings)",
		per, was, len(entries[0].([]byte)), len(canonical[0].([]byte)))
	if per > float64(len(entries[0].([]byte)))+8 || per > was*2/3 {
		t.Errorf("%.1f bytes per entry in Redis (canonical %.1f); want at most the entry plus 8 bytes and two thirds of the canonical", per, was)
	}
	// An entry an older gateway kept as its canonical encoding is served as it is.
	rdb.LPush(ctx, LogKey("CA"), canonical[1])
	if got, err := LogEntries(ctx, rdb, "CA", 0, 2); err != nil || !bytes.Equal(got[0], canonical[1].([]byte)) || !bytes.Equal(got[1], canonical[0].([]byte)) {
		t.Fatalf("a canonical entry before a compact one: %x, %v", got, err)
	}
	rdb.LPush(ctx, LogKey("CA"), "garbage")
	if _, err := LogEntries(ctx, rdb, "CA", 0, 1); err == nil {
		t.Error("an entry in neither form was served")
	}
}

// PublishHead keeps the largest head; the same head published again (a
// call re-sent after its answer was lost) reports stored, another of the
// same size is refused as of the stored head's size, a smaller one as
// refused for a larger head.
func TestPublishHeadKeepsTheLargestAndIsRepeatable(t *testing.T) {
	rdb := redistest.Start(t).Client()
	ctx := context.Background()
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	head := func(size uint64, stamp int64) ballot.TreeHead {
		h, err := ballot.TreeHead{Election: "e", State: "CA", Size: size, Root: ballot.HashHex([32]byte{byte(size)}), Timestamp: stamp}.Sign(key)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	for _, c := range []struct {
		head ballot.TreeHead
		want Publication
	}{
		{head(5, 1), HeadStored},
		{head(5, 1), HeadStored},   // the same head again
		{head(5, 2), HeadSameSize}, // another head of the size stored
		{head(4, 3), HeadLarger},
		{head(6, 4), HeadStored},
	} {
		got, err := PublishHead(ctx, rdb, c.head)
		if err != nil || got != c.want {
			t.Fatalf("publish size %d stamp %d: %v, %v; want %v", c.head.Size, c.head.Timestamp, got, err, c.want)
		}
	}
	if h, err := GetHead(ctx, rdb, "CA"); err != nil || h.Size != 6 {
		t.Fatalf("stored head: %+v, %v; want size 6", h, err)
	}
}

// RepublishHead replaces the stored head of its size and root, stamped
// before it or after it (a head signed again for the ledger, stamped as
// the anchored head, or at the signer's clock once it stepped back), and
// nothing else: not a larger head, not one of another root; the same head
// again reports stored.
func TestRepublishHeadReplacesOnlyAnotherStampOfItsLog(t *testing.T) {
	rdb := redistest.Start(t).Client()
	ctx := context.Background()
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, ed25519.SeedSize))
	head := func(size uint64, root byte, stamp int64) ballot.TreeHead {
		h, err := ballot.TreeHead{Election: "e", State: "CA", Size: size, Root: ballot.HashHex([32]byte{root}), Timestamp: stamp}.Sign(key)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	stamp := time.Now().UnixMilli()
	ahead := stamp + (30 * time.Minute).Milliseconds() // a clock that ran ahead
	if _, err := PublishHead(ctx, rdb, head(5, 1, stamp)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what   string
		head   ballot.TreeHead
		answer Publication
		want   ballot.TreeHead // the head stored after
	}{
		{"stamped as the stored one", head(5, 1, stamp), HeadStored, head(5, 1, stamp)},
		{"another root", head(5, 2, stamp+1), HeadSameSize, head(5, 1, stamp)},
		{"a smaller head", head(4, 1, stamp+1), HeadLarger, head(5, 1, stamp)},
		{"stamped later", head(5, 1, stamp+1), HeadStored, head(5, 1, stamp+1)},
		{"the same again", head(5, 1, stamp+1), HeadStored, head(5, 1, stamp+1)},
		{"stamped ahead", head(5, 1, ahead), HeadStored, head(5, 1, ahead)},
		{"stamped earlier than the stored one", head(5, 1, stamp+1), HeadStored, head(5, 1, stamp+1)},
		{"another root, stamped earlier", head(5, 2, stamp), HeadSameSize, head(5, 1, stamp+1)},
		{"a larger head", head(6, 3, stamp), HeadStored, head(6, 3, stamp)},
		{"the smaller head signed again", head(5, 1, stamp+2), HeadLarger, head(6, 3, stamp)},
	} {
		answer, err := RepublishHead(ctx, rdb, c.head)
		if err != nil || answer != c.answer {
			t.Fatalf("%s: %v, %v; want %v", c.what, answer, err, c.answer)
		}
		if got, err := GetHead(ctx, rdb, "CA"); err != nil || got != c.want {
			t.Fatalf("%s: stored head %+v, %v; want %+v", c.what, got, err, c.want)
		}
	}
}

// LogEntriesError keeps the texts LogEntries' errors had before it was a
// type (the public log route shows them) and unwraps to its cause, so that
// callers still find context and Redis errors through it.
func TestLogEntriesErrorContract(t *testing.T) {
	read := &LogEntriesError{Partition: "CA", Start: 41, End: 42, Err: context.Canceled}
	if got, want := read.Error(), "votequeue: read the CA log [41, 42): context canceled"; got != want {
		t.Errorf("read error %q; want %q", got, want)
	}
	if !errors.Is(error(read), context.Canceled) {
		t.Errorf("errors.Is(%v, context.Canceled) is false", read)
	}
	var decode *LogEntriesError
	if err := fmt.Errorf("wrapped: %w", badEntry("NY", 7, errors.New("truncated"))); !errors.As(err, &decode) || !decode.Decode || decode.Start != 7 || decode.Error() != "votequeue: NY log entry 7: truncated" {
		t.Errorf("errors.As of a bad entry: %+v; want Decode, entry 7, its text", decode)
	}
}
