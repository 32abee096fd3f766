package batcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
)

// These tests run the batcher against a real Redis and the fake ledger:
// no Fabric network.

// startBatcher runs a batcher over every test state until the test ends.
func startBatcher(t *testing.T, cfg Config, rdb *redis.Client, ledger Ledger) *Batcher {
	return startBatcherLogged(t, cfg, rdb, ledger, nil)
}

// startBatcherLogged is startBatcher logging to log.
func startBatcherLogged(t *testing.T, cfg Config, rdb *redis.Client, ledger Ledger, log *slog.Logger) *Batcher {
	t.Helper()
	cfg.Partitions = TestStates
	cfg.LeaseTTL = cmpOr(cfg.LeaseTTL, time.Second)
	b := newTestBatcher(t, cfg, rdb, ledger, log)
	r := runBatcher(b)
	t.Cleanup(func() { r.stop(); r.wait(t) })
	return b
}

// newTestBatcher is New(cfg, rdb, ledger, log) with a registry of its own.
func newTestBatcher(t *testing.T, cfg Config, rdb redis.UniversalClient, ledger Ledger, log *slog.Logger) *Batcher {
	t.Helper()
	b, err := New(cfg, rdb, ledger, log, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// running is a batcher's Run under way in a test.
type running struct {
	stop context.CancelFunc // ends Run's context: the drain begins
	done chan error
}

func runBatcher(b *Batcher) running {
	ctx, stop := context.WithCancel(context.Background())
	r := running{stop: stop, done: make(chan error, 1)}
	go func() { r.done <- b.Run(ctx) }()
	return r
}

// wait waits for Run to return, failing the test if it fails or takes
// over 30 s.
func (r running) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("batcher run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run still draining 30 s after its stop")
	}
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// checkCountedOnce asserts the exactly-once invariant against the fake
// ledger: every vote counted once under its own id, nothing else counted,
// every receipt counted, naming the transaction that committed its batch
// and that transaction's block, and no claim left.
func checkCountedOnce(t *testing.T, f *fakeLedger, rdb *redis.Client, votes []ballot.Vote) {
	t.Helper()
	ctx := context.Background()
	counted := f.counted()
	if len(counted) != len(votes) {
		t.Errorf("the ledger counts %d votes; %d were queued", len(counted), len(votes))
	}
	for _, v := range votes {
		if id := counted[v.State+"/"+v.Nullifier]; id != v.ID {
			t.Fatalf("vote %s: the ledger counts %q for its nullifier", v.ID, id)
		}
		loc, err := votequeue.GetLocation(ctx, rdb, v.ID)
		if err != nil || loc.Status != ballot.ReceiptCounted {
			t.Fatalf("vote %s: receipt %+v, %v", v.ID, loc, err)
		}
		if block, err := f.BlockOfTx(ctx, loc.TxID); err != nil || block != loc.Block {
			t.Fatalf("vote %s: receipt names tx %s in block %d; the ledger has it in %d (%v)", v.ID, loc.TxID, loc.Block, block, err)
		}
	}
	for _, s := range TestStates {
		if n, _ := rdb.XLen(ctx, votequeue.StreamKey(s)).Result(); n != 0 {
			t.Errorf("%d queued votes of %s left after commit", n, s)
		}
		if n, _ := rdb.HLen(ctx, journalKey(s)).Result(); n != 0 {
			t.Errorf("%d batches of %s left in the journal", n, s)
		}
	}
}

func TestLanesCommitEveryVoteOnce(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	f := newFakeLedger()
	b := startBatcher(t, Config{BatchSize: 50}, srv.ClientAs(redisserver.UserBatcher), f)
	votes := EnqueueVotes(t, rdb, 0, 1000, "s")
	WaitDrained(t, rdb, 30*time.Second)
	checkCountedOnce(t, f, rdb, votes)
	// Under a backlog the lanes cut full batches.
	batches := int(metricValue(t, b.metrics.batches.WithLabelValues("CA")))
	if batches == 0 || batches > 2*200/50 {
		t.Errorf("CA's 200 votes took %d batches of at most 50", batches)
	}
}

func TestBatcherRetriesFaultsWithoutLosingOrRepeatingVotes(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	f := newFakeLedger()
	// The first submission of every batch meets a fault, in turn: refused,
	// committed invalid, lost by its orderer; the second commits.
	faults := []fault{failSubmit, commitInvalid, loseTx}
	f.plan = func(b ballot.Batch, n int) fault {
		if n == 1 {
			return faults[b.Seq%uint64(len(faults))]
		}
		return commitOK
	}
	// Batches go alone (no shared transactions): in a shared one the first
	// batch's fault would decide the others' first submission, and which
	// batches share depends on timing, so a fault could go untested.
	// TestShareRefusedFallsBackAlone covers faults of shared transactions.
	b := startBatcher(t, Config{BatchSize: 20, ShareVotes: -1}, srv.ClientAs(redisserver.UserBatcher), f)
	votes := EnqueueVotes(t, rdb, 0, 300, "s")
	WaitDrained(t, rdb, 60*time.Second)
	checkCountedOnce(t, f, rdb, votes)
	for _, cause := range []string{"endorse_or_submit", "commit_MVCC_READ_CONFLICT", "lost"} {
		if n := metricValue(t, b.metrics.retries.WithLabelValues(cause)); n == 0 {
			t.Errorf("no retry counted for %s", cause)
		}
	}
	for _, s := range TestStates {
		if n := f.submissions(ballot.Batch{State: s, Seq: 1}.ID()); n < 2 {
			t.Errorf("batch %s/1 submitted %d times; its first submission failed", s, n)
		}
	}
}

// A previous owner of CA died after journaling three batches (one with
// its stream ids coded, one listing them and one whole, as earlier
// batchers did), the first of which it had committed, and after reading
// votes it never journaled.
func TestTakeoverResubmitsJournalAndReadsAgain(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	ctx := context.Background()
	f := newFakeLedger()
	votes := EnqueueVotes(t, rdb, 0, 50, "s") // 10 per state
	lease, ok, err := acquireLease(ctx, rdb, "CA", "dead", time.Minute)
	if err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	dead := &store{rdb: rdb, partition: "CA"}
	msgs, err := dead.read(ctx, "0-0", 10, 10*time.Millisecond)
	if err != nil || len(msgs) != 10 {
		t.Fatalf("read %d, %v", len(msgs), err)
	}
	var journaled [3]journalEntry
	for i := range journaled {
		j := journalEntry{}
		var vs []ballot.Vote
		for _, m := range msgs[3*i : 3*i+3] {
			v, err := votequeue.Decode(m.Values)
			if err != nil {
				t.Fatal(err)
			}
			vs, j.StreamIDs = append(vs, v), append(j.StreamIDs, m.ID)
		}
		seq, _ := dead.nextSeq(ctx)
		if j.Batch, err = ballot.BuildBatch("CA", seq, vs); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if err := dead.journal(ctx, lease, j); err != nil {
				t.Fatal(err)
			}
		} else { // journaled in an earlier form: the ids listed, or the whole batch
			entry := map[string]any{"seq": seq, "root": j.Batch.Root, "stream_ids": j.StreamIDs}
			if i == 2 {
				entry = map[string]any{"batch": j.Batch, "stream_ids": j.StreamIDs}
			}
			data, err := json.Marshal(entry)
			if err != nil {
				t.Fatal(err)
			}
			rdb.HSet(ctx, journalKey("CA"), strconv.FormatUint(seq, 10), data)
		}
		journaled[i] = j
	}
	firstTx := f.commitDirect(journaled[0].Batch)              // committed, never acknowledged
	if err := rdb.Del(ctx, leaseKey("CA")).Err(); err != nil { // the dead owner's lease expires
		t.Fatal(err)
	}

	startBatcher(t, Config{}, srv.ClientAs(redisserver.UserBatcher), f)
	WaitDrained(t, rdb, 30*time.Second)
	checkCountedOnce(t, f, rdb, votes)
	for _, v := range journaled[0].Batch.Votes {
		if loc, _ := votequeue.GetLocation(ctx, rdb, v.ID); loc.TxID != firstTx || loc.Seq != 1 {
			t.Fatalf("vote of the batch already committed in %s: receipt %+v", firstTx, loc)
		}
	}
	// The committed batch is found on the ledger, the other submitted once.
	for i, want := range []int{0, 1, 1} {
		if n := f.submissions(journaled[i].Batch.ID()); n != want {
			t.Errorf("journaled batch %s submitted %d times by the new owner, want %d", journaled[i].Batch.ID(), n, want)
		}
	}
}

// A transaction whose commit status never arrives is found in its block
// when judged lost (the verdict withdrawn), given up on its status at the
// bound, and the ledger, read before submitting again, shows it committed:
// the batch is acknowledged under that transaction without a second
// submission.
func TestLostStatusFoundOnTheLedger(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	ctx := context.Background()
	f := newFakeLedger()
	first := ballot.Batch{State: "CA", Seq: 1}.ID()
	f.plan = func(b ballot.Batch, n int) fault {
		if b.ID() == first && n == 1 {
			return loseStatus
		}
		return commitOK
	}
	b := startBatcher(t, Config{BatchSize: 10, ShareVotes: 10}, srv.ClientAs(redisserver.UserBatcher), f)
	votes := EnqueueVotes(t, rdb, 0, 500, "s")
	WaitDrained(t, rdb, 30*time.Second)
	checkCountedOnce(t, f, rdb, votes)
	f.mu.Lock()
	for id, n := range f.submits {
		if n != 1 {
			t.Errorf("batch %s submitted %d times, want once", id, n)
		}
	}
	f.mu.Unlock()
	if n := f.submissions(first); n != 1 {
		t.Errorf("batch %s submitted %d times, want once", first, n)
	}
	// At least the one whose status never came; on a loaded machine the
	// recovery policy may also judge others lost that were merely slow (a
	// false verdict costs a ledger read, never a second submission).
	if n := metricValue(t, b.metrics.lostChecks.WithLabelValues("withdrawn")); n < 1 {
		t.Errorf("%v lost verdicts withdrawn, want at least 1", n)
	}
	if n := metricValue(t, b.metrics.retries.WithLabelValues("no_status")); n < 1 {
		t.Errorf("%v batches given up on their commit status, want at least 1", n)
	}
	rec, _ := f.Batch(ctx, "CA", 1)
	loc, err := votequeue.GetLocation(ctx, rdb, votes[0].ID) // the first CA vote, in CA/1
	if err != nil || loc.Seq != 1 || loc.TxID != rec.TxID {
		t.Errorf("receipt of CA/1's first vote: %+v, %v; want seq 1 in %s", loc, err, rec.TxID)
	}
}

// holdState makes f hold the transactions of state's batches (holdTx)
// until the flag it returns is cleared.
func holdState(f *fakeLedger, state string) *atomic.Bool {
	hold := new(atomic.Bool)
	hold.Store(true)
	f.plan = func(b ballot.Batch, _ int) fault {
		if b.State == state && hold.Load() {
			return holdTx
		}
		return commitOK
	}
	return hold
}

// A lane whose lease another process took stops, its batch left in the
// journal; the loss counts once in batcher_retries_total{cause=
// "lane_lease_lost"}: at once when the lease's renewal finds it, while the
// batch is still in flight, not again when the batch's acknowledgement is
// fenced off.
func TestLaneStopsWhenLeaseIsLost(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	ctx := context.Background()
	f := newFakeLedger()
	holdCA := holdState(f, "CA")
	b := startBatcher(t, Config{BatchSize: 10}, srv.ClientAs(redisserver.UserBatcher), f)
	votes := EnqueueVotes(t, rdb, 0, 100, "s")
	waitFor(t, "a CA batch in flight", func() bool { return f.submissions(ballot.Batch{State: "CA", Seq: 1}.ID()) > 0 })

	// Another process takes CA's lease (this one stalled past its TTL).
	if err := rdb.Set(ctx, leaseKey("CA"), "thief/999", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the lost lease counted", func() bool {
		return metricValue(t, b.metrics.retries.WithLabelValues("lane_lease_lost")) > 0
	})
	holdCA.Store(false)
	f.release() // CA's batch commits, but acknowledging it is fenced off
	waitFor(t, "CA's lane to stop", func() bool { return !slices.Contains(b.Lanes(), "CA") })
	if n, _ := rdb.HLen(ctx, journalKey("CA")).Result(); n == 0 {
		t.Fatal("the fenced lane's batch left the journal")
	}
	if n := metricValue(t, b.metrics.retries.WithLabelValues("lane_lease_lost")); n != 1 {
		t.Fatalf("batcher_retries_total{cause=lane_lease_lost} = %v after one lost lease, want 1", n)
	}
	if n, _ := rdb.XLen(ctx, votequeue.StreamKey("CA")).Result(); n != 20 {
		t.Fatalf("CA's stream holds %d votes after the fence, want all 20 unacknowledged", n)
	}
	// The thief dies; the lane comes back and finishes from the journal.
	if err := rdb.Del(ctx, leaseKey("CA")).Err(); err != nil {
		t.Fatal(err)
	}
	WaitDrained(t, rdb, 30*time.Second)
	checkCountedOnce(t, f, rdb, votes)
}

func TestPublishLag(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	ctx := context.Background()
	EnqueueVotes(t, rdb, 0, 5, "s")
	first, err := rdb.XRangeN(ctx, votequeue.StreamKey("CA"), "-", "+", 1).Result()
	if err != nil || len(first) != 1 {
		t.Fatalf("CA's first entry: %v, %v", first, err)
	}
	queued, err := votequeue.EntryTime(first[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	clk := newFakeClock()
	clk.now = queued.Add(3 * time.Second) // three seconds after the oldest vote's 202
	b, err := New(Config{Partitions: []string{"CA", "ZZ"}, Clock: clk}, rdb, newFakeLedger(), nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.publishLag(ctx, []string{"CA", "ZZ"}); err != nil {
		t.Fatal(err)
	}
	lag, ok, err := votequeue.GetLag(ctx, rdb, "CA")
	if err != nil || !ok || lag < 2990*time.Millisecond || lag > 3010*time.Millisecond {
		t.Errorf("CA's lag %v (reported %v, %v), want about 3s", lag, ok, err)
	}
	if got := metricValue(t, b.metrics.lag.WithLabelValues("CA")); got < 2.99 || got > 3.01 {
		t.Errorf("CA's lag metric %v, want about 3", got)
	}
	if lag, ok, err := votequeue.GetLag(ctx, rdb, "ZZ"); err != nil || !ok || lag != 0 {
		t.Errorf("an empty stream's lag: %v, %v, %v; want 0 reported", lag, ok, err)
	}
	if ttl, _ := rdb.PTTL(ctx, votequeue.LagKey("CA")).Result(); ttl <= 0 || ttl > b.cfg.LeaseTTL {
		t.Errorf("lag key TTL %v, want within the lease TTL %v", ttl, b.cfg.LeaseTTL)
	}
	if _, ok, _ := votequeue.GetLag(ctx, rdb, "NY"); ok {
		t.Error("a lag reported for a lane nobody published")
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// attemptRig runs Batcher.attempt against the fake ledger on a fake clock,
// following the fake's blocks.
type attemptRig struct {
	t     *testing.T
	f     *fakeLedger
	clk   *fakeClock
	b     *Batcher
	ctx   context.Context
	waits *waits
}

func newAttemptRig(t *testing.T, plan func(ballot.Batch, int) fault) *attemptRig {
	return newAttemptRigConfig(t, Config{}, plan)
}

// newAttemptRigConfig is newAttemptRig with cfg (its partitions and clock set here).
func newAttemptRigConfig(t *testing.T, cfg Config, plan func(ballot.Batch, int) fault) *attemptRig {
	f := newFakeLedger()
	f.plan = plan
	return newAttemptRigOn(t, cfg, f, f)
}

// newAttemptRigOn is newAttemptRigConfig with the batcher on ledger, whose
// reads and block stream are f's.
func newAttemptRigOn(t *testing.T, cfg Config, f *fakeLedger, ledger Ledger) *attemptRig {
	clk := newFakeClock()
	w := newWaits(clk)
	cfg.Partitions, cfg.Clock, cfg.observe = []string{"CA"}, clk, w.observe
	b, err := New(cfg, nil, ledger, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go b.followBlocks(ctx)
	waitFor(t, "the block stream", func() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.subs) > 0 })
	r := &attemptRig{t: t, f: f, clk: clk, b: b, ctx: ctx, waits: w}
	r.mine(1)
	return r
}

// mine cuts k blocks and waits until the batcher has seen them.
func (r *attemptRig) mine(k int) {
	r.f.mine(k)
	r.f.mu.Lock()
	want := r.f.height
	r.f.mu.Unlock()
	waitFor(r.t, "the blocks", func() bool { h, _ := r.b.height.get(); return h == want })
}

// start submits the batch of sequence number seq (one vote) and waits for
// its commit in the background. It returns once the attempt has returned or
// decided to wait on what it has seen (waits.standing), so the test moves
// the clock and the blocks after the submission's time is taken.
func (r *attemptRig) start(seq uint64) <-chan error {
	vote := ballot.Vote{State: "CA", Contest: "race", Choice: "alice", CastAt: 1}
	vote.ID, _ = ballot.NewVoteID()
	vote.Nullifier = ballot.HashHex(ballot.NullifierOf(ballot.VoterKey([]byte("s"), "E", vote.ID, "cred"), "race"))
	batch, err := ballot.BuildBatch("CA", seq, []ballot.Vote{vote})
	if err != nil {
		r.t.Fatal(err)
	}
	res := make(chan error, 1)
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		_, err := r.b.attempt(r.ctx, batch, 0, time.Time{})
		res <- err
	}()
	waitFor(r.t, "the commit wait of "+batch.ID(), func() bool {
		select {
		case <-ended:
			return true
		default:
			_, ok := r.waits.standing("attempt", batch.ID())
			return ok
		}
	})
	return res
}

// wantLost waits for res to report a lost transaction.
func wantLost(t *testing.T, res <-chan error) {
	t.Helper()
	select {
	case err := <-res:
		var lost *errLost
		if !errors.As(err, &lost) {
			t.Fatalf("attempt returned %v, want a lost transaction", err)
		}
		t.Log(err)
	case <-time.After(10 * time.Second):
		t.Fatal("attempt still waiting")
	}
}

// attempt gives up on a transaction its orderer lost once blocks hold a
// transaction accepted after it, or, with no commit at all, at the time bound.
func TestAttemptGivesUpOnLostTransaction(t *testing.T) {
	for _, c := range []struct {
		name      string
		overtaken bool
	}{{"overtaken", true}, {"time bound", false}} {
		t.Run(c.name, func(t *testing.T) {
			r := newAttemptRig(t, func(b ballot.Batch, _ int) fault {
				if b.Seq == 1 {
					return loseTx
				}
				return commitOK
			})
			res := r.start(1)
			// Without measurements the bound is 4×2 s.
			if c.overtaken {
				r.clk.Advance(500 * time.Millisecond)
				if err := <-r.start(2); err != nil { // accepted 500 ms later, committed at once in a block
					t.Fatal(err)
				}
				r.mine(1)
				r.notYet(1, res) // two blocks since
				r.mine(1)
			} else {
				r.mine(5)        // blocks of other transactions are no evidence
				r.notYet(1, res) // decided on them before the clock moves
				r.clk.Advance(8*time.Second - time.Millisecond)
				r.notYet(1, res)
				r.clk.Advance(time.Millisecond)
			}
			wantLost(t, res)
			if n := r.f.submissions(ballot.Batch{State: "CA", Seq: 1}.ID()); n != 1 {
				t.Errorf("the lost batch was submitted %d times by attempt, want 1", n)
			}
		})
	}
}

// A drain after a paced run: commits were fast (the bound is at its 2 s
// floor), then transactions queue behind each other and each commits long
// after that bound, with blocks of other transactions in between. None is
// judged lost while commits keep coming; a transaction that is truly lost
// behind them is judged lost at the bound once they stop.
func TestSlowDrainIsNotLost(t *testing.T) {
	const held = 4
	r := newAttemptRig(t, func(b ballot.Batch, _ int) fault {
		if b.Seq > held {
			return loseTx
		}
		return holdTx
	})
	for range latencySamples {
		r.b.recordLatency(400 * time.Millisecond) // the paced run
	}
	if got := r.b.recovery.bound(r.b.latencyStats(), 0); got != 2*time.Second {
		t.Fatalf("bound after fast commits %v, want the 2 s floor", got)
	}
	var waits []<-chan error
	for seq := uint64(1); seq <= held+1; seq++ {
		waits = append(waits, r.start(seq))
		r.clk.Advance(100 * time.Millisecond)
	}
	// Each held transaction commits 1.2 s after the one before it, 3
	// blocks of other transactions in between: the last one 4.9 s after
	// its acceptance.
	for i := range held {
		for range 3 {
			r.clk.Advance(400 * time.Millisecond)
			r.mine(1)
		}
		r.notYet(held+1, waits[held])
		r.f.releaseNext()
		if err := <-waits[i]; err != nil {
			t.Fatalf("transaction %d of the drain: %v, want committed", i+1, err)
		}
	}
	for seq := uint64(1); seq <= held; seq++ {
		if n := r.f.submissions(ballot.Batch{State: "CA", Seq: seq}.ID()); n != 1 {
			t.Errorf("batch %d submitted %d times, want once", seq, n)
		}
	}
	// The lost one: commits stopped, so the bound (now following the
	// drain's slow commits) runs from the last one. notYet also waits for
	// its attempt to decide on that commit before the clock jumps.
	r.notYet(held+1, waits[held])
	bound := r.b.recovery.bound(r.b.latencyStats(), 0)
	r.clk.Advance(bound - time.Millisecond)
	r.notYet(held+1, waits[held])
	r.clk.Advance(time.Millisecond)
	wantLost(t, waits[held])
}

// Under SmartBFT a dead leader loses no transaction: one held through a
// stall shorter than the ordering's failover is waited for, not submitted
// again (its duplicate would only fail MVCC after the original).
func TestAttemptWaitsOutOrderingFailover(t *testing.T) {
	r := newAttemptRigConfig(t, Config{Failover: 10 * time.Second}, func(ballot.Batch, int) fault { return holdTx })
	res := r.start(1)
	r.clk.Advance(10*time.Second - time.Millisecond) // past 4×2 s, the bound without a failover
	r.notYet(1, res)
	r.f.release()
	if err := <-res; err != nil {
		t.Fatalf("held through the failover: %v, want committed", err)
	}
	if n := r.f.submissions(ballot.Batch{State: "CA", Seq: 1}.ID()); n != 1 {
		t.Errorf("batch submitted %d times, want once", n)
	}
}

// notYet checks that the attempt of batch seq, whose result is res, is
// still waiting once it has decided on what the test set up
// (waits.notYet).
func (r *attemptRig) notYet(seq uint64, res <-chan error) {
	r.t.Helper()
	r.waits.notYet(r.t, "attempt", ballot.Batch{State: "CA", Seq: seq}.ID(), res)
}

// BenchmarkBatcherThroughput drains a backlog through real Redis and the
// fake ledger committing every transaction after a block time: the
// batcher's own ceiling (reads, journal, receipts, acknowledgements) and the
// batch sizes it cuts under backlog.
func BenchmarkBatcherThroughput(b *testing.B) {
	const votes = 20000
	for _, latency := range []time.Duration{50 * time.Millisecond, 300 * time.Millisecond} {
		b.Run("block="+latency.String(), func(b *testing.B) {
			var elapsed time.Duration
			var batches float64
			for range b.N {
				b.StopTimer()
				rdb := redistest.Start(b).Client()
				f := newFakeLedger()
				f.latency = latency
				EnqueueVotes(b, rdb, 0, votes, "bench")
				bt, err := New(Config{Partitions: TestStates}, rdb, f, nil, prometheus.NewRegistry())
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				b.StartTimer()
				began := time.Now()
				go func() { done <- bt.Run(ctx) }()
				WaitDrained(b, rdb, time.Minute)
				elapsed += time.Since(began)
				b.StopTimer()
				cancel()
				if err := <-done; err != nil {
					b.Fatal(err)
				}
				for _, s := range TestStates {
					batches += metricValue(b, bt.metrics.batches.WithLabelValues(s))
				}
			}
			b.ReportMetric(float64(votes*b.N)/elapsed.Seconds(), "votes/s")
			b.ReportMetric(float64(votes*b.N)/batches, "votes/batch")
		})
	}
}

// TestStageMetrics: every vote is timed through the queue, the buffer and
// its whole path, every batch through the journal, the shared
// transaction's queue, commit and settlement, every transaction through
// endorsement and its count of batches, and a commit's time shows the
// ledger's block time.
func TestStageMetrics(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	f := newFakeLedger()
	f.latency = 100 * time.Millisecond
	b := startBatcher(t, Config{BatchSize: 50}, srv.ClientAs(redisserver.UserBatcher), f)
	votes := EnqueueVotes(t, rdb, 0, 300, "s")
	WaitDrained(t, rdb, 30*time.Second)
	checkCountedOnce(t, f, rdb, votes)

	hist := func(o prometheus.Observer) *dto.Histogram {
		var m dto.Metric
		if err := o.(prometheus.Metric).Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetHistogram()
	}
	s := b.metrics.stage
	// A lane stopped and taken again (its lease expired on a starved
	// machine, or a Redis call timed out) reads its unsettled votes again
	// and times them again: then each vote is timed at least once.
	restarts := metricValue(t, b.metrics.retries.WithLabelValues("lane_restart")) + metricValue(t, b.metrics.retries.WithLabelValues("lane_lease_lost"))
	perVote := map[string]prometheus.Observer{"queue": s.queue, "buffer": s.buffer, "vote": b.metrics.voteLatency}
	for name, o := range perVote {
		n := hist(o).GetSampleCount()
		if n < uint64(len(votes)) || (restarts == 0 && n != uint64(len(votes))) {
			t.Errorf("%s: %d samples, want one per vote (%d; %v lane restarts)", name, n, len(votes), restarts)
		}
	}
	f.mu.Lock()
	batches, txs := uint64(len(f.records)), uint64(f.txs)
	f.mu.Unlock()
	perBatch := map[string]prometheus.Observer{"journal": s.journal, "share": s.share, "commit": s.commit, "settle": s.settle}
	for name, o := range perBatch {
		if n := hist(o).GetSampleCount(); n != batches && restarts == 0 {
			t.Errorf("%s: %d samples, want one per batch (%d)", name, n, batches)
		}
	}
	if n := hist(s.endorse).GetSampleCount(); n != txs {
		t.Errorf("endorse: %d samples, want one per transaction (%d)", n, txs)
	}
	if h := hist(b.metrics.txBatches); h.GetSampleCount() != txs || uint64(h.GetSampleSum()) != batches {
		t.Errorf("batches per transaction: %d transactions carrying %v batches, want %d carrying %d", h.GetSampleCount(), h.GetSampleSum(), txs, batches)
	}
	mean := func(h *dto.Histogram) time.Duration {
		return time.Duration(h.GetSampleSum() / float64(h.GetSampleCount()) * float64(time.Second))
	}
	if c := mean(hist(s.commit)); c < f.latency {
		t.Errorf("mean commit %v, below the ledger's block time %v", c, f.latency)
	}
	if v, c := mean(hist(b.metrics.voteLatency)), mean(hist(s.commit)); v < c {
		t.Errorf("mean vote latency %v, below the mean commit %v it includes", v, c)
	}
}

// A graceful stop waits for the transactions in flight only DrainTimeout:
// a CA batch whose commit never comes is left in the journal, Run returns
// long before CommitTimeout, and the next batcher settles it with every
// vote counted once.
func TestDrainGivesUpAtItsTimeout(t *testing.T) {
	ctx := context.Background()
	f := newFakeLedger()
	holdCA := holdState(f, "CA")
	const drainFor = 300 * time.Millisecond
	d := startDrainRig(t, f, drainFor)
	rdb, b := d.srv.Client(), d.b

	stopped := time.Now()
	d.stop()
	d.wait(t)
	if took := time.Since(stopped); took < drainFor {
		t.Errorf("Run returned %v after its stop, before the drain timeout, with a CA batch in flight", took)
	}
	if n := b.abandoned.Load(); n == 0 {
		t.Error("no batch counted as given up on")
	}
	if n, _ := rdb.HLen(ctx, journalKey("CA")).Result(); n == 0 {
		t.Fatal("the batch given up on left the journal")
	}
	if n := metricValue(t, b.metrics.retries.WithLabelValues("lane_restart")); n != 0 {
		t.Errorf("batcher_retries_total{cause=lane_restart} = %v: the cut drain was taken for a Redis failure", n)
	}

	// The next batcher finds the journal entry and commits it.
	holdCA.Store(false)
	f.release()
	startBatcher(t, Config{BatchSize: 10}, d.srv.ClientAs(redisserver.UserBatcher), f)
	WaitDrained(t, rdb, 30*time.Second)
	checkCountedOnce(t, f, rdb, d.votes)
}

// drainRig is a batcher run over every test state, in batches of 10 votes,
// with 100 votes queued and a CA batch in flight.
type drainRig struct {
	running
	srv   *redistest.Server
	b     *Batcher
	votes []ballot.Vote
}

// startDrainRig starts a drainRig on the fake ledger f, draining for drainFor.
func startDrainRig(t *testing.T, f *fakeLedger, drainFor time.Duration) drainRig {
	srv := redistest.Start(t)
	cfg := Config{BatchSize: 10, Partitions: TestStates, LeaseTTL: time.Second, CommitTimeout: time.Minute, DrainTimeout: drainFor}
	b := newTestBatcher(t, cfg, srv.ClientAs(redisserver.UserBatcher), f, nil)
	d := drainRig{running: runBatcher(b), srv: srv, b: b, votes: EnqueueVotes(t, srv.Client(), 0, 100, "s")}
	waitFor(t, "a CA batch in flight", func() bool { return f.submissions(ballot.Batch{State: "CA", Seq: 1}.ID()) > 0 })
	return d
}

// A graceful stop retries a batch in flight whose commit fails during the
// drain until the drain timeout, as before the stop: a failure the retry
// overcomes leaves nothing in the journal and Run's stop clean; one that
// lasts past the timeout leaves the batch in the journal, counted as
// abandoned.
func TestDrainRetriesUntilItsTimeout(t *testing.T) {
	for _, c := range []struct {
		name     string
		retry    fault // what CA's resubmissions meet
		drainFor time.Duration
	}{
		{"the retry commits", commitOK, 10 * time.Second},
		{"failing past the timeout", failSubmit, 500 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFakeLedger()
			holding := new(atomic.Bool) // CA's first submissions are held
			holding.Store(true)
			f.plan = func(b ballot.Batch, n int) fault {
				switch {
				case b.State != "CA":
					return commitOK
				case n == 1 && holding.Load():
					return holdTx
				case n == 1:
					return commitOK // cut in the drain: not retried
				}
				return c.retry
			}
			d := startDrainRig(t, f, c.drainFor)
			rdb, b := d.srv.Client(), d.b
			stopped := time.Now()
			d.stop()
			waitFor(t, "the drain", b.draining.Load)
			holding.Store(false)
			f.failHeld() // CA's transactions in flight fail validation during the drain
			d.wait(t)
			journaled, _ := rdb.HLen(ctx, journalKey("CA")).Result()
			if c.retry == commitOK {
				if journaled != 0 || b.abandoned.Load() != 0 {
					t.Fatalf("the drain left %d CA batches in the journal, %d counted abandoned; want their retries committed", journaled, b.abandoned.Load())
				}
				checkCountedOnce(t, f, rdb, d.votes)
				return
			}
			if took := time.Since(stopped); took < c.drainFor {
				t.Errorf("Run returned %v after its stop, before the drain timeout %v, with CA's retries failing", took, c.drainFor)
			}
			if journaled == 0 || b.abandoned.Load() != journaled {
				t.Errorf("%d CA batches left in the journal, %d counted abandoned; want them all counted", journaled, b.abandoned.Load())
			}
		})
	}
}

// failDeadLetters fails the batcher's moves to the dead letters while on is set.
type failDeadLetters struct{ on atomic.Bool }

func (h *failDeadLetters) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *failDeadLetters) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *failDeadLetters) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			if h.on.Load() && c.Name() == "xadd" && strings.HasPrefix(fmt.Sprint(c.Args()[1]), "deadletter:") {
				return errors.New("test: dead-letter write refused")
			}
		}
		return next(ctx, cmds)
	}
}

// An undecodable entry whose move to the dead letters fails stays in the
// stream, below the lane's floor, until a later move succeeds: the
// acknowledgements of the votes after it never trim it unrecorded.
func TestDeadLetterFailureKeepsTheEntry(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	ctx := context.Background()
	f := newFakeLedger()
	votes := EnqueueVotes(t, rdb, 0, 50, "s")
	bad, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: votequeue.StreamKey("CA"), Values: []string{"v", "99", "junk", "x"}}).Result()
	if err != nil {
		t.Fatal(err)
	}
	votes = append(votes, EnqueueVotes(t, rdb, 50, 50, "s")...)
	brdb := srv.ClientAs(redisserver.UserBatcher)
	hook := &failDeadLetters{}
	hook.on.Store(true)
	brdb.AddHook(hook)
	b := startBatcher(t, Config{BatchSize: 10}, brdb, f)
	// The other states' votes are committed; CA's lane settles what it
	// read before the bad entry and stops for the failed move, again and
	// again, leaving the entry in the stream.
	WaitStatesDrained(t, rdb, slices.DeleteFunc(slices.Clone(TestStates), func(s string) bool { return s == "CA" }), 30*time.Second)
	// The lane's second run settles the batches its first had journaled
	// (acknowledging what it had read before the bad entry) before it reads
	// the entry again and stops a second time.
	waitFor(t, "two lane restarts for the failed move", func() bool {
		return metricValue(t, b.metrics.retries.WithLabelValues("lane_restart")) >= 2
	})
	if n, err := rdb.XRange(ctx, votequeue.StreamKey("CA"), bad, bad).Result(); err != nil || len(n) != 1 {
		t.Fatalf("the entry whose dead-letter move failed: %v, %v; want it still in the stream", n, err)
	}
	hook.on.Store(false)
	WaitDrained(t, rdb, 30*time.Second)
	checkCountedOnce(t, f, rdb, votes)
	dl, err := rdb.XRange(ctx, deadLetterKey("CA"), "-", "+").Result()
	if err != nil || len(dl) != 1 || dl[0].Values["stream_id"] != bad {
		t.Fatalf("dead letters of CA: %v, %v; want the entry %s once", dl, err, bad)
	}
}

// timerCount is a fake clock that counts the timers set on it (After and
// TimerAt calls).
type timerCount struct {
	*fakeClock
	made atomic.Int32
}

func (c *timerCount) After(d time.Duration) <-chan time.Time {
	c.made.Add(1)
	return c.fakeClock.After(d)
}

func (c *timerCount) TimerAt(at time.Time) Timer {
	c.made.Add(1)
	return c.fakeClock.TimerAt(at)
}

// A lane waiting for one wake-up time after another (its paced reads of
// an empty stream, on ticks) sets one timer for all of them, reset for each
// (cutLoop allocates no timer per wait), and wakes at each.
func TestLaneResetsOneTimer(t *testing.T) {
	clk := &timerCount{fakeClock: newFakeClock()}
	w := newWaits(clk.fakeClock)
	b := newTestBatcher(t, Config{Partitions: []string{"CA"}, Clock: clk, observe: w.observe}, nil, newFakeLedger(), nil)
	l := b.newLane("CA", "test/1", context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	room, reads := make(chan int, 1), make(chan []Entry)
	done := make(chan error, 1)
	var p pending
	go func() { done <- l.cutLoop(ctx, &p, room, reads) }()
	asks := func(when string) {
		t.Helper()
		select {
		case <-room:
		case <-time.After(10 * time.Second):
			t.Fatalf("the lane did not ask for a read %s", when)
		}
	}
	asks("at its start")
	const waits = 5
	for i := range waits {
		reads <- nil // the stream is empty: the lane reads again before the next tick
		// Its decision on the read: the one before waited for the read
		// only (no wake-up), or for a wake-up the clock has reached.
		var d waitPoint
		waitFor(t, fmt.Sprintf("the lane's wake-up %d", i), func() bool {
			var ok bool
			d, ok = w.standing("lane", "CA")
			return ok && !d.wake.IsZero()
		})
		clk.Advance(d.wake.Sub(clk.Now()))
		asks(fmt.Sprintf("at its wake-up %d", i))
	}
	// Stopped while it waits for a wake-up, the lane stops its timer.
	reads <- nil
	waitFor(t, "the lane's last wake-up", func() bool {
		d, ok := w.standing("lane", "CA")
		return ok && !d.wake.IsZero()
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := clk.made.Load(); n != 1 {
		t.Errorf("the lane set %d timers for %d waits, want one, reset", n, waits)
	}
	if n := clk.waiting(); n != 0 {
		t.Errorf("%d timers still set once the lane has returned, want the lane's stopped", n)
	}
}
