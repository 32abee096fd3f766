package batcher

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
)

// shareRig drives a Batcher's sharer directly against the fake ledger on a
// fake clock.
type shareRig struct {
	t   *testing.T
	b   *Batcher
	f   *fakeLedger
	clk *fakeClock
}

func newShareRig(t *testing.T, cfg Config) *shareRig {
	f, clk := newFakeLedger(), newFakeClock()
	cfg.Partitions, cfg.Clock = TestStates, clk
	b, err := New(cfg, nil, f, nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return &shareRig{t: t, b: b, f: f, clk: clk}
}

// batch builds batch seq of state with n votes of new voters.
func (r *shareRig) batch(state string, seq uint64, n int) ballot.Batch {
	votes := make([]ballot.Vote, n)
	for i := range votes {
		id, _ := ballot.NewVoteID()
		votes[i] = ballot.Vote{ID: id, State: state, Contest: "race", Choice: "alice", CastAt: 1,
			Nullifier: ballot.HashHex(ballot.NullifierOf(ballot.VoterKey([]byte("s"), "E", id, "cred"), "race"))}
	}
	b, err := ballot.BuildBatch(state, seq, votes)
	if err != nil {
		r.t.Fatal(err)
	}
	return b
}

type outcome struct {
	done ballot.Committed
	err  error
}

// submit hands b to the sharer as a lane's first submission, read now, and
// waits for its commit in the background.
func (r *shareRig) submit(b ballot.Batch) <-chan outcome {
	out := make(chan outcome, 1)
	go func() {
		tx, err := r.b.share.submit(context.Background(), b, r.clk.Now())
		if err != nil {
			out <- outcome{err: err}
			return
		}
		done, err := tx.Wait(context.Background())
		out <- outcome{done, err}
	}()
	return out
}

// queued waits until the sharer holds n batches.
func (r *shareRig) queued(n int) {
	waitFor(r.t, fmt.Sprintf("%d batches queued", n), func() bool {
		r.b.share.mu.Lock()
		defer r.b.share.mu.Unlock()
		return len(r.b.share.queue) == n
	})
}

// txs returns the number of transactions submitted and the batch ids of
// those shared.
func (r *shareRig) txs() (int, [][]string) { return ledgerTxs(r.f) }

// wantCommitted waits for b's outcome on o: committed, in transaction txID
// unless it is "", and returns that transaction.
func wantCommitted(t *testing.T, o <-chan outcome, b ballot.Batch, txID string) string {
	t.Helper()
	select {
	case got := <-o:
		if got.err != nil || got.done.Record.State != b.State || got.done.Record.Seq != b.Seq || got.done.Record.Counted != len(b.Votes) ||
			(txID != "" && got.done.TxID != txID) {
			t.Fatalf("batch %s: %+v %v; want committed in %q", b.ID(), got.done, got.err, txID)
		}
		return got.done.TxID
	case <-time.After(10 * time.Second):
		t.Fatalf("batch %s never committed", b.ID())
	}
	return ""
}

// TestShareGroupsLanesWhileTransactionsFly: with nothing in flight a batch
// goes at once, alone; the batches cut while it is in flight wait and then
// go together in one transaction, at most one per state, within the vote
// bound, in the order queued.
func TestShareGroupsLanesWhileTransactionsFly(t *testing.T) {
	r := newShareRig(t, Config{BatchSize: 100, ShareVotes: 100, Fill: 50, Tick: -1})
	r.f.plan = func(ballot.Batch, int) fault { return holdTx }
	first := r.batch("CA", 1, 5)
	o1 := r.submit(first)
	waitFor(t, "the first transaction", func() bool { n, _ := r.txs(); return n == 1 })

	bs := []ballot.Batch{r.batch("NY", 1, 10), r.batch("TX", 1, 10), r.batch("CA", 2, 10)}
	outs := make([]<-chan outcome, len(bs))
	for i, b := range bs {
		outs[i] = r.submit(b)
		r.queued(i + 1)
	}
	if n, _ := r.txs(); n != 1 {
		t.Fatalf("%d transactions while one is in flight and fewer than fill votes wait, want 1", n)
	}
	r.f.releaseNext()
	wantCommitted(t, o1, first, "tx1")
	waitFor(t, "the shared transaction", func() bool { n, _ := r.txs(); return n >= 2 })
	n, shared := r.txs()
	if n != 2 || len(shared) != 1 || !slices.Equal(shared[0], []string{"NY/1", "TX/1", "CA/2"}) {
		t.Fatalf("%d transactions, shared %v; want tx2 carrying NY/1, TX/1, CA/2", n, shared)
	}

	// While tx2 flies: 10 votes wait under fill; 95 more pass fill, and
	// together pass the 100-vote bound, so each goes alone.
	small, large := r.batch("NY", 2, 10), r.batch("TX", 2, 95)
	os := r.submit(small)
	r.queued(1)
	ol := r.submit(large)
	waitFor(t, "the transactions past fill", func() bool { n, _ := r.txs(); return n == 4 })
	if _, shared := r.txs(); len(shared) != 1 {
		t.Fatalf("shared %v; over the vote bound each batch goes alone", shared)
	}
	r.f.release()
	for i, b := range bs {
		wantCommitted(t, outs[i], b, "tx2")
	}
	if a, b := wantCommitted(t, os, small, ""), wantCommitted(t, ol, large, ""); a == b || a == "tx2" || b == "tx2" {
		t.Fatalf("the batches past the bound went in %s and %s, want one each", a, b)
	}
}

// TestShareStateOnceAndFill: two batches of one state never share a
// transaction, and fill votes waiting open a further transaction beside
// one in flight.
func TestShareStateOnceAndFill(t *testing.T) {
	r := newShareRig(t, Config{BatchSize: 100, ShareVotes: 100, Fill: 20, Tick: -1})
	r.f.plan = func(ballot.Batch, int) fault { return holdTx }
	r.submit(r.batch("CA", 1, 5))
	waitFor(t, "the first transaction", func() bool { n, _ := r.txs(); return n == 1 })
	r.submit(r.batch("NY", 1, 10))
	r.queued(1)
	r.submit(r.batch("NY", 2, 10)) // 20 votes wait: a transaction goes, NY/2 stays
	waitFor(t, "the second transaction", func() bool { n, _ := r.txs(); return n == 2 })
	r.queued(1)
	if _, shared := r.txs(); len(shared) != 0 {
		t.Fatalf("shared %v; NY's two batches must not share", shared)
	}
}

// TestShareMaxWait: a batch under fill waiting behind a transaction in
// flight goes once its oldest vote has waited MaxWait.
func TestShareMaxWait(t *testing.T) {
	r := newShareRig(t, Config{BatchSize: 100, ShareVotes: 100, Fill: 50, MaxWait: time.Second, Tick: -1})
	r.f.plan = func(ballot.Batch, int) fault { return holdTx }
	r.submit(r.batch("CA", 1, 5))
	waitFor(t, "the first transaction", func() bool { n, _ := r.txs(); return n == 1 })
	r.submit(r.batch("NY", 1, 5))
	r.queued(1) // its wake-up set too, under the same lock
	r.clk.Advance(999 * time.Millisecond)
	if n, _ := r.txs(); n != 1 {
		t.Fatalf("%d transactions before MaxWait, want 1", n)
	}
	r.clk.Advance(time.Millisecond)
	waitFor(t, "the waiting batch's transaction", func() bool { n, _ := r.txs(); return n == 2 })
}

// TestShareTickGathersLanes: with lanes cutting on ticks, the batches a
// lane announced are awaited (up to Tick/4 after the first is queued), in
// flight or not, and go in one transaction; a commit does not send the
// queue early; a full transaction's worth goes at once.
func TestShareTickGathersLanes(t *testing.T) {
	r := newShareRig(t, Config{BatchSize: 100, ShareVotes: 100, Fill: 50, Tick: 100 * time.Millisecond})
	r.f.plan = func(ballot.Batch, int) fault { return holdTx }
	r.b.share.announce(2)
	first := r.batch("CA", 1, 5)
	o1 := r.submit(first)
	r.queued(1)
	r.clk.Advance(10 * time.Millisecond)
	if n, _ := r.txs(); n != 0 {
		t.Fatalf("%d transactions while an announced batch is awaited, want 0", n)
	}
	second := r.batch("NY", 1, 5)
	o2 := r.submit(second) // the last announced: both go at once
	waitFor(t, "the tick's transaction", func() bool { n, _ := r.txs(); return n == 1 })
	if _, shared := r.txs(); len(shared) != 1 || !slices.Equal(shared[0], []string{"CA/1", "NY/1"}) {
		t.Fatalf("shared %v; want one transaction carrying CA/1, NY/1", shared)
	}

	// A batch announced and never queued holds the next tick's batch for
	// the linger only, although a commit comes meanwhile.
	r.clk.Advance(15 * time.Millisecond) // the first batch's linger runs out: nothing queued
	waitFor(t, "the spent wake-up", func() bool {
		r.b.share.mu.Lock()
		defer r.b.share.mu.Unlock()
		return r.b.share.timer.IsZero()
	})
	r.b.share.announce(2)
	third := r.batch("TX", 1, 5)
	o3 := r.submit(third)
	r.queued(1) // its wake-up set too
	r.f.releaseNext()
	wantCommitted(t, o1, first, "tx1")
	wantCommitted(t, o2, second, "tx1")
	r.clk.Advance(24 * time.Millisecond)
	if n, _ := r.txs(); n != 1 {
		t.Fatalf("%d transactions before the linger, want the queued batch to wait", n)
	}
	r.clk.Advance(time.Millisecond)
	waitFor(t, "the lingered transaction", func() bool { n, _ := r.txs(); return n == 2 })
	r.b.share.announce(-1) // the lane that never queued gives up

	// A full transaction's worth goes at once.
	r.b.share.announce(3)
	r.submit(r.batch("CA", 2, 60))
	r.submit(r.batch("NY", 2, 40))
	waitFor(t, "the full transaction", func() bool { n, _ := r.txs(); return n == 3 })
	r.f.release()
	wantCommitted(t, o3, third, "")
}

// TestShareRefusedFallsBackAlone: a shared transaction the ledger refuses
// (one batch's endorsement fails) fails for every batch in it; each lane
// retries alone, and every vote is counted once with its receipt.
func TestShareRefusedFallsBackAlone(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	f := newFakeLedger()
	f.latency = 50 * time.Millisecond
	bad := ""
	f.plan = func(b ballot.Batch, n int) fault { // called with f.mu held, after the transaction's batches are noted
		if n == 1 && len(f.shared) > 0 && slices.Contains(f.shared[len(f.shared)-1], b.ID()) && (bad == "" || bad == b.ID()) {
			bad = b.ID()
			return failSubmit
		}
		return commitOK
	}
	// Room for every lane's tick batch in one transaction: lanes read once
	// per tick, so each cuts up to a full batch of the trickle on a tick.
	startBatcher(t, Config{BatchSize: 50, ShareVotes: 500}, srv.ClientAs(redisserver.UserBatcher), f)
	var votes []ballot.Vote
	for i := range 40 { // a trickle: small batches while transactions fly
		votes = append(votes, EnqueueVotes(t, rdb, 10*i, 10, "s")...)
		time.Sleep(5 * time.Millisecond)
	}
	WaitDrained(t, rdb, 30*time.Second)
	checkCountedOnce(t, f, rdb, votes)
	if bad == "" {
		n, shared := ledgerTxs(f)
		t.Fatalf("no shared transaction was submitted (%d transactions, shared %v)", n, shared)
	}
	if n := f.submissions(bad); n < 2 {
		t.Fatalf("batch %s refused in a shared transaction was submitted %d times, want again alone", bad, n)
	}
}

// TestShareOff: with ShareVotes negative every batch goes alone.
func TestShareOff(t *testing.T) {
	r := newShareRig(t, Config{ShareVotes: -1})
	if r.b.share != nil {
		t.Fatal("sharer on with ShareVotes -1")
	}
	if _, err := New(Config{Partitions: TestStates, ShareVotes: ballot.MaxBatchVotes + 1}, nil, r.f, nil, prometheus.NewRegistry()); err == nil {
		t.Fatal("ShareVotes above the chaincode's limit accepted")
	}
}

// TestLanesCutOnTicksTogether: lanes that share transactions hold their
// small batches until the clock's next tick, then cut at once, and the
// sharer sends every lane's batch in one transaction as soon as the last is
// queued (the clock stands still: no linger runs out).
func TestLanesCutOnTicksTogether(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	f, clk := newFakeLedger(), newFakeClock()
	clk.Advance(10 * time.Millisecond) // 10 ms past a tick
	// The votes are queued before the lanes start, so each lane's first read
	// takes all of its votes while the clock stands still (a lane whose read
	// returned only after the clock moved would read again a tick later).
	votes := EnqueueVotes(t, rdb, 0, 2*len(TestStates), "s")
	w := newWaits(clk)
	b := startBatcher(t, Config{BatchSize: 50, ShareVotes: 50, Fill: 40, Tick: 100 * time.Millisecond, Clock: clk, observe: w.observe}, srv.ClientAs(redisserver.UserBatcher), f)
	waitFor(t, "every lane holding its votes", func() bool {
		n := 0.0
		for _, s := range TestStates {
			n += metricValue(t, b.metrics.buffered.WithLabelValues(s))
		}
		return n == float64(len(votes))
	})
	clk.Advance(89 * time.Millisecond) // 1 ms before the tick, past the lanes' next read (nextRead), which finds nothing
	// Every lane has decided, woken at its next read time, not to cut before the tick.
	if held := w.lanes(t, TestStates...); held != len(votes) {
		t.Fatalf("the lanes hold %d votes before the tick, want all %d", held, len(votes))
	}
	if n, _ := ledgerTxs(f); n != 0 {
		t.Fatalf("%d transactions before the tick, want 0", n)
	}
	clk.Advance(time.Millisecond) // the tick: every lane's batch goes once all are queued
	WaitDrained(t, rdb, 10*time.Second)
	if n, shared := ledgerTxs(f); n != 1 || len(shared) != 1 || len(shared[0]) != len(TestStates) {
		t.Fatalf("%d transactions, shared %v; want one carrying a batch of each of %v", n, shared, TestStates)
	}
	checkCountedOnce(t, f, rdb, votes)
}

// TestTickBatchesCountVotesInFlight: lanes cutting on ticks bound what
// they have in flight by votes (Depth full batches), not batches: with
// Depth 2 and every transaction held, each lane still cuts its small batch
// on a third tick, while a backlog's full batches stop at the bound.
func TestTickBatchesCountVotesInFlight(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	f, clk := newFakeLedger(), newFakeClock()
	var hold atomic.Bool
	hold.Store(true)
	f.plan = func(ballot.Batch, int) fault {
		if hold.Load() {
			return holdTx
		}
		return commitOK
	}
	clk.Advance(10 * time.Millisecond) // 10 ms past a tick
	w := newWaits(clk)
	b := startBatcher(t, Config{BatchSize: 50, ShareVotes: 50, Fill: 40, Depth: 2, Tick: 100 * time.Millisecond, Clock: clk, observe: w.observe}, srv.ClientAs(redisserver.UserBatcher), f)
	t.Cleanup(func() { hold.Store(false); f.release() }) // before the batcher's: it drains what is in flight
	buffered := func(states ...string) float64 {
		n := 0.0
		for _, s := range states {
			n += metricValue(t, b.metrics.buffered.WithLabelValues(s))
		}
		return n
	}
	var votes []ballot.Vote
	for tick := 1; tick <= 3; tick++ {
		votes = append(votes, EnqueueVotes(t, rdb, len(votes), len(TestStates), "s")...)
		waitFor(t, "every lane holding its vote", func() bool { return buffered(TestStates...) == float64(len(TestStates)) })
		// To the next tick, in one step (the first time from 10 ms past a
		// tick).
		if tick == 1 {
			clk.Advance(90 * time.Millisecond)
		} else {
			clk.Advance(100 * time.Millisecond)
		}
		waitFor(t, fmt.Sprintf("tick %d's transaction, the earlier ones in flight", tick), func() bool { n, _ := ledgerTxs(f); return n == tick })
	}

	// A backlog in CA: two full batches beside the three small ones (3 + 50
	// < 100 votes in flight), then the bound.
	only := []float64{1, 0, 0, 0, 0}
	// The backlog arrives at once (EnqueueWeighted), so CA's lane reads it as
	// a backlog while the clock stands still: a read of only its first votes,
	// as a pipeline of XADDs could give, came short of what it asked and put
	// the next read a tenth of a tick before the next tick, reckoned from a
	// clock the test may already have moved on (1 of 64 runs timed out here).
	votes = append(votes, EnqueueWeighted(t, rdb, len(votes), 150, "s", TestStates, only)...)
	waitFor(t, "two full batches of CA's backlog", func() bool { n, _ := ledgerTxs(f); return n == 5 })
	waitFor(t, "CA's lane holding a full batch", func() bool { return buffered("CA") == 50 })
	if held := w.lanes(t, "CA"); held != 50 {
		t.Fatalf("CA's lane decided to wait holding %d votes, want its full batch of 50 uncut", held)
	}
	if n, _ := ledgerTxs(f); n != 5 {
		t.Fatalf("%d transactions with CA's lane at its bound of 100 votes in flight, want 5", n)
	}
	hold.Store(false)
	f.release()
	WaitDrained(t, rdb, 10*time.Second)
	checkCountedOnce(t, f, rdb, votes)
}

// TestLanesSkipTicks: the lanes skip ticks (the cadence), all of them, so
// that a shared transaction carries several ticks' votes, up to MaxGap;
// every vote is still committed once. With Behind, they cut on a tick while
// nothing is in flight, and skip while a shared transaction has been in
// flight for Behind. At a low rate (below a quarter of ShareVotes a tick)
// they cut on every tick while the ledger keeps up, each transaction
// carrying a tick's votes, and skip once a shared transaction has been in
// flight for LedgerLag (the ledger lags).
func TestLanesSkipTicks(t *testing.T) {
	tick := 100 * time.Millisecond
	for _, c := range []struct {
		name    string
		cfg     Config
		slow    bool  // every transaction is held until the end
		perTick int   // votes enqueued before each tick
		txs     []int // transactions submitted after each tick
		votes   []int // votes of each transaction
	}{
		// Tick 1 cuts (nothing in flight); tick 2 is skipped (tick 1's
		// transaction in flight for Behind); tick 3 is MaxGap after tick 1.
		{"behind", Config{MaxGap: 2 * tick, Behind: tick}, true, 6 * len(TestStates), []int{1, 1, 2}, []int{30, 60}},
		{"low rate, fast ledger: every tick", Config{MaxGap: 3 * tick, LedgerLag: 3 * tick / 2}, false, 2 * len(TestStates), []int{1, 2, 3, 4, 5}, []int{10, 10, 10, 10, 10}},
		// Ticks 1 and 2 cut (tick 1's transaction in flight 100 ms at tick
		// 2, below Lag); at ticks 3 and 4 it has been in flight for Lag:
		// skipped; tick 5 is MaxGap after tick 2.
		{"low rate, slow ledger: lagging", Config{MaxGap: 3 * tick, LedgerLag: 3 * tick / 2}, true, 2 * len(TestStates), []int{1, 2, 2, 2, 3}, []int{10, 10, 30}},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := redistest.Start(t)
			rdb := srv.Client()
			f, clk := newFakeLedger(), newFakeClock()
			var hold atomic.Bool
			hold.Store(c.slow)
			f.plan = func(ballot.Batch, int) fault {
				if hold.Load() {
					return holdTx
				}
				return commitOK
			}
			clk.Advance(10 * time.Millisecond) // 10 ms past a tick
			cfg := c.cfg
			w := newWaits(clk)
			cfg.BatchSize, cfg.ShareVotes, cfg.Fill, cfg.Tick, cfg.Clock, cfg.observe = 50, 100, 50, tick, clk, w.observe
			b := startBatcher(t, cfg, srv.ClientAs(redisserver.UserBatcher), f)
			t.Cleanup(func() { hold.Store(false); f.release() }) // before the batcher's: it drains what is in flight
			buffered := func() float64 {
				n := 0.0
				for _, s := range TestStates {
					n += metricValue(t, b.metrics.buffered.WithLabelValues(s))
				}
				return n
			}
			var votes []ballot.Vote
			held, txs := 0, 0
			for i, want := range c.txs {
				votes = append(votes, EnqueueVotes(t, rdb, len(votes), c.perTick, "s")...)
				held += c.perTick
				waitFor(t, fmt.Sprintf("every lane holding its votes before tick %d (%d)", i+1, held), func() bool { return buffered() == float64(held) })
				if i == 0 {
					clk.Advance(90 * time.Millisecond) // to the tick
				} else {
					clk.Advance(tick)
				}
				waitFor(t, fmt.Sprintf("%d transactions after tick %d", want, i+1), func() bool { n, _ := ledgerTxs(f); return n == want })
				if want == txs {
					// Every lane has decided, woken by the tick, not to cut.
					kept := w.lanes(t, TestStates...)
					if n, _ := ledgerTxs(f); n != want || kept != held {
						t.Fatalf("tick %d, skipped: %d transactions, %d votes held; want %d and %d", i+1, n, kept, want, held)
					}
					continue
				}
				waitFor(t, fmt.Sprintf("the lanes holding nothing after tick %d", i+1), func() bool { return buffered() == 0 })
				held, txs = 0, want
			}
			hold.Store(false)
			f.release()
			WaitDrained(t, rdb, 10*time.Second)
			checkCountedOnce(t, f, rdb, votes)
			if n, _ := ledgerTxs(f); n != len(c.votes) || !slices.Equal(sharedVotes(f), c.votes) {
				t.Fatalf("%d transactions, shared ones of %v votes; want %v", n, sharedVotes(f), c.votes)
			}
		})
	}
}

// sharedVotes returns the votes committed by each of the fake ledger's
// shared transactions.
func sharedVotes(f *fakeLedger) []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]int, len(f.shared))
	for i, ids := range f.shared {
		for _, id := range ids {
			out[i] += f.records[id].Votes
		}
	}
	return out
}

// ledgerTxs returns the fake ledger's transactions submitted and the batch
// ids of those shared.
func ledgerTxs(f *fakeLedger) (int, [][]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.txs, slices.Clone(f.shared)
}
