package audit_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/peer"

	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/network/fabricblock"
	"github.com/votechain/votechain/network/fabricblock/ledgertest"
)

// TestClientSignatures: every VALID endorser transaction of the captured
// real network carries its client's valid signature and a derived id (no
// issue); a transaction whose signature is another envelope's, whose
// named client is another Commission member (a valid certificate whose key
// did not sign), whose client is of no channel organisation, or whose id
// was changed is flagged as client_signature on that transaction, and
// nothing is asked of a transaction the peer marked invalid.
func TestClientSignatures(t *testing.T) {
	blocks := parsedCapture(t)
	h := newHistory()
	checked := 0
	for _, b := range blocks {
		r, err := audit.Auditor{Chaincode: "ballot"}.Block(t.Context(), b.PreviousHash, b, h)
		if err != nil || len(r.Issues) != 0 {
			t.Fatalf("captured block %d: %v %+v", b.Number, err, r.Issues)
		}
		for _, tx := range b.Txs {
			if tx.Valid() && tx.Type == "ENDORSER_TRANSACTION" && h.orderers != nil {
				checked++
			}
		}
		h.add(r)
	}
	if checked < 5 {
		t.Fatalf("only %d captured endorser transactions checked", checked)
	}
	batch, tx := firstCommitBatch(t, blocks)
	var setup fabricblock.Tx
	for _, b := range blocks {
		if i := slices.IndexFunc(b.Txs, func(tx fabricblock.Tx) bool { return tx.Function == "SetupElection" && tx.Valid() }); i >= 0 {
			setup = b.Txs[i]
		}
	}
	if setup.ID == "" || setup.CreatorCert == nil || string(setup.CreatorCert) == string(batch.Txs[tx].CreatorCert) {
		t.Fatal("no captured SetupElection by another client than the batcher")
	}
	edit := func(f func(*fabricblock.Tx)) fabricblock.Block {
		b := batch
		b.Txs = slices.Clone(b.Txs)
		f(&b.Txs[tx])
		return b
	}
	for name, c := range map[string]struct {
		block fabricblock.Block
		want  string // in the client_signature issue; "" for none
	}{
		"as captured": {batch, ""},
		"another envelope's signature": {edit(func(t *fabricblock.Tx) { t.ClientSignature.Signature = setup.ClientSignature.Signature }),
			"signature does not verify"},
		"another Commission member named":     {edit(func(t *fabricblock.Tx) { t.CreatorCert = setup.CreatorCert }), "signature does not verify"},
		"a client of no channel organisation": {edit(func(t *fabricblock.Tx) { t.Creator = "MalloryMSP" }), "is not among CommissionMSP, ObserversMSP"},
		"its id changed":                      {edit(func(t *fabricblock.Tx) { t.IDDerived = false }), "its id is not the one"},
		"an invalid transaction's, unsigned": {edit(func(t *fabricblock.Tx) {
			t.Code, t.ClientSignature.Signature = "MVCC_READ_CONFLICT", nil
		}), ""},
	} {
		hist := newHistory()
		hist.orderers, hist.election = blocks[0].ChannelConfig, h.election
		r, err := audit.Auditor{Chaincode: "ballot"}.Block(t.Context(), c.block.PreviousHash, c.block, hist)
		if err != nil {
			t.Fatal(err)
		}
		got := ofKind(r.Issues, audit.KindClientSignature)
		switch {
		case c.want == "" && len(got) != 0:
			t.Errorf("%s: issues %+v", name, got)
		case c.want != "" && (len(got) != 1 || got[0].TxID != batch.Txs[tx].ID || !strings.Contains(got[0].Message, c.want)):
			t.Errorf("%s: issues %+v; want one client_signature issue of %s saying %q", name, got, batch.Txs[tx].ID, c.want)
		}
	}
}

// TestReplays: a VALID transaction whose id a VALID transaction carried
// before, in an earlier block or earlier in its own, is flagged as replay
// (once for each repeat); an id repeated after an invalid transaction, or
// by a transaction the peer marked invalid, is none, nor is a
// configuration transaction.
func TestReplays(t *testing.T) {
	genesis := ledgertest.Tx{ID: "g", Config: true}
	probe := ledgertest.Tx{ID: "p", Function: "Probe"}
	invalid := probe
	invalid.Code = peer.TxValidationCode_MVCC_READ_CONFLICT
	for name, c := range map[string]struct {
		blocks [][]ledgertest.Tx
		want   []string // "kind tx" of each issue
	}{
		"each id once":               {[][]ledgertest.Tx{{genesis}, {probe, {ID: "q", Function: "Probe"}}}, nil},
		"sent again, a later block":  {[][]ledgertest.Tx{{genesis}, {probe}, {probe}, {probe}}, []string{"replay p", "replay p"}},
		"sent again, the same block": {[][]ledgertest.Tx{{genesis}, {probe, probe}}, []string{"replay p"}},
		"first marked invalid":       {[][]ledgertest.Tx{{genesis}, {invalid}, {probe}}, nil},
		"repeat marked invalid":      {[][]ledgertest.Tx{{genesis}, {probe, invalid}, {invalid}}, nil},
		"configuration again":        {[][]ledgertest.Tx{{genesis}, {genesis}}, nil},
	} {
		var got []string
		for _, r := range auditChain(t, c.blocks) {
			for _, is := range r.Issues {
				got = append(got, is.Kind+" "+is.TxID)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: issues %q; want %q", name, got, c.want)
		}
	}
}
