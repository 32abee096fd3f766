package dedup

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/bloom"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
)

// newClusterFixture starts a Redis Cluster of three masters, a replica
// each, and a Deduper over it with cfg, as the gateway's Redis user (the
// fixture's client is the admin's); it skips the test under -short, saying
// why (reason).
func newClusterFixture(t *testing.T, reason string, cfg Config) (*redistest.Cluster, *fixture) {
	t.Helper()
	if testing.Short() {
		t.Skip(reason)
	}
	c := redistest.StartCluster(t, 3)
	f := &fixture{rdb: c.ClientAs(redisserver.UserAdmin), ledger: &fakeLedger{}}
	f.d = New(c.ClientAs(redisserver.UserGateway), f.ledger, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(f.d.Close)
	return c, f
}

// TestClusterCommittedResendNeedsNoLedger: on a Redis Cluster (three
// masters, a replica each, Replicas 1), a voter whose vote was accepted and
// then settled as the batcher settles a committed batch (its receipts
// written, its stream entry acknowledged, as the batcher's Redis user) is
// answered duplicate from the roll alone for every re-send, one at a time
// and concurrent, with the attempts counted, even with every Bloom bit of
// the state set: the ledger's exact check is never asked. A voter never
// seen, whom the same filter answers maybe seen, does reach the ledger,
// once, and is accepted.
func TestClusterCommittedResendNeedsNoLedger(t *testing.T) {
	c, f := newClusterFixture(t, "a six-node Redis Cluster takes ~10 s", Config{Replicas: 1})
	ctx := context.Background()
	const state = "CA"
	// The tiny Bloom shape saturate sets, stored before the Deduper
	// fetches its state's shape (at its first vote), its filter not yet set.
	if _, err := EnsureParams(ctx, f.rdb, state, bloom.Params{Bits: 64, Hashes: 2}); err != nil {
		t.Fatal(err)
	}

	n, a, res := f.accepted(t, state)
	if res.BloomMaybe || f.ledger.calls.Load() != 0 {
		t.Fatalf("first vote: %+v, ledger asked %d times; want accepted without the ledger", res, f.ledger.calls.Load())
	}
	f.ledger.mark(state, n)
	// What the batcher's finish does once the batch is on the ledger.
	batcher := c.ClientAs(redisserver.UserBatcher)
	b, err := ballot.BuildBatch(state, 1, []ballot.Vote{a.Vote})
	if err != nil {
		t.Fatal(err)
	}
	rec := ballot.BatchRecord{State: state, Seq: 1, Root: b.Root, Votes: 1, Counted: 1, TxID: "tx-1"}
	if err := votequeue.WriteReceipts(ctx, batcher, b, rec, 7); err != nil {
		t.Fatal(err)
	}
	commit(t, batcher, state, res.EntryID)
	saturate(t, f, state) // every nullifier of the state now tests maybe seen

	const sequential, concurrent = 3, 64
	f.resends(t, state, n, sequential)
	var (
		mu       sync.Mutex
		attempts []int64
		wg       sync.WaitGroup
	)
	for range concurrent {
		a := attempt(t, state, n)
		wg.Go(func() {
			res, err := f.d.Accept(ctx, a)
			if err != nil || res.Outcome != Duplicate || res.BloomMaybe {
				t.Errorf("concurrent re-send: %+v, %v; want duplicate, no Bloom maybe", res, err)
				return
			}
			mu.Lock()
			attempts = append(attempts, res.Attempts)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(attempts)
	for i, got := range attempts {
		if want := int64(sequential + 1 + i); got != want {
			t.Fatalf("concurrent re-sends counted attempts %v; want each of %d..%d once", attempts, sequential+1, sequential+concurrent)
		}
	}
	if len(attempts) != concurrent {
		t.Fatalf("%d of %d concurrent re-sends answered duplicate", len(attempts), concurrent)
	}
	if calls := f.ledger.calls.Load(); calls != 0 {
		t.Fatalf("ledger asked %d times for a committed voter's re-sends; want 0", calls)
	}
	if l := intResult(t, f.rdb.XLen(ctx, votequeue.StreamKey(state))); l != 0 {
		t.Fatalf("stream holds %d entries after the re-sends; want none", l)
	}

	res, err = f.d.Accept(ctx, attempt(t, state, f.voter(t, state, true)))
	if err != nil || res.Outcome != Accepted || !res.BloomMaybe {
		t.Fatalf("a new voter: %+v, %v; want accepted after the exact check", res, err)
	}
	if calls := f.ledger.calls.Load(); calls != 1 {
		t.Fatalf("ledger asked %d times for a new voter the filter says maybe seen; want once", calls)
	}
}
