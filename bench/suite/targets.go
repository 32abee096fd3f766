package suite

import (
	"fmt"
	"strings"

	"github.com/votechain/votechain/bench/loadgen"
	"github.com/votechain/votechain/bench/report"
)

// The targets for this 2-core machine, and the seeds' referendum.
const (
	goalCommitted     = 5000
	goalVsCeiling     = 0.9
	goalVsNaive       = 10
	goalKnee          = 25000
	goalP99At10k      = 50 // ms
	goalReadRatio     = 0.9
	goalReferendumP95 = 100 // ms
)

// scaleGoals are the national-scale goals of the seeds.
var scaleGoals = report.ScaleGoals{AcceptPerS: 1e6, SurgeS: 60, ReadsPerS: 1e7, CommitPerS: 100_000, Headroom: 0.7, NodeCores: 16, Orgs: 2}

func target(name, goal, measured string, m, g float64, lowerBetter bool) report.Target {
	met, margin := report.Margin(m, g, lowerBetter)
	return report.Target{Name: name, Goal: goal, Measured: measured, Met: met, Margin: margin}
}

// targets states every target met or missed, and derives the scaling plan.
func (r *run) targets() {
	rep := r.rep
	if rep.Ceiling.VotesPerS > 0 {
		rep.VsCeiling = rep.Sustained.CommittedPerS / rep.Ceiling.VotesPerS
	}
	if rep.Naive.VotesPerS > 0 {
		rep.VsNaive = rep.Sustained.CommittedPerS / rep.Naive.VotesPerS
	}
	var kneeRate float64
	kneeText := "no step served"
	if rep.KneeIndex >= 0 {
		k := rep.Ramp[rep.KneeIndex]
		kneeRate = k.AcceptedPerS
		kneeText = fmt.Sprintf("%.0f/s accepted (offered %.0f/s)", k.AcceptedPerS, k.Offered)
	}
	best := 0.0
	for _, p := range rep.Ramp {
		best = max(best, p.AcceptedPerS)
	}
	var at10k *loadgen.Phase
	for i := range rep.Fixed {
		if rep.Fixed[i].Offered == 10000 {
			at10k = &rep.Fixed[i]
		}
	}
	rep.Targets = []report.Target{
		target("committed votes/s, sustained ≥ 60 s", "≥ 5,000/s", fmt.Sprintf("%.0f/s over %.0f s", rep.Sustained.CommittedPerS, rep.Sustained.WindowS),
			rep.Sustained.CommittedPerS, goalCommitted, false),
		target("Votechain ÷ ledger ceiling", "≥ 0.9", fmt.Sprintf("%.2f (%.0f / %.0f)", rep.VsCeiling, rep.Sustained.CommittedPerS, rep.Ceiling.VotesPerS),
			rep.VsCeiling, goalVsCeiling, false),
		target("Votechain ÷ naive baseline", "≥ 10×", fmt.Sprintf("%.1f× (%.0f / %.0f)", rep.VsNaive, rep.Sustained.CommittedPerS, rep.Naive.VotesPerS),
			rep.VsNaive, goalVsNaive, false),
		target("accepted votes/s at the knee", "≥ 25,000/s", fmt.Sprintf("%s; best step %.0f/s", kneeText, best), kneeRate, goalKnee, false),
	}
	if at10k != nil {
		rep.Targets = append(rep.Targets, target("202 p99 at 10,000/s offered", "< 50 ms",
			fmt.Sprintf("%.0f ms (%.0f/s accepted, %d × 503, %d errors)", at10k.AcceptLatency.P99ms, at10k.AcceptedPerS, at10k.Overloaded, at10k.Errors),
			at10k.AcceptLatency.P99ms, goalP99At10k, true))
	}
	rep.Targets = append(rep.Targets,
		target("results GET ÷ bare handler", "≥ 0.9", fmt.Sprintf("%.2f (median runs %.0f / %.0f QPS; best runs %.2f)", rep.Reads.Ratio, rep.Reads.GatewayQPS, rep.Reads.BareQPS, rep.Reads.BestRatio),
			rep.Reads.Ratio, goalReadRatio, false),
		target("referendum: 202 p95 at 1,000/s (seed)", "< 100 ms", fmt.Sprintf("%.1f ms", rep.Referendum.Phase.AcceptLatency.P95ms),
			rep.Referendum.Phase.AcceptLatency.P95ms, goalReferendumP95, true),
	)
	loss := report.Target{Name: "loss check: 202 ids = ledger ids, each once", Goal: "exact", Met: rep.Loss.OK,
		Measured: fmt.Sprintf("%d accepted, %d counted; missing %d, extra %d, twice %d", rep.Loss.Accepted, rep.Loss.Counted, rep.Loss.Missing, rep.Loss.Extra, rep.Loss.CountedTwice)}
	loss.Margin = map[bool]string{true: "met", false: "FAILED"}[loss.Met]
	rep.Targets = append(rep.Targets, loss)
	r.scale()
}

// scale derives per-vote costs from the CPU book and makes the plan.
func (r *run) scale() {
	rep, b := r.rep, r.book
	var rampAnswered float64
	for _, p := range rep.Ramp {
		rampAnswered += float64(p.Sent - p.Overloaded - p.Errors)
	}
	per := func(sec, n float64) float64 {
		if n <= 0 {
			return 0
		}
		return sec / n
	}
	commitPhase, committed := "drain", float64(rep.Surge.QueuedAtEnd)
	if committed < 1000 {
		commitPhase, committed = "sustained", rep.Sustained.CommittedPerS*rep.Sustained.WindowS
	}
	both := func(prefix string) float64 {
		return b.Seconds(commitPhase, prefixed(prefix)) / float64(scaleGoals.Orgs)
	}
	var reads float64
	for _, x := range rep.Reads.Gateway {
		reads += float64(x.OK)
	}
	c := report.ScaleCosts{
		GatewayCoresPerVote:   per(b.Seconds("ramp", named("gateway")), rampAnswered),
		RedisCoresPerVote:     per(b.Seconds("ramp", named("redis")), rampAnswered),
		BatcherCoresPerVote:   per(b.Seconds(commitPhase, named("batcher0")), committed),
		PeerCoresPerVote:      per(both("peer."), committed),
		ChaincodeCoresPerVote: per(both("cc."), committed),
		ChannelVotesPerS:      rep.Ceiling.VotesPerS,
		ReadCoresPerQuery:     per(b.Seconds("reads-gateway", named("gateway")), reads),
	}
	rep.Scale = report.Scale{Costs: c, Goals: scaleGoals, Plan: report.MakeScalePlan(c, scaleGoals)}
	var mb float64
	for _, cl := range rep.Redis.Classes {
		if strings.HasPrefix(cl.Name, "bloom") || strings.HasPrefix(cl.Name, "roll") || strings.HasPrefix(cl.Name, "receipts") {
			mb += cl.MBPerMillion
		}
	}
	rep.RedisMBPerMillion = mb
}
