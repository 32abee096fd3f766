package dedup

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// fakeCalls stands in for a lane's script calls: each call reports its
// batch on started and answers it (accepted) once release is sent.
type fakeCalls struct {
	started  chan []*pending
	release  chan struct{}
	inflight atomic.Int32
	peak     atomic.Int32
}

func (f *fakeCalls) run(batch []*pending) {
	n := f.inflight.Add(1)
	for p := f.peak.Load(); n > p && !f.peak.CompareAndSwap(p, n); p = f.peak.Load() {
	}
	f.started <- slices.Clone(batch)
	<-f.release
	f.inflight.Add(-1)
	for _, p := range batch {
		p.res = Result{Outcome: Accepted}
		close(p.done)
	}
}

// newGroupLane returns a Deduper (no Redis) with one lane whose calls are
// fake.
func newGroupLane(t *testing.T, cfg Config) (*Deduper, *lane, *fakeCalls) {
	t.Helper()
	d := New(nil, nil, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	f := &fakeCalls{started: make(chan []*pending), release: make(chan struct{})}
	l := d.startLane("CA", f.run)
	d.lanes["CA"] = l
	t.Cleanup(d.Close)
	return d, l, f
}

// busyLane is newGroupLane with a call of one vote (first) in flight.
func busyLane(t *testing.T, cfg Config) (d *Deduper, l *lane, f *fakeCalls, first []*pending) {
	t.Helper()
	d, l, f = newGroupLane(t, cfg)
	first = send(t, l, 1)
	wantBatch(t, f, 1)
	return d, l, f, first
}

// send queues n attempts on l.
func send(t *testing.T, l *lane, n int) []*pending {
	t.Helper()
	ps := make([]*pending, n)
	for i := range ps {
		ps[i] = &pending{ctx: context.Background(), done: make(chan struct{})}
		if err := l.enqueue(context.Background(), ps[i]); err != nil {
			t.Fatal(err)
		}
	}
	return ps
}

// drained waits until the lane's workers have taken everything queued,
// for up to 5 s.
func drained(t *testing.T, l *lane) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); len(l.queue) > 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d attempts still queued after 5 s", len(l.queue))
		}
	}
}

func answered(t *testing.T, ps []*pending) {
	t.Helper()
	for i, p := range ps {
		<-p.done
		if p.err != nil || p.res.Outcome != Accepted {
			t.Fatalf("attempt %d: %+v, %v", i, p.res, p.err)
		}
	}
}

func wantBatch(t *testing.T, f *fakeCalls, n int) {
	t.Helper()
	if b := <-f.started; len(b) != n {
		t.Fatalf("call with %d votes, want %d", len(b), n)
	}
}

func noCall(t *testing.T, f *fakeCalls) {
	t.Helper()
	select {
	case b := <-f.started:
		t.Fatalf("a call with %d votes started while a small batch should wait", len(b))
	default:
	}
}

func TestGroupIdleGoesAtOnce(t *testing.T) {
	_, l, f := newGroupLane(t, Config{})
	ps := send(t, l, 1)
	wantBatch(t, f, 1) // nothing in flight: no waiting for more
	f.release <- struct{}{}
	answered(t, ps)
}

func TestGroupWaitsForCallInFlight(t *testing.T) {
	_, l, f, first := busyLane(t, Config{Workers: 4, GroupBatch: 32})
	rest := send(t, l, 10)
	drained(t, l)
	noCall(t, f) // 10 < GroupBatch: they wait for the first call
	f.release <- struct{}{}
	wantBatch(t, f, 10) // then go in one call
	f.release <- struct{}{}
	answered(t, append(first, rest...))
	if p := f.peak.Load(); p != 1 {
		t.Fatalf("%d calls at once, want 1", p)
	}
}

func TestGroupFullBatchRunsAlongside(t *testing.T) {
	_, l, f, first := busyLane(t, Config{Workers: 2, GroupBatch: 4})
	full := send(t, l, 4)
	wantBatch(t, f, 4) // GroupBatch reached: no waiting for the first call
	if p := f.peak.Load(); p != 2 {
		t.Fatalf("%d calls at once, want 2", p)
	}
	rest := send(t, l, 3) // both workers busy: these wait
	noCall(t, f)
	f.release <- struct{}{}
	f.release <- struct{}{}
	wantBatch(t, f, 3)
	f.release <- struct{}{}
	answered(t, slices.Concat(first, full, rest))
}

func TestGroupCloseRunsGatheredBatch(t *testing.T) {
	d, l, f, first := busyLane(t, Config{Workers: 2})
	rest := send(t, l, 2)
	drained(t, l)
	closed := make(chan struct{})
	go func() { d.Close(); close(closed) }()
	wantBatch(t, f, 2) // the batch being gathered still gets its call
	f.release <- struct{}{}
	f.release <- struct{}{}
	<-closed
	answered(t, append(first, rest...))
	if err := l.enqueue(context.Background(), &pending{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("enqueue after Close: %v, want ErrClosed", err)
	}
}

// paced returns arrivals that saw n votes gap apart from t0, and the last
// one's time.
func paced(t0 time.Time, n int, gap, linger time.Duration) (*arrivals, time.Time) {
	var a arrivals
	t := t0
	for i := range n {
		t = t0.Add(time.Duration(i) * gap)
		a.observe(t, linger)
	}
	return &a, t
}

func TestLingerUnderLoad(t *testing.T) {
	const linger = 2 * time.Millisecond
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	a, last := paced(t0, 100, 200*time.Microsecond, linger) // 5,000 votes/s
	until, ok := a.lingerUntil(last, last, linger)
	if !ok || !until.Equal(last.Add(linger)) {
		t.Fatalf("5,000 votes/s: lingerUntil = %v, %v; want to wait until %v", until, ok, last.Add(linger))
	}
	// Near the end of the linger the next vote is not expected in time.
	if _, ok := a.lingerUntil(last, last.Add(linger-100*time.Microsecond), linger); ok {
		t.Fatal("waits although the next vote is expected after the linger")
	}
	if _, ok := a.lingerUntil(last, last, -1); ok {
		t.Fatal("waits with lingering off")
	}
}

func TestLingerNeverAtIdle(t *testing.T) {
	const linger = 2 * time.Millisecond
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	var first arrivals
	first.observe(t0, linger)
	if _, ok := first.lingerUntil(t0, t0, linger); ok {
		t.Fatal("the lane's first vote waits")
	}
	slow, last := paced(t0, 100, 5*time.Millisecond, linger) // 200 votes/s
	if _, ok := slow.lingerUntil(last, last, linger); ok {
		t.Fatal("waits at 200 votes/s, a vote every 5 ms")
	}
	// A lone vote after a pause in a busy stream goes at once.
	busy, last := paced(t0, 100, 100*time.Microsecond, linger)
	lone := last.Add(time.Second)
	busy.observe(lone, linger)
	if _, ok := busy.lingerUntil(lone, lone, linger); ok {
		t.Fatal("a vote after a 1 s pause waits")
	}
	// The pace is back after a few votes close together.
	for i := range 40 {
		busy.observe(lone.Add(time.Duration(i+1)*100*time.Microsecond), linger)
	}
	now := lone.Add(40 * 100 * time.Microsecond)
	if _, ok := busy.lingerUntil(now, now, linger); !ok {
		t.Fatal("does not wait once votes come every 0.1 ms again")
	}
}

func TestLingerOutOfOrderArrivals(t *testing.T) {
	const linger = 2 * time.Millisecond
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	a, last := paced(t0, 50, 100*time.Microsecond, linger)
	a.observe(last.Add(-50*time.Microsecond), linger) // queued by a slower goroutine
	if !a.last.Equal(last) || a.latest != 0 {
		t.Fatalf("after an earlier stamp: last %v latest %v, want %v and 0", a.last, a.latest, last)
	}
}

// TestGroupLingers: votes that come close together keep a batch waiting
// after the call in flight ends, until it holds GroupBatch votes (the
// linger, an hour here, never runs out; 20 votes µs apart bring the pace
// estimate, which a lane starts at 8 lingers, well under it).
func TestGroupLingers(t *testing.T) {
	_, l, f, first := busyLane(t, Config{Workers: 2, GroupBatch: 32, Linger: time.Hour})
	rest := send(t, l, 20)
	drained(t, l)
	f.release <- struct{}{}
	answered(t, first)
	noCall(t, f) // the 20 wait for more
	rest = append(rest, send(t, l, 12)...)
	wantBatch(t, f, 32)
	f.release <- struct{}{}
	answered(t, rest)
}

// TestRoomInTheQueueIsBounded: a vote finding its lane's queue full waits
// for room up to CallTimeout, then fails with ErrBusy (503 overloaded),
// however long its context lasts, so MaxAcceptTime holds; Abort ends the
// wait at once with ErrClosed. The wait was bounded by the context alone.
func TestRoomInTheQueueIsBounded(t *testing.T) {
	d, l, f, first := busyLane(t, Config{Workers: 1, MaxBatch: 1, CallTimeout: 50 * time.Millisecond})
	unholdOnFailure(t, f)
	queued := send(t, l, 1) // fills the queue (1 worker × 1 vote)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	err := l.enqueue(ctx, &pending{ctx: ctx, done: make(chan struct{})})
	if took := time.Since(start); !errors.Is(err, ErrBusy) || took < 50*time.Millisecond || took > 5*time.Second {
		t.Fatalf("enqueue on a full queue: %v after %v; want ErrBusy after ~50ms", err, took)
	}
	waited := make(chan error, 1)
	go func() { waited <- l.enqueue(ctx, &pending{ctx: ctx, done: make(chan struct{})}) }()
	d.Abort()
	if err := <-waited; !errors.Is(err, ErrClosed) {
		t.Fatalf("enqueue waiting for room as Abort came: %v; want ErrClosed", err)
	}
	f.release <- struct{}{}
	answered(t, first)
	select {
	case <-queued[0].done: // dropped, not called: the Deduper was aborted
	case <-time.After(5 * time.Second):
		t.Fatal("vote queued before Abort: no answer 5 s after the call in flight ended")
	}
	if !errors.Is(queued[0].err, ErrClosed) {
		t.Fatalf("vote queued before Abort, gathered after: %v; want ErrClosed", queued[0].err)
	}
	noCall(t, f)
}

// TestRoomWaitRidesOutAFailover: with replicas (or on a Cluster), where a
// call waits out a failover (FailoverWait), a vote finding its lane's
// queue full waits for room as long as a call may take (here 300 ms +
// 100 ms + 50 ms + 50 ms), not CallTimeout (50 ms): the votes after the
// first queue-full get through a failover too. It waited CallTimeout.
func TestRoomWaitRidesOutAFailover(t *testing.T) {
	cfg := Config{Workers: 1, MaxBatch: 1, CallTimeout: 50 * time.Millisecond, Replicas: 1, FailoverWait: 300 * time.Millisecond, ReplicaTimeout: 50 * time.Millisecond}
	_, l, f, first := busyLane(t, cfg)
	unholdOnFailure(t, f)
	queued := send(t, l, 1) // fills the queue (1 worker × 1 vote)
	start := time.Now()
	err := l.enqueue(context.Background(), &pending{ctx: context.Background(), done: make(chan struct{})})
	if took := time.Since(start); !errors.Is(err, ErrBusy) || took < 500*time.Millisecond {
		t.Fatalf("enqueue on a full queue with replicas: %v after %v; want ErrBusy after 500ms (a call's longest)", err, took)
	}
	f.release <- struct{}{}
	wantBatch(t, f, 1)
	f.release <- struct{}{}
	answered(t, append(first, queued...))
}

// TestEnqueueAfterAbortIsRefused: a vote reaching its lane after Abort
// (past Accept's own check as Abort came) is refused with ErrClosed, not
// stored, rather than queued and answered ErrAborted ("may have been
// kept") though no call would take it. It was queued.
func TestEnqueueAfterAbortIsRefused(t *testing.T) {
	d, l, f := newGroupLane(t, Config{})
	unholdOnFailure(t, f)
	d.Abort()
	if err := l.enqueue(context.Background(), &pending{ctx: context.Background(), done: make(chan struct{})}); !errors.Is(err, ErrClosed) {
		t.Fatalf("enqueue after Abort, room in the queue: %v; want ErrClosed", err)
	}
	if _, err := l.submit(context.Background(), Attempt{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("submit after Abort: %v; want ErrClosed (not stored)", err)
	}
}

// TestQueuedVoteWaitsTwoCalls: a vote queued behind a full batch, in a
// batch of its own under GroupBatch, waits through two calls before its
// own: the one in flight when it was queued, then the full batch's,
// started after it was queued, which its small batch waits for (group
// commit). MaxAcceptTime once counted one call before the vote's; its
// queuedWait counts both (TestMaxAcceptTime). The calls here are held
// until released, so the order shows whatever the machine's speed.
func TestQueuedVoteWaitsTwoCalls(t *testing.T) {
	type heldCall struct {
		votes   int
		release chan struct{}
	}
	cfg := Config{Workers: 2, MaxBatch: 2, GroupBatch: 2, Linger: -1}
	d := New(nil, nil, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	calls := make(chan heldCall, 8)
	l := d.startLane("CA", func(batch []*pending) {
		c := heldCall{votes: len(batch), release: make(chan struct{})}
		calls <- c
		<-c.release
		for _, p := range batch {
			p.res = Result{Outcome: Accepted}
			close(p.done)
		}
	})
	d.lanes["CA"] = l
	var held []heldCall
	t.Cleanup(func() {
		for _, c := range held {
			close(c.release)
		}
		d.Close()
	})
	call := func(want int) heldCall {
		t.Helper()
		select {
		case c := <-calls:
			if c.votes != want {
				t.Fatalf("call with %d votes, want %d", c.votes, want)
			}
			return c
		case <-time.After(10 * time.Second):
			t.Fatalf("no call of %d votes within 10 s", want)
		}
		return heldCall{}
	}
	release := func(c heldCall) { close(c.release) }
	send(t, l, 1)
	first := call(1) // worker 1 busy
	send(t, l, 2)
	second := call(2) // worker 2 busy
	send(t, l, 2)     // a full batch, queued ahead of the vote
	vote := send(t, l, 1)
	release(first)
	full := call(2) // the full batch's call, started after the vote was queued
	held = append(held, full)
	release(second) // worker 2 takes the vote, a batch under GroupBatch
	select {
	case c := <-calls:
		held = append(held, c)
		t.Fatalf("a call of %d votes started while the full batch's call was in flight; want the vote's small batch to wait for it", c.votes)
	case <-time.After(200 * time.Millisecond):
	}
	held = held[:0]
	release(full)
	own := call(1) // the vote's own, after two calls
	release(own)
	select {
	case <-vote[0].done:
	case <-time.After(10 * time.Second):
		t.Fatal("the vote has no answer 10 s after its call was released")
	}
}

// TestAbortEndsAcceptsAndCalls: Abort makes an Accept whose vote is queued
// return at once with ErrAborted (it may be stored), though the lane's
// call in flight still runs, and starts no call after it: the votes
// queued meanwhile are dropped with ErrClosed once that call ends; a
// later Accept fails with ErrClosed. Without it a stop that gave up
// waiting left Accepts whose calls could store votes after the closing
// round.
func TestAbortEndsAcceptsAndCalls(t *testing.T) {
	d, l, f, first := busyLane(t, Config{Workers: 1})
	unholdOnFailure(t, f)
	rest := send(t, l, 2) // queued: the lane's one worker is in the call
	submitted := make(chan error, 1)
	go func() {
		_, err := l.submit(context.Background(), Attempt{})
		submitted <- err
	}()
	for len(l.queue) < 3 { // the submitted vote is queued
		time.Sleep(time.Millisecond)
	}
	d.Abort()
	wantPrompt(t, submitted, ErrAborted, "Accept queued as Abort came")
	f.release <- struct{}{} // the call in flight ends
	answered(t, first)
	for i, p := range rest {
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			t.Fatalf("vote %d queued before Abort: no answer 5 s after the call in flight ended (a call started?)", i)
		}
		if !errors.Is(p.err, ErrClosed) {
			t.Fatalf("vote %d queued before Abort: %v; want ErrClosed (no call)", i, p.err)
		}
	}
	noCall(t, f)
	if _, err := d.Accept(context.Background(), Attempt{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Accept after Abort: %v; want ErrClosed", err)
	}
}

// wantPrompt waits up to 5 s for the error of what (an Accept or submit
// as Abort came) on got, and wants it to be want.
func wantPrompt(t *testing.T, got <-chan error, want error, what string) {
	t.Helper()
	select {
	case err := <-got:
		if !errors.Is(err, want) {
			t.Fatalf("%s: %v; want %v", what, err, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s has not returned 5 s later", what)
	}
}

// unholdOnFailure lets every fake call end, after a failed test, before
// Close waits for them: a test stopped with a call held would hang.
func unholdOnFailure(t *testing.T, f *fakeCalls) {
	t.Cleanup(func() {
		if t.Failed() {
			close(f.release)
			go func() {
				for range f.started {
				}
			}()
		}
	})
}
