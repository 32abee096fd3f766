package batcher_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/batcher"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redistest"
	"github.com/votechain/votechain/test-network/nettest"
)

var (
	states     = []string{"CA", "TX", "NY", "FL", "WA"}
	candidates = []string{"alice", "bob", "carol"}
)

// enqueue puts votes on their states' streams with their claims, as the
// gateway's dedup script does, and returns them.
func enqueue(t *testing.T, rdb *redis.Client, n int, secret string) []ballot.Vote {
	t.Helper()
	return enqueueFrom(t, rdb, 0, n, secret)
}

// enqueueFrom queues votes of voters first..first+n-1.
func enqueueFrom(t *testing.T, rdb *redis.Client, first, n int, secret string) []ballot.Vote {
	ctx := context.Background()
	for _, s := range states {
		if err := votequeue.EnsureGroup(ctx, rdb, s); err != nil {
			t.Fatal(err)
		}
	}
	votes := make([]ballot.Vote, n)
	pipe := rdb.Pipeline()
	for i := range votes {
		id, err := ballot.NewVoteID()
		if err != nil {
			t.Error(err)
			return nil
		}
		null := ballot.NullifierOf(ballot.VoterKey([]byte(secret), fmt.Sprint("voter-", first+i), "cred"))
		votes[i] = ballot.Vote{ID: id, State: states[i%len(states)], Nullifier: ballot.HashHex(null),
			Candidate: candidates[i%len(candidates)], CastAt: time.Now().UnixMilli()}
		pipe.Set(ctx, votequeue.ClaimKey(votes[i].State, votes[i].Nullifier), id, time.Hour)
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: votequeue.StreamKey(votes[i].State), Values: votequeue.Fields(votes[i])})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Error(err)
	}
	return votes
}

// waitDrained waits until every stream is empty (every vote acknowledged).
func waitDrained(t *testing.T, rdb *redis.Client, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		left := int64(0)
		for _, s := range states {
			n, err := rdb.XLen(context.Background(), votequeue.StreamKey(s)).Result()
			if err != nil {
				t.Fatal(err)
			}
			left += n
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d votes still queued after %s", left, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBatcherCommitsEveryVoteOnce drives the real batcher against a real
// network and Redis: every queued vote gets a receipt, a duplicate nullifier
// is recorded as a duplicate, and the ledger's results equal the votes.
func TestBatcherCommitsEveryVoteOnce(t *testing.T) {
	n := nettest.Start(t)
	nettest.SetupElection(t, n, nettest.Election(states, candidates))
	rdb := redistest.Start(t).Client()
	votes := enqueue(t, rdb, 3000, "s1")

	// A second vote with the first vote's nullifier (as after a Redis loss).
	dup := votes[0]
	dup.ID, _ = ballot.NewVoteID()
	if err := rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: votequeue.StreamKey(dup.State), Values: votequeue.Fields(dup)}).Err(); err != nil {
		t.Fatal(err)
	}

	ledger := nettest.Dial(t, n, "Commission").Ballot()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, err := batcher.New(batcher.Config{Partitions: states, BatchSize: 100, BatchTimeout: 100 * time.Millisecond},
		rdb, ledger, log, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	began := time.Now()
	go func() { done <- b.Run(ctx) }()
	waitDrained(t, rdb, 3*time.Minute)
	t.Logf("%d votes committed in %.1f s", len(votes)+1, time.Since(began).Seconds())
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("batcher run: %v", err)
	}

	want := map[string]ballot.Tally{}
	for _, v := range votes {
		if want[v.State] == nil {
			want[v.State] = ballot.Tally{}
		}
		want[v.State].Add(v.Candidate, 1)
		loc, err := votequeue.GetLocation(context.Background(), rdb, v.ID)
		if err != nil || loc.Status != ballot.ReceiptCounted || loc.State != v.State {
			t.Fatalf("receipt of %s: %+v, %v", v.ID, loc, err)
		}
	}
	if loc, err := votequeue.GetLocation(context.Background(), rdb, dup.ID); err != nil || loc.Status != ballot.ReceiptDuplicate {
		t.Fatalf("receipt of the duplicate: %+v, %v", loc, err)
	}
	results, err := ledger.Results(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if results.Counted != uint64(len(votes)) || results.Rejected != 1 {
		t.Fatalf("ledger counted %d rejected %d, want %d and 1", results.Counted, results.Rejected, len(votes))
	}
	for s, tally := range want {
		if !results.States[s].Tallies.Equal(tally) {
			t.Errorf("state %s: ledger %v, want %v", s, results.States[s].Tallies, tally)
		}
	}
	for _, s := range states {
		if n, _ := rdb.Exists(context.Background(), "lease:{"+s+"}").Result(); n != 0 {
			t.Errorf("lease of %s still held after shutdown", s)
		}
		if keys, _ := rdb.Keys(context.Background(), votequeue.ClaimPattern(s)).Result(); len(keys) != 0 {
			t.Errorf("%d claims of %s left after commit", len(keys), s)
		}
	}
}
