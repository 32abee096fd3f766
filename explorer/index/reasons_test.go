package index_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"

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
		RollRoot: ballot.HashHex(ballot.MerkleRoot(nil)), Status: ballot.StatusConfigured,
		Batchers: []string{"User1@commission.votechain.test"}}
	election, _ := json.Marshal(e)
	votes := []ballot.Vote{
		{ID: "00000000000000000000000000000001", State: "CA", Nullifier: ballot.HashHex([32]byte{1}), Candidate: "alice", CastAt: e.OpensAt.UnixMilli()},
		{ID: "00000000000000000000000000000002", State: "CA", Nullifier: ballot.HashHex([32]byte{2}), Candidate: "bob", CastAt: e.OpensAt.UnixMilli()},
	}
	blocks := ledgertest.Chain([]ledgertest.Tx{{ID: "g", Config: true}},
		[]ledgertest.Tx{{ID: "s", Function: "SetupElection", Args: [][]byte{election},
			Writes: []fabricblock.Write{{Namespace: "ballot", Key: ballot.ElectionKey, Value: election}}}},
		[]ledgertest.Tx{commitTx(t, votes, ballot.RejectUnknownCandidate)})
	idx = indexChain(t, path, 2, blocks)
	got, err := idx.Election()
	if err != nil || got == nil || got.ID != "e" {
		t.Fatalf("indexed election %+v, %v", got, err)
	}
	batch, err := idx.Batch(ctx, "CA", 1)
	if err != nil || !slices.Equal(batch.Reasons, []string{ballot.RejectUnknownCandidate}) || batch.Record().Status(1) != ballot.ReceiptRejected {
		t.Fatalf("indexed batch %+v, %v", batch, err)
	}
}

// indexChain audits and saves blocks into the index at path, reopening it
// before block reopenAt (so that what the audit needs comes from the
// database), and returns the open index, closed when the test ends. Every
// block must audit without issues.
func indexChain(t *testing.T, path string, reopenAt int, blocks []*common.Block) *index.Index {
	t.Helper()
	idx, err := index.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var prev []byte
	for i, blk := range blocks {
		if i == reopenAt {
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
		if err := idx.Save(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		prev = fb.Hash
	}
	t.Cleanup(func() { idx.Close() })
	return idx
}

// TestRollKept: the index keeps the roll marks and the seal the blocks
// wrote, so that after reopening the recount rejects a vote off the roll as
// not_on_roll; the audit page's counts by reason and the roll's size come
// from it.
func TestRollKept(t *testing.T) {
	ctx := context.Background()
	at := time.Now().UnixMilli()
	on := ballot.Vote{ID: "00000000000000000000000000000001", State: "CA", Nullifier: ballot.HashHex([32]byte{1}), Candidate: "alice", CastAt: at}
	off := ballot.Vote{ID: "00000000000000000000000000000002", State: "CA", Nullifier: ballot.HashHex([32]byte{2}), Candidate: "alice", CastAt: at}
	blocks := ledgertest.Chain([]ledgertest.Tx{{ID: "g", Config: true}},
		[]ledgertest.Tx{{ID: "l", Function: "LoadRoll", Writes: []fabricblock.Write{{Namespace: "ballot", Key: ballot.NullifierKey("CA", on.Nullifier), Value: ballot.RollValue}}}},
		[]ledgertest.Tx{{ID: "s", Function: "SealRoll", Writes: []fabricblock.Write{{Namespace: "ballot", Key: ballot.RollSealKey, Value: []byte("{}")}}}},
		[]ledgertest.Tx{commitTx(t, []ballot.Vote{on, off}, ballot.RejectNotOnRoll)})
	idx := indexChain(t, filepath.Join(t.TempDir(), "index.db"), 3, blocks)
	byReason, err := idx.RejectedByReason(ctx)
	if err != nil || len(byReason) != 1 || byReason[ballot.RejectNotOnRoll] != 1 {
		t.Fatalf("rejected by reason %v, %v", byReason, err)
	}
	if roll, err := idx.Roll(ctx); err != nil || roll != (index.Roll{Voters: 1, Sealed: true, SealBlock: 2}) {
		t.Fatalf("roll %+v, %v", roll, err)
	}
}

// commitTx is the CommitBatch transaction "c" of batch CA/1 of votes, whose
// first vote counts for alice and whose second is rejected for reason.
func commitTx(t *testing.T, votes []ballot.Vote, reason string) ledgertest.Tx {
	t.Helper()
	b, err := ballot.BuildBatch("CA", 1, votes)
	if err != nil {
		t.Fatal(err)
	}
	rec := ballot.BatchRecord{State: "CA", Seq: 1, Root: b.Root, Votes: 2, Counted: 1, Tallies: ballot.Tally{"alice": 1},
		Rejected: []int{}, Reasons: []string{}, TxID: "c"}
	rec.Reject(1, reason)
	arg, _ := json.Marshal(b)
	value, _ := json.Marshal(rec)
	event, _ := json.Marshal(rec.Event())
	return ledgertest.Tx{ID: "c", Function: "CommitBatch", Args: [][]byte{arg},
		Writes: []fabricblock.Write{{Namespace: "ballot", Key: ballot.BatchKey("CA", 1), Value: value}},
		Event:  &fabricblock.Event{Name: ballot.EventBatchCommitted, Payload: event}}
}
