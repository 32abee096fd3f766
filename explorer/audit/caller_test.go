package audit_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/network/fabricblock"
	"github.com/votechain/votechain/network/fabricblock/ledgertest"
)

// TestCapturedCallers: on the captured real network the election was set
// up by a Commission admin and the batches committed by the batcher its
// record names (the captured chain raises no issue); a batch sent by
// another organisation's client, by a certificate its MSP's CA did not
// issue, or by a client the election does not name as a batcher, and a
// set-up sent by a Commission client that is no admin, are flagged as
// caller on that transaction. The callers are judged by the records
// written: the captured set-up transaction made to write instead roll
// marks, a roll chunk record, the roll's seal or the intake log's keys
// is flagged when the batcher (no admin) sends it; made to write an
// anchored head, when a client of another organisation sends it; made
// to write a batch record, when a client the election does not name as a
// batcher sends it.
func TestCapturedCallers(t *testing.T) {
	blocks := parsedCapture(t)
	h := newHistory()
	var setupBlock fabricblock.Block
	setupTx := -1
	for _, b := range blocks {
		r, err := audit.Auditor{Chaincode: "ballot"}.Block(t.Context(), b.PreviousHash, b, h)
		if err != nil || len(r.Issues) != 0 {
			t.Fatalf("captured block %d: %v %+v", b.Number, err, r.Issues)
		}
		if i := slices.IndexFunc(b.Txs, func(tx fabricblock.Tx) bool { return tx.Function == "SetupElection" && tx.Valid() }); i >= 0 {
			setupBlock, setupTx = b, i
		}
		h.add(r)
	}
	batch, tx := firstCommitBatch(t, blocks)
	if setupTx < 0 || h.election == nil {
		t.Fatal("no captured SetupElection")
	}
	observersPeer := slices.IndexFunc(batch.Txs[tx].Endorsements, func(e fabricblock.Endorsement) bool { return e.Endorser.MSPID == "ObserversMSP" })
	edit := func(b fabricblock.Block, i int, f func(*fabricblock.Tx)) fabricblock.Block {
		b.Txs = slices.Clone(b.Txs)
		f(&b.Txs[i])
		return b
	}
	otherBatchers := *h.election
	otherBatchers.Batchers = []string{"User9@commission.votechain.test"}
	// setupWriting is the captured set-up made to write instead what
	// what writes, sent by from's creator (MSP and certificate).
	setupWriting := func(what ledgertest.Tx, from fabricblock.Tx) fabricblock.Block {
		return edit(setupBlock, setupTx, func(t *fabricblock.Tx) {
			t.Writes, t.Creator, t.CreatorCert = what.Writes, from.Creator, from.CreatorCert
		})
	}
	admin, batcher := setupBlock.Txs[setupTx], batch.Txs[tx]
	observer := batcher
	observer.Creator = "ObserversMSP"
	load := ledgertest.LoadRoll("load", 0, rollOfSize(2)...)
	chunkOnly := load
	chunkOnly.Writes = load.Writes[len(load.Writes)-1:]
	f := newLogFixture()
	register, anchor := f.register("reg"), ledgertest.AnchorLogHeads("a4", f.time(), f.Anchor(0, 4))
	seal := ledgertest.SealRoll("seal", ballot.RollRoot(nil))
	record := ledgertest.Tx{Writes: ledgertest.CommitBatch("c9", build(t, "CA", 9, vote("CA", 1, "alice")), nil).Writes[:1]} // CA/9's record only
	const needsAdmin = "only a Commission admin may write"
	for name, c := range map[string]struct {
		block    fabricblock.Block
		election *ballot.Election
		txID     string
		want     string // in the caller issue; "" for none
	}{
		"the batch as captured": {batch, h.election, batch.Txs[tx].ID, ""},
		"a batch from the Observers": {edit(batch, tx, func(t *fabricblock.Tx) { t.Creator = "ObserversMSP" }), h.election, batch.Txs[tx].ID,
			"its client is of ObserversMSP"},
		"a batch from a certificate of another CA": {edit(batch, tx, func(t *fabricblock.Tx) { t.CreatorCert = t.Endorsements[observersPeer].Endorser.Cert }),
			h.election, batch.Txs[tx].ID, "is not of CommissionMSP"},
		"a batch from a client not named a batcher": {batch, &otherBatchers, batch.Txs[tx].ID, "is not among the election's batchers"},
		"the set-up as captured":                    {setupBlock, nil, setupBlock.Txs[setupTx].ID, ""},
		"a set-up from the batcher, no admin": {edit(setupBlock, setupTx, func(t *fabricblock.Tx) { t.CreatorCert = batch.Txs[tx].CreatorCert }),
			nil, setupBlock.Txs[setupTx].ID, needsAdmin},
		"roll marks from an admin":             {setupWriting(load, admin), nil, admin.ID, ""},
		"roll marks from the batcher":          {setupWriting(load, batcher), nil, admin.ID, needsAdmin},
		"a roll chunk record from the batcher": {setupWriting(chunkOnly, batcher), nil, admin.ID, needsAdmin},
		"the roll's seal from the batcher":     {setupWriting(seal, batcher), nil, admin.ID, needsAdmin},
		"log keys from an admin":               {setupWriting(register, admin), nil, admin.ID, ""},
		"log keys from the batcher":            {setupWriting(register, batcher), nil, admin.ID, needsAdmin},
		"an anchored head from the batcher":    {setupWriting(anchor, batcher), nil, admin.ID, ""},
		"a batch record from the batcher":      {setupWriting(record, batcher), h.election, admin.ID, ""},
		"a batch record from an admin":         {setupWriting(record, admin), h.election, admin.ID, "is not among the election's batchers"},
		"an anchored head from another org":    {setupWriting(anchor, observer), nil, admin.ID, "only a Commission client may write, yet its client is of ObserversMSP"},
	} {
		hist := newHistory()
		hist.orderers, hist.election = blocks[0].ChannelConfig, c.election
		r, err := audit.Auditor{Chaincode: "ballot"}.Block(t.Context(), c.block.PreviousHash, c.block, hist)
		if err != nil {
			t.Fatal(err)
		}
		var got []audit.Issue
		for _, is := range r.Issues {
			if is.Kind == audit.KindCaller && is.TxID == c.txID {
				got = append(got, is)
			}
		}
		switch {
		case c.want == "" && len(got) != 0:
			t.Errorf("%s: issues %+v", name, got)
		case c.want != "" && (len(got) != 1 || !strings.Contains(got[0].Message, c.want)):
			t.Errorf("%s: issues %+v; want one caller issue saying %q", name, got, c.want)
		}
	}
}
