package batcher

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
)

// errLost says a submitted transaction will never commit (recoveryPolicy,
// confirmed on the ledger: Batcher.attempt).
type errLost struct {
	txID    string
	elapsed time.Duration
	blocks  uint64
}

func (e *errLost) Error() string {
	return fmt.Sprintf("transaction %s lost: not committed %s after acceptance, %d blocks later", e.txID, e.elapsed.Round(time.Millisecond), e.blocks)
}

// errNoStatus says a transaction the ledger shows in a block got no commit
// status within the recovery policy's bound: its outcome is read from the
// ledger instead (lane.commit).
type errNoStatus struct {
	txID   string
	block  uint64
	waited time.Duration // since it was found in the block
}

func (e *errNoStatus) Error() string {
	return fmt.Sprintf("transaction %s in block %d: no commit status %s after finding it there", e.txID, e.block, e.waited.Round(time.Millisecond))
}

// lostCheckTimeout bounds the ledger look-up that confirms a lost verdict.
const lostCheckTimeout = 2 * time.Second

type waited struct {
	done ballot.Committed
	err  error
}

// attempt submits a batch once and waits for its commit until the recovery
// policy judges the transaction lost and the ledger confirms it; losses is
// how many times in a row the batch was found lost before. A first
// submission (oldest, when its lane read its oldest vote, set) goes in a
// shared transaction when the process shares them; any other alone.
//
// A verdict is confirmed by asking the ledger for the transaction's block
// (at most lostCheckTimeout). In a block, it is not lost: the verdict is
// withdrawn (logged, batcher_lost_checks_total{result="withdrawn"}) and its
// commit status awaited for the policy's stall bound from then on, no
// longer judged lost; if none comes, errNoStatus has the ledger read for its
// outcome. In none, or when the look-up fails (the peer cannot say; taken
// as not confirmed, as before the check, and counted apart), the
// transaction is lost. A commit status that arrives during the look-up wins
// over either.
func (b *Batcher) attempt(ctx context.Context, batch ballot.Batch, losses int, oldest time.Time) (ballot.Committed, error) {
	var tx batchTx
	var err error
	if b.share != nil && !oldest.IsZero() {
		tx, err = b.share.submit(ctx, batch, oldest)
	} else {
		var solo Tx
		solo, err = b.submitTx(ctx, []ballot.Batch{batch})
		tx = soloTx{solo}
	}
	if err != nil {
		return ballot.Committed{}, err
	}
	if o := b.cfg.observe; o != nil {
		defer o(waitPoint{kind: "attempt", id: batch.ID(), returned: true})
	}
	accepted := b.clock.Now()
	h0, _ := b.height.get()
	waitCtx, stopWait := context.WithCancel(ctx)
	defer stopWait()
	res := make(chan waited, 1)
	go func() {
		done, err := tx.Wait(waitCtx)
		res <- waited{done, err}
	}()
	var found time.Time // when the ledger showed the transaction in block inBlock (zero: not yet)
	var inBlock uint64
	for {
		// The clock first: what is read after it (latencies, blocks, commits)
		// is at least as recent, so a commit recorded before now is never
		// missed and a stall is never overstated.
		now := b.clock.Now()
		lat := b.latencyStats()
		h, grew := b.height.get()
		if h0 == 0 {
			h0 = h // no block seen before acceptance: count from the first one seen
		}
		last, newest, progressed := b.progress.get(tx.gateway())
		w := txWait{elapsed: now.Sub(accepted), stalled: now.Sub(later(accepted, last)), blocks: h - h0, overtaken: newest.Sub(accepted)}
		bound := b.recovery.bound(lat, losses)
		wake := bound - w.stalled
		switch {
		case !found.IsZero():
			if d := now.Sub(found); d >= bound {
				return ballot.Committed{}, &errNoStatus{txID: tx.TransactionID(), block: inBlock, waited: d}
			}
			wake = bound - now.Sub(found)
		case b.recovery.lost(w, lat, losses):
			if r, ok := received(res); ok {
				return b.outcome(tx.gateway(), accepted, r) // committed just as we gave up
			}
			n, err := b.blockOf(ctx, tx.TransactionID())
			if r, ok := received(res); ok {
				return b.outcome(tx.gateway(), accepted, r) // its status came during the look-up
			}
			if err == nil {
				found, inBlock = b.clock.Now(), n
				b.metrics.lostChecks.WithLabelValues("withdrawn").Inc()
				b.log.Info("lost verdict withdrawn: found in block", "tx", tx.TransactionID(), "block", n, "elapsed", w.elapsed, "blocks", w.blocks)
				continue
			}
			if errors.Is(err, ballot.ErrNotFound) {
				b.metrics.lostChecks.WithLabelValues("confirmed").Inc()
			} else {
				b.metrics.lostChecks.WithLabelValues("error").Inc()
				b.log.Warn("lost verdict not confirmed: ledger look-up failed; taken as lost", "tx", tx.TransactionID(), "err", err)
			}
			return ballot.Committed{}, &errLost{txID: tx.TransactionID(), elapsed: w.elapsed, blocks: w.blocks}
		}
		// The timer before the hook: a test that sees this decision
		// (waitPoint) may move the clock at once. ctx's end is an event:
		// it ends tx.Wait, whose result (res) ends the attempt.
		deadline := now.Add(wake)
		timer := b.clock.TimerAt(deadline).C()
		if o := b.cfg.observe; o != nil {
			o(waitPoint{kind: "attempt", id: batch.ID(), wake: deadline, events: []<-chan struct{}{grew, progressed, ctx.Done()}})
		}
		select {
		case r := <-res:
			return b.outcome(tx.gateway(), accepted, r)
		case <-grew:
		case <-progressed:
		case <-timer:
		}
	}
}

// received returns the commit status waited for, if it has arrived.
func received(res <-chan waited) (waited, bool) {
	select {
	case r := <-res:
		return r, true
	default:
		return waited{}, false
	}
}

// outcome records the commit status of a transaction accepted at accepted,
// answered by gateway, and returns its outcome.
func (b *Batcher) outcome(gateway int, accepted time.Time, r waited) (ballot.Committed, error) {
	var invalid *ballot.CommitError
	if r.err == nil || errors.As(r.err, &invalid) {
		b.progress.committed(gateway, accepted, b.clock.Now()) // in a block either way
	}
	if r.err == nil {
		d := b.clock.Now().Sub(accepted)
		b.recordLatency(d)
		b.metrics.stage.commit.Observe(d.Seconds())
	}
	return r.done, r.err
}

// blockOf asks the ledger for the block holding transaction txID, for at
// most lostCheckTimeout, once for all the lanes asking at the same time
// (lookups).
func (b *Batcher) blockOf(ctx context.Context, txID string) (uint64, error) {
	return b.lookups.blockOf(ctx, txID, func(ctx context.Context, txID string) (uint64, error) {
		ctx, cancel := context.WithTimeout(ctx, lostCheckTimeout)
		defer cancel()
		return b.ledger.BlockOfTx(ctx, txID)
	})
}

// submitTx submits one transaction carrying bs and times its endorsement.
func (b *Batcher) submitTx(ctx context.Context, bs []ballot.Batch) (Tx, error) {
	submitted := b.clock.Now()
	tx, err := b.ledger.Submit(ctx, bs)
	if err != nil {
		return nil, err
	}
	b.metrics.stage.endorse.Observe(b.clock.Now().Sub(submitted).Seconds())
	b.metrics.txBatches.Observe(float64(len(bs)))
	return tx, nil
}

// later returns the later of two times.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (b *Batcher) latencyStats() latencyStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.latencies.stats()
}

func (b *Batcher) recordLatency(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.latencies.add(d)
}

// followBlocks keeps b.height at the ledger's committed height until ctx
// ends, reconnecting when the block stream breaks.
func (b *Batcher) followBlocks(ctx context.Context) {
	for failures := 0; ctx.Err() == nil; {
		blocks, err := b.ledger.BlockNumbers(ctx)
		if err == nil {
			for n := range blocks {
				failures = 0
				b.height.saw(n)
			}
		}
		if ctx.Err() != nil {
			return
		}
		failures++
		if errors.Is(err, ballot.ErrClockSkew) {
			b.log.Warn("block stream ended, refused for this batcher's clock; reconnecting", "err", err, "advice", ballot.ClockSkewAdvice())
		} else {
			b.log.Warn("block stream ended; reconnecting", "err", err)
		}
		b.metrics.retries.WithLabelValues("block_stream").Inc()
		sleep(ctx, b.clock, backoff(failures, 100*time.Millisecond, 5*time.Second))
	}
}

// commit submits the batch until it is committed VALID, then records the
// receipts and acknowledges the entries. Failures (endorsement, MVCC conflict,
// peer or orderer down) are retried with backoff (retryWait), a lost
// transaction, or one in a block whose commit status never came, at once;
// the batch is never half acknowledged. Before submitting a batch again
// (resumed: a previous owner may have submitted it), the ledger is read: a
// transaction given up as lost may have committed after all, and its
// duplicates would only conflict. The first submission waits for the
// batcher's clock to pass the batch's latest cast_at (awaitCastAt, at most
// castSkewAlarm), yielding meanwhile what the batch holds of the process
// (held). stop ends the retries and that wait (the journal keeps the
// batch), and so does ctx's end, the drain's time up. oldest is when the
// lane read the batch's oldest vote (zero when resumed): the first
// submission of a new batch may share its transaction with other lanes'
// batches; retries go alone.
func (l *lane) commit(ctx, stop context.Context, j journalEntry, resumed bool, oldest time.Time, held *claim) error {
	clock := l.b.clock
	began := clock.Now()
	losses, failures := 0, 0 // in a row: lost transactions; other failures
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil { // the drain's time is up
			return context.Cause(ctx)
		}
		if attempt > 1 || resumed {
			if done, ok := l.committedBefore(ctx, j.Batch); ok {
				return settled(l.finish(ctx, j, done, began))
			}
		}
		if attempt == 1 {
			if err := l.awaitCastAt(ctx, stop, j.Batch, held); err != nil {
				return err
			}
			began = clock.Now() // the commit latency runs from the first submission
		}
		attemptCtx, cancel := context.WithTimeout(ctx, l.b.cfg.CommitTimeout)
		first := oldest
		if attempt > 1 || resumed {
			first = time.Time{}
		}
		done, err := l.b.attempt(attemptCtx, j.Batch, losses, first)
		cancel()
		if err == nil {
			return settled(l.finish(ctx, j, done, began))
		}
		cause := classify(err)
		l.b.metrics.retries.WithLabelValues(cause).Inc()
		l.commitFailed(j.Batch, attempt, cause, err)
		switch cause {
		case "lost":
			losses++
			continue
		case "no_status":
			continue // in a block: the ledger, read first, has its outcome
		}
		losses = 0
		failures++
		if !sleep(stop, clock, retryWait(err, failures)) {
			return stop.Err()
		}
	}
}

// clockRefusedRetry bounds the wait between submissions of a batch the
// ledger refused for the batcher's clock (ballot.ErrClockSkew), where other
// failures wait at most 2 s: only a fixed clock ends those refusals, so
// sooner submissions would only repeat them, and their logs. A fixed clock
// is used within this time.
const clockRefusedRetry = 10 * time.Second

// retryWait is how long a lane waits before submitting a batch again after
// its failures-th failure in a row (not a lost transaction), err.
func retryWait(err error, failures int) time.Duration {
	limit := 2 * time.Second
	if errors.Is(err, ballot.ErrClockSkew) {
		limit = clockRefusedRetry
	}
	return backoff(failures, 100*time.Millisecond, limit)
}

// commitFailed logs the failed attempt of a batch, to be retried; cause
// is classify's. A refusal of the batcher's clock (ballot.ErrClockSkew) is
// logged at error level with the clock and the fix: no batch commits
// until the clock is fixed, while the votes wait in Redis.
func (l *lane) commitFailed(b ballot.Batch, attempt int, cause string, err error) {
	if !errors.Is(err, ballot.ErrClockSkew) {
		l.log.Warn("batch commit failed; retrying", "batch", b.ID(), "attempt", attempt, "cause", cause, "err", err)
		return
	}
	l.log.Error("batch commit refused for this batcher's clock; retrying: no batch commits until the clock is fixed, its votes wait in Redis. "+ballot.ClockSkewAdvice(),
		"batch", b.ID(), "attempt", attempt, "cause", cause, "clock", l.b.clock.Now().UTC().Format(time.RFC3339), "max_skew", ballot.MaxClockSkew.String(), "err", err)
}

// errUnsettled marks a batch committed on the ledger whose receipts or
// acknowledgement could not be written: it stays in the journal, and the
// lane restarts to settle it (lane.restart).
var errUnsettled = errors.New("committed, not settled in Redis")

// settled marks a failure of finish as errUnsettled (a lost lease stays
// errFenced).
func settled(err error) error {
	if err == nil || errors.Is(err, errFenced) {
		return err
	}
	return fmt.Errorf("%w: %w", errUnsettled, err)
}

// committedBefore returns the batch's record if the ledger (as the peer
// queried sees it) already holds the batch; otherwise the batch is
// submitted again, which is safe either way.
func (l *lane) committedBefore(ctx context.Context, b ballot.Batch) (ballot.Committed, bool) {
	rec, err := l.b.ledger.Batch(ctx, b.State, b.Seq)
	if err != nil || rec.Root != b.Root {
		return ballot.Committed{}, false
	}
	// No new transaction: finish finds the block of the one that committed it.
	return ballot.Committed{Record: rec}, true
}

// finish writes receipts and acknowledges a committed batch.
func (l *lane) finish(ctx context.Context, j journalEntry, done ballot.Committed, began time.Time) error {
	settling := l.b.clock.Now()
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
	if err := votequeue.WriteReceipts(ctx, l.b.rdb, j.Batch, done.Record, block); err != nil {
		return err
	}
	fence := votequeue.Fence{LeaseKey: leaseKey(l.partition()), Lease: l.lease, JournalKey: journalKey(l.partition()), JournalField: strconv.FormatUint(j.Batch.Seq, 10)}
	floor := l.floor.settling(j.Batch.Seq)
	if err := votequeue.Ack(ctx, l.b.rdb, l.partition(), fence, floor, j.StreamIDs); errors.Is(err, votequeue.ErrFenced) {
		return errFenced
	} else if err != nil {
		return err
	}
	l.floor.settled(j.Batch.Seq)
	m := l.b.metrics
	m.batches.WithLabelValues(l.partition()).Inc()
	m.batchVotes.Observe(float64(len(j.Batch.Votes)))
	m.votes.WithLabelValues("counted").Add(float64(done.Record.Counted))
	for _, i := range done.Record.Rejected {
		m.votes.WithLabelValues(done.Record.Reason(i)).Inc()
	}
	now := l.b.clock.Now()
	m.latency.Observe(now.Sub(began).Seconds())
	m.stage.settle.Observe(now.Sub(settling).Seconds())
	for _, id := range j.StreamIDs {
		m.voteLatency.Observe(queued(now, id).Seconds())
	}
	l.log.Debug("batch committed", "batch", j.Batch.ID(), "votes", len(j.Batch.Votes), "block", block, "tx", done.TxID)
	return nil
}

// classify names a commit failure for the retry metric: "clock" for a
// refusal of this batcher's clock (ballot.ErrClockSkew), which only fixing
// the clock ends, apart from endorse_or_submit's other failures.
func classify(err error) string {
	var commitErr *ballot.CommitError
	var lost *errLost
	var noStatus *errNoStatus
	switch {
	case errors.As(err, &lost):
		return "lost"
	case errors.As(err, &noStatus):
		return "no_status"
	case errors.As(err, &commitErr):
		return "commit_" + commitErr.Code
	case errors.Is(err, ballot.ErrClockSkew):
		return "clock"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	default:
		return "endorse_or_submit"
	}
}
