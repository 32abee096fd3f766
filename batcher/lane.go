package batcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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

	inflight chan struct{} // one slot per batch in flight in this lane
	wg       sync.WaitGroup
	fenced   chan struct{} // closed when the lease is found lost
	fenceOne sync.Once
}

func (b *Batcher) newLane(partition, lease string) *lane {
	return &lane{
		b:        b,
		store:    &store{rdb: b.rdb, partition: partition, consumer: b.owner},
		lease:    lease,
		log:      b.log.With("partition", partition),
		inflight: make(chan struct{}, b.cfg.Depth),
		fenced:   make(chan struct{}),
	}
}

func (l *lane) partition() string { return l.store.partition }

// run resubmits journaled batches, reclaims entries abandoned by dead
// consumers, then cuts and submits batches until ctx ends or the lease is
// lost. It returns after every batch in flight has finished.
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

	if err := votequeue.EnsureGroup(ctx, l.b.rdb, l.partition()); err != nil {
		return err
	}
	if err := l.resubmitJournal(ctx); err != nil {
		return err
	}
	l.wg.Wait() // journaled batches first, so their entries are acknowledged before reclaiming
	cut := newCutter(l.b.cfg.BatchSize, l.b.cfg.BatchTimeout)
	reclaimed, err := l.store.reclaim(ctx)
	if err != nil {
		return err
	}
	if len(reclaimed) > 0 {
		l.log.Info("reclaimed unacknowledged votes", "count", len(reclaimed))
	}
	cut.add(time.Now(), l.decode(ctx, reclaimed)...)

	for ctx.Err() == nil {
		now := time.Now()
		// A batch that is due on time alone waits while every in-flight slot
		// is busy and keeps filling: under load, batches grow towards
		// BatchSize instead of many small ones queueing for slots.
		for cut.due(now) && (cut.full() || l.slotFree()) {
			if err := l.submitNew(ctx, cut.cut(now)); err != nil {
				return err
			}
		}
		wait := cut.wait(now, time.Second)
		if cut.due(now) {
			wait = slotPoll // waiting for a slot: take more votes meanwhile
		}
		msgs, err := l.store.read(ctx, cut.room(), wait)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			l.log.Warn("queue read failed", "err", err)
			l.b.metrics.retries.WithLabelValues("redis").Inc()
			sleep(ctx, time.Second)
			continue
		}
		cut.add(time.Now(), l.decode(ctx, msgs)...)
		l.b.metrics.buffered.WithLabelValues(l.partition()).Set(float64(len(cut.pending)))
	}
	select {
	case <-l.fenced:
		// Entries read but not cut stay pending in the group; the next owner reclaims them.
		return errFenced
	default:
	}
	// Graceful stop: what was read is committed too, not left to a takeover.
	if len(cut.pending) > 0 {
		return l.submitNew(context.WithoutCancel(ctx), cut.cut(time.Now()))
	}
	return nil
}

// decode turns stream messages into entries; undecodable ones go to the dead-letter stream.
func (l *lane) decode(ctx context.Context, msgs []redis.XMessage) []Entry {
	out := make([]Entry, 0, len(msgs))
	for _, m := range msgs {
		v, err := votequeue.Decode(m.Values)
		if err == nil && v.State != l.partition() {
			err = fmt.Errorf("vote of state %s in the stream of %s", v.State, l.partition())
		}
		if err != nil {
			l.log.Error("undecodable queue entry moved to dead letters", "stream_id", m.ID, "err", err)
			if dlErr := l.store.deadLetter(ctx, m, err); dlErr != nil {
				l.log.Error("dead-letter failed", "stream_id", m.ID, "err", dlErr)
			}
			continue
		}
		out = append(out, Entry{StreamID: m.ID, Vote: v})
	}
	return out
}

// submitNew builds, journals and submits a batch from entries, waiting for an
// in-flight slot first (backpressure on the reader).
func (l *lane) submitNew(ctx context.Context, entries []Entry) error {
	if err := l.acquireSlot(ctx); err != nil {
		return nil // shutting down: the entries stay pending for the next owner
	}
	seq, err := l.store.nextSeq(ctx)
	if err != nil {
		l.releaseSlot()
		return err
	}
	j := journalEntry{StreamIDs: make([]string, len(entries))}
	votes := make([]ballot.Vote, len(entries))
	for i, e := range entries {
		votes[i], j.StreamIDs[i] = e.Vote, e.StreamID
	}
	if j.Batch, err = ballot.BuildBatch(l.partition(), seq, votes); err != nil {
		l.releaseSlot()
		return fmt.Errorf("build batch %s/%d: %w", l.partition(), seq, err)
	}
	if err := l.store.journal(ctx, l.lease, j); err != nil {
		l.releaseSlot()
		l.fence(err)
		return err
	}
	l.launch(ctx, j)
	return nil
}

// resubmitJournal submits every batch a previous owner journaled, with the same id.
func (l *lane) resubmitJournal(ctx context.Context) error {
	js, err := l.store.journaled(ctx)
	if err != nil {
		return err
	}
	if len(js) > 0 {
		l.log.Info("resubmitting journaled batches", "count", len(js))
	}
	for _, j := range js {
		if err := l.acquireSlot(ctx); err != nil {
			return nil
		}
		l.launch(ctx, j)
	}
	return nil
}

func (l *lane) acquireSlot(ctx context.Context) error {
	select {
	case l.inflight <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case l.b.inflight <- struct{}{}:
		return nil
	case <-ctx.Done():
		<-l.inflight
		return ctx.Err()
	}
}

// slotPoll is how long a lane with a due batch reads for more votes before
// it looks for a free in-flight slot again.
const slotPoll = 20 * time.Millisecond

// slotFree reports whether a batch submitted now would start at once (this
// lane's and the process's in-flight limits both have room).
func (l *lane) slotFree() bool {
	return len(l.inflight) < cap(l.inflight) && len(l.b.inflight) < cap(l.b.inflight)
}

func (l *lane) releaseSlot() {
	<-l.b.inflight
	<-l.inflight
}

func (l *lane) fence(err error) {
	if errors.Is(err, errFenced) {
		l.fenceOne.Do(func() {
			l.log.Warn("lane lease lost; stopping the lane")
			close(l.fenced)
		})
	}
}

// launch commits a journaled batch in the background, holding its slot.
func (l *lane) launch(ctx context.Context, j journalEntry) {
	l.wg.Add(1)
	l.b.metrics.inflight.Inc()
	go func() {
		defer l.wg.Done()
		defer l.b.metrics.inflight.Dec()
		defer l.releaseSlot()
		// Commit even while shutting down: a graceful stop drains what is in flight.
		if err := l.commit(context.WithoutCancel(ctx), ctx, j); err != nil {
			l.fence(err)
			l.log.Warn("batch left in the journal for the next owner", "batch", j.Batch.ID(), "err", err)
		}
	}()
}

// commit submits the batch until it is committed VALID, then records the
// receipts and acknowledges the entries. Failures (endorsement, MVCC conflict,
// timeout, peer down) are retried with backoff; the batch is never half
// acknowledged. stop ends the retries (the journal keeps the batch).
func (l *lane) commit(ctx, stop context.Context, j journalEntry) error {
	began := time.Now()
	for attempt := 1; ; attempt++ {
		attemptCtx, cancel := context.WithTimeout(ctx, l.b.cfg.CommitTimeout)
		done, err := l.b.ledger.CommitBatch(attemptCtx, j.Batch)
		cancel()
		if err == nil {
			return l.finish(ctx, j, done, began)
		}
		cause := classify(err)
		l.b.metrics.retries.WithLabelValues(cause).Inc()
		l.log.Warn("batch commit failed; retrying", "batch", j.Batch.ID(), "attempt", attempt, "cause", cause, "err", err)
		if !sleep(stop, backoff(attempt, 100*time.Millisecond, 10*time.Second)) {
			return stop.Err()
		}
	}
}

// finish writes receipts and acknowledges a committed batch.
func (l *lane) finish(ctx context.Context, j journalEntry, done ballot.Committed, began time.Time) error {
	block := done.Block
	if done.Record.TxID != done.TxID {
		// An idempotent resubmission: the batch was committed by an earlier
		// transaction, whose block the receipts must name.
		b, err := l.b.ledger.BlockOfTx(ctx, done.Record.TxID)
		if err != nil {
			return fmt.Errorf("find block of %s: %w", done.Record.TxID, err)
		}
		block = b
	}
	if err := votequeue.WriteLocations(ctx, l.b.rdb, votequeue.Locations(j.Batch, done.Record, block)); err != nil {
		return err
	}
	if err := l.store.ack(ctx, l.lease, j); err != nil {
		return err
	}
	m := l.b.metrics
	m.batches.WithLabelValues(l.partition()).Inc()
	m.votes.WithLabelValues("counted").Add(float64(done.Record.Counted))
	m.votes.WithLabelValues("duplicate").Add(float64(len(done.Record.Rejected)))
	m.latency.Observe(time.Since(began).Seconds())
	l.log.Debug("batch committed", "batch", j.Batch.ID(), "votes", len(j.Batch.Votes), "block", block, "tx", done.TxID)
	return nil
}

// classify names a commit failure for the retry metric.
func classify(err error) string {
	var commitErr *ballot.CommitError
	switch {
	case errors.As(err, &commitErr):
		return "commit_" + commitErr.Code
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	default:
		return "endorse_or_submit"
	}
}

// sleep waits d or until ctx ends; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
