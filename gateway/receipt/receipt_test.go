package receipt

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
)

type fakeLedger struct {
	batches map[string]ballot.Batch       // by tx id
	records map[string]ballot.BatchRecord // by batch id
	nulls   map[string]ballot.NullifierRecord
	reads   int
}

func (f *fakeLedger) CommittedBatch(_ context.Context, txID, state string, seq uint64) (ballot.Batch, error) {
	f.reads++
	b, ok := f.batches[txID]
	if !ok || b.State != state || b.Seq != seq {
		return ballot.Batch{}, fmt.Errorf("no tx %s", txID)
	}
	return b, nil
}

func (f *fakeLedger) Batch(_ context.Context, state string, seq uint64) (ballot.BatchRecord, error) {
	f.reads++
	r, ok := f.records[fmt.Sprintf("%s/%d", state, seq)]
	if !ok {
		return r, ballot.ErrNotFound
	}
	return r, nil
}

func (f *fakeLedger) LocateNullifier(_ context.Context, state, null string) (ballot.NullifierRecord, error) {
	r, ok := f.nulls[state+"/"+null]
	if !ok {
		return r, ballot.ErrNotFound
	}
	return r, nil
}

type fakeStore struct {
	locs   map[string]votequeue.Location
	claims map[string]string
	roll   map[string]string // nullifier -> state
}

func (f *fakeStore) Location(_ context.Context, id string) (votequeue.Location, error) {
	l, ok := f.locs[id]
	if !ok {
		return l, votequeue.ErrPending
	}
	return l, nil
}
func (f *fakeStore) Claim(_ context.Context, state, null string) (string, error) {
	return f.claims[state+"/"+null], nil
}
func (f *fakeStore) RollState(_ context.Context, null string) (string, error) {
	return f.roll[null], nil
}

var secret = []byte("s3cret")

const testElectionID = "test-2026"

func nullifierOf(voter string) string {
	return ballot.HashHex(ballot.NullifierOf(ballot.VoterKey(secret, testElectionID, voter, "cred-"+voter), "race"))
}

// fixture commits two batches of CA votes of voters v0..v(n-1) and records them.
func fixture(t *testing.T, n int) (*Service, *fakeLedger, *fakeStore, []ballot.Vote) {
	t.Helper()
	ledger := &fakeLedger{batches: map[string]ballot.Batch{}, records: map[string]ballot.BatchRecord{}, nulls: map[string]ballot.NullifierRecord{}}
	store := &fakeStore{locs: map[string]votequeue.Location{}, claims: map[string]string{}, roll: map[string]string{}}
	var votes []ballot.Vote
	for i := 0; i < n; i++ {
		id, _ := ballot.NewVoteID()
		voter := fmt.Sprint("v", i)
		votes = append(votes, ballot.Vote{ID: id, State: "CA", Nullifier: nullifierOf(voter), Contest: "race", Choice: "alice", CastAt: 1})
		store.roll[nullifierOf(voter)] = "CA"
	}
	half := n / 2
	for seq, part := range [][]ballot.Vote{votes[:half], votes[half:]} {
		b, err := ballot.BuildBatch("CA", uint64(seq+1), part)
		if err != nil {
			t.Fatal(err)
		}
		tx := fmt.Sprint("tx", seq+1)
		ledger.batches[tx] = b
		rec := ballot.BatchRecord{State: "CA", Seq: b.Seq, Root: b.Root, Votes: len(part), Counted: len(part), TxID: tx, Rejected: []int{}}
		ledger.records[b.ID()] = rec
		for id, loc := range votequeue.Locations(b, rec, uint64(10+seq)) {
			store.locs[id] = loc
		}
		for i, v := range part {
			ledger.nulls["CA/"+v.Nullifier] = ballot.NullifierRecord{State: "CA", Seq: b.Seq, Index: i, VoteID: v.ID}
		}
	}
	return New(ledger, store, secret, testElectionID, 1), ledger, store, votes
}

func TestReceiptsVerifyAgainstTheLedgerBatch(t *testing.T) {
	svc, ledger, _, votes := fixture(t, 9)
	for _, v := range votes {
		r, err := svc.ByVoteID(context.Background(), v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != ballot.ReceiptCounted || r.TxID == "" || r.Block < 10 {
			t.Fatalf("receipt %+v", r)
		}
		if err := r.VerifyVote(); err != nil || *r.Vote != v {
			t.Fatalf("receipt of %s does not carry a verifiable copy of the vote: %v", v.ID, err)
		}
		if err := r.Verify(v); err != nil {
			t.Fatalf("receipt of %s does not verify: %v", v.ID, err)
		}
		if r.Root != ledger.batches[r.TxID].Root {
			t.Fatalf("receipt root %s, ledger batch root %s", r.Root, ledger.batches[r.TxID].Root)
		}
	}
	// Votes arrive in batch order, so the one-batch cache reads each batch
	// and its record once.
	if ledger.reads != 4 {
		t.Errorf("%d ledger reads for 2 batches", ledger.reads)
	}
}

func TestUnknownVoteIsPending(t *testing.T) {
	svc, _, _, _ := fixture(t, 2)
	id, _ := ballot.NewVoteID()
	r, err := svc.ByVoteID(context.Background(), id)
	if err != nil || r.Status != ballot.ReceiptPending || r.Proof != nil {
		t.Fatalf("unknown vote: %+v, %v", r, err)
	}
}

func TestRedisRecordNotMatchingTheLedgerIsAnError(t *testing.T) {
	svc, _, store, votes := fixture(t, 4)
	loc := store.locs[votes[0].ID]
	loc.Index = 1 // points at another vote of the batch
	store.locs[votes[0].ID] = loc
	_, err := svc.ByVoteID(context.Background(), votes[0].ID)
	if err == nil {
		t.Fatal("a receipt record pointing at another vote was trusted")
	}
	// The gateway logs it with the request's id, which its access log
	// ties to the client's address: it names neither the vote nor its index.
	if strings.Contains(err.Error(), votes[0].ID) || strings.Contains(err.Error(), "index") {
		t.Errorf("%v; names the vote %s or its index", err, votes[0].ID)
	}
}

// TestStatusComesFromTheLedger: Redis's record of a vote says where it is,
// but whether it counted is the ledger's record's to say.
func TestStatusComesFromTheLedger(t *testing.T) {
	svc, ledger, store, votes := fixture(t, 4)
	loc := store.locs[votes[1].ID]
	rec := ledger.records[fmt.Sprintf("CA/%d", loc.Seq)]
	rec.Rejected, rec.Counted = []int{loc.Index}, rec.Counted-1
	ledger.records[fmt.Sprintf("CA/%d", loc.Seq)] = rec
	r, err := svc.ByVoteID(context.Background(), votes[1].ID)
	if err != nil || r.Status != ballot.ReceiptDuplicate || loc.Status != ballot.ReceiptCounted {
		t.Fatalf("receipt %+v, %v; Redis said %s, the ledger's record rejects it", r, err, loc.Status)
	}
	if err := r.Audit(rec); err != nil {
		t.Fatal(err)
	}
}

// TestReceiptFailingTheAuditIsAnError: a ledger record that does not vouch
// for the batch the transaction carries (here: another root) gives no receipt.
func TestReceiptFailingTheAuditIsAnError(t *testing.T) {
	svc, ledger, _, votes := fixture(t, 4)
	rec := ledger.records["CA/1"]
	rec.Root = ledger.batches["tx2"].Root
	ledger.records["CA/1"] = rec
	r, err := svc.ByVoteID(context.Background(), votes[0].ID)
	if err == nil || !strings.Contains(err.Error(), "audit") {
		t.Fatalf("receipt %+v, %v; want an audit failure", r, err)
	}
	if strings.Contains(err.Error(), votes[0].ID) {
		t.Errorf("%v; names the vote %s (logged with the request's id)", err, votes[0].ID)
	}
}

func TestLookupByCredentials(t *testing.T) {
	svc, _, store, votes := fixture(t, 4)
	ctx := context.Background()
	r, err := svc.ByCredentials(ctx, "v3", "cred-v3", "race")
	if err != nil || r.VoteID != votes[3].ID || r.Status != ballot.ReceiptCounted {
		t.Fatalf("own committed vote: %+v, %v", r, err)
	}
	// On the roll, accepted but not yet committed: pending with the vote id.
	store.roll[nullifierOf("late")] = "CA"
	store.claims["CA/"+nullifierOf("late")] = "0123456789abcdef0123456789abcdef"
	if r, err := svc.ByCredentials(ctx, "late", "cred-late", "race"); err != nil || r.Status != ballot.ReceiptPending || r.VoteID == "" {
		t.Fatalf("pending vote: %+v, %v", r, err)
	}
	// Wrong credential, not on the roll, on the roll without a vote, a
	// voter's other contest without a vote: all alike.
	store.roll[nullifierOf("abstained")] = "CA"
	store.roll[ballot.HashHex(ballot.NullifierOf(ballot.VoterKey(secret, testElectionID, "v3", "cred-v3"), "q"))] = "CA"
	for _, c := range [][3]string{{"v3", "wrong", "race"}, {"nobody", "cred-nobody", "race"}, {"abstained", "cred-abstained", "race"}, {"v3", "cred-v3", "q"}, {"v2", "cred-v2", "q"}} {
		if _, err := svc.ByCredentials(ctx, c[0], c[1], c[2]); !errors.Is(err, ErrNoVote) {
			t.Errorf("%v: %v, want ErrNoVote", c, err)
		}
	}
}

// TestMalformedLedgerBatchNamesNoVote: a batch the ledger gives whose vote
// is malformed (here the receipt's own vote) gives no receipt, and the
// error names neither that vote nor its index in the batch: the gateway
// logs it with the request's id. Before, it carried ballot's error,
// "batch CA/1: vote 1: ballot: vote <id>: …".
func TestMalformedLedgerBatchNamesNoVote(t *testing.T) {
	svc, ledger, _, votes := fixture(t, 4)
	b := ledger.batches["tx1"]
	b.Votes = append([]ballot.Vote(nil), b.Votes...)
	b.Votes[1].Choice = "al ice"
	ledger.batches["tx1"] = b
	r, err := svc.ByVoteID(context.Background(), votes[1].ID)
	if err == nil {
		t.Fatalf("receipt %+v of a malformed batch", r)
	}
	if strings.Contains(err.Error(), votes[1].ID) || strings.Contains(err.Error(), "vote 1") {
		t.Errorf("%v; names the vote %s or its index 1", err, votes[1].ID)
	}
}
