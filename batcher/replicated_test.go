package batcher

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
)

// TestJournalWaitsForReplica: on a Redis Cluster a journal entry counts
// only once the master's replica has it; with the replica dead the
// journal call fails (ErrNotReplicated) and the batch is not submitted.
func TestJournalWaitsForReplica(t *testing.T) {
	if testing.Short() {
		t.Skip("a six-node Redis Cluster takes ~10 s")
	}
	c := redistest.StartCluster(t, 3)
	rdb := c.ClientAs(redisserver.UserBatcher)
	ctx := context.Background()
	s := &store{rdb: rdb, partition: "CA", replicas: 1, waitFor: 500 * time.Millisecond}
	lease, ok, err := acquireLease(ctx, rdb, "CA", "b", time.Minute)
	if err != nil || !ok {
		t.Fatalf("lease: %v, %v", ok, err)
	}
	j := journalEntry{Batch: newShareRig(t, Config{}).batch("CA", 1, 1), StreamIDs: []string{"1-1"}}
	if err := s.journal(ctx, lease, j); err != nil {
		t.Fatalf("journal with the replica online: %v", err)
	}
	if got, err := s.journaled(ctx); err != nil || len(got) != 1 {
		t.Fatalf("journaled: %v, %v; want the batch", got, err)
	}
	if err := s.journal(ctx, "someone/else", j); !errors.Is(err, errFenced) {
		t.Fatalf("journal under another lease: %v; want errFenced", err)
	}
	master := c.MasterOf(leaseKey("CA"))
	i := slices.Index(c.Nodes, master)
	replica := c.Nodes[(i+len(c.Nodes)/2)%len(c.Nodes)] // node i+3 replicates node i
	replica.Kill()
	j.Batch.Seq = 2
	if err := s.journal(ctx, lease, j); !errors.Is(err, votequeue.ErrNotReplicated) {
		t.Fatalf("journal with the replica dead: %v; want ErrNotReplicated", err)
	}
}
