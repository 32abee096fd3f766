package suite

import (
	"context"

	"github.com/votechain/votechain/bench/ledgerload"
	"github.com/votechain/votechain/bench/measure"
)

// OnlySweep is Config.Only for the start of a run alone, on the run's own
// system: the sweep and its choice, the fresh-ledger ceiling (and the
// contests pair with several contests), the catch-up and the referendum.
const OnlySweep = "sweep"

// sweepOnly runs OnlySweep's phases and books what the report shows of
// them.
func (r *run) sweepOnly(ctx context.Context) error {
	rep, pl := r.rep, r.cfg.Plan
	rep.Only = OnlySweep
	r.sweep(ctx)
	if r.fatal != nil {
		return r.fatal
	}
	_, from, err := r.referendum(ctx) // drained
	if err != nil {
		return err
	}
	arrivals, _ := r.watcher.Arrivals()
	lat, unreadable, err := ledgerload.CommitLatencies(ctx, r.ledger, arrivals, from, from.Add(pl.ReferendumDur))
	if err != nil {
		r.note("referendum 202→commit: %v", err)
	} else if unreadable > 0 {
		r.note("referendum: %d batches unreadable for the 202→commit latency", unreadable)
	}
	rep.Referendum.CommitLatency = measure.Summarize(lat)
	r.bookCPU()
	return nil
}
