package batcher_test

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/batcher"
	"github.com/votechain/votechain/batcher/fabricledger"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redistest"
	"github.com/votechain/votechain/test-network/nettest"
)

var states = batcher.TestStates

// TestBatcherCommitsEveryVoteOnce drives the real batcher against a real
// network and Redis: every queued vote gets a receipt, of two votes with one
// nullifier one is counted and the other recorded as a duplicate, and the
// ledger's results equal the votes.
func TestBatcherCommitsEveryVoteOnce(t *testing.T) {
	n := nettest.Start(t)
	nettest.SetupElection(t, n, nettest.Election(states, batcher.TestCandidates))
	rdb := redistest.Start(t).Client()
	votes := batcher.EnqueueVotes(t, rdb, 0, 3000, "s1")

	// A second vote with the first vote's nullifier (as after a Redis loss).
	dup := votes[0]
	dup.ID, _ = ballot.NewVoteID()
	if err := rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: votequeue.StreamKey(dup.State), Values: votequeue.Fields(dup)}).Err(); err != nil {
		t.Fatal(err)
	}

	ledger := nettest.Dial(t, n, "Commission").Ballot()
	took := drain(t, rdb, fabricledger.New(ledger))
	t.Logf("%d votes committed in %.1f s", len(votes)+1, took.Seconds())

	want := map[string]ballot.Tally{}
	for _, v := range votes {
		if want[v.State] == nil {
			want[v.State] = ballot.Tally{}
		}
		want[v.State].Add(v.Contest, v.Choice, 1)
		if v.ID == votes[0].ID {
			continue // checked with its duplicate below
		}
		loc, err := votequeue.GetLocation(context.Background(), rdb, v.ID)
		if err != nil || loc.Status != ballot.ReceiptCounted || loc.State != v.State {
			t.Fatalf("receipt of %s: %+v, %v", v.ID, loc, err)
		}
	}
	// The ledger counts whichever of the two commits first: the lane's
	// batches are in flight together, and a retried one (an MVCC conflict
	// under load) can commit after a later one.
	first, err1 := votequeue.GetLocation(context.Background(), rdb, votes[0].ID)
	second, err2 := votequeue.GetLocation(context.Background(), rdb, dup.ID)
	statuses := []string{first.Status, second.Status}
	slices.Sort(statuses)
	if err1 != nil || err2 != nil || !slices.Equal(statuses, []string{ballot.ReceiptCounted, ballot.ReceiptDuplicate}) {
		t.Fatalf("receipts of two votes with one nullifier: %+v (%v) and %+v (%v), want one counted and one duplicate", first, err1, second, err2)
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
		if n, _ := rdb.XLen(context.Background(), votequeue.StreamKey(s)).Result(); n != 0 {
			t.Errorf("%d queued votes of %s left after commit", n, s)
		}
	}
}

// drain runs a batcher of the test states over ledger until their streams
// are empty (every vote acknowledged), stops it and returns how long the
// drain took.
func drain(t *testing.T, rdb *redis.Client, ledger batcher.Ledger) time.Duration {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, err := batcher.New(batcher.Config{Partitions: states, BatchSize: 100}, rdb, ledger, log, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	began := time.Now()
	go func() { done <- b.Run(ctx) }()
	batcher.WaitDrained(t, rdb, 3*time.Minute)
	took := time.Since(began)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("batcher run: %v", err)
	}
	return took
}
