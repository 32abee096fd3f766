package batcher

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
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
// its latest cast_at, for at most castSkewAlarm, and not for the votes a
// final election record refuses whatever their commit time (castWait,
// castRules).

// castMargin is how far past a batch's latest cast_at the batcher's clock
// must be before the batch is submitted: the proposal's timestamp is taken
// a little later, in the ledger client, and cast_at counts whole
// milliseconds.
const castMargin = 5 * time.Millisecond

// castSkewAlarm bounds the wait for a batch's votes' cast_at: the two
// minutes a proposal's timestamp may be from a peer's clock
// (ballot.MaxClockSkew, the chaincode's MaxClockSkew). A vote cast further
// ahead of the batcher's clock than that says that its gateway's clock, or
// the batcher's, is wrong: waiting for it would hold its batch, its lane and (journaled, it
// keeps its cast_at) the lane's next owners for as long as the clock is
// wrong, so the batch is not held for it and the ledger rejects it as
// cast_after_tx.
const castSkewAlarm = ballot.MaxClockSkew

// castSkew is a lane's episode of batches with votes cast ahead of the
// batcher's clock: the level logged since the last batch with none (0:
// none, 1: the warning of a batch held, 2: the error of votes beyond
// castSkewAlarm), so an episode is logged once per level.
type castSkew struct{ logged atomic.Int32 }

// castWait returns, at now, until when batch b is held: castMargin past
// the latest cast_at of its votes ahead of now by no more than
// castSkewAlarm (with the margin), or now if none is; and how many votes
// are further ahead (beyond: no wait within the bound saves them) and the
// largest gap, from now to a vote's cast_at and the margin. With final
// election record e (finalRecord; nil: none known), a vote e refuses whatever its batch's commit
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

// castRules holds the election record castWait judges votes by, once it
// is final (finalRecord): it is read from the ledger (src) only for a batch
// that would be held, and kept once final. Without a final record (no
// source, a failed read, a record a set-up may still replace) every vote is
// waited for, as before the skip: a record that may be replaced could
// refuse a vote its replacement counts, and a batch submitted before that
// vote's cast_at would lose it as cast_after_tx.
//
// A final record is kept for the process's life, never read again, so a
// record of another election than the one the batcher was started for
// (election, Config.Election; a network wiped and set up again under a
// running batcher) is never used: it counts as a failed read, logged, and
// every vote is waited for until the batcher is restarted for the new
// election. (A new election set up under the same ID is not told apart.)
//
// Reads cost the ledger's peer a query each, so there is one at a time
// (batches arriving meanwhile share its result), and a read that found no
// final record (failed, or configured) is not repeated for electionReread.
// A failed read is logged at warn once until a read succeeds.
type castRules struct {
	src      ElectionSource // nil: the ledger offers no record
	election string         // the ID of the election served; "": any
	clock    Clock
	log      *slog.Logger
	observe  func(waitPoint) // Config.observe: told when a batch waits for the read in flight
	final    atomic.Pointer[ballot.Election]

	mu      sync.Mutex
	reading chan struct{} // closed when the read in flight ends; nil: none
	next    time.Time     // no read before, by the batcher's clock
	failing bool          // the last read failed (logged)
}

const (
	// electionReadTimeout bounds a read of the election record for the
	// cast wait; the batch has yielded its slot meanwhile.
	electionReadTimeout = 5 * time.Second
	// electionReread is how long after a read that found no final record
	// the next may be.
	electionReread = 30 * time.Second
)

// record returns the final election record, nil if none is known: it
// reads it from the source unless a read is in flight (it waits for that
// read, or ctx; id, the waiting batch's ID (waitID), names the wait to observe) or
// one found no final record less than electionReread ago.
// A read cut short by ctx (the reading batch's stop or drain) sets no
// electionReread pause: it said nothing of the record, and other lanes'
// batches would otherwise go without it for that long.
func (r *castRules) record(ctx context.Context, id string) *ballot.Election {
	if e := r.final.Load(); e != nil || r.src == nil {
		return e
	}
	r.mu.Lock()
	if flight := r.reading; flight != nil {
		r.mu.Unlock()
		if r.observe != nil {
			r.observe(waitPoint{kind: "record", id: id, events: []<-chan struct{}{flight, ctx.Done()}})
			defer r.observe(waitPoint{kind: "record", id: id, returned: true})
		}
		select {
		case <-flight:
		case <-ctx.Done():
		}
		return r.final.Load()
	}
	if r.clock.Now().Before(r.next) {
		r.mu.Unlock()
		return nil
	}
	flight := make(chan struct{})
	r.reading = flight
	r.mu.Unlock()

	read, cancel := context.WithTimeout(ctx, electionReadTimeout)
	e, err := r.src.Election(read)
	cancel()
	if err == nil && e != nil && r.election != "" && e.ID != r.election {
		err = fmt.Errorf("the ledger's election record is of election %s, not %s, the one this batcher was started for (was the network set up again?): it is not used; restart the batcher", e.ID, r.election)
	}
	cut := err != nil && ctx.Err() != nil

	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err != nil:
		// A read cut short by the batch's own end (a stop) is no failure.
		if !r.failing && !cut {
			r.log.Warn("cannot read the election record from the ledger: batches are held for every vote cast after this batcher's clock, even those the election refuses anyway; reading it again in "+electionReread.String(), "err", err)
			r.failing = true
		}
	case e != nil && finalRecord(e):
		r.final.Store(e)
		r.failing = false
	default:
		r.failing = false
	}
	if r.final.Load() == nil && !cut {
		r.next = r.clock.Now().Add(electionReread)
	}
	r.reading = nil
	close(flight)
	return r.final.Load()
}

// finalRecord reports whether election record e refuses no vote that a
// later record would count: e is closed or finalised, so no set-up may
// replace it (ballot's StepRefusal), a finalise changes no window, contest
// or choice, and the close that made it closed is stamped. A configured
// record is not final however long its window has been open by the
// batcher's clock: a set-up endorsed in time may commit later, a lagging
// peer may answer an older record, and the batcher's clock may be ahead.
func finalRecord(e *ballot.Election) bool {
	return e.Status == ballot.StatusClosed || e.Status == ballot.StatusFinalised
}

// awaitCastAt holds batch b until the batcher's clock is castMargin past the
// latest cast_at of its votes, leaving out those more than castSkewAlarm
// ahead (rejected by the ledger as cast_after_tx) and, once the election
// record is final (castRules), those it refuses whatever their commit
// time, so a batch is held castSkewAlarm at most and never for a vote no
// wait saves. A batch with a vote to wait for yields what it holds of the
// process (c), so no other lane waits for it, then reads the record if it
// is not known yet (castRules.record), and reclaims c before it returns.
// The wait ends early, with an error, when ctx (the drain's time up) or
// stop ends. A wait is counted in batcher_cast_waits_total and
// batcher_cast_wait_seconds_total, and the batch in
// batcher_cast_held_batches while it is held for the clock or the record
// (not while it waits for a slot after); a lane's episode of votes cast
// ahead is logged once per level with the gap: a warning for a batch held,
// an error for votes beyond the bound.
//
// The record is read for holding, not for logging: a batch with no vote to
// wait for (all of its votes ahead are beyond the bound) returns at once
// without reading it, so while no final record is known its votes beyond
// the bound are logged at error as cast_after_tx (alertCastAfterTx) even
// when the election refuses them anyway for another reason (unknown
// contest or choice, cast outside the window), which the ledger then gives.
func (l *lane) awaitCastAt(ctx, stop context.Context, b ballot.Batch, c *claim) error {
	clock := l.b.clock
	from := clock.Now()
	rules := &l.b.castRules
	e := rules.final.Load()
	until, beyond, gap := castWait(b, e, from)
	if !until.After(from) {
		l.logCastSkew(b, beyond, gap)
		return nil
	}
	wait, cancel := context.WithCancel(stop)
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()
	id := l.b.waitID(b)
	if o := l.b.cfg.observe; o != nil {
		defer o(waitPoint{kind: "cast", id: id, returned: true})
	}
	m := l.b.metrics
	c.yield()
	m.castHeld.Inc()
	if e == nil {
		if e = rules.record(wait, id); e != nil {
			until, beyond, gap = castWait(b, e, from)
		}
	}
	l.logCastSkew(b, beyond, gap)
	if until.After(from) {
		m.castWaits.Inc()
		for clock.Now().Before(until) && wait.Err() == nil {
			timer := clock.TimerAt(until).C() // before the hook, as in attempt
			if o := l.b.cfg.observe; o != nil {
				o(waitPoint{kind: "cast", id: id, wake: until, events: []<-chan struct{}{wait.Done()}})
			}
			select {
			case <-timer:
			case <-wait.Done():
			}
		}
		// The time held for the clock, not the wait for a slot after it.
		held := clock.Now()
		if held.After(until) {
			held = until
		}
		m.castWaitTime.Add(held.Sub(from).Seconds())
	}
	m.castHeld.Dec()
	if wait.Err() == nil && c.reclaim(wait, id) == nil {
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

// reclaim takes the claim of batch id (waitID) again, waiting for room in
// the slots until ctx ends.
func (c *claim) reclaim(ctx context.Context, id string) error {
	if err := c.b.inflight.acquire(ctx, c.cost, id); err != nil {
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
