package votequeue

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/internal/redistest"
)

// Reloading a roll adds new voters but never puts one who voted back; a
// voter who voted is on the roll, a stranger not.
func TestEnrollSkipsVoters(t *testing.T) {
	rdb := redistest.Start(t).Client()
	ctx := context.Background()
	roll, err := EnsureRoll(ctx, rdb, "CA", 3)
	if err != nil {
		t.Fatal(err)
	}
	a, b := []byte(strings.Repeat("a", 32)), []byte(strings.Repeat("b", 32))
	pipe := rdb.Pipeline()
	Enroll(ctx, pipe, roll, [][]byte{a})
	marked := MarkVoted(ctx, pipe, roll, a)
	again := MarkVoted(ctx, pipe, roll, a)
	Enroll(ctx, pipe, roll, [][]byte{a, b})
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if marked.Val() != int64(1) || again.Val() != int64(0) {
		t.Fatalf("MarkVoted = %v then %v; want 1 then 0", marked.Val(), again.Val())
	}
	for _, c := range []struct {
		raw           []byte
		onRoll, voted bool
	}{{a, true, true}, {b, true, false}, {[]byte(strings.Repeat("c", 32)), false, false}} {
		on, voted, err := RollStatus(ctx, rdb, roll, c.raw)
		if err != nil || on != c.onRoll || voted != c.voted {
			t.Errorf("RollStatus(%q) = %v, %v, %v; want %v, %v", c.raw[:1], on, voted, err, c.onRoll, c.voted)
		}
		pipe := rdb.Pipeline()
		cmd := OnRoll(ctx, pipe, roll, c.raw)
		if _, err := pipe.Exec(ctx); (err != nil && !errors.Is(err, redis.Nil)) || cmd.Val() != c.onRoll {
			t.Errorf("OnRoll(%q) = %v, %v; want %v", c.raw[:1], cmd.Val(), err, c.onRoll)
		}
	}
}

// The layout is fixed by the first caller; a shard holds the nullifiers of
// its prefix; a Redis holding the roll as the old set is refused.
func TestRollLayout(t *testing.T) {
	rdb := redistest.Start(t).Client()
	ctx := context.Background()
	if _, ok, err := GetRoll(ctx, rdb, "CA"); ok || err != nil {
		t.Fatalf("GetRoll before any load: %v, %v; want none", ok, err)
	}
	first, err := EnsureRoll(ctx, rdb, "CA", 5)
	if err != nil {
		t.Fatal(err)
	}
	second, err := EnsureRoll(ctx, rdb, "CA", 9)
	if err != nil || second.Bits() != 5 || first.Bits() != 5 {
		t.Fatalf("second EnsureRoll: %v bits, %v; want the stored 5", second.Bits(), err)
	}
	if got, ok, err := GetRoll(ctx, rdb, "CA"); !ok || err != nil || got.Bits() != 5 {
		t.Fatalf("GetRoll: %v, %v", ok, err)
	}
	if first.Key([]byte{0xf8, 0, 0}) != "roll:{CA}:1f" || first.Key([]byte{0x07, 0xff, 0xff}) != "roll:{CA}:0" {
		t.Fatalf("shards %q %q", first.Key([]byte{0xf8, 0, 0}), first.Key([]byte{0x07, 0xff, 0xff}))
	}
	for entries, want := range map[uint64]int{0: 0, 128: 0, 129: 1, 250_000: 11, 1 << 40: MaxRollBits} {
		if got := RollBits(entries); got != want {
			t.Errorf("RollBits(%d) = %d, want %d", entries, got, want)
		}
	}
	rdb.SAdd(ctx, "roll:{NY}", "x")
	// The gateway does not know its run folder: the fix names the folder's
	// place, and no make target (make's act on .run alone).
	if _, err := EnsureRoll(ctx, rdb, "NY", 2); err == nil || !strings.Contains(err.Error(), "`votechain --dir RUNFOLDER down --wipe`") || strings.Contains(err.Error(), "make ") {
		t.Fatalf("EnsureRoll over the old set: %v; want a refusal saying how to fix it, naming no make target", err)
	}
}

// Ack deletes the entries under the fence, and does nothing once the
// lease is lost; the accepted votes' ids stay on the roll, and the stream
// counts the pending votes.
func TestAckUnderFence(t *testing.T) {
	rdb := redistest.Start(t).Client()
	ctx := context.Background()
	roll, err := EnsureRoll(ctx, rdb, "CA", 2)
	if err != nil {
		t.Fatal(err)
	}
	var votes []ballot.Vote
	var ids []string
	for i := range 3 {
		id, _ := ballot.NewVoteID()
		null := ballot.NullifierOf([32]byte{byte(i)}, "race")
		v := ballot.Vote{ID: id, State: "CA", Nullifier: ballot.HashHex(null), Contest: "race", Choice: "alice", CastAt: 1}
		votes = append(votes, v)
		ids = append(ids, rdb.XAdd(ctx, &redis.XAddArgs{Stream: StreamKey("CA"), Values: Fields(v)}).Val())
		rdb.HSet(ctx, roll.Key(null[:]), string(null[:]), AppendRawVoteID(nil, id))
	}
	if got, err := AcceptedVote(ctx, rdb, roll, votes[0].Nullifier); err != nil || got != votes[0].ID {
		t.Fatalf("AcceptedVote = %q, %v; want %s", got, err, votes[0].ID)
	}
	rdb.Set(ctx, "lease:{CA}", "mine", 0)
	rdb.HSet(ctx, "journal:{CA}", "7", "batch")
	fence := Fence{LeaseKey: "lease:{CA}", Lease: "theirs", JournalKey: "journal:{CA}", JournalField: "7"}
	if err := Ack(ctx, rdb, "CA", fence, "", ids[:2]); !errors.Is(err, ErrFenced) {
		t.Fatalf("without the lease: %v; want ErrFenced", err)
	}
	if rdb.XLen(ctx, StreamKey("CA")).Val() != 3 || rdb.HLen(ctx, "journal:{CA}").Val() != 1 {
		t.Fatal("a fenced Ack changed the queue")
	}
	fence.Lease = "mine"
	if err := Ack(ctx, rdb, "CA", fence, "", ids[:2]); err != nil {
		t.Fatal(err)
	}
	if l, j := rdb.XLen(ctx, StreamKey("CA")).Val(), rdb.HLen(ctx, "journal:{CA}").Val(); l != 1 || j != 0 {
		t.Fatalf("after the ack: %d entries, %d journaled; want 1, 0", l, j)
	}
	if left := rdb.XRange(ctx, StreamKey("CA"), "-", "+").Val(); len(left) != 1 || left[0].ID != ids[2] {
		t.Fatalf("after the ack the stream holds %v; want only %s", left, ids[2])
	}
	if got, err := AcceptedVote(ctx, rdb, roll, votes[0].Nullifier); err != nil || got != votes[0].ID {
		t.Fatalf("AcceptedVote after the ack = %q, %v; want %s (for good)", got, err, votes[0].ID)
	}
	if got, err := PendingCounts(ctx, rdb, []string{"CA", "NY"}); err != nil || len(got) != 1 || got["CA"] != 1 {
		t.Fatalf("PendingCounts after the ack = %v, %v; want map[CA:1]", got, err)
	}
}

// Ack deletes exactly the entries it settles, whatever the order of the
// batches, and, below the floor it is given, every entry.
func TestAckOutOfOrder(t *testing.T) {
	rdb := redistest.Start(t).Client()
	ctx := context.Background()
	var ids []string
	for i := range 9 {
		ids = append(ids, rdb.XAdd(ctx, &redis.XAddArgs{Stream: StreamKey("CA"), Values: []any{"n", i}}).Val())
	}
	rdb.Set(ctx, "lease:{CA}", "mine", 0)
	fence := Fence{LeaseKey: "lease:{CA}", Lease: "mine", JournalKey: "journal:{CA}", JournalField: "1"}
	ack := func(floor string, settled []string, want ...string) {
		t.Helper()
		if err := Ack(ctx, rdb, "CA", fence, floor, settled); err != nil {
			t.Fatal(err)
		}
		var left []string
		for _, m := range rdb.XRange(ctx, StreamKey("CA"), "-", "+").Val() {
			left = append(left, m.ID)
		}
		if !slices.Equal(left, want) {
			t.Fatalf("after settling %v (floor %q) the stream holds %v; want %v", settled, floor, left, want)
		}
	}
	ack("", ids[2:4], ids[0], ids[1], ids[4], ids[5], ids[6], ids[7], ids[8]) // before the older batch
	ack(ids[4], ids[0:2], ids[4], ids[5], ids[6], ids[7], ids[8])             // all trimmed
	ack(ids[5], ids[6:7], ids[5], ids[7], ids[8])                             // ids[4]: a dead letter's place
	ack(ids[5], ids[5:6], ids[7], ids[8])                                     // at the floor: named
	ack(ids[7], ids[7:9])
	if err := Ack(ctx, rdb, "CA", fence, "7", nil); err == nil {
		t.Fatal("Ack took the floor \"7\", which is not a stream id")
	}
}
