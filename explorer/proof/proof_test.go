package proof_test

import (
	"fmt"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/proof"
)

func batch(t *testing.T, n int) (ballot.BatchRecord, []ballot.Vote) {
	t.Helper()
	votes := make([]ballot.Vote, n)
	for i := range votes {
		votes[i] = ballot.Vote{ID: fmt.Sprintf("%032x", i+1), State: "CA", Contest: "president", Nullifier: fmt.Sprintf("%064x", i+1), Choice: "alice", CastAt: 1}
	}
	b, err := ballot.BuildBatch("CA", 3, votes)
	if err != nil {
		t.Fatal(err)
	}
	return ballot.BatchRecord{State: "CA", Seq: 3, Root: b.Root, Votes: n, TxID: "tx", Rejected: []int{4}}, votes
}

// TestCheck: every receipt of batches of several sizes passes and its
// drawn path ends at the root; tampering with any part fails.
func TestCheck(t *testing.T) {
	for _, n := range []int{1, 2, 5, 8, 13} {
		c, votes := batch(t, n)
		for i := range votes {
			r, err := proof.Receipt(c, 9, votes, i)
			if err != nil {
				t.Fatal(err)
			}
			res := proof.Check(r, nil, &c)
			if !res.Pass || res.Computed != c.Root || len(res.Steps) != len(r.Proof) {
				t.Fatalf("size %d vote %d: %+v", n, i, res)
			}
			if want := map[bool]string{true: "duplicate", false: "counted"}[i == 4]; r.Status != want {
				t.Fatalf("size %d vote %d status %s", n, i, r.Status)
			}
		}
	}
	c, votes := batch(t, 8)
	good, _ := proof.Receipt(c, 9, votes, 2)
	tamper := map[string]func(r *ballot.Receipt){
		"proof hash": func(r *ballot.Receipt) { r.Proof[1] = r.Proof[0] },
		"root":       func(r *ballot.Receipt) { r.Root = r.Proof[0] },
		"choice":     func(r *ballot.Receipt) { v := *r.Vote; v.Choice = "bob"; r.Vote = &v },
		"contest":    func(r *ballot.Receipt) { v := *r.Vote; v.Contest = "senate"; r.Vote = &v },
		"status":     func(r *ballot.Receipt) { r.Status = ballot.ReceiptDuplicate },
		"tx":         func(r *ballot.Receipt) { r.TxID = "other" },
		"no vote":    func(r *ballot.Receipt) { r.Vote = nil },
	}
	for name, f := range tamper {
		r := good
		r.Proof = append([]string(nil), good.Proof...)
		f(&r)
		if res := proof.Check(r, nil, &c); res.Pass || len(res.Problems) == 0 {
			t.Errorf("tampered %s passed: %+v", name, res)
		}
	}
	if res := proof.Check(good, nil, nil); res.Pass {
		t.Error("a receipt of a batch the index lacks passed")
	}
}
