package suite

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/internal/cli"
)

// The ledger drives on the run's network cast their votes as roll voters
// who have not voted (the sealed roll counts no one else), each once. The
// roll's driver share covers the drives before the intake phases (the sweep
// and the fresh ceiling, Plan.DriverVoters); after them the voters the
// intake never sent join it (handOver) for the ceilings, the naive
// baseline and the fill. A drive that might run out is not run: the run
// ends with ErrDriverVoters instead of reporting a short or empty drive.

// ErrDriverVoters is returned (wrapped) by Run when the roll voters left
// for the ledger drives cannot cover the next drive.
var ErrDriverVoters = errors.New("bench: not enough roll voters for the ledger drives")

// driveVoters bounds the roll voters one drive may cast: the most it can
// commit in warm-up plus duration at the plan's drive rates (votes/s and
// transactions/s), plus the transactions in flight when it stops (votes
// built ahead but not submitted go back to the pool).
func (p Plan) driveVoters(votesPerTx, inFlight int, d time.Duration) int {
	rate := min(p.DriveRate, p.DriveTxRate*float64(votesPerTx))
	return int(math.Ceil(rate*d.Seconds())) + inFlight*votesPerTx
}

// largest is the largest votes per transaction and in-flight depth a
// ceiling or the fill may use (the sweep picks among them).
func (p Plan) largest() (votes, flight int) {
	return slices.Max(append([]int{p.CeilingVotes}, p.SweepVotes...)), slices.Max(append([]int{p.CeilingFlight}, p.SweepFlights...))
}

// ceilingVoters bounds a ceiling drive's voters.
func (p Plan) ceilingVoters() int {
	votes, flight := p.largest()
	return p.driveVoters(votes, flight, p.Warmup+p.CeilingDur)
}

// extra is p with the extra networks' drive rate: ExtraDriveRate, when it
// is the higher.
func (p Plan) extra() Plan {
	p.DriveRate = max(p.DriveRate, p.ExtraDriveRate)
	return p
}

// extraCeilingVoters bounds a ceiling drive's voters on an extra network.
func (p Plan) extraCeilingVoters() int { return p.extra().ceilingVoters() }

// extraSliceVoters bounds the voters one warm-up slice at the given
// setting may cast on an extra network.
func (p Plan) extraSliceVoters(votes, flight int) int {
	return p.extra().driveVoters(votes, flight, p.ExtraWarmup.Slice)
}

// extraWarmupVoters is what an extra network's warm-up may cast of a roll
// it shares with the ceiling after it (the eligibility pair's roll): what
// a drive may commit over the warm-up's Limit at DriveRate (not the extra
// rate, well above the most an extra network here committed, 27,700
// counted/s in run 12: the roll would take minutes more to write), and one
// slice's bound at the extra rate, since the warm-up stops once the voters
// left beyond the ceiling's do not cover another slice (WarmupRule.stop).
// A warm-up committing under DriveRate thus ends warm or at about its
// Limit, and one committing faster may end for want of voters (the report
// says why it ended), never with the measured drive's; 0 without a
// warm-up.
func (p Plan) extraWarmupVoters() int {
	if p.ExtraWarmup.Limit <= 0 {
		return 0
	}
	votes, flight := p.largest()
	return p.driveVoters(votes, flight, p.ExtraWarmup.Limit) + p.extraSliceVoters(votes, flight)
}

// DriverVoters is how many roll voters the drives before the intake phases
// may cast in an election of the given number of contests (each voter is on
// the roll once per contest): the sweep's settings and the fresh ceiling,
// which spread their votes over all contests, and with several contests the
// pair after it (contestsPair), whose first drive casts every vote in the
// first contest. The two drives that confirm a tie in the sweep are not
// reserved for: they run on what the sweep left unused (canConfirm).
func (p Plan) DriverVoters(contests int) int {
	contests = max(contests, 1)
	spread := func(votes int) int { return (votes + contests - 1) / contests }
	n := p.afterSweepVoters(contests)
	if len(p.SweepFlights) > 0 {
		for _, v := range p.SweepVotes {
			n += spread(p.driveVoters(v, p.SweepFlights[0], p.Warmup+p.SweepDur))
		}
		votes, _ := p.largest()
		for _, f := range p.SweepFlights[1:] {
			n += spread(p.driveVoters(votes, f, p.Warmup+p.SweepDur))
		}
	}
	return n
}

// afterSweepVoters is what the drives after the sweep and before the
// intake may cast in each contest: the fresh ceiling and, with several
// contests, the pair after it.
func (p Plan) afterSweepVoters(contests int) int {
	spread := func(votes int) int { return (votes + contests - 1) / contests }
	n := spread(p.ceilingVoters())
	if contests > 1 {
		n += p.ceilingVoters() + spread(p.ceilingVoters())
	}
	return n
}

// canConfirm reports whether left roll voters in each contest cover the
// two drives confirming a tie at the largest setting and then the drives
// after the sweep. A sweep drive casts what the ledger commits, mostly far
// less than its bound, so they usually do; when not, the choice rests on
// one drive of each setting.
func (p Plan) canConfirm(left, contests int) bool {
	contests = max(contests, 1)
	votes, flight := p.largest()
	confirm := 2 * ((p.driveVoters(votes, flight, p.Warmup+p.SweepDur) + contests - 1) / contests)
	return left >= confirm+p.afterSweepVoters(contests)
}

// leftPerContest is the fewest roll voters left for the drives in any of
// the election's contests.
func (r *run) leftPerContest() int {
	left := map[string]int{}
	for _, e := range r.driverRoll {
		left[e.Contest]++
	}
	least := -1
	for _, c := range r.election.ContestIDs() {
		if least < 0 || left[c] < least {
			least = left[c]
		}
	}
	return max(least, 0)
}

// afterIntakeVoters bounds what the drives after the intake phases may
// cast on a ledger now holding have votes: the ceiling, the naive
// baseline, the fill to GrowTo and the grown ceiling.
func (p Plan) afterIntakeVoters(have uint64) int {
	n := 2*p.ceilingVoters() + p.driveVoters(1, p.NaiveFlight, p.Warmup+p.NaiveDur)
	if p.GrowTo > have {
		n += p.fillVoters(have)
	}
	return n
}

// fillVoters bounds what the fill may cast on a ledger holding have votes
// (fewer than GrowTo): up to GrowTo, within FillLimit.
func (p Plan) fillVoters(have uint64) int {
	votes, flight := p.largest()
	return min(int(p.GrowTo-have)+flight*votes, p.driveVoters(votes, flight, p.FillLimit))
}

// fail records the first error that ends the run after the current phase.
func (r *run) fail(err error) {
	if r.fatal == nil {
		r.fatal = err
	}
}

// enoughVoters returns ErrDriverVoters unless the roll entries left cover
// need votes for what, spread over contests in turn (nil: all the
// election's): each contest needs its share.
func (r *run) enoughVoters(what string, need int, contests []string) error {
	if contests == nil {
		contests = r.election.ContestIDs()
	}
	left := map[string]int{}
	for _, e := range r.driverRoll {
		left[e.Contest]++
	}
	share := (need + len(contests) - 1) / len(contests)
	for _, c := range contests {
		if left[c] < share {
			return fmt.Errorf("%w: %s may cast up to %d (at up to %.0f votes/s), %d in contest %s, where %d voters are left: raise --voters or --driver-voters, or lower --drive-rate if the ledger cannot reach it",
				ErrDriverVoters, what, need, r.cfg.Plan.DriveRate, share, c, left[c])
		}
	}
	return nil
}

// handOver gives the ledger drives the roll voters the intake phases did
// not send (the generator sends none of them afterwards), and checks that
// they cover the drives still to come.
func (r *run) handOver(ctx context.Context) error {
	secret, err := cli.LoadSecret(r.st.SecretFile())
	if err != nil {
		return err
	}
	left := r.runner.Gen.TakeUnsent()
	for i, voters := range left.Voters {
		for _, v := range voters {
			for _, c := range r.election.ContestIDs() {
				r.driverRoll = append(r.driverRoll, ballot.RollEntry{State: left.States[i], Contest: c, Nullifier: ballot.HashHex(v.Nullifier(secret, r.election.ID, c))})
			}
		}
	}
	r.say("%d roll voters the intake did not send join the ledger drives: %d roll entries (voter and contest) in all", left.Size(), len(r.driverRoll))
	return r.enoughVoters("the drives after the intake (ceiling, naive, fill, grown ceiling)", r.cfg.Plan.afterIntakeVoters(r.ledgerVotes(ctx, r.ledger)), nil)
}
