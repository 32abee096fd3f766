package suite

import (
	"context"
	"fmt"

	"github.com/votechain/votechain/bench/report"
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
// weighs on both sides alike. An election of one contest has no pair.
func (r *run) contestsPair(ctx context.Context) {
	l := &r.rep.Ledger14
	ids := r.election.ContestIDs()
	if len(ids) < 2 {
		r.note("the election has one contest, so the ceiling with votes spread over several contests was not measured (benchrun --election config/referendum.json measures it)")
		return
	}
	dur := r.cfg.Plan.CeilingDur
	l.OneContest = r.ceilingOn(ctx, r.own(), "ceiling-one-contest", dur, ids[:1])
	l.AllContests = r.ceilingOn(ctx, r.own(), "ceiling-contests", dur, ids)
	if one := l.OneContest.Drive.CountedPerS; one > 0 {
		l.ContestsOverOne = (l.Fresh.Drive.CountedPerS + l.AllContests.Drive.CountedPerS) / 2 / one
	}
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
	n := len(r.election.Contests)
	return []report.Target{target("17", fmt.Sprintf("ledger ceiling, votes over %d contests ÷ all in one", n), "≥ 0.9",
		fmt.Sprintf("%.2f (mean of %.0f and %.0f / %.0f votes/s)", l.ContestsOverOne, l.Fresh.Drive.CountedPerS, l.AllContests.Drive.CountedPerS, l.OneContest.Drive.CountedPerS),
		l.ContestsOverOne, goalContestsOver, false)}
}
