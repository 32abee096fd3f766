package ledgerload

import (
	"slices"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
)

var (
	race = ballot.Contest{ID: "president", Title: "President", Kind: ballot.ContestRace, Choices: []string{"alice", "bob"}}
	prop = ballot.Contest{ID: "prop-1", Title: "Proposition 1", Kind: ballot.ContestQuestion, Choices: []string{"yes", "no"}}
)

// TestRollVoters: batches cast with Drive.Roll take each state's roll
// voters of each contest in turn, each once, and stay valid; an exhausted
// roll is an error.
func TestRollVoters(t *testing.T) {
	var roll []ballot.RollEntry
	for i := range 6 {
		roll = append(roll, ballot.RollEntry{State: []string{"CA", "TX"}[i%2], Contest: race.ID, Nullifier: ballot.HashHex([32]byte{byte(i)})})
	}
	v := newRollVoters(roll, []ballot.Contest{race})
	seen := map[string]bool{}
	for seq := range uint64(3) {
		b, err := RandomBatch("CA", seq, []ballot.Contest{race}, 1, time.Now())
		if err == nil {
			b, err = v.cast(b)
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Verify(); err != nil || seen[b.Votes[0].Nullifier] {
			t.Fatalf("batch %d: %v, voter %s seen before: %v", seq, err, b.Votes[0].Nullifier, seen[b.Votes[0].Nullifier])
		}
		if n := b.Votes[0].Nullifier; n != roll[2*seq].Nullifier {
			t.Fatalf("batch %d cast by %s, want the CA voter %s", seq, n, roll[2*seq].Nullifier)
		}
		seen[b.Votes[0].Nullifier] = true
	}
	b, _ := RandomBatch("CA", 9, []ballot.Contest{race}, 1, time.Now())
	if _, err := v.cast(b); err == nil {
		t.Error("an exhausted roll cast a batch")
	}
}

// TestRandomBatchSpreadsOneVoteBatches: at one vote per batch (the naive
// drive) consecutive batches still go to every contest and choice.
func TestRandomBatchSpreadsOneVoteBatches(t *testing.T) {
	seen := map[[2]string]int{}
	for seq := range uint64(12) {
		b, err := RandomBatch("CA", seq, []ballot.Contest{race, prop}, 1, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		seen[[2]string{b.Votes[0].Contest, b.Votes[0].Choice}]++
	}
	for _, c := range []ballot.Contest{race, prop} {
		for _, ch := range c.Choices {
			if n := seen[[2]string{c.ID, ch}]; n != 3 {
				t.Errorf("%s/%s got %d of 12 one-vote batches, want 3 (%v)", c.ID, ch, n, seen)
			}
		}
	}
}

// TestDriveContests: a drive's votes go to its contests in turn, each cast
// with a roll entry of its own contest, for one of that contest's choices;
// entries of the other contests stay unused, and a contest the election
// lacks is an error.
func TestDriveContests(t *testing.T) {
	e := &ballot.Election{Contests: []ballot.Contest{race, prop}}
	var roll []ballot.RollEntry
	for i := range 40 {
		c := []string{race.ID, prop.ID}[i%2]
		roll = append(roll, ballot.RollEntry{State: "CA", Contest: c, Nullifier: ballot.HashHex([32]byte{byte(i), 1})})
	}
	contestOf := map[string]string{}
	for _, r := range roll {
		contestOf[r.Nullifier] = r.Contest
	}
	for _, ids := range [][]string{nil, {prop.ID}} {
		contests, err := driveContests(e, ids)
		if err != nil {
			t.Fatal(err)
		}
		v := newRollVoters(roll, contests)
		b, err := RandomBatch("CA", 1, contests, 8, time.Now())
		if err == nil {
			b, err = v.cast(b)
		}
		if err != nil {
			t.Fatal(err)
		}
		per := map[string]int{}
		for i, vote := range b.Votes {
			c, ok := e.Contest(vote.Contest)
			if !ok || !slices.ContainsFunc(contests, func(d ballot.Contest) bool { return d.ID == c.ID }) || contestOf[vote.Nullifier] != c.ID || !c.HasChoice(vote.Choice) {
				t.Fatalf("contests %v: vote %d in %s by a voter of %s for %s", ids, i, vote.Contest, contestOf[vote.Nullifier], vote.Choice)
			}
			per[vote.Contest]++
		}
		for _, c := range contests {
			if want := 8 / len(contests); per[c.ID] != want {
				t.Fatalf("contests %v: %v votes per contest, want %d each", ids, per, want)
			}
		}
		if _, err := b.Verify(); err != nil {
			t.Fatal(err)
		}
	}
	// A drive that took two prop entries leaves the rest, in order.
	res := DriveResult{RollTaken: map[RollKey]int{{"CA", prop.ID}: 2}}
	for range 2 { // Unused does not use the count up
		left := res.Unused(roll)
		if len(left) != len(roll)-2 || left[0] != roll[0] || left[1] != roll[2] || left[2] != roll[4] || left[3] != roll[5] {
			t.Fatalf("unused after 2 prop votes: %d entries, starting %v", len(left), left[:4])
		}
	}
	if _, err := driveContests(e, []string{"senate"}); err == nil {
		t.Error("a drive in a contest the election lacks accepted")
	}
}
