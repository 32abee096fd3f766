package votequeue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
)

// testBatch builds a batch of n votes of CA with sequence number seq.
func testBatch(t *testing.T, seq uint64, n int) ballot.Batch {
	t.Helper()
	var votes []ballot.Vote
	for i := 0; i < n; i++ {
		id, _ := ballot.NewVoteID()
		votes = append(votes, ballot.Vote{ID: id, State: "CA", Nullifier: ballot.HashHex(ballot.NullifierOf([32]byte{byte(i), byte(seq)}, "race")), Contest: "race", Choice: "alice", CastAt: 1})
	}
	b, err := ballot.BuildBatch("CA", seq, votes)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLocationsMarkDuplicatesAndPlaceEveryVote(t *testing.T) {
	b := testBatch(t, 9, 4)
	rec := ballot.BatchRecord{TxID: "tx9", Rejected: []int{}, Reasons: []string{}}
	rec.Reject(2, ballot.RejectDuplicate)
	rec.Reject(3, ballot.RejectOutsideWindow)
	locs := Locations(b, rec, 17)
	if len(locs) != 4 {
		t.Fatalf("%d locations for 4 votes", len(locs))
	}
	wants := []struct{ status, reason string }{{ballot.ReceiptCounted, ""}, {ballot.ReceiptCounted, ""},
		{ballot.ReceiptDuplicate, ballot.RejectDuplicate}, {ballot.ReceiptRejected, ballot.RejectOutsideWindow}}
	for i, v := range b.Votes {
		loc, want := locs[v.ID], wants[i]
		if loc.Index != i || loc.Size != 4 || loc.Seq != 9 || loc.State != "CA" || loc.TxID != "tx9" || loc.Block != 17 ||
			loc.Status != want.status || loc.Reason != want.reason {
			t.Errorf("vote %d: %+v, want index %d status %s reason %q", i, loc, i, want.status, want.reason)
		}
	}
}

func TestBucketsSpreadByVoteID(t *testing.T) {
	a, b := "ab01"+fmt.Sprintf("%028x", 1), "ab01"+fmt.Sprintf("%028x", 2)
	if ReceiptKey(a) != ReceiptKey(b) || ReceiptKey(a) != "receipt:ab01" || ReceiptKey("ab02"+a[4:]) == ReceiptKey(a) {
		t.Fatalf("buckets %q %q %q", ReceiptKey(a), ReceiptKey(b), ReceiptKey("ab02"+a[4:]))
	}
}

// Every vote of a written batch reads back as Locations derives it; a vote
// re-batched after a takeover comes back as a duplicate of itself: its
// counted receipt must stand, while a genuine duplicate gets its own.
func TestWriteReceiptsReadBackAndKeepACountedReceipt(t *testing.T) {
	rdb := redistest.Start(t).Client()
	ctx := context.Background()
	first := testBatch(t, 1, 300)
	rec1 := ballot.BatchRecord{TxID: "tx1", Rejected: []int{7}, Reasons: []string{ballot.RejectOutsideWindow}}
	if err := WriteReceipts(ctx, rdb, first, rec1, 11); err != nil {
		t.Fatal(err)
	}
	want := Locations(first, rec1, 11)
	for id, w := range want {
		if got, err := GetLocation(ctx, rdb, id); err != nil || got != w {
			t.Fatalf("vote %s: %+v, %v; want %+v", id, got, err, w)
		}
	}
	// Batch 7 re-batches vote 0 of batch 1 with one new vote; the ledger
	// finds both duplicates.
	again := testBatch(t, 7, 2)
	again.Votes[0] = first.Votes[0]
	rec7 := ballot.BatchRecord{TxID: "tx7", Rejected: []int{0, 1}, Reasons: []string{ballot.RejectDuplicate, ballot.RejectDuplicate}}
	if err := WriteReceipts(ctx, rdb, again, rec7, 12); err != nil {
		t.Fatal(err)
	}
	if got, err := GetLocation(ctx, rdb, first.Votes[0].ID); err != nil || got != want[first.Votes[0].ID] {
		t.Fatalf("vote 0 after a duplicate write: %+v, %v; want the counted receipt", got, err)
	}
	dup := Locations(again, rec7, 12)[again.Votes[1].ID]
	if got, err := GetLocation(ctx, rdb, again.Votes[1].ID); err != nil || got != dup || got.Status != ballot.ReceiptDuplicate {
		t.Fatalf("genuine duplicate: %+v, %v; want %+v", got, err, dup)
	}
	unknown, _ := ballot.NewVoteID()
	if _, err := GetLocation(ctx, rdb, unknown); !errors.Is(err, ErrPending) {
		t.Fatalf("unknown vote: %v, want ErrPending", err)
	}
	ids := []string{first.Votes[5].ID, unknown, again.Votes[1].ID}
	if got, err := Receipted(ctx, rdb, ids); err != nil || !got[0] || got[1] || !got[2] {
		t.Fatalf("Receipted(%v) = %v, %v; want [true false true]", ids, got, err)
	}
	if _, err := GetLocation(ctx, rdb, "v1"); err == nil || errors.Is(err, ErrPending) {
		t.Fatalf("malformed vote id: %v, want an error", err)
	}
}

// A vote whose batch's shared part is missing (a write cut short) is pending.
func TestReceiptWithoutItsBatchIsPending(t *testing.T) {
	rdb := redistest.Start(t).Client()
	ctx := context.Background()
	b := testBatch(t, 3, 2)
	if err := WriteReceipts(ctx, rdb, b, ballot.BatchRecord{TxID: "tx3"}, 5); err != nil {
		t.Fatal(err)
	}
	rdb.Del(ctx, BatchesKey("CA"))
	if _, err := GetLocation(ctx, rdb, b.Votes[1].ID); !errors.Is(err, ErrPending) {
		t.Fatalf("vote of a batch with no shared part: %v, want ErrPending", err)
	}
}

// TestReceiptErrorsNameNoVote: a vote's receipt that cannot be read (its
// bucket or its batch's entry of another type, its field malformed) is an
// error that names neither the vote nor its index in its batch: the
// gateway logs it with the request's id, which its access log ties to the
// client's address. Before, each named the vote id.
func TestReceiptErrorsNameNoVote(t *testing.T) {
	rdb := redistest.Start(t).Client()
	ctx := context.Background()
	id, _ := ballot.NewVoteID()
	field, err := receiptField(id)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what  string
		write func() error
	}{
		{"bucket of another type", func() error { return rdb.Set(ctx, ReceiptKey(id), "x", 0).Err() }},
		{"too few fields", func() error { return rdb.HSet(ctx, ReceiptKey(id), field, "CA 7").Err() }},
		{"index not a number", func() error { return rdb.HSet(ctx, ReceiptKey(id), field, "CA 7 x").Err() }},
		{"batches of another type", func() error {
			return errors.Join(rdb.HSet(ctx, ReceiptKey(id), field, "CA 7 41").Err(), rdb.Set(ctx, BatchesKey("CA"), "x", 0).Err())
		}},
	} {
		if err := errors.Join(rdb.FlushAll(ctx).Err(), c.write()); err != nil {
			t.Fatal(err)
		}
		_, err := GetLocation(ctx, rdb, id)
		if err == nil || errors.Is(err, ErrPending) {
			t.Errorf("%s: %v; want an error", c.what, err)
		} else if strings.Contains(err.Error(), id) || strings.Contains(err.Error(), "41") {
			t.Errorf("%s: %v; names the vote %s or its index 41", c.what, err, id)
		}
	}
}

// On a Redis Cluster the receipts of a batch spread over the masters, and
// every one reads back and is counted.
func TestReceiptsOnACluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	rdb := redistest.StartCluster(t, 3).ClientAs(redisserver.UserAdmin)
	ctx := context.Background()
	b := testBatch(t, 4, 200)
	rec := ballot.BatchRecord{TxID: "tx4"}
	if err := WriteReceipts(ctx, rdb, b, rec, 8); err != nil {
		t.Fatal(err)
	}
	if n, err := CountReceipts(ctx, rdb); err != nil || n != 200 {
		t.Fatalf("CountReceipts = %d, %v; want 200", n, err)
	}
	want := Locations(b, rec, 8)
	for _, v := range b.Votes {
		if got, err := GetLocation(ctx, rdb, v.ID); err != nil || got != want[v.ID] {
			t.Fatalf("vote %s: %+v, %v; want %+v", v.ID, got, err, want[v.ID])
		}
	}
}
