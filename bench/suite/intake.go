package suite

import (
	"context"
	"strings"
	"time"

	"github.com/votechain/votechain/bench/loadgen"
	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/bench/report"
)

// voteCPU books the gateway's and Redis's CPU per accepted vote over the
// CPU phase name, whose intake accepted the votes of phases.
func (r *run) voteCPU(name string, phases ...loadgen.Phase) {
	v := report.VoteCPU{Phase: name}
	for _, p := range phases {
		v.Accepted += p.Accepted
	}
	if v.Accepted == 0 {
		return
	}
	per := func(sec float64) float64 { return sec / float64(v.Accepted) * 1e6 }
	v.GatewayUS, v.RedisUS = per(r.book.Seconds(name, named("gateway"))), per(r.book.Seconds(name, named("redis")))
	v.TotalUS = v.GatewayUS + v.RedisUS
	r.rep.Intake15.Phases = append(r.rep.Intake15.Phases, v)
}

// storm re-sends, at pl.StormRate for pl.StormDur, votes of voters whose
// votes are committed (the referendum's voters, once the queues drained),
// and counts the answers and the gateway's exact (ledger) checks meanwhile.
func (r *run) storm(ctx context.Context) error {
	pl := r.cfg.Plan
	s := &r.rep.Intake15.Storm
	s.Voters, s.Unsure = r.stormPool, r.stormUnsure
	if s.Voters == 0 || pl.StormDur <= 0 {
		r.note("duplicate storm: skipped (no voters known to have voted)")
		return nil
	}
	metrics := r.st.GatewayURL() + "/metrics"
	// The first of the candidate metrics the gateway exposes.
	names := strings.Split(r.cfg.ExactCheckMetric, ",")
	s.Metric = names[0]
	var before float64
	var found bool
	var err error
	for _, name := range names {
		if before, found, err = measure.CounterSum(ctx, metrics, name); err != nil || found {
			s.Metric = name
			break
		}
	}
	if err != nil {
		r.note("duplicate storm: gateway metrics: %v", err)
	}
	r.say("duplicate storm: %.0f re-sends/s for %s of %d committed voters", pl.StormRate, pl.StormDur, s.Voters)
	r.book.Begin("storm")
	from := time.Now()
	s.Phase, err = r.runner.Resend(ctx, "storm", pl.StormRate, pl.StormDur, s.Voters)
	r.book.End()
	r.mark("storm", from, time.Now())
	if err != nil {
		return err
	}
	after, found2, err := measure.CounterSum(ctx, metrics, s.Metric)
	if err != nil {
		r.note("duplicate storm: gateway metrics: %v", err)
	}
	s.MetricFound = found || found2
	s.ExactChecks = after - before
	r.voteCPU("storm", s.Phase)
	return nil
}
