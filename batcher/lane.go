package batcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
)

// lane moves one partition's votes from its stream to the ledger while this
// process holds the partition's lease.
type lane struct {
	b     *Batcher
	store *store
	lease string
	log   *slog.Logger

	inflight atomic.Int32  // the lane's batches in flight, each counted by Batcher.slotCost
	floor    floor         // below it every entry of the stream is settled
	finished chan struct{} // signalled (without blocking) when one finishes
	wg       sync.WaitGroup
	fenced   chan struct{} // closed when the lane must stop: its lease is lost, or Redis failed under it
	fenceOne sync.Once
	stopErr  error     // why fenced was closed
	lostOne  sync.Once // the lease's loss is counted once, whoever finds it first

	// stop ends the retries of the lane's batches in flight (their journal
	// keeps them for the lane's next owner): when the lane is fenced or
	// stopped for good (handed over, its lease lost: batches), not when
	// Run drains, whose time up ends them through Batcher.commits.
	stop        context.Context
	stopBatches context.CancelFunc

	skew castSkew // the lane's episode of votes cast ahead of the batcher's clock (awaitCastAt)
}

// newLane prepares the lane of partition under lease; batches ends the
// retries of its batches in flight (lane.stop), and so does its fence.
func (b *Batcher) newLane(partition, lease string, batches context.Context) *lane {
	stop, stopBatches := context.WithCancel(batches)
	return &lane{
		b:           b,
		store:       &store{rdb: b.rdb, partition: partition, replicas: b.cfg.Replicas, waitFor: b.cfg.ReplicaTimeout},
		lease:       lease,
		log:         b.log.With("partition", partition),
		finished:    make(chan struct{}, 1),
		fenced:      make(chan struct{}),
		stop:        stop,
		stopBatches: stopBatches,
	}
}

func (l *lane) partition() string { return l.store.partition }

// pending is what a lane has read and not yet cut.
type pending struct {
	entries []Entry
	oldest  time.Time // when the oldest entry was read
}

// Entry is one accepted vote read from a partition's stream.
type Entry struct {
	StreamID string // Redis stream entry id, acknowledged after commit
	Vote     ballot.Vote
	read     time.Time // when the lane read it
}

// add appends entries read at now.
func (p *pending) add(now time.Time, es []Entry) {
	if len(p.entries) == 0 && len(es) > 0 {
		p.oldest = now
	}
	for i := range es {
		es[i].read = now
	}
	p.entries = append(p.entries, es...)
}

// queued is how long ago, at now, the stream entry id was added (the
// vote's 202); 0 if the id holds no time.
func queued(now time.Time, id string) time.Duration {
	at, err := votequeue.EntryTime(id)
	if err != nil {
		return 0
	}
	return max(0, now.Sub(at))
}

// observeRead records how long entries read at now waited in the stream.
func (l *lane) observeRead(now time.Time, es []Entry) {
	for _, e := range es {
		l.b.metrics.stage.queue.Observe(queued(now, e.StreamID).Seconds())
	}
}

// take removes the n oldest entries; the rest count as read at now.
func (p *pending) take(now time.Time, n int) []Entry {
	out := append([]Entry(nil), p.entries[:n]...)
	p.entries = append(p.entries[:0], p.entries[n:]...)
	p.oldest = now
	return out
}

// run resubmits journaled batches, then reads the stream from its start
// (where entries a previous owner read but never settled still are) and
// cuts and submits batches until ctx ends or the lease is lost. It returns after every batch in flight has finished.
func (l *lane) run(ctx context.Context) error {
	defer l.wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-l.fenced:
			cancel()
		case <-ctx.Done():
		}
	}()

	journaled, err := l.resubmitJournal(ctx)
	if err != nil {
		return err
	}
	l.wg.Wait() // journaled batches first: their entries are deleted once settled
	select {
	case <-l.fenced: // one could not be settled: the next owner resubmits it
		return l.stopErr
	default:
	}
	var p pending
	// Read the stream from its start, where whatever a previous owner read
	// and never settled still is, leaving out the entries of journaled
	// batches (settled by now, or, if one could not be, left to the lane's
	// next owner with its journal).
	reads := make(chan []Entry)
	room := make(chan int, 1)
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		l.readLoop(ctx, journaled, room, reads)
	}()
	err = l.cutLoop(ctx, &p, room, reads)
	cancel()
	<-readerDone
	if err != nil {
		return err
	}
	select {
	case <-l.fenced:
		// Entries read but not cut stay in the stream, for the next owner.
		return l.stopErr
	default:
	}
	// Graceful stop: what was cut is committed too, not left to a takeover.
	bg := context.WithoutCancel(ctx)
	for len(p.entries) > 0 {
		n := min(len(p.entries), l.b.cfg.BatchSize)
		if err := l.b.inflight.acquire(bg, l.b.slotCost(n), l.partition()); err != nil {
			return err
		}
		if err := l.submitNew(bg, p.take(l.b.clock.Now(), n)); err != nil {
			return err
		}
	}
	return nil
}

// cutLoop applies the cut policy until ctx ends: it cuts when the policy
// says so, and otherwise waits for votes, a finished transaction, a freed
// process slot or the policy's wake-up time.
func (l *lane) cutLoop(ctx context.Context, p *pending, room chan<- int, reads <-chan []Entry) error {
	if o := l.b.cfg.observe; o != nil {
		defer o(waitPoint{kind: "lane", id: l.partition(), returned: true})
	}
	clock := l.b.clock
	asked := false         // the reader has been told it may read
	askedFor := 0          // how many votes it was told
	var readAt time.Time   // no read asked before this (cutPolicy.nextRead)
	drained := false       // the last read emptied the stream
	var askedAt time.Time  // when the reader was last told
	paced := false         // ... at the instant nextRead set
	var timer Timer        // made at the first wait for a time, then reset
	var timerSet time.Time // what timer is set for (zero: stopped, or its firing received)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		now := clock.Now()
		freed := l.b.inflight.released() // before the check, so no release is missed
		slotFree := l.b.inflight.free()
		var cutTick time.Time
		if l.b.cadence != nil && len(p.entries) > 0 {
			cutTick = l.b.cadence.latest(now)
		}
		n, wake := l.b.cut.decide(now, laneState{
			pending: len(p.entries), oldest: p.oldest, inflight: int(l.inflight.Load()), slotFree: slotFree, drained: drained, cutTick: cutTick,
		})
		if n > 0 {
			if l.b.inflight.tryAcquire(l.b.slotCost(n)) {
				last := p.entries[n-1].StreamID
				if err := l.submitNew(ctx, p.take(now, n)); err != nil {
					return err
				}
				l.hold(p, last)
				continue
			}
			slotFree = false // another lane took it
		}
		if r := l.b.cut.room(len(p.entries)); r > 0 && !asked {
			if now.Before(readAt) {
				if wake.IsZero() || readAt.Before(wake) {
					wake = readAt
				}
			} else {
				room <- r
				asked, askedFor, askedAt, paced = true, r, now, !readAt.IsZero()
			}
		}
		if !wake.Equal(timerSet) {
			// Set for wake itself, not for the wait from now: the clock
			// may have moved since.
			switch {
			case wake.IsZero():
				timer.Stop()
			case timer == nil:
				timer = clock.TimerAt(wake)
			default:
				timer.ResetAt(wake)
			}
			timerSet = wake
		}
		var fire <-chan time.Time
		if !timerSet.IsZero() {
			fire = timer.C()
		}
		if slotFree {
			freed = nil
		}
		l.b.metrics.buffered.WithLabelValues(l.partition()).Set(float64(len(p.entries)))
		if o := l.b.cfg.observe; o != nil {
			o(waitPoint{kind: "lane", id: l.partition(), wake: wake, events: []<-chan struct{}{freed, ctx.Done()}, pending: len(p.entries)})
		}
		select {
		case es := <-reads:
			asked = false
			now := clock.Now()
			p.add(l.b.cut.readTime(askedAt, now, paced), es)
			if l.b.cadence != nil {
				l.b.cadence.read.Add(int64(len(es)))
			}
			l.hold(p, "")
			l.observeRead(now, es)
			readAt, drained = l.b.cut.nextRead(now, len(es), askedFor), len(es) < askedFor
		case <-l.finished:
		case <-freed:
		case <-fire:
			timerSet = time.Time{}
		case <-ctx.Done():
			return nil
		}
	}
}

// hold tells the floor what the lane holds read and not in a batch: its
// pending entries, or, with none, nothing up to last, the last one cut.
func (l *lane) hold(p *pending, last string) {
	if len(p.entries) > 0 {
		l.floor.hold(p.entries[0].StreamID, "")
		return
	}
	l.floor.hold("", last)
}

// readLoop reads the stream from its start, up to the number of votes it
// is told on room at a time, blocking in Redis until some arrive, and hands
// them over on reads, leaving out the entries in skip (those of journaled
// batches). Votes it holds when ctx ends stay in the stream for the next
// owner.
func (l *lane) readLoop(ctx context.Context, skip map[string]bool, room <-chan int, reads chan<- []Entry) {
	after := "0-0"
	for failures := 0; ; {
		var n int
		select {
		case n = <-room:
		case <-ctx.Done():
			return
		}
		for {
			msgs, err := l.store.read(ctx, after, n, time.Second)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				failures++
				l.log.Warn("queue read failed", "err", err)
				l.b.metrics.retries.WithLabelValues("redis").Inc()
				l.restart(err)
				sleep(ctx, l.b.clock, backoff(failures, 100*time.Millisecond, 2*time.Second))
				continue
			}
			failures = 0
			if len(msgs) > 0 {
				after = msgs[len(msgs)-1].ID
			}
			if len(skip) > 0 {
				msgs = slices.DeleteFunc(msgs, func(m redis.XMessage) bool { return skip[m.ID] })
			}
			es, err := l.decode(ctx, msgs)
			if err != nil {
				// Nothing of this read is handed over, so the floor stays
				// below the entry that could not be moved and no
				// acknowledgement trims it unrecorded; the lane's next run
				// reads it again.
				if ctx.Err() == nil {
					l.restart(err)
				}
				return
			}
			if len(es) > 0 {
				select {
				case reads <- es:
				case <-ctx.Done():
					return
				}
				break
			}
		}
	}
}

// decode turns stream messages into entries; undecodable ones go to the
// dead-letter stream. If one cannot be moved there, decode returns the
// error and no entry: the caller must hand none of msgs over (see floor).
func (l *lane) decode(ctx context.Context, msgs []redis.XMessage) ([]Entry, error) {
	out := make([]Entry, 0, len(msgs))
	for _, m := range msgs {
		v, err := votequeue.Decode(m.Values)
		if err == nil && v.State != l.partition() {
			err = fmt.Errorf("vote of state %s in the stream of %s", v.State, l.partition())
		}
		if err != nil {
			l.log.Error("undecodable queue entry moved to dead letters", "stream_id", m.ID, "err", err)
			if dlErr := l.store.deadLetter(ctx, m, err); dlErr != nil {
				l.log.Error("dead-letter failed; the entry stays in the stream", "stream_id", m.ID, "err", dlErr)
				return nil, fmt.Errorf("move stream entry %s to the dead letters: %w", m.ID, dlErr)
			}
			continue
		}
		out = append(out, Entry{StreamID: m.ID, Vote: v})
	}
	return out, nil
}

// submitNew builds, journals and submits a batch from entries, holding a
// process slot the caller acquired.
func (l *lane) submitNew(ctx context.Context, entries []Entry) error {
	if l.b.share != nil {
		l.b.share.announce(1) // queued by its first submission (launch)
	}
	cut := l.b.clock.Now()
	oldest := cut
	for _, e := range entries {
		l.b.metrics.stage.buffer.Observe(cut.Sub(e.read).Seconds())
		if e.read.Before(oldest) {
			oldest = e.read
		}
	}
	seq, err := l.store.nextSeq(ctx)
	if err != nil {
		l.abandon(len(entries))
		return err
	}
	j := journalEntry{StreamIDs: make([]string, len(entries))}
	votes := make([]ballot.Vote, len(entries))
	for i, e := range entries {
		votes[i], j.StreamIDs[i] = e.Vote, e.StreamID
	}
	if j.Batch, err = ballot.BuildBatch(l.partition(), seq, votes); err != nil {
		l.abandon(len(entries))
		return fmt.Errorf("build batch %s/%d: %w", l.partition(), seq, err)
	}
	if err := l.store.journal(ctx, l.lease, j); err != nil {
		l.abandon(len(entries))
		l.fence(err)
		return err
	}
	l.b.metrics.stage.journal.Observe(l.b.clock.Now().Sub(cut).Seconds())
	l.launch(j, false, oldest)
	return nil
}

// abandon gives up a batch of n votes cut but not launched: its process
// slot and its announcement to the sharer.
func (l *lane) abandon(n int) {
	l.b.inflight.release(l.b.slotCost(n))
	if l.b.share != nil {
		l.b.share.announce(-1)
	}
}

// resubmitJournal submits every batch a previous owner journaled, with
// the same id, and returns the stream ids of their entries.
func (l *lane) resubmitJournal(ctx context.Context) (map[string]bool, error) {
	js, err := l.store.journaled(ctx)
	if err != nil {
		return nil, err
	}
	if len(js) > 0 {
		l.log.Info("resubmitting journaled batches", "count", len(js))
	}
	ids := map[string]bool{}
	for _, j := range js {
		for _, id := range j.StreamIDs {
			ids[id] = true
		}
	}
	for i := range js {
		if err := l.store.votesOf(ctx, &js[i]); err != nil {
			return nil, err
		}
	}
	for _, j := range js {
		if err := l.b.inflight.acquire(ctx, l.b.slotCost(len(j.Batch.Votes)), l.b.waitID(j.Batch)); err != nil {
			return ids, nil
		}
		l.launch(j, true, time.Time{})
	}
	return ids, nil
}

// fence stops the lane, its batches in flight left in the journal, if err
// says its lease is lost (errFenced: a fenced write, or Batcher.balance
// finding the lease held by another); the loss is counted once in
// batcher_retries_total{cause="lane_lease_lost"}.
func (l *lane) fence(err error) {
	if errors.Is(err, errFenced) {
		l.lostOne.Do(func() {
			l.b.metrics.retries.WithLabelValues("lane_lease_lost").Inc()
			l.log.Warn("lane lease lost; stopping the lane")
		})
		l.fenceOne.Do(func() {
			l.stopErr = errFenced
			close(l.fenced)
		})
		l.stopBatches()
	}
}

// errRedis stops a lane whose Redis calls failed.
var errRedis = errors.New("redis failed under the lane; it restarts")

// restart stops the lane after a Redis failure, once its batches in
// flight have finished; its lease is released and the lane taken again
// (here or by another batcher), which resubmits its journal and reads
// its unsettled entries again. On a Redis Cluster that is what recovers a
// failover's losses: a master's last writes may never have reached the
// promoted replica (an acknowledgement: the votes are in the stream again; a
// batch's receipts), and a committed batch whose bookkeeping failed is
// settled by the journal's resubmission.
func (l *lane) restart(err error) {
	l.fenceOne.Do(func() {
		l.b.metrics.retries.WithLabelValues("lane_restart").Inc()
		l.log.Warn("redis failed; restarting the lane", "err", err)
		l.stopErr = fmt.Errorf("%w: %w", errRedis, err)
		close(l.fenced)
	})
	l.stopBatches()
}

// launch commits a journaled batch in the background, holding its process
// slot (a claim, announced to the sharer for a new batch) and one of the
// lane's, in Batcher.commits (Run sets it before any lane starts); resumed
// says a previous owner may have submitted it, and oldest is when the lane
// read its oldest vote (for a new batch).
func (l *lane) launch(j journalEntry, resumed bool, oldest time.Time) {
	cost := l.b.slotCost(len(j.Batch.Votes))
	held := &claim{b: l.b, cost: cost, announced: l.b.share != nil && !resumed}
	l.floor.batch(j.Batch.Seq, j.StreamIDs)
	l.wg.Add(1)
	l.inflight.Add(int32(cost))
	l.b.metrics.inflight.Inc()
	go func() {
		defer l.wg.Done()
		defer func() {
			l.b.metrics.inflight.Dec()
			l.inflight.Add(-int32(cost))
			held.release()
			select {
			case l.finished <- struct{}{}:
			default:
			}
		}()
		// Commit even while shutting down: a graceful stop drains what is in
		// flight, retrying failures, for up to DrainTimeout.
		commits := l.b.commits
		if err := l.commit(commits, l.stop, j, resumed, oldest, held); err != nil {
			if l.b.draining.Load() {
				l.b.abandoned.Add(1) // Run's stop is not clean
			}
			if context.Cause(commits) == errDrainTimeUp {
				l.log.Warn("drain time up: batch left in the journal for the next owner", "batch", j.Batch.ID(), "err", err)
				return
			}
			l.fence(err)
			if errors.Is(err, errUnsettled) {
				l.restart(err)
			}
			l.log.Warn("batch left in the journal for the next owner", "batch", j.Batch.ID(), "err", err)
		}
	}()
}
