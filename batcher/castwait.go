package batcher

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/votechain/votechain/ballot"
)

// A vote's cast_at is its gateway's clock at the 202; the time of the
// transaction that commits its batch is the proposal's timestamp, which the
// batcher's clock sets. The chaincode rejects a vote cast after its
// transaction (ballot.RejectCastAfterTx), and the batcher then settles it
// like any other: so a gateway clock ahead of the batcher's by more than a
// batch's time in the batcher (0.1–1 s) would lose accepted votes.
// awaitCastAt therefore holds a batch until the batcher's clock has passed
// its latest cast_at, for at most castSkewAlarm, and not for the votes the
// election refuses whatever their commit time (castWait).

// castMargin is how far past a batch's latest cast_at the batcher's clock
// must be before the batch is submitted: the proposal's timestamp is taken
// a little later, in the ledger client, and cast_at counts whole
// milliseconds.
const castMargin = 5 * time.Millisecond

// castSkewAlarm bounds the wait for a batch's votes' cast_at: the two
// minutes a proposal's timestamp may be from a peer's clock
// (chaincode.MaxClockSkew). A vote cast further ahead of the batcher's
// clock than that says that its gateway's clock, or the batcher's, is
// wrong: waiting for it would hold its batch, its lane and (journaled, it
// keeps its cast_at) the lane's next owners for as long as the clock is
// wrong, so the batch is not held for it and the ledger rejects it as
// cast_after_tx.
const castSkewAlarm = 2 * time.Minute

// castSkew is a lane's episode of batches with votes cast ahead of the
// batcher's clock: the level logged since the last batch with none (0:
// none, 1: the warning of a batch held, 2: the error of votes beyond
// castSkewAlarm), so an episode is logged once per level.
type castSkew struct{ logged atomic.Int32 }

// castWait returns, at now, until when batch b is held: castMargin past
// the latest cast_at of its votes ahead of now by no more than
// castSkewAlarm (with the margin), or now if none is; and how many votes
// are further ahead (beyond: no wait within the bound saves them) and the
// largest gap, from now to a vote's cast_at and the margin. With election
// record e (nil: none known), a vote e refuses whatever its batch's commit
// time (unknown contest or choice, cast outside the window: e.Refusal at
// its own cast_at, where cast_after_tx cannot apply) is left out: no wait
// saves it, so it neither holds the batch nor counts.
func castWait(b ballot.Batch, e *ballot.Election, now time.Time) (until time.Time, beyond int, gap time.Duration) {
	until = now
	for _, v := range b.Votes {
		at := time.UnixMilli(v.CastAt)
		if e != nil && e.Refusal(v, at) != "" {
			continue
		}
		at = at.Add(castMargin)
		d := at.Sub(now)
		gap = max(gap, d)
		switch {
		case d > castSkewAlarm:
			beyond++
		case at.After(until):
			until = at
		}
	}
	return until, beyond, gap
}

// electionSource is what the batcher reads the election record from: its
// Ledger, if that offers it (package fabricledger's does, and RoundRobin's
// reads through its home).
type electionSource interface {
	Election(ctx context.Context) (*ballot.Election, error)
}

// castRules holds the election record castWait judges votes by. It is read
// from the ledger only when a batch has votes cast ahead of the batcher's
// clock, and kept once settled (settledRecord); until then it is read again
// for each such batch, and with none read (no source, a failed read, a
// record not yet settled) every vote is waited for, as before.
type castRules struct {
	src     electionSource // nil: the ledger offers no record
	settled atomic.Pointer[ballot.Election]
}

// electionReadTimeout bounds a read of the election record for the cast
// wait: the batch waits for it before it yields its slot.
const electionReadTimeout = 5 * time.Second

// record returns the settled election record, reading it from the source
// at now (the batcher's clock, before the read) if none is kept yet, or nil
// if it has none.
func (r *castRules) record(ctx context.Context, now time.Time) *ballot.Election {
	if e := r.settled.Load(); e != nil || r.src == nil {
		return e
	}
	ctx, cancel := context.WithTimeout(ctx, electionReadTimeout)
	defer cancel()
	e, err := r.src.Election(ctx)
	if err != nil || e == nil || !settledRecord(e, now) {
		return nil
	}
	r.settled.Store(e)
	return e
}

// settledRecord reports whether election record e, read at now by the
// batcher's clock, refuses no vote that a later record would count: a
// set-up may replace a configured record (new contests, choices, window)
// until its window opens by a transaction's time (ballot's SetUpRefusal),
// which may be castSkewAlarm from a peer's clock, as the batcher's may be,
// so a configured record is settled from twice that after OpensAt. After
// that only a close changes the record, ending its window sooner: a vote
// it refuses stays refused.
func settledRecord(e *ballot.Election, now time.Time) bool {
	return e.Status != ballot.StatusConfigured || !now.Before(e.OpensAt.Add(2*castSkewAlarm))
}

// awaitCastAt holds batch b until the batcher's clock is castMargin past the
// latest cast_at of its votes, leaving out those more than castSkewAlarm
// ahead (rejected by the ledger as cast_after_tx) and, once the election
// record is known (castRules), those it refuses whatever their commit
// time, so a batch is held castSkewAlarm at most and never for a vote no
// wait saves. Meanwhile the batch yields what it holds of the
// process (c), so no other lane waits for it, and reclaims it before it
// returns. The wait ends early, with an error, when ctx (the drain's time
// up) or stop ends. A wait is counted in batcher_cast_waits_total and
// batcher_cast_wait_seconds_total, and the batch in
// batcher_cast_held_batches while it is held for the clock (not while it
// waits for a slot after); a lane's episode of votes cast ahead is
// logged once per level with the gap: a warning for a batch held, an error
// for votes beyond the bound.
func (l *lane) awaitCastAt(ctx, stop context.Context, b ballot.Batch, c *claim) error {
	clock := l.b.clock
	from := clock.Now()
	wait, cancel := context.WithCancel(stop)
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()
	rules := &l.b.castRules
	e := rules.settled.Load()
	until, beyond, gap := castWait(b, e, from)
	if e == nil && (until.After(from) || beyond > 0) {
		if e = rules.record(wait, from); e != nil {
			until, beyond, gap = castWait(b, e, from)
		}
	}
	l.logCastSkew(b, beyond, gap)
	if !until.After(from) {
		return nil
	}
	m := l.b.metrics
	m.castWaits.Inc()
	c.yield()
	m.castHeld.Inc()
	for clock.Now().Before(until) && sleep(wait, clock, until.Sub(clock.Now())) {
	}
	m.castHeld.Dec()
	// The time held for the clock, not the wait for a slot after it.
	held := clock.Now()
	if held.After(until) {
		held = until
	}
	m.castWaitTime.Add(held.Sub(from).Seconds())
	if wait.Err() == nil && c.reclaim(wait) == nil {
		return nil
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return stop.Err()
}

// logCastSkew logs a batch whose votes (beyond of them further than
// castSkewAlarm) are cast up to gap ahead of the batcher's clock, once per
// level of the lane's episode; a batch with none ends the episode.
func (l *lane) logCastSkew(b ballot.Batch, beyond int, gap time.Duration) {
	level := int32(0)
	switch {
	case beyond > 0:
		level = 2
	case gap > 0:
		level = 1
	}
	if level == 0 {
		l.skew.logged.Store(0)
		return
	}
	prev := l.skew.logged.Load()
	if level <= prev || !l.skew.logged.CompareAndSwap(prev, level) {
		return
	}
	msg := "votes cast (by their gateway's clock) after this batcher's clock: a gateway's clock is ahead of this batcher's"
	args := []any{"batch", b.ID(), "gap", gap.Round(time.Millisecond).String()}
	if level == 1 {
		l.log.Warn(msg+"; holding their batch until its clock passes them, so their commit is that much later. Compare the gateways' and this batcher's clocks (chronyc tracking or timedatectl on each machine); on the one whose clock is off, "+ballot.NTPFix,
			append(args, "alert", alertClockAhead)...)
		return
	}
	l.log.Error(msg+", by more than the chaincode allows between clocks: their batch is not held for them, and the ledger rejects them as cast_after_tx. Act now: compare chronyc tracking or timedatectl on the gateways and this batcher, take a gateway whose clock is ahead out of rotation until its clock is right, and on the machine whose clock is off "+ballot.NTPFix,
		append(args, "votes", beyond, "bound", castSkewAlarm.String(), "alert", alertCastAfterTx)...)
}

// The alerts (config/prometheus/alerts.yml) that fire on what logCastSkew
// logs, named in its lines: batches held (warn), votes beyond the bound
// rejected (error).
const (
	alertClockAhead  = "GatewayClockAhead"
	alertCastAfterTx = "VotesRejectedCastAfterTx"
)

// claim is what a batch in flight holds of its process: cost of the
// in-flight slots (Batcher.inflight), taken before its launch, and, for a
// new batch whose first submission may share a transaction (announced),
// its announcement to the sharer. A batch waiting before its first
// submission (lane.awaitCastAt) yields both, so that no other lane waits
// for it, and reclaims them before it submits. Only the batch's goroutine
// uses it.
type claim struct {
	b         *Batcher
	cost      int
	announced bool
	yielded   bool
}

// yield gives the claim back to the process for now.
func (c *claim) yield() {
	c.b.inflight.release(c.cost)
	if c.announced {
		c.b.share.announce(-1)
	}
	c.yielded = true
}

// reclaim takes the claim again, waiting for room in the slots until ctx
// ends.
func (c *claim) reclaim(ctx context.Context) error {
	if err := c.b.inflight.acquire(ctx, c.cost); err != nil {
		return err
	}
	if c.announced {
		c.b.share.announce(1)
	}
	c.yielded = false
	return nil
}

// release gives back the slots at the batch's end, unless yielded.
func (c *claim) release() {
	if !c.yielded {
		c.b.inflight.release(c.cost)
	}
}
