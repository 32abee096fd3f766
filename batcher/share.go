package batcher

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/votechain/votechain/ballot"
)

// sharer gathers the batches the process's lanes cut into transactions
// shared by several states (CommitBatches): group commit across lanes, so
// that at low load, when every lane cuts a small batch, the ledger's
// per-transaction cost is paid once for many of them. It applies the cut
// policy to its queue of batches as a lane applies it to its votes: with no
// shared transaction in flight it sends what it holds at once; while some
// are, the queue grows until one finishes, until it holds fill votes, or
// until its oldest vote (as its lane read it) has waited maxWait. When the
// lanes cut on ticks it follows sharePolicy instead: a tick's batches go
// together once all of them are queued (lanes announce the batches they
// cut), or once the first has lingered a quarter tick. A
// transaction takes queued batches in order, at most one per state (a
// transaction does not read its own writes) and at most maxVotes votes
// (one larger batch goes alone).
//
// Only a batch's first submission is shared: each lane still journals,
// acknowledges and fences its own batch, and a retry (lost transaction,
// refusal, failure) goes alone as CommitBatch, so one bad batch holds up
// the others once at most. The chaincode is idempotent per batch id, so a
// batch committed by a shared transaction and submitted again alone is a
// no-op.
type sharer struct {
	b      *Batcher
	policy cutPolicy
	ticked *sharePolicy // when lanes cut on ticks: the sharer's policy instead

	mu        sync.Mutex
	queue     []*shareReq
	votes     int         // in queue
	inflight  int         // shared transactions in flight
	announced int         // batches cut (announce) and not yet queued (submit)
	sent      []time.Time // when each shared transaction in flight was sent
	timer     time.Time   // when a wake-up is set for (zero: none)
}

// shareReq is one batch waiting for a shared transaction.
type shareReq struct {
	batch  ballot.Batch
	oldest time.Time     // when its lane read its oldest vote
	queued time.Time     // when it was queued
	out    chan shareOut // buffered: the sharer never blocks on it
}

type shareOut struct {
	tx  batchTx
	err error
}

// batchTx is one batch's view of a submitted transaction.
type batchTx interface {
	TransactionID() string
	Wait(ctx context.Context) (ballot.Committed, error)
	gateway() int // gatewayOf the transaction
}

// submit queues batch b (whose oldest vote its lane read at oldest) for a
// shared transaction and returns its view of that transaction once
// submitted, or the submission's error. If ctx ends while b is still
// queued, b is withdrawn.
func (s *sharer) submit(ctx context.Context, b ballot.Batch, oldest time.Time) (batchTx, error) {
	r := &shareReq{batch: b, oldest: oldest, queued: s.b.clock.Now(), out: make(chan shareOut, 1)}
	s.mu.Lock()
	s.announced = max(0, s.announced-1)
	s.queue = append(s.queue, r)
	s.votes += len(b.Votes)
	s.kickLocked()
	s.mu.Unlock()
	select {
	case o := <-r.out:
		return o.tx, o.err
	case <-ctx.Done():
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, q := range s.queue {
		if q == r {
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			s.votes -= len(b.Votes)
			return nil, ctx.Err()
		}
	}
	if o := <-r.out; o.tx != nil { // taken just now: stop waiting for it at once
		o.tx.Wait(ctx)
	}
	return nil, ctx.Err()
}

// announce tells the sharer that n more batches (negative: fewer) were
// cut and will be queued by submit: while lanes cut on ticks it waits for
// them before sending. Each batch a lane cuts is announced once, and
// withdrawn if it fails before its submission.
func (s *sharer) announce(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.announced = max(0, s.announced+n)
	if n < 0 {
		s.kickLocked()
	}
}

// kickLocked sends every transaction the policy calls for now, and sets a
// wake-up for the next decision.
func (s *sharer) kickLocked() {
	for {
		now := s.b.clock.Now()
		oldest := time.Time{}
		for _, r := range s.queue {
			if oldest.IsZero() || r.oldest.Before(oldest) {
				oldest = r.oldest
			}
		}
		var n int
		var wake time.Time
		if s.ticked != nil {
			if send, w := s.ticked.decide(now, s.votes, s.firstQueuedLocked(), s.announced, s.inflight); send {
				n = s.votes
			} else {
				wake = w
			}
		} else {
			n, wake = s.policy.decide(now, laneState{pending: s.votes, oldest: oldest, inflight: s.inflight, slotFree: true})
		}
		if n == 0 {
			if !wake.IsZero() && (s.timer.IsZero() || wake.Before(s.timer)) {
				s.timer = wake
				go s.wakeAt(s.b.clock.TimerAt(wake).C(), wake)
			}
			return
		}
		group := s.takeLocked()
		for _, r := range group {
			s.b.metrics.stage.share.Observe(now.Sub(r.queued).Seconds())
		}
		s.inflight++
		s.sent = append(s.sent, now)
		go s.send(group, now)
	}
}

// firstQueuedLocked is when the longest-queued batch was queued.
func (s *sharer) firstQueuedLocked() time.Time {
	var first time.Time
	for _, r := range s.queue {
		if first.IsZero() || r.queued.Before(first) {
			first = r.queued
		}
	}
	return first
}

// wakeAt decides again at wake, when timer (set for it, under s.mu: the
// clock may move before this goroutine runs) fires.
func (s *sharer) wakeAt(timer <-chan time.Time, wake time.Time) {
	<-timer
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.timer.Equal(wake) {
		s.timer = time.Time{}
	}
	s.kickLocked()
}

// takeLocked removes the batches of the next transaction from the queue:
// the first, then in order those of other states while the votes stay
// within the policy's maxVotes.
func (s *sharer) takeLocked() []*shareReq {
	group := []*shareReq{s.queue[0]}
	votes := len(s.queue[0].batch.Votes)
	states := map[string]bool{s.queue[0].batch.State: true}
	rest := s.queue[:0]
	for _, r := range s.queue[1:] {
		if n := len(r.batch.Votes); !states[r.batch.State] && votes+n <= s.policy.maxVotes {
			group = append(group, r)
			votes += n
			states[r.batch.State] = true
			continue
		}
		rest = append(rest, r)
	}
	clear(s.queue[len(rest):])
	s.queue = rest
	s.votes -= votes
	return group
}

// send submits one transaction carrying group, hands each batch its view,
// and frees the in-flight slot when the transaction has committed, failed,
// or been given up by every batch.
func (s *sharer) send(group []*shareReq, at time.Time) {
	bs := make([]ballot.Batch, len(group))
	for i, r := range group {
		bs[i] = r.batch
	}
	// The transaction is every batch's in group, so no one lane's stop may
	// end it: it keeps the values of the lanes' commits (Run's context) but
	// not their cancellation, and is bounded by CommitTimeout alone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.b.commits), s.b.cfg.CommitTimeout)
	tx, err := s.b.submitTx(ctx, bs)
	if err != nil {
		cancel()
		s.finish(at)
		for _, r := range group {
			r.out <- shareOut{err: fmt.Errorf("shared transaction: %w", err)}
		}
		return
	}
	st := &sharedTx{tx: tx, done: make(chan struct{}), refs: len(group), cancel: cancel}
	go func() {
		defer s.finish(at)
		defer cancel()
		st.res, st.err = tx.Wait(ctx)
		close(st.done)
	}()
	for i, r := range group {
		r.out <- shareOut{tx: &sharedView{st: st, i: i}}
	}
}

// finish frees the in-flight slot of the transaction sent at at and
// decides again.
func (s *sharer) finish(at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inflight--
	if i := slices.IndexFunc(s.sent, at.Equal); i >= 0 {
		s.sent = slices.Delete(s.sent, i, i+1)
	}
	s.kickLocked()
}

// sharedTx is a shared transaction waited for once for all its batches.
type sharedTx struct {
	tx     Tx
	done   chan struct{} // closed when Wait returned
	res    []ballot.Committed
	err    error
	mu     sync.Mutex
	refs   int // views not done waiting
	cancel context.CancelFunc
}

// sharedView is batch i's view of a shared transaction.
type sharedView struct {
	st *sharedTx
	i  int
}

func (v *sharedView) TransactionID() string { return v.st.tx.TransactionID() }

func (v *sharedView) gateway() int { return gatewayOf(v.st.tx) }

// Wait returns the batch's outcome once the transaction's is known. When
// every batch has stopped waiting (each lane judges a lost transaction on
// its own), the wait for the transaction ends too.
func (v *sharedView) Wait(ctx context.Context) (ballot.Committed, error) {
	defer func() {
		v.st.mu.Lock()
		defer v.st.mu.Unlock()
		if v.st.refs--; v.st.refs == 0 {
			v.st.cancel()
		}
	}()
	select {
	case <-v.st.done:
		if v.st.err != nil {
			return ballot.Committed{}, v.st.err
		}
		return v.st.res[v.i], nil
	case <-ctx.Done():
		return ballot.Committed{}, fmt.Errorf("commit status of %s: %w", v.st.tx.TransactionID(), ctx.Err())
	}
}

// soloTx is the view of a transaction carrying one batch.
type soloTx struct{ Tx }

func (t soloTx) gateway() int { return gatewayOf(t.Tx) }

func (t soloTx) Wait(ctx context.Context) (ballot.Committed, error) {
	res, err := t.Tx.Wait(ctx)
	if err != nil {
		return ballot.Committed{}, err
	}
	return res[0], nil
}

// cadence applies the cadence policy once per tick for every lane of the
// process: the first lane to ask about a tick decides it, and the others
// follow that decision.
type cadence struct {
	policy cadencePolicy
	flying func() time.Time // when the oldest shared transaction in flight was sent
	read   atomic.Int64     // votes the lanes have read, in all

	mu       sync.Mutex
	decided  time.Time // the latest tick decided
	last     time.Time // the latest tick that cut
	readThen int64     // read when decided
	perTick  float64   // recent mean of the votes read per tick
	measured bool      // perTick holds a measurement
}

// latest returns the latest tick at or before now on which the lanes cut,
// deciding now's tick if no lane has yet.
func (c *cadence) latest(now time.Time) time.Time {
	t := now.Truncate(c.policy.tick)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !t.After(c.decided) {
		return c.last
	}
	read := c.read.Load()
	if !c.decided.IsZero() {
		ticks := max(1, int64(t.Sub(c.decided)/c.policy.tick))
		x := float64(read-c.readThen) / float64(ticks)
		if c.measured {
			c.perTick += meanWeight * (x - c.perTick)
		} else {
			c.perTick, c.measured = x, true
		}
	}
	c.decided, c.readThen = t, read
	since := int(min(t.Sub(c.last), c.policy.maxGap+c.policy.tick) / c.policy.tick)
	if c.last.IsZero() || c.policy.cuts(t, cadenceState{since: since, perTick: c.perTick, flying: c.flying()}) {
		c.last = t
	}
	return c.last
}

// oldestSent is when the oldest shared transaction in flight was
// sent (zero: none).
func (s *sharer) oldestSent() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first time.Time
	for _, at := range s.sent {
		if first.IsZero() || at.Before(first) {
			first = at
		}
	}
	return first
}
