package votequeue

import (
	"context"
	"errors"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/internal/redistest"
)

func TestLocationsMarkDuplicatesAndPlaceEveryVote(t *testing.T) {
	var votes []ballot.Vote
	for i := 0; i < 4; i++ {
		id, _ := ballot.NewVoteID()
		votes = append(votes, ballot.Vote{ID: id, State: "CA", Nullifier: ballot.HashHex(ballot.NullifierOf([32]byte{byte(i)}, "race")), Contest: "race", Choice: "alice", CastAt: 1})
	}
	b, err := ballot.BuildBatch("CA", 9, votes)
	if err != nil {
		t.Fatal(err)
	}
	rec := ballot.BatchRecord{TxID: "tx9", Rejected: []int{}, Reasons: []string{}}
	rec.Reject(2, ballot.RejectDuplicate)
	rec.Reject(3, ballot.RejectOutsideWindow)
	locs := Locations(b, rec, 17)
	if len(locs) != 4 {
		t.Fatalf("%d locations for 4 votes", len(locs))
	}
	wants := []struct{ status, reason string }{{ballot.ReceiptCounted, ""}, {ballot.ReceiptCounted, ""},
		{ballot.ReceiptDuplicate, ballot.RejectDuplicate}, {ballot.ReceiptRejected, ballot.RejectOutsideWindow}}
	for i, v := range votes {
		loc, want := locs[v.ID], wants[i]
		if loc.Index != i || loc.Size != 4 || loc.Seq != 9 || loc.State != "CA" || loc.TxID != "tx9" || loc.Block != 17 ||
			loc.Status != want.status || loc.Reason != want.reason {
			t.Errorf("vote %d: %+v, want index %d status %s reason %q", i, loc, i, want.status, want.reason)
		}
	}
}

func TestKeyIsPerVote(t *testing.T) {
	if ReceiptKey("ab") == ReceiptKey("ac") || ReceiptKey("ab") != "receipt:ab" {
		t.Fatalf("keys %q %q", ReceiptKey("ab"), ReceiptKey("ac"))
	}
}

// A vote re-batched after a takeover comes back as a duplicate of itself:
// its counted receipt must stand, while a genuine duplicate gets its own.
func TestWriteKeepsACountedReceipt(t *testing.T) {
	rdb := redistest.Start(t).Client()
	ctx := context.Background()
	counted := Location{State: "CA", Seq: 1, TxID: "tx1", Status: ballot.ReceiptCounted}
	again := Location{State: "CA", Seq: 7, TxID: "tx7", Status: ballot.ReceiptDuplicate}
	if err := WriteLocations(ctx, rdb, map[string]Location{"v1": counted}); err != nil {
		t.Fatal(err)
	}
	if err := WriteLocations(ctx, rdb, map[string]Location{"v1": again, "v2": again}); err != nil {
		t.Fatal(err)
	}
	if got, err := GetLocation(ctx, rdb, "v1"); err != nil || got != counted {
		t.Fatalf("v1 after a duplicate write: %+v, %v; want the counted receipt", got, err)
	}
	if got, err := GetLocation(ctx, rdb, "v2"); err != nil || got != again {
		t.Fatalf("v2: %+v, %v", got, err)
	}
	if _, err := GetLocation(ctx, rdb, "v3"); !errors.Is(err, ErrPending) {
		t.Fatalf("unknown vote: %v, want ErrPending", err)
	}
}
