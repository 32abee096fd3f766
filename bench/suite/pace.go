package suite

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"time"

	"github.com/votechain/votechain/bench/ledgerload"
	"github.com/votechain/votechain/bench/loadgen"
	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/bench/report"
)

// The batcher's pace: a rate holds when, over its window, the batcher
// commits at least HoldRatio of what the gateway accepted (the queue does
// not grow), the gateway accepts at least HoldRatio of what was offered,
// and 202→commit p95 of the window's votes stays under HoldP95. The
// sustained phase is the first probe; a bisection between rates that held
// and failed adds the others.

// settle waits for the queues to drain onto the ledger (and the last
// commit events to arrive), booked as CPU phase name; it returns how long
// the drain took and the depth it started from.
func (r *run) settle(ctx context.Context, name string) (time.Duration, int64, error) {
	depth, err := loadgen.QueueDepth(ctx, r.rdb, r.election.States)
	if err != nil || depth == 0 {
		return 0, depth, err
	}
	r.say("%s: %d votes queued; waiting for the drain", name, depth)
	r.book.Begin(name)
	from := time.Now()
	d, err := loadgen.WaitDrained(ctx, r.rdb, r.election.States, r.cfg.Plan.DrainLimit, r.cfg.Progress, nil)
	r.book.End()
	r.mark(name, from, time.Now())
	if err == nil {
		if werr := r.watcher.WaitIdle(ctx, 2*time.Second, time.Minute); werr != nil {
			r.note("%s: waiting for the last commit events: %v", name, werr)
		}
	}
	return d, depth, err
}

// probe offers rate for d as CPU phase cpuPhase, drains, and judges it.
func (r *run) probe(ctx context.Context, name, cpuPhase string, rate float64, d time.Duration) (report.Probe, error) {
	pl := r.cfg.Plan
	var pr report.Probe
	var err error
	if _, _, err := r.settle(ctx, "settle"); err != nil {
		return pr, fmt.Errorf("before %s: %w", name, err)
	}
	if pr.QueuedBefore, err = loadgen.QueueDepth(ctx, r.rdb, r.election.States); err != nil {
		return pr, err
	}
	stages := r.scrapeBatchers(ctx, name)
	from := time.Now()
	p, err := r.intake(ctx, name, cpuPhase, rate, d)
	if err != nil {
		return pr, err
	}
	pr.Commit = r.committed(p, from, from.Add(d))
	pr.QueuedAfter, _ = loadgen.QueueDepth(ctx, r.rdb, r.election.States)
	if pr.Phase.AcceptedPerS > 0 {
		pr.CommittedOverAccepted = pr.CommittedPerS / pr.Phase.AcceptedPerS
	}
	drained, _, derr := r.settle(ctx, "drain-"+name)
	pr.Stages = r.batcherStages(ctx, name, stages) // over the window's votes, now drained
	r.noteCompactions(name, from, from.Add(d))     // after the drain: what began in the window has finished
	if pr.CommitPaths, err = commitPaths(filepath.Dir(r.st.Network().Layout().Log("peer")), from, from.Add(d)); err != nil {
		r.note("%s: the commit stage from the nodes' logs: %v", name, err)
	}
	pr.DrainS = drained.Seconds()
	arrivals, _ := r.watcher.Arrivals()
	lat, unreadable, lerr := ledgerload.CommitLatencies(ctx, r.ledger, arrivals, from, from.Add(d))
	if lerr != nil {
		return pr, lerr
	}
	if unreadable > 0 {
		r.note("%s: %d batches unreadable for the 202→commit latency", name, unreadable)
	}
	pr.CommitLatency = measure.Summarize(lat)
	p95 := time.Duration(pr.CommitLatency.P95ms * float64(time.Millisecond))
	switch {
	case derr != nil:
		pr.Why = "the queue did not drain: " + derr.Error()
	case pr.Phase.AcceptedPerS < pl.HoldRatio*rate:
		pr.Why = fmt.Sprintf("intake accepted %.0f/s of %.0f/s offered", pr.Phase.AcceptedPerS, rate)
	case pr.CommittedOverAccepted < pl.HoldRatio:
		pr.Why = fmt.Sprintf("committed %.2f of accepted: the queue grew by %d", pr.CommittedOverAccepted, pr.QueuedAfter-pr.QueuedBefore)
	case pr.CommitLatency.N == 0:
		pr.Why = "no committed vote of the window found on the ledger"
	case p95 >= pl.HoldP95:
		pr.Why = fmt.Sprintf("202→commit p95 %.0f ms ≥ %s", pr.CommitLatency.P95ms, pl.HoldP95)
	default:
		pr.Holds, pr.Why = true, "holds"
	}
	r.say("%s at %.0f/s: %s (committed/accepted %.2f, 202→commit p95 %.0f ms)", name, rate, pr.Why, pr.CommittedOverAccepted, pr.CommitLatency.P95ms)
	return pr, nil
}

// search looks for the sustainable rate between the probes so far: the
// highest rate that held and the lowest that failed (or, while none failed,
// the larger of the knee's accepted rate, the intake's own limit, and twice
// the rate that held). Its first probe inside that bracket is the plan's
// SearchGoal, so the run decides issue 21's target whatever the bisection's
// grid; the others bisect (nextSearchRate).
func (r *run) search(ctx context.Context) error {
	pl := r.cfg.Plan
	pc := &r.rep.Pace21
	for i := range pl.SearchProbes {
		rate, ok := nextSearchRate(pc.Probes, r.kneeAccepted(), pl.SearchGoal, pl.SearchStep)
		if !ok {
			break // the bracket is one step wide: found
		}
		pr, err := r.probe(ctx, fmt.Sprintf("search-%d", i+1), "search", rate, pl.ProbeDur)
		pc.Probes = append(pc.Probes, pr)
		if err != nil {
			return err
		}
	}
	pc.Sustainable, _ = searchBracket(pc.Probes, r.kneeAccepted())
	return nil
}

// searchBracket is what probes have shown of the sustainable rate: lo, the
// highest offered rate that held (0: none), and hi, the lowest that failed,
// or, while none failed, the larger of knee (the intake's accepted rate at
// the ramp's knee; 0: not measured) and 2·lo.
func searchBracket(probes []report.Probe, knee float64) (lo, hi float64) {
	hi = math.Inf(1)
	for _, p := range probes {
		if p.Holds {
			lo = max(lo, p.Phase.Offered)
		} else {
			hi = min(hi, p.Phase.Offered)
		}
	}
	if math.IsInf(hi, 1) {
		hi = max(knee, 2*lo)
	}
	return lo, hi
}

// nextSearchRate is the rate to probe next after probes (false: none, the
// bracket is found): goal (when positive) while it lies inside the bracket
// and no probe offered it, else the bracket's midpoint rounded to a
// multiple of step, if that lies strictly inside.
func nextSearchRate(probes []report.Probe, knee, goal, step float64) (float64, bool) {
	lo, hi := searchBracket(probes, knee)
	probed := func(rate float64) bool {
		return slices.ContainsFunc(probes, func(p report.Probe) bool { return p.Phase.Offered == rate })
	}
	if goal > lo && goal < hi && !probed(goal) {
		return goal, true
	}
	rate := math.Round((lo+hi)/2/step) * step
	if rate <= lo || rate >= hi {
		return 0, false
	}
	return rate, true
}

// kneeAccepted is the accepted rate at the ramp's knee (0 if none).
func (r *run) kneeAccepted() float64 {
	if k := r.rep.KneeIndex; k >= 0 && k < len(r.rep.Ramp) {
		return r.rep.Ramp[k].AcceptedPerS
	}
	return 0
}
