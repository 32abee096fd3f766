package votequeue

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/internal/redistest"
)

// Reloading a roll adds new voters but never puts one who voted back.
func TestEnrollSkipsVoters(t *testing.T) {
	rdb := redistest.Start(t).Client()
	ctx := context.Background()
	a, b := []byte(strings.Repeat("a", 32)), []byte(strings.Repeat("b", 32))
	rdb.SAdd(ctx, VotedKey("CA"), a)
	pipe := rdb.Pipeline()
	Enroll(ctx, pipe, "CA", [][]byte{a, b})
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if rdb.SIsMember(ctx, RollKey("CA"), a).Val() || !rdb.SIsMember(ctx, RollKey("CA"), b).Val() {
		t.Fatalf("roll holds %q; want only the voter who has not voted", rdb.SMembers(ctx, RollKey("CA")).Val())
	}
	pipe = rdb.Pipeline()
	on := [2][2]*redis.BoolCmd{OnRoll(ctx, pipe, "CA", a), OnRoll(ctx, pipe, "CA", []byte(strings.Repeat("c", 32)))}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if !(on[0][0].Val() || on[0][1].Val()) || on[1][0].Val() || on[1][1].Val() {
		t.Fatal("OnRoll: a voter who voted must be on the roll, a stranger not")
	}
}

// Ack deletes the entries and pending records under the fence, and does
// nothing once the lease is lost.
func TestAckUnderFence(t *testing.T) {
	rdb := redistest.Start(t).Client()
	ctx := context.Background()
	if err := EnsureGroup(ctx, rdb, "CA"); err != nil {
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
		rdb.HSet(ctx, PendingKey("CA"), string(null[:]), id)
	}
	if got, err := PendingVote(ctx, rdb, "CA", votes[0].Nullifier); err != nil || got != votes[0].ID {
		t.Fatalf("PendingVote = %q, %v; want %s", got, err, votes[0].ID)
	}
	rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: Group, Consumer: "c", Streams: []string{StreamKey("CA"), ">"}})
	rdb.Set(ctx, "lease:{CA}", "mine", 0)
	rdb.HSet(ctx, "journal:{CA}", "7", "batch")
	fence := Fence{LeaseKey: "lease:{CA}", Lease: "theirs", JournalKey: "journal:{CA}", JournalField: "7"}
	if err := Ack(ctx, rdb, "CA", fence, ids[:2], votes[:2]); !errors.Is(err, ErrFenced) {
		t.Fatalf("Ack without the lease: %v; want ErrFenced", err)
	}
	if rdb.XLen(ctx, StreamKey("CA")).Val() != 3 || rdb.HLen(ctx, PendingKey("CA")).Val() != 3 {
		t.Fatal("a fenced Ack changed the queue")
	}
	fence.Lease = "mine"
	if err := Ack(ctx, rdb, "CA", fence, ids[:2], votes[:2]); err != nil {
		t.Fatal(err)
	}
	if l, p, j := rdb.XLen(ctx, StreamKey("CA")).Val(), rdb.HLen(ctx, PendingKey("CA")).Val(), rdb.HLen(ctx, "journal:{CA}").Val(); l != 1 || p != 1 || j != 0 {
		t.Fatalf("after Ack: %d entries, %d pending, %d journaled; want 1, 1, 0", l, p, j)
	}
	pel := rdb.XPending(ctx, StreamKey("CA"), Group).Val()
	if pel.Count != 1 {
		t.Fatalf("%d entries pending in the group; want 1", pel.Count)
	}
	if got, err := PendingVote(ctx, rdb, "CA", votes[0].Nullifier); err != nil || got != "" {
		t.Fatalf("PendingVote after Ack = %q, %v; want none", got, err)
	}
	if got, err := PendingCounts(ctx, rdb, []string{"CA", "NY"}); err != nil || len(got) != 1 || got["CA"] != 1 {
		t.Fatalf("PendingCounts after Ack = %v, %v; want map[CA:1]", got, err)
	}
}
