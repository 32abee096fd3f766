package suite

import (
	"context"
	"fmt"
	"time"

	"github.com/votechain/votechain/bench/ledgerload"
	"github.com/votechain/votechain/bench/report"
)

// WarmupRule is how an extra network is warmed up before its first
// measured drive: ledger drives of Slice each at the ceilings' setting,
// until the page faults of its ledger processes took less than MaxShare of
// their CPU in a slice, or Limit has passed (a slice begun before it runs
// to its end). The first drive on a fresh network otherwise spends much of
// that CPU on memory its processes take for the first time (report.Warmup).
type WarmupRule struct {
	Slice    time.Duration
	MaxShare float64
	Limit    time.Duration // 0: no warm-up
}

// warmupSlice is what one slice of a warm-up showed, and where the
// warm-up stood after it.
type warmupSlice struct {
	Elapsed time.Duration // since the warm-up began, this slice included
	// Share is the page faults' share of the ledger processes' CPU in the
	// slice, at the machine's cost per fault; negative: not known (no
	// probe, or no CPU booked), which never counts as warm.
	Share float64
	Votes int // committed in the slice
	// Spare is the roll voters left beyond those the measured drive after
	// the warm-up may cast; negative: random voters, no bound.
	Spare int
}

// stop reports whether the warm-up ends after slice s, and why: once a
// slice is warm (its Share known and under MaxShare); once a slice
// committed nothing (more would not warm the network); once Limit has
// passed; or once Spare does not cover another slice, which may cast up
// to next voters.
func (w WarmupRule) stop(s warmupSlice, next int) (bool, string) {
	switch {
	case s.Share >= 0 && s.Share < w.MaxShare:
		return true, fmt.Sprintf("warm: page faults took %.1f%% of the ledger CPU in the last slice, under %.0f%%", s.Share*100, w.MaxShare*100)
	case s.Votes == 0:
		return true, "not warm: the last slice committed no votes"
	case s.Elapsed >= w.Limit:
		return true, fmt.Sprintf("not warm: its bound, %s, passed", w.Limit)
	case s.Spare >= 0 && s.Spare < next:
		return true, fmt.Sprintf("not warm: the %d roll voters left beyond the measured drive's do not cover another slice (up to %d)", s.Spare, next)
	}
	return false, ""
}

// warmUp warms up lt, an extra network brought up as name, before its
// first measured drive, by the plan's ExtraWarmup rule: slices booked as
// CPU phase name+"-warmup". The voters it casts come off lt.voters, so the
// drives after it cast only voters who have not voted; it keeps the
// extraCeilingVoters the measured drive may cast. It returns what the
// report says of it; nil if the plan has no warm-up.
func (r *run) warmUp(ctx context.Context, lt *ledgerUnderTest, name string) *report.Warmup {
	pl := r.cfg.Plan
	rule := pl.ExtraWarmup
	if rule.Limit <= 0 {
		return nil
	}
	phase := name + "-warmup"
	w := &report.Warmup{LimitS: rule.Limit.Seconds(), MaxShare: rule.MaxShare}
	next := pl.extraSliceVoters(r.best.VotesPerTx, r.best.InFlight)
	began := time.Now()
	for r.fatal == nil && ctx.Err() == nil {
		cpu0, faults0 := lt.book.Seconds(phase, ledgerNode), lt.book.PageFaults(phase, ledgerNode)
		from := time.Now()
		// Few batches built ahead: a drive builds its Prebuilt batches
		// before it submits any (400 of 2,000 votes take seconds), which
		// would leave the ledger idle for much of each slice.
		res := r.driveOn(ctx, *lt, phase, ledgerload.Drive{VotesPerTx: r.best.VotesPerTx, InFlight: r.best.InFlight, Duration: rule.Slice, Prebuilt: 2 * r.best.InFlight})
		took := time.Since(from)
		s := warmupSlice{Elapsed: time.Since(began), Share: -1, Votes: res.AllVotes, Spare: -1}
		if lt.voters != nil {
			lt.voters = res.Unused(lt.voters)
			s.Spare = len(lt.voters) - pl.extraCeilingVoters()
		}
		secs := lt.book.Seconds(phase, ledgerNode) - cpu0
		f := r.faults(lt.book.PageFaults(phase, ledgerNode)-faults0, secs, res.AllVotes)
		if r.rep.Machine.PageFaultStart != nil && secs > 0 {
			s.Share = f.PageFaultCPUShare
		}
		w.Slices = append(w.Slices, report.WarmupSlice{DurationS: took.Seconds(), Votes: res.AllVotes, Counted: res.Counted, Faults: f})
		if stop, why := rule.stop(s, next); stop {
			w.Stopped = why
			break
		}
	}
	w.DurationS = time.Since(began).Seconds()
	if w.Stopped == "" {
		w.Stopped = "cut short: the run is ending"
	}
	r.say("%s: warm-up %.0f s, %d slices, %d votes; %s", name, w.DurationS, len(w.Slices), w.Votes(), w.Stopped)
	return w
}
