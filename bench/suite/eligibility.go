package suite

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/bench/report"
	"github.com/votechain/votechain/network"
)

// eligibility measures what enforcing the roll on the ledger costs: the
// ceiling on a fresh network of the run's consensus whose roll is written
// and sealed (the chaincode checks every vote against it), then on another
// where it is not (nothing checks), at the sweep's best setting, each vote
// cast by a voter of the same roll, each once on each network: its warm-up
// first, the measured drive then from the voters the warm-up left (the
// roll covers both: extraWarmupVoters and extraCeilingVoters). The run's
// own network cannot do both: its roll is sealed before its first batch.
func (r *run) eligibility(ctx context.Context) {
	el := &report.Eligibility{Voters: r.cfg.Plan.extraWarmupVoters() + r.cfg.Plan.extraCeilingVoters()}
	r.rep.Ledger14.Eligibility = el
	roll := make([]ballot.RollEntry, el.Voters)
	// Every state gets every contest alike: the drives spread their votes
	// over the contests in turn, in whichever state has the most left.
	states, contests := r.election.States, r.election.ContestIDs()
	for i := range roll {
		var h [32]byte
		rand.Read(h[:])
		roll[i] = ballot.RollEntry{State: states[i%len(states)], Contest: contests[i/len(states)%len(contests)], Nullifier: ballot.HashHex(h)}
	}
	e := *r.election
	e.SetRoll(roll)
	consensus := network.Consensus(r.rep.Ledger14.Consensus) // the run's
	for _, side := range []struct {
		name string
		out  *report.Ceiling
		roll []ballot.RollEntry // written and sealed
	}{{"ceiling-roll-sealed", &el.Sealed, roll}, {"ceiling-roll-unsealed", &el.Unsealed, nil}} {
		c, err := r.ceilingOnExtra(ctx, consensus, side.name, e, side.roll, roll)
		if err != nil {
			el.Note = err.Error()
			return
		}
		*side.out = c
	}
	if u := el.Unsealed.Drive.CountedPerS; u > 0 {
		el.Ratio = el.Sealed.Drive.CountedPerS / u
	}
	r.say("eligibility on the ledger: %.0f counted/s sealed, %.0f unsealed (%.2f×)", el.Sealed.Drive.CountedPerS, el.Unsealed.Drive.CountedPerS, el.Ratio)
	if el.Sealed.Drive.Rejected > 0 || el.Unsealed.Drive.Rejected > 0 {
		el.Note = fmt.Sprintf("the chaincode rejected %d votes with the roll sealed and %d without: every vote should count", el.Sealed.Drive.Rejected, el.Unsealed.Drive.Rejected)
	}
}
