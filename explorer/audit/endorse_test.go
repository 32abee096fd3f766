package audit_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/network/fabricblock"
	"github.com/votechain/votechain/network/fabricblock/ledgertest"
)

// TestCapturedEndorsements: every VALID transaction of the ballot
// chaincode on the captured real network carries a valid endorsement by a
// peer of each organisation (the captured chain raises no issue: see
// TestCapturedBlockSignatures); a transaction whose endorsement by one
// organisation is dropped, altered, or replaced by another endorsement of
// the other organisation, or whose outcome changed after it was endorsed,
// is flagged as endorsement on that transaction alone.
func TestCapturedEndorsements(t *testing.T) {
	chain := capturedChain(t)
	genesis, err := fabricblock.Parse(chain[0])
	if err != nil {
		t.Fatal(err)
	}
	var b fabricblock.Block
	tx := -1
	for _, blk := range chain[1:] {
		if b, err = fabricblock.Parse(blk); err != nil {
			t.Fatal(err)
		}
		if tx = slices.IndexFunc(b.Txs, func(t fabricblock.Tx) bool { return t.IsCommitBatch() }); tx >= 0 {
			break
		}
	}
	if tx < 0 || len(b.Txs[tx].Endorsements) != 2 {
		t.Fatalf("no captured CommitBatch with two endorsements")
	}
	orgs := []string{b.Txs[tx].Endorsements[0].Endorser.MSPID, b.Txs[tx].Endorsements[1].Endorser.MSPID}
	slices.Sort(orgs)
	if !slices.Equal(orgs, []string{"CommissionMSP", "ObserversMSP"}) {
		t.Fatalf("the CommitBatch is endorsed by %v", orgs)
	}
	h := newHistory()
	h.orderers = genesis.ChannelConfig
	edit := func(f func(es []fabricblock.Endorsement) []fabricblock.Endorsement) fabricblock.Block {
		out := b
		out.Txs = slices.Clone(b.Txs)
		out.Txs[tx].Endorsements = f(slices.Clone(b.Txs[tx].Endorsements))
		return out
	}
	for name, c := range map[string]struct {
		block fabricblock.Block
		want  string // in the issue's message; "" for none
	}{
		"as captured": {b, ""},
		"one dropped": {edit(func(es []fabricblock.Endorsement) []fabricblock.Endorsement { return es[:1] }), "no valid endorsement by a peer of " + orgs[1]},
		"one altered": {edit(func(es []fabricblock.Endorsement) []fabricblock.Endorsement {
			es[0].Signature = slices.Clone(es[0].Signature)
			es[0].Signature[12] ^= 1
			return es
		}), "does not verify"},
		"one organisation twice": {edit(func(es []fabricblock.Endorsement) []fabricblock.Endorsement {
			return []fabricblock.Endorsement{es[0], es[0]}
		}), "no valid endorsement by a peer of"},
		"the outcome changed": {edit(func(es []fabricblock.Endorsement) []fabricblock.Endorsement {
			for i := range es {
				es[i].Digest[0] ^= 1
			}
			return es
		}), "does not verify"},
		"an endorser of no peer organisation": {edit(func(es []fabricblock.Endorsement) []fabricblock.Endorsement {
			es[0].Endorser.MSPID = "CommissionOrdererMSP"
			return es
		}), "is not among CommissionMSP, ObserversMSP"},
	} {
		r, err := audit.Auditor{Chaincode: "ballot"}.Block(c.block.PreviousHash, c.block, h)
		if err != nil {
			t.Fatal(err)
		}
		var got []audit.Issue
		for _, is := range r.Issues {
			if is.Kind != audit.KindBatchRecord && is.Kind != audit.KindBatchEvent { // the batch's recount needs the blocks before
				got = append(got, is)
			}
		}
		switch {
		case c.want == "" && len(got) != 0:
			t.Errorf("%s: issues %+v", name, got)
		case c.want != "" && (len(got) != 1 || got[0].Kind != audit.KindEndorsement || got[0].TxID != b.Txs[tx].ID || !strings.Contains(got[0].Message, c.want)):
			t.Errorf("%s: issues %+v; want endorsement of %s saying %q", name, got, b.Txs[tx].ID, c.want)
		}
	}
}

// BenchmarkEndorsements measures the endorsement check of one captured
// CommitBatch transaction (two endorsements) as the audit runs it, its
// batch left out: each endorser's certificate parsed and chained to its
// organisation's CA, each signature verified.
func BenchmarkEndorsements(b *testing.B) {
	chain, err := ledgertest.CapturedBlocks()
	if err != nil {
		b.Fatal(err)
	}
	genesis, err := fabricblock.Parse(chain[0])
	if err != nil {
		b.Fatal(err)
	}
	var tx fabricblock.Tx
	for _, blk := range chain[1:] {
		blk, err := fabricblock.Parse(blk)
		if err != nil {
			b.Fatal(err)
		}
		if i := slices.IndexFunc(blk.Txs, func(t fabricblock.Tx) bool { return t.IsCommitBatch() }); i >= 0 {
			tx = blk.Txs[i]
			break
		}
	}
	tx.Function, tx.Args, tx.Writes = "", nil, nil // the endorsements alone
	h := newHistory()
	h.orderers = genesis.ChannelConfig
	blk := fabricblock.Block{Number: 7, DataHashOK: true, Txs: []fabricblock.Tx{tx}}
	for _, c := range []struct {
		name string
		ids  *audit.IdentityCache
	}{{"uncached", nil}, {"cached", &audit.IdentityCache{}}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				r, err := audit.Auditor{Chaincode: "ballot", Identities: c.ids}.Block(nil, blk, h)
				if err != nil || len(r.Issues) != 1 || r.Issues[0].Kind != audit.KindBlockSignature { // the block carries no signatures
					b.Fatalf("%v %+v", err, r.Issues)
				}
			}
		})
	}
}
