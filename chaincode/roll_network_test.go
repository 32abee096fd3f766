package chaincode_test

import (
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/network/fabricclient"
	"github.com/votechain/votechain/test-network/nettest"
)

// TestRollOnNetwork: the Commission admin writes a roll to the ledger and
// seals it against the election's roll root; a batch submitted with the
// batcher's identity whose votes are partly not on the roll (or on it for
// another contest) commits VALID with those votes rejected not_on_roll and
// the rest counted.
func TestRollOnNetwork(t *testing.T) {
	n := nettest.Start(t)
	e := netElection()
	batcher := nettest.Dial(t, n, "Commission").Ballot()
	r := newLedgerRun(batcher, e)

	const voters = 6 // on the roll for the race; voter 0 for the question too
	entries := make([]ballot.RollEntry, voters, voters+1)
	onRoll := make([]string, voters)
	keys := make([][32]byte, voters)
	for i := range entries {
		keys[i] = r.voterKey()
		onRoll[i] = ballot.HashHex(ballot.NullifierOf(keys[i], nettest.Race))
		entries[i] = ballot.RollEntry{State: "CA", Contest: nettest.Race, Nullifier: onRoll[i]}
	}
	question0 := ballot.HashHex(ballot.NullifierOf(keys[0], netQuestion))
	entries = append(entries, ballot.RollEntry{State: "CA", Contest: netQuestion, Nullifier: question0})
	e = nettest.SetupElectionWithRoll(t, n, e, entries, false)

	ctx := ctxFor(t)
	admin := nettest.Dial(t, n, "Commission", fabricclient.WithUser("Admin")).Ballot()
	if _, err := batcher.LoadRoll(ctx, entries, 2, nil); err == nil {
		t.Fatal("the batcher's identity loaded the roll")
	}
	seal, err := admin.LoadRoll(ctx, entries, 2, nil)
	if err != nil || seal.Voters != voters+1 || seal.Root != e.RollRoot {
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
	// Voter 0 answers the question too; voter 2 is not on the roll for it,
	// with the question's nullifier or with the race's.
	votes = append(votes, r.voteIn(t, "CA", netQuestion, "yes", question0),
		r.voteIn(t, "CA", netQuestion, "no", ballot.HashHex(ballot.NullifierOf(keys[2], netQuestion))),
		r.voteIn(t, "CA", netQuestion, "no", onRoll[3]))
	c, err := r.commit(t, ctx, r.batch(t, "CA", votes), map[int]string{1: ballot.RejectNotOnRoll, 4: ballot.RejectNotOnRoll,
		7: ballot.RejectNotOnRoll, 8: ballot.RejectNotOnRoll})
	if err != nil {
		t.Fatal(err)
	}
	r.record(c)
	// A voter on the roll of CA is not on the roll of TX.
	c, err = r.commit(t, ctx, r.batch(t, "TX", []ballot.Vote{r.vote(t, "TX", 0, onRoll[5])}), map[int]string{0: ballot.RejectNotOnRoll})
	if err != nil {
		t.Fatal(err)
	}
	r.record(c)
	r.checkResults(t, ctx)
}
