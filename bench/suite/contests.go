package suite

import (
	"context"
	"fmt"

	"github.com/votechain/votechain/bench/report"
	"github.com/votechain/votechain/network"
)

// Contests (issue 17): the ledger ceiling with the votes spread over the
// election's contests against the ceiling with every vote in one contest,
// and the results per contest.

// contestsPair measures, right after the fresh ceiling and at its setting,
// the ceiling with every vote in the election's first contest and then
// again with the votes spread over all its contests (each vote of a batch
// in the next contest), as the fresh ceiling spread them. The one-contest
// drive thus sits between two drives over all contests, and the ratio is
// their mean over it, so a drift of the machine or the ledger's growth
// weighs on both sides alike. An election of one contest has no pair on
// the run's network: contestsOnExtra measures it.
func (r *run) contestsPair(ctx context.Context) {
	if len(r.election.Contests) < 2 {
		return
	}
	l := &r.rep.Ledger14
	l.OneContest, l.AllContests = r.oneThenAll(ctx, r.own(), r.election.ContestIDs())
	l.ContestsOverOne = contestsOverOne(l.Fresh, l.OneContest, l.AllContests)
}

// contestsOnExtra measures the pair when the run's election has one
// contest: on a fresh network of the run's consensus brought up for it,
// with the run's election but Config.Contests as its contests and no roll
// (random voters, all counted), after its warm-up, the ceiling over all
// contests, with every vote in the first, and over all again, at the
// sweep's best setting.
func (r *run) contestsOnExtra(ctx context.Context) {
	l := &r.rep.Ledger14
	if len(r.election.Contests) > 1 {
		return // measured on the run's network (contestsPair)
	}
	if len(r.cfg.Contests) < 2 {
		r.note("the election has one contest and no election of several was given, so the ceiling with votes spread over several contests was not measured")
		return
	}
	e := *r.election
	e.Contests = r.cfg.Contests
	err := r.onExtra(ctx, network.Consensus(l.Consensus), "ceiling-contests", e, nil, nil, func(lt ledgerUnderTest, w *report.Warmup) {
		first := r.ceilingOn(ctx, lt, "ceiling-contests-first", r.cfg.Plan.CeilingDur, nil)
		first.Warmup = w
		l.ContestsFirst = &first
		l.OneContest, l.AllContests = r.oneThenAll(ctx, lt, e.ContestIDs())
	})
	if err != nil {
		l.ContestsNote = err.Error()
		return
	}
	l.ContestsOverOne = contestsOverOne(*l.ContestsFirst, l.OneContest, l.AllContests)
	l.ContestsNote = fmt.Sprintf("measured on a fresh %s network brought up for it, with the run's election but %d contests and no roll (random voters), after its warm-up, while the run's system stood idle.", l.Consensus, len(e.Contests))
	r.say("contests on the ledger: %.0f and %.0f counted/s over %d contests, %.0f in one (%.2f×)", l.ContestsFirst.Drive.CountedPerS, l.AllContests.Drive.CountedPerS, len(e.Contests), l.OneContest.Drive.CountedPerS, l.ContestsOverOne)
}

// oneThenAll measures on lt the ceiling with every vote in the first of
// ids, then with the votes over all of them.
func (r *run) oneThenAll(ctx context.Context, lt ledgerUnderTest, ids []string) (one, all report.Ceiling) {
	dur := r.cfg.Plan.CeilingDur
	one = r.ceilingOn(ctx, lt, "ceiling-one-contest", dur, ids[:1])
	all = r.ceilingOn(ctx, lt, "ceiling-contests", dur, ids)
	return one, all
}

// contestsOverOne is the mean of the ceilings over all contests before and
// after the one-contest ceiling, over it (counted/s; 0 if it is missing).
func contestsOverOne(before, one, after report.Ceiling) float64 {
	if o := one.Drive.CountedPerS; o > 0 {
		return (before.Drive.CountedPerS + after.Drive.CountedPerS) / 2 / o
	}
	return 0
}

// contestResults fills the report's results per contest: the intake's 202s
// and counted votes from the loss check, and the ledger's counts, which
// include the drivers' votes.
func (r *run) contestResults(ctx context.Context) {
	res, err := r.ledger.Results(ctx)
	if err != nil {
		r.note("ledger results per contest: %v", err)
	}
	for _, c := range r.election.Contests {
		cr := report.ContestResult{ID: c.ID, Title: c.Title, Kind: c.Kind, Choices: c.Choices, Ledger: res.National[c.ID]}
		l := r.rep.Loss.Contests[c.ID]
		cr.Accepted, cr.Counted, cr.Missing = l.Accepted, l.Counted, l.Missing
		for _, n := range cr.Ledger {
			cr.LedgerCounted += n
		}
		r.rep.Contests = append(r.rep.Contests, cr)
	}
	for id, l := range r.rep.Loss.Contests {
		if _, ok := r.election.Contest(id); !ok {
			r.note("the loss check saw %d votes answered 202 and %d counted in %q, which is not a contest of the election", l.Accepted, l.Counted, id)
		}
	}
}

// contestsTarget is issue 17's: no loss of throughput with contests.
func (r *run) contestsTarget() []report.Target {
	l := r.rep.Ledger14
	if l.OneContest.Drive.Txs == 0 {
		return nil
	}
	n := len(l.AllContests.Contests)
	return []report.Target{target("17", fmt.Sprintf("ledger ceiling, votes over %d contests ÷ all in one", n), "≥ 0.9",
		fmt.Sprintf("%.2f (mean of %.0f and %.0f / %.0f votes/s)", l.ContestsOverOne, l.ContestsBefore().Drive.CountedPerS, l.AllContests.Drive.CountedPerS, l.OneContest.Drive.CountedPerS),
		l.ContestsOverOne, goalContestsOver, false)}
}
