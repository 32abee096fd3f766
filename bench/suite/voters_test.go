package suite

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/bench/ledgerload"
	"github.com/votechain/votechain/bench/report"
)

// TestDriveThatMayRunOutIsNotRun: a drive on the run's network whose voters
// might run out at the plan's drive rate is not run (the run's ledger here
// is nil: running it would panic) and fails the run with ErrDriverVoters;
// later drives are not run either.
func TestDriveThatMayRunOutIsNotRun(t *testing.T) {
	r := &run{cfg: Config{Plan: DefaultPlan()}, rep: &report.Report{}, election: election("race"), driverRoll: entries(100_000, "race")}
	d := ledgerload.Drive{VotesPerTx: 1000, InFlight: 16, Warmup: 3 * time.Second, Duration: 20 * time.Second}
	if need := DefaultPlan().driveVoters(1000, 16, 23*time.Second); need <= len(r.driverRoll) {
		t.Fatalf("the drive needs %d voters; the test must give it fewer than %d", need, len(r.driverRoll))
	}
	if res := r.drive(t.Context(), "ceiling", d); res.Txs != 0 || !errors.Is(r.fatal, ErrDriverVoters) {
		t.Fatalf("drive with too few voters: %+v, run error %v; want not run, ErrDriverVoters", res, r.fatal)
	}
	first := r.fatal
	r.driverRoll = entries(10_000_000, "race")
	if res := r.drive(t.Context(), "naive", d); res.Txs != 0 || r.fatal != first {
		t.Fatalf("a drive after the run failed: %+v, run error %v", res, r.fatal)
	}
}

// election is an election of the given contests.
func election(contests ...string) *ballot.Election {
	e := &ballot.Election{}
	for _, c := range contests {
		e.Contests = append(e.Contests, ballot.Contest{ID: c})
	}
	return e
}

// entries are the roll entries of n voters, each in every contest (voter
// by voter, as reserveDriverVoters lists them).
func entries(n int, contests ...string) []ballot.RollEntry {
	es := make([]ballot.RollEntry, 0, n*len(contests))
	for range n {
		for _, c := range contests {
			es = append(es, ballot.RollEntry{Contest: c})
		}
	}
	return es
}

// TestDriverVotersCoverThePlan: the roll voters reserved before the intake
// cover each drive before it (the sweep's settings, then the fresh
// ceiling, and with three contests the pair after it, each passing
// enoughVoters after the ones before took their most from each of their
// contests), and the naive baseline's bound follows its transaction rate.
func TestDriverVotersCoverThePlan(t *testing.T) {
	for _, p := range []Plan{DefaultPlan(), {SweepVotes: []int{500, 2000}, SweepFlights: []int{16, 32}, SweepDur: 3 * time.Second,
		Warmup: 3 * time.Second, CeilingVotes: 500, CeilingFlight: 16, CeilingDur: 6 * time.Second, DriveRate: 10_000, DriveTxRate: 1_000}} {
		for _, contests := range [][]string{{"race"}, {"L1", "L2", "L3"}} {
			r := &run{cfg: Config{Plan: p}, election: election(contests...), driverRoll: entries(p.DriverVoters(len(contests)), contests...)}
			take := func(what string, votes, flight int, d time.Duration, in []string) {
				need := p.driveVoters(votes, flight, d)
				if err := r.enoughVoters(what, need, in); err != nil {
					t.Fatalf("%d contests: %v", len(contests), err)
				}
				if in == nil {
					in = contests
				}
				taken := map[string]int{}
				for i := range need {
					taken[in[i%len(in)]]++
				}
				r.driverRoll = slices.DeleteFunc(r.driverRoll, func(e ballot.RollEntry) bool {
					taken[e.Contest]--
					return taken[e.Contest] >= 0
				})
			}
			for _, v := range p.SweepVotes {
				take("sweep", v, p.SweepFlights[0], p.Warmup+p.SweepDur, nil)
			}
			for _, f := range p.SweepFlights[1:] {
				take("sweep", 2000, f, p.Warmup+p.SweepDur, nil)
			}
			votes, flight := p.largest()
			take("ceiling-fresh", votes, flight, p.Warmup+p.CeilingDur, nil)
			if len(contests) > 1 {
				take("ceiling-one-contest", votes, flight, p.Warmup+p.CeilingDur, contests[:1])
				take("ceiling-contests", votes, flight, p.Warmup+p.CeilingDur, nil)
			}
		}
	}
	if n := DefaultPlan().driveVoters(1, 200, 18*time.Second); n != 18*1000+200 {
		t.Fatalf("naive drive bound %d; want 18 s × 1,000 tx/s × 1 vote + 200 in flight", n)
	}
}

// TestConfirmationRunsOnWhatTheSweepLeft: the two drives confirming a tie
// are not reserved for; they run when the sweep drives cast less than
// their bounds (as they do: the ledger commits far less than DriveRate),
// and not when the sweep took all it might, so the drives after it are
// still covered.
func TestConfirmationRunsOnWhatTheSweepLeft(t *testing.T) {
	for _, contests := range []int{1, 3} {
		p := DefaultPlan()
		reserved := p.DriverVoters(contests)
		sweep := reserved - p.afterSweepVoters(contests)
		if p.canConfirm(reserved-sweep, contests) {
			t.Errorf("%d contests: confirmation allowed after the sweep took its whole bound", contests)
		}
		if !p.canConfirm(reserved-sweep/3, contests) {
			t.Errorf("%d contests: no confirmation after the sweep took a third of its bound (%d of %d voters left)", contests, reserved-sweep/3, reserved)
		}
	}
	r := &run{election: election("L1", "L2"), driverRoll: append(entries(5, "L1", "L2"), entries(2, "L1")...)}
	if n := r.leftPerContest(); n != 5 {
		t.Errorf("left per contest %d, want 5 (L2's)", n)
	}
}

// The eligibility pair's extra networks size their roll at the higher of
// the two drive rates.
func TestExtraCeilingVoters(t *testing.T) {
	p := Plan{Warmup: time.Second, CeilingDur: 4 * time.Second, CeilingVotes: 500, CeilingFlight: 4, DriveRate: 1_000, DriveTxRate: 100}
	if got, want := p.extraCeilingVoters(), p.ceilingVoters(); got != want {
		t.Errorf("no extra rate: %d voters, want the run's %d", got, want)
	}
	p.ExtraDriveRate = 3_000
	if got, want := p.extraCeilingVoters(), 3_000*5+4*500; got != want {
		t.Errorf("extra rate 3,000/s: %d voters, want %d", got, want)
	}
	p.ExtraDriveRate = 500
	if got, want := p.extraCeilingVoters(), p.ceilingVoters(); got != want {
		t.Errorf("extra rate below the run's: %d voters, want the run's %d", got, want)
	}
}
