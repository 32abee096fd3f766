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
// its latest cast_at.

// castMargin is how far past a batch's latest cast_at the batcher's clock
// must be before the batch is submitted: the proposal's timestamp is taken
// a little later, in the ledger client, and cast_at counts whole
// milliseconds.
const castMargin = 5 * time.Millisecond

// castSkewAlarm is the gap between a batch's latest cast_at and the
// batcher's clock from which the wait is logged as an error, not a warning:
// the two minutes a proposal's timestamp may be from a peer's clock
// (chaincode.MaxClockSkew), beyond which a gateway's clock is so far ahead
// that it, or the batcher's, is wrong. The batch still waits: submitting
// it would commit its votes as rejected, losing them.
const castSkewAlarm = 2 * time.Minute

// castSkew is a lane's episode of batches held for their cast_at: the
// level logged since the last batch that needed no wait (0: none, 1: the
// warning, 2: the alarm), so an episode is logged once per level.
type castSkew struct{ logged atomic.Int32 }

// latestCast is the latest cast_at of b's votes.
func latestCast(b ballot.Batch) time.Time {
	var latest int64
	for _, v := range b.Votes {
		latest = max(latest, v.CastAt)
	}
	return time.UnixMilli(latest)
}

// awaitCastAt holds batch b until the batcher's clock is castMargin past its
// latest cast_at, or until stop ends (then it returns stop's error). A wait
// is counted in batcher_cast_waits_total and batcher_cast_wait_seconds_total,
// and logged once per episode of the lane (a warning, an error from
// castSkewAlarm) with the gap.
func (l *lane) awaitCastAt(stop context.Context, b ballot.Batch) error {
	clock := l.b.clock
	from := clock.Now()
	until := latestCast(b).Add(castMargin)
	gap := until.Sub(from)
	if gap <= 0 {
		l.skew.logged.Store(0)
		return nil
	}
	level := int32(1)
	if gap >= castSkewAlarm {
		level = 2
	}
	if prev := l.skew.logged.Load(); level > prev && l.skew.logged.CompareAndSwap(prev, level) {
		msg := "votes cast (by their gateway's clock) after this batcher's clock: holding their batch until its clock passes them; a gateway's clock is ahead of this batcher's"
		args := []any{"batch", b.ID(), "gap", gap.Round(time.Millisecond).String()}
		if level == 2 {
			l.log.Error(msg+", by more than the chaincode allows between clocks: check the clocks (NTP)", append(args, "alarm", castSkewAlarm.String())...)
		} else {
			l.log.Warn(msg, args...)
		}
	}
	m := l.b.metrics
	m.castWaits.Inc()
	defer func() { m.castWaitTime.Add(clock.Now().Sub(from).Seconds()) }()
	for {
		if !sleep(stop, clock, until.Sub(clock.Now())) {
			return stop.Err()
		}
		if !clock.Now().Before(until) {
			return nil
		}
	}
}
