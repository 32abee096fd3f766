package audit_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/network/fabricblock"
)

// TestCapturedEndorsements: every VALID transaction of the ballot
// chaincode on the captured real network carries a valid endorsement by a
// peer of each organisation (the captured chain raises no issue: see
// TestCapturedBlockSignatures); a transaction whose endorsement by one
// organisation is dropped, altered, or replaced by another endorsement of
// the other organisation, or whose outcome changed after it was endorsed,
// is flagged as endorsement on that transaction alone.
func TestCapturedEndorsements(t *testing.T) {
	blocks := parsedCapture(t)
	b, tx := firstCommitBatch(t, blocks)
	if len(b.Txs[tx].Endorsements) != 2 {
		t.Fatalf("the captured CommitBatch has %d endorsements", len(b.Txs[tx].Endorsements))
	}
	orgs := []string{b.Txs[tx].Endorsements[0].Endorser.MSPID, b.Txs[tx].Endorsements[1].Endorser.MSPID}
	slices.Sort(orgs)
	if !slices.Equal(orgs, []string{"CommissionMSP", "ObserversMSP"}) {
		t.Fatalf("the CommitBatch is endorsed by %v", orgs)
	}
	h := newHistory()
	h.orderers = blocks[0].ChannelConfig
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
		r, err := audit.Auditor{Chaincode: "ballot"}.Block(t.Context(), c.block.PreviousHash, c.block, h)
		if err != nil {
			t.Fatal(err)
		}
		var got []audit.Issue
		for _, is := range r.Issues {
			if !slices.Contains([]string{audit.KindBatchRecord, audit.KindBatchEvent, audit.KindBatchRefused}, is.Kind) { // the batch's recount and refusal need the blocks before
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

// TestEndorsementsOfBallotWrites: a VALID transaction that invokes another
// chaincode yet writes to the ballot namespace (a chaincode-to-chaincode
// call; here the captured CommitBatch with its invoked chaincode renamed)
// has its endorsements checked against the ballot chaincode's policy:
// as endorsed it raises no endorsement issue, with one organisation's
// endorsement dropped it is flagged, saying the writes to ballot's
// namespace are what the policy was checked for.
func TestEndorsementsOfBallotWrites(t *testing.T) {
	blocks := parsedCapture(t)
	b, tx := firstCommitBatch(t, blocks)
	h := newHistory()
	h.orderers = blocks[0].ChannelConfig
	relayed := func(endorsements int) fabricblock.Block {
		out := b
		out.Txs = slices.Clone(b.Txs)
		out.Txs[tx].Chaincode = "relay"
		out.Txs[tx].Endorsements = b.Txs[tx].Endorsements[:endorsements]
		return out
	}
	for _, c := range []struct {
		endorsements int
		want         string // in the endorsement issue's message; "" for none
	}{
		{2, ""},
		{1, "its writes to the ballot namespace (invoking relay): no valid endorsement by a peer of"},
	} {
		r, err := audit.Auditor{Chaincode: "ballot"}.Block(t.Context(), b.PreviousHash, relayed(c.endorsements), h)
		if err != nil {
			t.Fatal(err)
		}
		got := ofKind(r.Issues, audit.KindEndorsement)
		if flagged := c.want != ""; flagged != (len(got) > 0) || flagged && (len(got) != 1 || got[0].TxID != b.Txs[tx].ID || !strings.Contains(got[0].Message, c.want)) {
			t.Errorf("%d endorsements: endorsement issues %+v; want %q of %s", c.endorsements, got, c.want, b.Txs[tx].ID)
		}
	}
}

// ofKind returns the issues of kind, in order.
func ofKind(issues []audit.Issue, kind string) []audit.Issue {
	return slices.DeleteFunc(slices.Clone(issues), func(is audit.Issue) bool { return is.Kind != kind })
}

// BenchmarkEndorsements measures the endorsement check of one captured
// CommitBatch transaction (two endorsements) as the audit runs it, its
// batch left out: each endorser's certificate parsed and chained to its
// organisation's CA, each signature verified.
func BenchmarkEndorsements(b *testing.B) {
	blocks := parsedCapture(b)
	blk, tx := firstCommitBatch(b, blocks)
	endorsed := blk.Txs[tx]
	endorsed.Function, endorsed.Args, endorsed.Writes = "", nil, nil // the endorsements alone
	// A block of it alone, which carries no signatures.
	benchAudit(b, blocks[0].ChannelConfig, fabricblock.Block{Number: 7, DataHashOK: true, Txs: []fabricblock.Tx{endorsed}}, audit.KindBlockSignature)
}

// firstCommitBatch returns the first of blocks with a CommitBatch
// transaction, and the transaction's index.
func firstCommitBatch(tb testing.TB, blocks []fabricblock.Block) (fabricblock.Block, int) {
	tb.Helper()
	for _, b := range blocks {
		if i := slices.IndexFunc(b.Txs, func(t fabricblock.Tx) bool { return t.IsCommitBatch() }); i >= 0 {
			return b, i
		}
	}
	tb.Fatal("no captured CommitBatch")
	return fabricblock.Block{}, 0
}
