package ballot

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCheckRecord: a receipt committed from a record passes against it, and
// each field the record vouches for is checked.
func TestCheckRecord(t *testing.T) {
	b, _ := BuildBatch("TX", 3, testVotes("TX", 6))
	receipts, _ := b.Receipts()
	rec := BatchRecord{State: "TX", Seq: 3, Root: b.Root, Votes: 6, Counted: 4, Rejected: []int{1, 4}, TxID: "tx"}
	for i, r := range receipts {
		r = r.Committed(rec, 5)
		if want := map[bool]string{true: ReceiptDuplicate, false: ReceiptCounted}[i == 1 || i == 4]; r.Status != want || r.TxID != "tx" || r.Block != 5 {
			t.Fatalf("receipt %d committed: %+v", i, r)
		}
		r.Vote = &b.Votes[i]
		if err := r.Audit(rec); err != nil {
			t.Fatalf("receipt %d: %v", i, err)
		}
	}
	good := receipts[2].Committed(rec, 5)
	good.Vote = &b.Votes[2]
	for _, tt := range []struct {
		name   string
		change func(r *Receipt, rec *BatchRecord)
		has    string
	}{
		{"other batch", func(r *Receipt, rec *BatchRecord) { rec.Seq = 4 }, "record is of batch TX/4"},
		{"other state", func(r *Receipt, rec *BatchRecord) { rec.State = "CA" }, "record is of batch CA/3"},
		{"other root", func(r *Receipt, rec *BatchRecord) { rec.Root = receipts[0].Leaf }, "is not the root"},
		{"other size", func(r *Receipt, rec *BatchRecord) { rec.Votes = 7 }, "the ledger says 7"},
		{"other transaction", func(r *Receipt, rec *BatchRecord) { r.TxID = "tx2" }, "transaction tx2"},
		{"rejected on the ledger", func(r *Receipt, rec *BatchRecord) { rec.Rejected = []int{2} }, "receipt says counted; the ledger says duplicate"},
		{"pending", func(r *Receipt, rec *BatchRecord) { r.Status = ReceiptPending }, "receipt says pending"},
		{"unknown status", func(r *Receipt, rec *BatchRecord) { r.Status = "valid" }, "receipt says valid"},
	} {
		r, rc := good, rec
		tt.change(&r, &rc)
		if err := r.CheckRecord(rc); err == nil || !strings.Contains(err.Error(), tt.has) {
			t.Errorf("%s: CheckRecord = %v, want an error with %q", tt.name, err, tt.has)
		}
	}
	noVote := good
	noVote.Vote = nil
	if err := noVote.Audit(rec); !errors.Is(err, ErrNoVote) {
		t.Errorf("audit of a receipt without its vote: %v", err)
	}
}

// TestCount: votes the election refuses, votes on the ledger and repeats
// inside the batch are rejected with their reasons, the rest counted in
// order; failures of either callback stop the count.
func TestCount(t *testing.T) {
	votes := testVotes("TX", 7)
	votes[4].Nullifier = votes[1].Nullifier // a repeat inside the batch
	votes[6].Choice = "mallory"             // not on the ballot
	votes[5].Nullifier = votes[6].Nullifier // the refused vote used no nullifier
	b, _ := BuildBatch("TX", 2, votes)
	e := testCountElection()
	txTime := testOpens.Add(time.Minute)
	onLedger := map[string]bool{votes[3].Nullifier: true}
	var order []int
	rec, err := b.Count(e, txTime, nil, func(v Vote) (bool, error) { return onLedger[v.Nullifier], nil },
		func(i int, v Vote) error { order = append(order, i); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.Rejected, []int{3, 4, 6}) || !slices.Equal(rec.Reasons, []string{RejectDuplicate, RejectDuplicate, RejectUnknownChoice}) ||
		!slices.Equal(order, []int{0, 1, 2, 5}) || rec.Counted != 4 || rec.Votes != 7 || rec.Root != b.Root || rec.State != "TX" || rec.Seq != 2 ||
		!rec.Tallies.Equal(TallyOf([]Vote{votes[0], votes[1], votes[2], votes[5]})) {
		t.Fatalf("record %+v, counted %v", rec, order)
	}
	if rec.Status(6) != ReceiptRejected || rec.Status(4) != ReceiptDuplicate || rec.Status(5) != ReceiptCounted {
		t.Errorf("statuses %s %s %s", rec.Status(6), rec.Status(4), rec.Status(5))
	}
	none, _ := b.Count(nil, txTime, nil, func(Vote) (bool, error) { return false, nil }, nil)
	if !slices.Equal(none.Rejected, []int{4, 6}) {
		t.Errorf("no election, nothing on the ledger: rejected %v, want only the in-batch repeats", none.Rejected)
	}
	boom := errors.New("peer down")
	if _, err := b.Count(e, txTime, nil, func(Vote) (bool, error) { return false, boom }, nil); !errors.Is(err, boom) {
		t.Errorf("used failing: %v", err)
	}
	if _, err := b.Count(e, txTime, nil, func(Vote) (bool, error) { return false, nil }, func(int, Vote) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("counted failing: %v", err)
	}
}

// TestCountRoll: with a roll, a vote not on it is rejected as not_on_roll
// and uses no nullifier; the election's refusals come first.
func TestCountRoll(t *testing.T) {
	votes := testVotes("TX", 4)
	votes[2].Nullifier = votes[1].Nullifier // a repeat of an off-roll vote counts once
	votes[3].Choice = "mallory"
	b, _ := BuildBatch("TX", 1, votes)
	e := testCountElection()
	onRoll := func(v Vote) (bool, error) { return v.Nullifier != votes[1].Nullifier || v.ID == votes[2].ID, nil }
	rec, err := b.Count(e, testOpens.Add(time.Minute), onRoll, func(Vote) (bool, error) { return false, nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.Rejected, []int{1, 3}) || !slices.Equal(rec.Reasons, []string{RejectNotOnRoll, RejectUnknownChoice}) || rec.Counted != 2 {
		t.Fatalf("record %+v", rec)
	}
	boom := errors.New("peer down")
	if _, err := b.Count(e, testOpens.Add(time.Minute), func(Vote) (bool, error) { return false, boom }, func(Vote) (bool, error) { return false, nil }, nil); !errors.Is(err, boom) {
		t.Errorf("onRoll failing: %v", err)
	}
}

// testCountElection is an election of testContest (alice, bob, carol) and a
// question, open for an hour from testOpens.
func testCountElection() *Election {
	return &Election{Contests: []Contest{
		{ID: testContest, Title: "President", Kind: ContestRace, Choices: []string{"alice", "bob", "carol"}},
		{ID: "L2025-001", Title: "Law 1", Kind: ContestQuestion, Choices: []string{"yes", "no"}},
	}, OpensAt: testOpens, ClosesAt: testOpens.Add(time.Hour)}
}

// TestCountContests: a vote is checked against its own contest's choices,
// tallies are per contest, an unknown contest is refused, and the roll is
// asked about the vote itself (so a mark of another contest can say no).
func TestCountContests(t *testing.T) {
	votes := testVotes("TX", 6)
	votes[1].Contest, votes[1].Choice = "L2025-001", "yes"
	votes[2].Contest, votes[2].Choice = "L2025-001", "alice" // a choice of another contest
	votes[3].Contest = "senate"                              // not on the ballot
	votes[4].Contest, votes[4].Choice = "L2025-001", "no"    // its nullifier is on the roll for the president only
	b, _ := BuildBatch("TX", 1, votes)
	// The roll: every nullifier marked for the president, and votes[1]'s for the question.
	marks := map[string]string{}
	for _, v := range votes {
		marks[v.Nullifier] = testContest
	}
	marks[votes[1].Nullifier] = "L2025-001"
	onRoll := func(v Vote) (bool, error) { return marks[v.Nullifier] == v.Contest, nil }
	rec, err := b.Count(testCountElection(), testOpens.Add(time.Minute), onRoll, func(Vote) (bool, error) { return false, nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.Rejected, []int{2, 3, 4}) || !slices.Equal(rec.Reasons, []string{RejectUnknownChoice, RejectUnknownContest, RejectNotOnRoll}) {
		t.Fatalf("rejected %v %v", rec.Rejected, rec.Reasons)
	}
	want := Tally{testContest: {votes[0].Choice: 1, votes[5].Choice: 1}, "L2025-001": {"yes": 1}}
	if rec.Counted != 3 || !rec.Tallies.Equal(want) {
		t.Fatalf("counted %d, tallies %v, want %v", rec.Counted, rec.Tallies, want)
	}
}
