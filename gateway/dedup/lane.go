package dedup

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// laneKey names the lane of a partition's votes: the partition on a Redis
// Cluster (a call's keys are in one slot), "" (one lane for all) otherwise.
func (d *Deduper) laneKey(partition string) string {
	if _, ok := d.rdb.(*redis.ClusterClient); ok {
		return partition
	}
	return ""
}

// lane returns the batching lane named key, starting it on first use.
func (d *Deduper) lane(key string) (*lane, error) {
	d.mu.Lock()
	l, ok := d.lanes[key]
	d.mu.Unlock()
	if ok {
		return l, nil
	}
	d.sendMu.RLock()
	defer d.sendMu.RUnlock()
	if d.closed {
		return nil, ErrClosed
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if l, ok := d.lanes[key]; ok {
		return l, nil
	}
	l = d.startLane(key, nil)
	d.lanes[key] = l
	return l, nil
}

// startLane returns a new lane named key with its workers running, whose
// calls are made by run (nil: lane.run, the script).
func (d *Deduper) startLane(key string, run func([]*pending)) *lane {
	l := &lane{d: d, key: key, queue: make(chan *pending, d.cfg.MaxBatch*d.cfg.Workers), ended: make(chan struct{}, 1)}
	if l.call = run; run == nil {
		l.call = l.run
	}
	for range d.cfg.Workers {
		d.wg.Add(1)
		go func() { defer d.wg.Done(); l.work() }()
	}
	return l
}

// pending is an attempt waiting in a lane for its script call.
type pending struct {
	ctx     context.Context
	attempt Attempt
	at      time.Time // when it was queued
	done    chan struct{}
	res     Result
	err     error
}

// lane coalesces submissions into script calls: of every partition, or of
// one (key) on a Redis Cluster.
type lane struct {
	d     *Deduper
	key   string
	queue chan *pending
	call  func([]*pending) // runs a batch's call and answers its attempts

	gathering sync.Mutex    // one worker gathers a batch at a time
	arrivals  arrivals      // the votes' pace (guarded by gathering)
	inflight  atomic.Int32  // calls running
	ended     chan struct{} // a call ended (capacity 1: one gatherer waits)
}

// submit queues a and waits for its call's answer: ErrBusy if the queue
// has no room within the longest call (Deduper.roomWait), ErrClosed if
// Abort came before a was queued, ErrAborted if after.
func (l *lane) submit(ctx context.Context, a Attempt) (Result, error) {
	p := &pending{ctx: ctx, attempt: a, done: make(chan struct{})}
	if err := l.enqueue(ctx, p); err != nil {
		return Result{}, err
	}
	// Once queued the attempt may be written: wait for the answer (bounded by
	// the call timeout) rather than for ctx, so the outcome is always known,
	// unless the Deduper was aborted.
	select {
	case <-p.done:
		return p.res, p.err
	case <-l.d.stop.Done():
	}
	select {
	case <-p.done: // answered as Abort came
		return p.res, p.err
	default:
		return Result{}, fmt.Errorf("%w: lane %q", ErrAborted, l.key)
	}
}

// enqueue puts p in the lane's queue, waiting for room up to the longest
// call (Deduper.roomWait: CallTimeout, or a failover's wait on a Cluster
// or with replicas; then ErrBusy), for as long as ctx lasts and the
// Deduper is not aborted (then ErrClosed, as after Abort: a vote queued
// then would get no call): so an Accept's wait for its call is bounded
// (Config.MaxAcceptTime), and a vote not let in gets a prompt refusal.
func (l *lane) enqueue(ctx context.Context, p *pending) error {
	l.d.sendMu.RLock()
	defer l.d.sendMu.RUnlock()
	if l.d.closed {
		return ErrClosed
	}
	select {
	case <-l.d.stop.Done():
		return ErrClosed
	default:
	}
	p.at = time.Now()
	select {
	case l.queue <- p:
		return nil
	default: // full: wait, within bounds (no timer when there is room)
	}
	room := time.NewTimer(l.d.roomWait)
	defer room.Stop()
	select {
	case l.queue <- p:
		return nil
	case <-room.C:
		return fmt.Errorf("%w: lane %q had no room within %s", ErrBusy, l.key, l.d.roomWait)
	case <-l.d.stop.Done():
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("dedup: waiting for a worker of lane %q: %w", l.key, ctx.Err())
	}
}

// work gathers batches and runs one call for each, until the queue closes.
func (l *lane) work() {
	batch := make([]*pending, 0, l.d.cfg.MaxBatch)
	for {
		var open bool
		batch, open = l.gather(batch[:0])
		if len(batch) > 0 {
			if l.d.stop.Err() != nil {
				l.refuse(batch)
			} else {
				l.call(batch)
			}
			l.inflight.Add(-1)
			select {
			case l.ended <- struct{}{}:
			default: // a wake-up is pending already
			}
		}
		if !open {
			return
		}
	}
}

// refuse answers every attempt of batch ErrClosed, without a call: the
// Deduper was aborted (their submit returned ErrAborted already).
func (l *lane) refuse(batch []*pending) {
	for _, p := range batch {
		p.err = ErrClosed
		close(p.done)
	}
}

// gather waits for a vote, then takes whatever is waiting (up to MaxBatch)
// and, while the batch is under GroupBatch, keeps taking votes: until the
// call in flight ends, if there is one, then while the arrivals say another
// vote comes before the batch's linger ends (arrivals.lingerUntil). It
// counts the batch's call as in flight before it lets the next worker
// gather. open is false once the queue is closed.
func (l *lane) gather(batch []*pending) (_ []*pending, open bool) {
	l.gathering.Lock()
	defer l.gathering.Unlock()
	defer func() {
		if len(batch) > 0 {
			l.inflight.Add(1)
		}
	}()
	first, open := <-l.queue
	if !open {
		return batch, false
	}
	batch = l.admit(batch, first)
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for len(batch) < l.d.cfg.MaxBatch {
		var expired <-chan time.Time // nil: wait for the call in flight
		select {
		case p, ok := <-l.queue:
			if !ok {
				return batch, false
			}
			batch = l.admit(batch, p)
			continue
		default:
		}
		if len(batch) >= l.d.cfg.GroupBatch {
			break
		}
		if l.inflight.Load() == 0 {
			now := time.Now()
			until, ok := l.arrivals.lingerUntil(first.at, now, l.d.cfg.Linger)
			if !ok {
				break
			}
			if timer == nil {
				timer = time.NewTimer(until.Sub(now))
			} else {
				timer.Reset(until.Sub(now))
			}
			expired = timer.C
		}
		select {
		case p, ok := <-l.queue:
			if !ok {
				return batch, false
			}
			batch = l.admit(batch, p)
		case <-l.ended: // recheck what is in flight
		case <-expired:
			return batch, true
		}
	}
	return batch, true
}

// admit counts p's arrival (for lingering) and adds it to batch.
func (l *lane) admit(batch []*pending, p *pending) []*pending {
	l.arrivals.observe(p.at, l.d.cfg.Linger)
	return append(batch, p)
}

// arrivals tracks the pace of a lane's votes, for lingering: a smoothed gap
// between consecutive arrivals and the latest gap.
type arrivals struct {
	last   time.Time     // the latest arrival
	gap    time.Duration // the gaps' moving average (weight 1/8 for the newest)
	latest time.Duration // the latest gap
}

// observe records an arrival at t. A gap counts as at most 8 lingers, so one
// idle pause lifts the average to about a linger at once.
func (a *arrivals) observe(t time.Time, linger time.Duration) {
	if a.last.IsZero() {
		a.last, a.gap, a.latest = t, 8*linger, 8*linger
		return
	}
	g := min(max(t.Sub(a.last), 0), 8*linger)
	if t.After(a.last) {
		a.last = t
	}
	a.latest = g
	a.gap += (g - a.gap) / 8
}

// lingerUntil says whether a batch whose first vote arrived at first
// should wait, at now, for another vote, and until when: only if the next
// vote is expected (after the larger of the average and the latest gap,
// so a vote after a pause goes at once) before first+linger.
func (a *arrivals) lingerUntil(first, now time.Time, linger time.Duration) (time.Time, bool) {
	until := first.Add(linger)
	if linger <= 0 || !now.Add(max(a.gap, a.latest)).Before(until) {
		return time.Time{}, false
	}
	return until, true
}

// run performs one "submit" call for batch, skipping attempts whose caller
// gave up before the call, and hands every attempt its answer.
func (l *lane) run(batch []*pending) {
	live := batch[:0:0]
	for _, p := range batch {
		if err := p.ctx.Err(); err != nil {
			p.err = fmt.Errorf("dedup: gave up before the call: %w", err)
			close(p.done)
			continue
		}
		live = append(live, p)
	}
	if len(live) == 0 {
		return
	}
	// Not any attempt's ctx: the call carries several callers' votes, and
	// once sent the script may have written them, so each caller waits for
	// its answer (submit); the Deduper's timeouts bound it (CallTimeout, or
	// with replicas or a Cluster tries of CallTimeout+ReplicaTimeout within
	// FailoverWait), and Abort ends it (no further try).
	results, err := l.d.call(l.d.stop, "submit", live)
	err = l.d.cut(err)
	for i, p := range live {
		if err != nil {
			p.err = err
		} else {
			p.res = results[i]
		}
		close(p.done)
	}
}
