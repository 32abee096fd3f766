package chaincode_test

import (
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/network/fabricclient"
	"github.com/votechain/votechain/test-network/nettest"
)

// TestRollOnNetwork: the Commission admin writes a roll to the ledger and
// seals it against the election's roll root; a batch submitted with the
// batcher's identity whose votes are partly not on the roll commits VALID
// with those votes rejected not_on_roll and the rest counted.
func TestRollOnNetwork(t *testing.T) {
	n := nettest.Start(t)
	e := nettest.Election(netStates, netCandidates)
	batcher := nettest.Dial(t, n, "Commission").Ballot()
	r := newLedgerRun(batcher, e)

	const voters = 6
	entries := make([]ballot.RollEntry, voters)
	onRoll := make([]string, voters)
	for i := range entries {
		onRoll[i] = r.nullifier()
		entries[i] = ballot.RollEntry{State: "CA", Nullifier: onRoll[i]}
	}
	e = nettest.SetupElectionWithRoll(t, n, e, entries, false)

	ctx := ctxFor(t)
	admin := nettest.Dial(t, n, "Commission", fabricclient.WithUser("Admin")).Ballot()
	if _, err := batcher.LoadRoll(ctx, entries, 2, nil); err == nil {
		t.Fatal("the batcher's identity loaded the roll")
	}
	seal, err := admin.LoadRoll(ctx, entries, 2, nil)
	if err != nil || seal.Voters != voters || seal.Root != e.RollRoot {
		t.Fatalf("roll sealed as %+v (%v)", seal, err)
	}

	// Votes 1 and 4 are of voters not on the roll.
	votes := make([]ballot.Vote, 6)
	for i := range votes {
		null := onRoll[i]
		if i == 1 || i == 4 {
			null = r.nullifier()
		}
		votes[i] = r.vote(t, "CA", i, null)
	}
	c, err := r.commit(ctx, r.batch(t, "CA", votes), map[int]string{1: ballot.RejectNotOnRoll, 4: ballot.RejectNotOnRoll})
	if err != nil {
		t.Fatal(err)
	}
	r.record(c)
	// A voter on the roll of CA is not on the roll of TX.
	c, err = r.commit(ctx, r.batch(t, "TX", []ballot.Vote{r.vote(t, "TX", 0, onRoll[5])}), map[int]string{0: ballot.RejectNotOnRoll})
	if err != nil {
		t.Fatal(err)
	}
	r.record(c)
	r.checkResults(t, ctx)
}
