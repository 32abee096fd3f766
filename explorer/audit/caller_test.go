package audit_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/network/fabricblock"
)

// TestCapturedCallers: on the captured real network the election was set
// up by a Commission admin and the batches committed by the batcher its
// record names (the captured chain raises no issue); a batch sent by
// another organisation's client, by a certificate its MSP's CA did not
// issue, or by a client the election does not name as a batcher, and a
// set-up sent by a Commission client that is no admin, are flagged as
// caller on that transaction.
func TestCapturedCallers(t *testing.T) {
	blocks := parsedCapture(t)
	h := newHistory()
	var setupBlock fabricblock.Block
	setupTx := -1
	for _, b := range blocks {
		r, err := audit.Auditor{Chaincode: "ballot"}.Block(b.PreviousHash, b, h)
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
			nil, setupBlock.Txs[setupTx].ID, "only a Commission admin may write"},
	} {
		hist := newHistory()
		hist.orderers, hist.election = blocks[0].ChannelConfig, c.election
		r, err := audit.Auditor{Chaincode: "ballot"}.Block(c.block.PreviousHash, c.block, hist)
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
