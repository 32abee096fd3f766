package suite

import (
	"context"
	"fmt"
	"time"

	"github.com/votechain/votechain/bench/loadgen"
	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/bench/report"
)

// explorerHeightMetric is the explorer's gauge of blocks indexed (the
// number of the next block to index).
const explorerHeightMetric = "explorer_indexed_height"

// catchUp waits, at most Plan.CatchUpLimit, until the explorer has indexed
// every block on the channel and the vote queues are empty, so that the
// next phase measures itself and not the backlog of the phases before it.
// The wait, if any, is the CPU phase named phase. An explorer that does not expose its
// height is not waited for (the note says so).
func (r *run) catchUp(ctx context.Context, phase string) report.PhaseStart {
	limit := r.cfg.Plan.CatchUpLimit
	s := report.PhaseStart{LimitS: limit.Seconds()}
	if limit <= 0 {
		return s
	}
	metrics := r.st.ExplorerURL() + "/metrics"
	explorer := true
	lag := func() (behind uint64, queued int64, err error) {
		if queued, err = loadgen.QueueDepth(ctx, r.rdb, r.election.States); err != nil {
			return 0, 0, err
		}
		if !explorer {
			return 0, queued, nil
		}
		height, err := r.ledger.Height(ctx)
		if err != nil {
			return 0, queued, err
		}
		indexed, found, err := measure.CounterSum(ctx, metrics, explorerHeightMetric)
		if err != nil {
			return 0, queued, err
		}
		if !found {
			explorer = false
			r.note("catch-up: the explorer exposes no %s at %s: not waited for", explorerHeightMetric, metrics)
			return 0, queued, nil
		}
		if h := uint64(indexed); h < height {
			behind = height - h
		}
		return behind, queued, nil
	}
	behind, queued, err := lag()
	s.Behind, s.Queued = behind, queued
	if err == nil && behind == 0 && queued == 0 {
		// Nothing to wait for: no CPU phase (its length would be ~0 s, and
		// cores over it meaningless).
		s.CaughtUp = true
		r.say("%s: the explorer has indexed every block and no vote is queued", phase)
		return s
	}
	r.say("%s: the explorer is %d blocks behind, %d votes queued; waiting at most %s", phase, behind, queued, limit)
	r.book.Begin(phase)
	from := time.Now()
	for first := true; ; first = false {
		if !first {
			behind, queued, err = lag()
		}
		if err == nil && behind == 0 && queued == 0 {
			s.CaughtUp = true
			break
		}
		if time.Since(from) >= limit || ctx.Err() != nil {
			s.Note = fmt.Sprintf("the explorer was still %d blocks behind and %d votes queued", behind, queued)
			if err != nil {
				s.Note = "the lag could not be read: " + err.Error()
			}
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
	r.book.End()
	r.mark(phase, from, time.Now())
	s.WaitS = time.Since(from).Seconds()
	r.say("%s: %.1f s (caught up: %v)", phase, s.WaitS, s.CaughtUp)
	return s
}

// referendum waits for the catch-up, then offers the referendum rate,
// books what the batcher committed meanwhile and waits for the drain (the
// batchers' stages cover the phase until its votes are drained); it
// returns the phase and when it began.
func (r *run) referendum(ctx context.Context) (loadgen.Phase, time.Time, error) {
	pl := r.cfg.Plan
	r.rep.ReferendumStart = r.catchUp(ctx, "catch-up")
	stages := r.scrapeBatchers(ctx, "referendum")
	ref, err := r.intake(ctx, "referendum", "referendum", pl.ReferendumRate, pl.ReferendumDur)
	if err != nil {
		return ref, time.Time{}, err
	}
	from := r.t0.Add(time.Duration(ref.StartS * float64(time.Second)))
	r.rep.Referendum = r.committed(ref, from, from.Add(pl.ReferendumDur))
	if _, _, err := r.settle(ctx, "drain-referendum"); err != nil {
		r.note("referendum drain: %v", err)
	}
	r.rep.Referendum.Stages = r.batcherStages(ctx, "referendum", stages)
	return ref, from, nil
}

// parts is the CPU of this run's processes in phase by component, in a
// fixed order, and the machine's busy cores.
func (r *run) parts(phase string) (busy float64, parts []report.PartCores) {
	sum := map[string]float64{}
	for _, name := range r.book.Names() {
		sum[part(name)] += r.book.Cores(phase, name)
	}
	for _, p := range partOrder {
		if c, ok := sum[p]; ok {
			parts = append(parts, report.PartCores{Part: p, Cores: c})
		}
	}
	return r.book.MachineBusy(phase) * float64(r.rep.Machine.CPUs), parts
}

// startedAfter says in a few words how a phase began and how busy the
// machine was in it, for the targets table.
func startedAfter(s report.PhaseStart) string {
	var how string
	switch {
	case s.LimitS == 0:
		how = "no catch-up wait"
	case s.CaughtUp:
		how = fmt.Sprintf("after %.0f s of catch-up", s.WaitS)
	default:
		how = fmt.Sprintf("not caught up after %.0f s", s.WaitS)
	}
	return fmt.Sprintf("%s; machine %.2f cores busy", how, s.Busy)
}

// explorerFailuresMetric is the explorer's gauge of verification failures
// in its index, by kind: 0 on an honest ledger.
const explorerFailuresMetric = "explorer_verification_failures"

// noteExplorerAudit notes what the explorer's audit of the run's ledger
// found, as far as it had indexed: every check (hash chain, orderers'
// signatures, endorsements, batches, roll) over the whole run's blocks.
func (r *run) noteExplorerAudit(ctx context.Context) {
	metrics := r.st.ExplorerURL() + "/metrics"
	failures, found, err := measure.CounterSum(ctx, metrics, explorerFailuresMetric)
	var height float64
	if err == nil {
		height, _, err = measure.CounterSum(ctx, metrics, explorerHeightMetric)
	}
	switch {
	case err != nil:
		r.note("explorer audit: %v", err)
	case !found:
		r.note("explorer audit: the explorer exposes no %s", explorerFailuresMetric)
	default:
		r.note("explorer audit: %.0f verification failures in the %.0f blocks it indexed of the run's ledger (every check: hash chain, orderers' signatures, clients' signatures and replays, endorsements, approvals, callers, batches, roll, intake log anchors)", failures, height)
		r.say("explorer audit: %.0f verification failures in %.0f blocks", failures, height)
	}
}
