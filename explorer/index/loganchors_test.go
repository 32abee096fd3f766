package index_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/explorer/index"
	"github.com/votechain/votechain/network/fabricblock/ledgertest"
)

// TestLogAnchorsKept: the index keeps the intake log's keys and each
// state's last anchored head the blocks wrote, with the block, across a
// reopen; the audit view sets each head beside the votes its state's
// batches hold. An index whose first block was indexed before it kept them
// answers audit.ErrNotRecorded, and its view says they were not checked.
func TestLogAnchorsKept(t *testing.T) {
	ctx := context.Background()
	e := testElection()
	var votes []ballot.Vote
	for voter := range 9 {
		votes = append(votes, vote("CA", voter, president, "alice"))
	}
	signer := ledgertest.NewLogSigner('k', e.ID, "CA", votes)
	at := time.Now().Add(-time.Minute)
	batch, err := ballot.BuildBatch("CA", 1, votes[:6])
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "index.db")
	idx, err := index.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { idx.Close() }()
	var prev []byte
	for _, blk := range ledgertest.Chain([]ledgertest.Tx{{ID: "g", Config: true}},
		[]ledgertest.Tx{setupTx(e), ledgertest.RegisterLogKeys("reg", at, ballot.LogKeys{}, signer.Key)},
		[]ledgertest.Tx{ledgertest.AnchorLogHeads("a4", at.Add(time.Second), signer.Anchor(0, 4))},
		[]ledgertest.Tx{ledgertest.CommitBatch("c1", batch, nil), ledgertest.AnchorLogHeads("a9", at.Add(2*time.Second), signer.Anchor(4, 9))}) {
		prev = auditAndSave(t, blk, prev, idx, idx.Save)
	}
	idx.Close()
	if idx, err = index.Open(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	log, err := idx.IntakeLog(t.Context())
	if err != nil || len(log.Keys.Keys) != 1 || log.Keys.Keys[0].ID != signer.Key.ID || log.Heads["CA"].Head.Size != 9 || log.Heads["CA"].TxID != "a9" {
		t.Fatalf("IntakeLog after a reopen: %+v, %v", log, err)
	}
	view, err := idx.LogAnchors(ctx)
	want := index.AnchoredState{State: "CA", Size: 9, Root: signer.Head(9).Root, SignedAt: 9, KeyID: signer.Key.ID, TxID: "a9",
		AnchoredAt: at.Add(2 * time.Second).UnixMilli(), Block: 3, Batched: 6, Unaccounted: 3}
	if err != nil || !view.Checked || len(view.Keys) != 1 || len(view.Heads) != 1 || view.Heads[0] != want {
		t.Fatalf("LogAnchors: %+v, %v; want checked, one key, heads [%+v]", view, err, want)
	}
	idx = reopen(t, idx, path, `UPDATE log_since SET block = 3`)
	if _, err := idx.IntakeLog(t.Context()); !errors.Is(err, audit.ErrNotRecorded) {
		t.Fatalf("IntakeLog of an index that kept the log from block 3: %v; want audit.ErrNotRecorded", err)
	}
	if view, err := idx.LogAnchors(ctx); err != nil || view.Checked || len(view.Heads) != 1 {
		t.Fatalf("LogAnchors of an index that kept the log from block 3: %+v, %v; want unchecked, the head shown", view, err)
	}
}
