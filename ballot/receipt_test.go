package ballot

import (
	"errors"
	"strings"
	"testing"
)

func TestReceipts(t *testing.T) {
	for _, n := range []int{1, 2, 7, 33} {
		b, _ := BuildBatch("TX", 9, testVotes("TX", n))
		receipts, err := b.Receipts()
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range receipts {
			if r.Index != i || r.Size != n || r.Root != b.Root || r.Seq != 9 || r.Status != ReceiptPending {
				t.Fatalf("receipt %d: %+v", i, r)
			}
			if err := r.Verify(b.Votes[i]); err != nil {
				t.Fatalf("n=%d receipt %d: %v", n, i, err)
			}
		}
	}
}

func TestReceiptVerifyRefuses(t *testing.T) {
	b, _ := BuildBatch("TX", 1, testVotes("TX", 5))
	receipts, _ := b.Receipts()
	r, v := receipts[2], b.Votes[2]
	tamperedVote := v
	tamperedVote.Choice = "mallory"
	otherContest := v
	otherContest.Contest = "L2025-001"
	tests := []struct {
		name   string
		r      func(Receipt) Receipt
		v      Vote
		errIs  error
		errHas string
	}{
		{"other vote", func(r Receipt) Receipt { return r }, b.Votes[3], nil, "receipt is for"},
		{"changed choice", func(r Receipt) Receipt { return r }, tamperedVote, nil, "is not the leaf"},
		{"changed contest", func(r Receipt) Receipt { return r }, otherContest, nil, "is not the leaf"},
		{"invalid vote", func(r Receipt) Receipt { return r }, Vote{ID: v.ID, State: v.State, Contest: v.Contest}, nil, "nullifier"},
		{"bad root hex", func(r Receipt) Receipt { r.Root = "zz"; return r }, v, nil, "receipt root"},
		{"bad proof hex", func(r Receipt) Receipt { r.Proof = []string{"zz"}; return r }, v, nil, "proof hash 0"},
		{"other root", func(r Receipt) Receipt { r.Root = receipts[0].Leaf; return r }, v, ErrRootMismatch, ""},
		{"short proof", func(r Receipt) Receipt { r.Proof = r.Proof[1:]; return r }, v, ErrProofLength, ""},
		{"wrong index", func(r Receipt) Receipt { r.Index = 9; return r }, v, ErrIndexOutOfRange, ""},
	}
	for _, tt := range tests {
		rc := tt.r(r)
		rc.Proof = append([]string(nil), rc.Proof...)
		err := rc.Verify(tt.v)
		if err == nil || tt.errIs != nil && !errors.Is(err, tt.errIs) || !strings.Contains(err.Error(), tt.errHas) {
			t.Errorf("%s: Verify = %v", tt.name, err)
		}
	}
	bad := b
	bad.Votes = []Vote{{}}
	if _, err := bad.Receipts(); err == nil {
		t.Error("Receipts of an invalid batch succeeded")
	}
}

func TestVerifyVoteUsesTheCarriedVote(t *testing.T) {
	if err := (Receipt{}).VerifyVote(); !errors.Is(err, ErrNoVote) {
		t.Fatalf("receipt without a vote: %v", err)
	}
}
