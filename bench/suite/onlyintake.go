package suite

import (
	"context"

	"github.com/votechain/votechain/bench/loadgen"
)

// OnlyIntake is Config.Only for the intake phases alone, on the run's own
// fresh system with no ledger drives before them: the sustained phase
// (the batcher's pace, without the search), the ramp to the knee, the
// fixed rates, the surge and its drain, then the loss check. It is what
// the ledger side's CPU priority is judged by (docs/operations.md).
const OnlyIntake = "intake"

// intakeOnly runs OnlyIntake's phases and books what the report shows of
// them.
func (r *run) intakeOnly(ctx context.Context) error {
	rep, pl := r.rep, r.cfg.Plan
	rep.Only = OnlyIntake
	sus, err := r.probe(ctx, "sustained", "sustained", pl.SustainedRate, pl.SustainedDur)
	rep.Pace21.Probes = append(rep.Pace21.Probes, sus)
	rep.Sustained = sus.Commit
	if err != nil {
		return err
	}
	r.voteCPU("sustained", sus.Phase)
	if err := r.rampFixedSurge(ctx); loadgen.IsExhausted(err) {
		r.note("the intake phases stopped early: %v", err)
	} else if err != nil {
		return err
	}
	if err := r.drain(ctx); err != nil {
		r.note("drain: %v", err)
	}
	r.lossCheck(ctx)
	r.redisPersistence() // the drain and the loss check took long enough for a poll after the surge
	r.series()
	r.bookCPU()
	return nil
}
