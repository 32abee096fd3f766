package suite

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
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

// search bisects for the sustainable rate between the probes so far: the
// highest rate that held and the lowest that failed (or the knee's
// accepted rate, the intake's own limit, when none failed).
func (r *run) search(ctx context.Context) error {
	pl := r.cfg.Plan
	pc := &r.rep.Pace21
	lo, hi := 0.0, 0.0
	bounds := func() {
		lo, hi = 0, math.Inf(1)
		for _, p := range pc.Probes {
			if p.Holds {
				lo = max(lo, p.Phase.Offered)
			} else {
				hi = min(hi, p.Phase.Offered)
			}
		}
		if math.IsInf(hi, 1) {
			hi = max(r.kneeAccepted(), 2*lo)
		}
	}
	for i := range pl.SearchProbes {
		bounds()
		rate := math.Round((lo+hi)/2/pl.SearchStep) * pl.SearchStep
		if rate <= lo || rate >= hi {
			break // the bounds are one step apart: found
		}
		pr, err := r.probe(ctx, fmt.Sprintf("search-%d", i+1), "search", rate, pl.ProbeDur)
		pc.Probes = append(pc.Probes, pr)
		if err != nil {
			return err
		}
	}
	bounds()
	pc.Sustainable = lo
	return nil
}

// kneeAccepted is the accepted rate at the ramp's knee (0 if none).
func (r *run) kneeAccepted() float64 {
	if k := r.rep.KneeIndex; k >= 0 && k < len(r.rep.Ramp) {
		return r.rep.Ramp[k].AcceptedPerS
	}
	return 0
}
