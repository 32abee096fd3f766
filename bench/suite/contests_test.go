package suite

import (
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/bench/report"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/test-network/nettest"
)

// TestContestsOnExtra runs the contests pair of a one-race run: on an
// extra network whose election has three questions, after its warm-up, the
// ceiling over all of them, with every vote in the first, and over all
// again; every vote counts, each drive names the contests it used, and the
// ratio is the mean of the two spread drives over the one-contest drive;
// the network's CPU book is in the report.
func TestContestsOnExtra(t *testing.T) {
	e := nettest.Election([]string{"CA", "TX"}, []string{"alice", "bob"})
	r := shortRun(t, &e)
	for _, id := range []string{"q1", "q2", "q3"} {
		r.cfg.Contests = append(r.cfg.Contests, ballot.Contest{ID: id, Title: "Question " + id, Kind: ballot.ContestQuestion, Choices: []string{"yes", "no"}})
	}
	r.contestsOnExtra(t.Context())
	l := r.rep.Ledger14
	if l.ContestsFirst == nil || r.fatal != nil {
		t.Fatalf("contests pair: %+v, run error %v", l, r.fatal)
	}
	for name, c := range map[string]report.Ceiling{"first": *l.ContestsFirst, "one": l.OneContest, "all": l.AllContests} {
		d := c.Drive
		if d.Txs == 0 || d.Errors > 0 || d.Rejected > 0 || d.Counted != d.AllVotes || d.CountedPerS <= 0 || c.Consensus != string(network.BFT) || c.CPUPer1000 <= 0 {
			t.Errorf("%s: %+v; want votes counted, none rejected, no errors, CPU booked, on bft", name, c)
		}
	}
	checkWarmup(t, "contests", *l.ContestsFirst, r.cfg.Plan.ExtraWarmup)
	checkExtraCPU(t, r.rep, "ceiling-contests", "ceiling-contests-first")
	if l.OneContest.Warmup != nil || l.AllContests.Warmup != nil {
		t.Errorf("warm-ups before the network's later drives: %+v, %+v; want one, before its first", l.OneContest.Warmup, l.AllContests.Warmup)
	}
	if got := l.OneContest.Contests; len(got) != 1 || got[0] != "q1" {
		t.Errorf("one-contest drive over %v, want [q1]", got)
	}
	if got := l.AllContests.Contests; len(got) != 3 {
		t.Errorf("spread drive over %v, want the three questions", got)
	}
	if want := (l.ContestsFirst.Drive.CountedPerS + l.AllContests.Drive.CountedPerS) / 2 / l.OneContest.Drive.CountedPerS; l.ContestsOverOne != want {
		t.Errorf("ratio %.3f, want %.3f", l.ContestsOverOne, want)
	}
	if ts := r.contestsTarget(); len(ts) != 1 {
		t.Errorf("targets %+v, want issue 17's", ts)
	}
	t.Logf("over 3 contests %.0f and %.0f counted/s, in one %.0f (%.2f×); CPU per 1,000: %.3f, %.3f, %.3f", l.ContestsFirst.Drive.CountedPerS, l.AllContests.Drive.CountedPerS,
		l.OneContest.Drive.CountedPerS, l.ContestsOverOne, l.ContestsFirst.CPUPer1000, l.OneContest.CPUPer1000, l.AllContests.CPUPer1000)
}
