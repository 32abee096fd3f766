package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/gateway/votequeue"
)

// TestVotesThroughTheGatewayCountExactlyOnce casts 20,000 votes across 10
// states through the HTTP API and checks that the ledger counts exactly the
// accepted ones; then (ExplorerRecountsTheLedger) that the explorer's
// recount of them equals the chaincode's and survives its restart.
func TestVotesThroughTheGatewayCountExactlyOnce(t *testing.T) {
	s := startSystem(t, 1, 20_000)
	if len(s.states) != 10 {
		t.Fatalf("the election has %d states, want 10", len(s.states))
	}
	began := time.Now()
	accepted := s.mustCast(t, s.roll, 32)
	t.Logf("%d votes accepted in %.1f s", len(accepted), time.Since(began).Seconds())
	s.waitQueuesDrained(t, 5*time.Minute)
	t.Logf("all committed %.1f s after the first vote", time.Since(began).Seconds())
	if len(accepted) != 20_000 {
		t.Fatalf("%d of 20000 votes accepted", len(accepted))
	}
	s.checkExactlyOnce(t, accepted)
	t.Run("ExplorerRecountsTheLedger", func(t *testing.T) { s.checkExplorerRecount(t, accepted) })
}

// TestBatcherKilledMidRun kills the batcher with SIGKILL while votes flow,
// starts it again, and checks nothing is lost or counted twice.
func TestBatcherKilledMidRun(t *testing.T) {
	s := startSystem(t, 1, 10_000)
	c := s.castInBackground(t, s.roll, 16)
	s.waitReceipts(t, 2000)
	if err := s.st.Kill("batcher0"); err != nil {
		t.Fatal(err)
	}
	t.Log("batcher0 killed with SIGKILL")
	// The restarted batcher is to find a backlog, not only the killed one's
	// pending entries: wait until votes piled up while none ran, unless
	// the cast ended before.
	queued, deadline := s.queued(t), time.Now().Add(time.Minute)
	for s.queued(t) < queued+500 && !c.done() {
		if time.Now().After(deadline) {
			t.Fatalf("the backlog grew from %d to %d in a minute with the batcher down; want 500 more", queued, s.queued(t))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("%d votes queued at the kill, %d at the restart", queued, s.queued(t))
	if err := s.st.Up(context.Background()); err != nil {
		t.Fatal(err)
	}
	accepted := c.wait(t, 5*time.Minute)
	s.waitQueuesDrained(t, 5*time.Minute)
	s.checkExactlyOnce(t, accepted)
}

// TestBatcherFailover runs two batchers, kills one, and checks its lanes move
// to the other and every accepted vote is counted once.
func TestBatcherFailover(t *testing.T) {
	s := startSystem(t, 2, 10_000)
	c := s.castInBackground(t, s.roll, 16)
	// The second batcher takes its share of lanes from the first one lane
	// per lease tick; wait until both hold lanes, and some votes committed.
	before := s.waitLanesSpread(t, 2, 30*time.Second)
	s.waitReceipts(t, 2000)
	if err := s.st.Kill("batcher0"); err != nil {
		t.Fatal(err)
	}
	accepted := c.wait(t, 5*time.Minute)
	s.waitQueuesDrained(t, 5*time.Minute)
	s.checkExactlyOnce(t, accepted)
	after := s.leaseOwners(t)
	if len(after) != 1 {
		t.Fatalf("after the kill lanes are held by %v; want the survivor alone", after)
	}
	for owner, n := range after {
		if n != len(s.states) {
			t.Errorf("survivor %s holds %d of %d lanes", owner, n, len(s.states))
		}
	}
	t.Logf("lanes before the kill %v, after %v", before, after)
}

// waitReceipts waits until at least n votes have receipts (are committed).
func (s *system) waitReceipts(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if count, _ := votequeue.CountReceipts(context.Background(), s.rdb); count >= int64(n) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("fewer than %d receipts after 2 minutes", n)
}

// waitLanesSpread waits until n batchers hold lanes and returns the split.
func (s *system) waitLanesSpread(t *testing.T, n int, within time.Duration) map[string]int {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		owners := s.leaseOwners(t)
		if len(owners) == n {
			return owners
		}
		if time.Now().After(deadline) {
			t.Fatalf("lanes held by %v after %v, want %d batchers", owners, within, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// leaseOwners counts the lanes each live batcher holds.
func (s *system) leaseOwners(t *testing.T) map[string]int {
	out := map[string]int{}
	for _, st := range s.states {
		v, err := s.rdb.Get(context.Background(), "lease:{"+st+"}").Result()
		if err != nil {
			continue
		}
		owner, _, _ := strings.Cut(v, "/")
		out[owner]++
	}
	return out
}
