package index_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/explorer/index"
	"github.com/votechain/votechain/network/fabricblock"
	"github.com/votechain/votechain/network/fabricblock/ledgertest"
)

// TestElectionAndReasonsKept: the index keeps the election record a block
// wrote, so that the audit of a later block (after reopening, in an index
// made before reasons were recorded) recounts a refused vote with its
// reason, and the batch keeps the reasons.
func TestElectionAndReasonsKept(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "index.db")
	idx, err := index.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	idx.Close()
	// An index from before reasons were recorded.
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`ALTER TABLE batches DROP COLUMN reasons`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	e := ballot.Election{ID: "e", Name: "E", States: []string{"CA"}, Candidates: []string{"alice"},
		OpensAt: time.Now().Add(-time.Hour).UTC().Truncate(time.Second), ClosesAt: time.Now().Add(time.Hour).UTC().Truncate(time.Second),
		RollRoot: ballot.HashHex(ballot.MerkleRoot(nil)), Status: ballot.StatusConfigured}
	election, _ := json.Marshal(e)
	votes := []ballot.Vote{
		{ID: "00000000000000000000000000000001", State: "CA", Nullifier: ballot.HashHex([32]byte{1}), Candidate: "alice", CastAt: e.OpensAt.UnixMilli()},
		{ID: "00000000000000000000000000000002", State: "CA", Nullifier: ballot.HashHex([32]byte{2}), Candidate: "bob", CastAt: e.OpensAt.UnixMilli()},
	}
	b, err := ballot.BuildBatch("CA", 1, votes)
	if err != nil {
		t.Fatal(err)
	}
	rec := ballot.BatchRecord{State: "CA", Seq: 1, Root: b.Root, Votes: 2, Counted: 1, Tallies: ballot.Tally{"alice": 1},
		Rejected: []int{}, Reasons: []string{}, TxID: "c"}
	rec.Reject(1, ballot.RejectUnknownCandidate)
	arg, _ := json.Marshal(b)
	value, _ := json.Marshal(rec)
	event, _ := json.Marshal(rec.Event())
	blocks := ledgertest.Chain([]ledgertest.Tx{{ID: "g", Config: true}},
		[]ledgertest.Tx{{ID: "s", Function: "SetupElection", Args: [][]byte{election},
			Writes: []fabricblock.Write{{Namespace: "ballot", Key: ballot.ElectionKey, Value: election}}}},
		[]ledgertest.Tx{{ID: "c", Function: "CommitBatch", Args: [][]byte{arg},
			Writes: []fabricblock.Write{{Namespace: "ballot", Key: ballot.BatchKey("CA", 1), Value: value}},
			Event:  &fabricblock.Event{Name: ballot.EventBatchCommitted, Payload: event}}})
	if idx, err = index.Open(path); err != nil {
		t.Fatal(err)
	}
	var prev []byte
	for i, blk := range blocks {
		if i == 2 { // reopen before the batch: the election comes from the index
			idx.Close()
			if idx, err = index.Open(path); err != nil {
				t.Fatal(err)
			}
		}
		fb, err := fabricblock.Parse(blk)
		if err != nil {
			t.Fatal(err)
		}
		r, err := (audit.Auditor{Chaincode: "ballot"}).Block(prev, fb, idx)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Issues) != 0 {
			t.Fatalf("block %d: issues %+v", i, r.Issues)
		}
		if err := idx.Save(ctx, r); err != nil {
			t.Fatal(err)
		}
		prev = fb.Hash
	}
	defer idx.Close()
	got, err := idx.Election()
	if err != nil || got == nil || got.ID != "e" {
		t.Fatalf("indexed election %+v, %v", got, err)
	}
	batch, err := idx.Batch(ctx, "CA", 1)
	if err != nil || !slices.Equal(batch.Reasons, []string{ballot.RejectUnknownCandidate}) || batch.Record().Status(1) != ballot.ReceiptRejected {
		t.Fatalf("indexed batch %+v, %v", batch, err)
	}
}
