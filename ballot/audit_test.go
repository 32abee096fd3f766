package ballot

import (
	"errors"
	"strings"
	"testing"
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
