package proof_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/proof"
)

func batch(t *testing.T, n int) (proof.Batch, []ballot.Vote) {
	t.Helper()
	votes := make([]ballot.Vote, n)
	for i := range votes {
		votes[i] = ballot.Vote{ID: fmt.Sprintf("%032x", i+1), State: "CA", Contest: "president", Nullifier: fmt.Sprintf("%064x", i+1), Choice: "alice", CastAt: 1}
	}
	b, err := ballot.BuildBatch("CA", 3, votes)
	if err != nil {
		t.Fatal(err)
	}
	rec := ballot.BatchRecord{State: "CA", Seq: 3, Root: b.Root, Votes: n, TxID: "tx", Rejected: []int{4}}
	return proof.Batch{Record: rec, RootOK: true, RecordOK: true}, votes
}

// TestCheck: every receipt of batches of several sizes passes and its
// drawn path ends at the root; tampering with any part fails.
func TestCheck(t *testing.T) {
	for _, n := range []int{1, 2, 5, 8, 13} {
		c, votes := batch(t, n)
		for i := range votes {
			r, err := proof.Receipt(c.Record, 9, votes, i)
			if err != nil {
				t.Fatal(err)
			}
			res := proof.Check(r, nil, &c, 10)
			if !res.Pass || res.Verdict != proof.VerdictPass || res.Computed != c.Record.Root || len(res.Steps) != len(r.Proof) {
				t.Fatalf("size %d vote %d: %+v", n, i, res)
			}
			if want := map[bool]string{true: "duplicate", false: "counted"}[i == 4]; r.Status != want {
				t.Fatalf("size %d vote %d status %s", n, i, r.Status)
			}
		}
	}
	c, votes := batch(t, 8)
	good, _ := proof.Receipt(c.Record, 9, votes, 2)
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
		if res := proof.Check(r, nil, &c, 10); res.Pass || res.Verdict != proof.VerdictFail || len(res.Problems) == 0 {
			t.Errorf("tampered %s passed: %+v", name, res)
		}
		// An index short of the receipt's block has no verdict on the
		// batch, but the receipt's own vote and proof still fail it.
		if res := proof.Check(r, nil, nil, r.Block); name != "tx" && name != "status" && name != "no vote" && res.Verdict != proof.VerdictFail {
			t.Errorf("tampered %s, batch not yet indexed: %+v", name, res)
		}
	}
}

// TestCheckNotYetIndexed: a receipt whose batch the index lacks is not yet
// indexed while the index is short of the receipt's block (height <= block),
// and fails once the index holds that block.
func TestCheckNotYetIndexed(t *testing.T) {
	c, votes := batch(t, 5)
	good, _ := proof.Receipt(c.Record, 9, votes, 1)
	bare := good
	bare.Vote = nil // the index's vote comes with the batch
	for _, r := range []ballot.Receipt{good, bare} {
		for height, want := range map[uint64]string{0: proof.VerdictNotIndexed, 9: proof.VerdictNotIndexed, 10: proof.VerdictFail, 50: proof.VerdictFail} {
			res := proof.Check(r, nil, nil, height)
			if res.Verdict != want || res.Pass || res.IndexHeight != height {
				t.Fatalf("height %d, vote %v: %+v; want %s", height, r.Vote != nil, res, want)
			}
			pending := want == proof.VerdictNotIndexed
			if pending != (len(res.Problems) == 0) || pending != (res.Pending != "") {
				t.Fatalf("height %d: verdict %s with problems %q, pending %q", height, res.Verdict, res.Problems, res.Pending)
			}
			if pending && (!strings.Contains(res.Pending, fmt.Sprintf("height %d", height)) || !strings.Contains(res.Pending, "block 9") || !strings.Contains(res.Pending, "try again shortly")) {
				t.Fatalf("pending message %q names neither the index height %d nor the receipt's block 9", res.Pending, height)
			}
		}
	}
	if res := proof.Check(good, nil, &c, 9); res.Verdict != proof.VerdictPass {
		t.Fatalf("an indexed batch at height 9: %+v", res)
	}
}

// TestCheckFlaggedBatch: a receipt that checks against its batch's record
// fails when the audit found the batch's votes not to give the root its
// transaction claims, or the ledger's record or event not to equal the
// recount, each with a problem naming what the audit found.
func TestCheckFlaggedBatch(t *testing.T) {
	c, votes := batch(t, 5)
	good, _ := proof.Receipt(c.Record, 9, votes, 2)
	for name, f := range map[string]struct {
		flag func(b *proof.Batch)
		want string
	}{
		"root":   {func(b *proof.Batch) { b.RootOK = false }, "do not give the root " + c.Record.Root},
		"record": {func(b *proof.Batch) { b.RecordOK = false }, "ledger's record or event of batch CA/3 differs"},
	} {
		b := c
		f.flag(&b)
		res := proof.Check(good, nil, &b, 10)
		if res.Pass || res.Verdict != proof.VerdictFail || len(res.Problems) != 1 || !strings.Contains(res.Problems[0], f.want) {
			t.Errorf("batch flagged (%s): %+v; want a fail saying %q", name, res, f.want)
		}
	}
}
