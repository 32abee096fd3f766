package audit_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/network/fabricblock"
)

// TestEndorsementPolicyFollowed: on the captured real network the audit
// reads the ballot chaincode's endorsement policy from its committed
// definition (the policy the consortium deploys) and checks the
// lifecycle's commit of it as well as every ballot transaction against
// it; under another policy the same endorsements pass or fail as that
// policy says, and the lifecycle's commit needs a majority of the peer
// organisations.
func TestEndorsementPolicyFollowed(t *testing.T) {
	blocks := parsedCapture(t)
	h := newHistory()
	var defined *fabricblock.EndorsementPolicy
	var commitDef fabricblock.Block
	defTx := -1
	for _, b := range blocks {
		r, err := audit.Auditor{Chaincode: "ballot"}.Block(b.PreviousHash, b, h)
		if err != nil || len(r.Issues) != 0 {
			t.Fatalf("captured block %d: %v %+v", b.Number, err, r.Issues)
		}
		if p, ok := r.Policies["ballot"]; ok {
			defined, commitDef = &p, b
			defTx = slices.IndexFunc(b.Txs, func(tx fabricblock.Tx) bool {
				return tx.Chaincode == fabricblock.LifecycleNamespace && len(tx.Writes) > 0
			})
		}
		h.add(r)
	}
	if defined == nil || defined.String() != network.EndorsementPolicy || defTx < 0 {
		t.Fatalf("the captured definition's policy %v (tx %d); want %s", defined, defTx, network.EndorsementPolicy)
	}
	b, tx := firstCommitBatch(t, blocks)
	onlyCommission := b
	onlyCommission.Txs = slices.Clone(b.Txs)
	onlyCommission.Txs[tx].Endorsements = slices.DeleteFunc(slices.Clone(b.Txs[tx].Endorsements), func(e fabricblock.Endorsement) bool {
		return e.Endorser.MSPID != "CommissionMSP"
	})
	oneOrg := commitDef
	oneOrg.Txs = slices.Clone(commitDef.Txs)
	oneOrg.Txs[defTx].Endorsements = oneOrg.Txs[defTx].Endorsements[:1]

	peer := func(msp string) fabricblock.SignaturePolicy {
		return fabricblock.SignaturePolicy{Principal: &fabricblock.Principal{MSPID: msp, Role: "peer"}}
	}
	member := fabricblock.SignaturePolicy{Principal: &fabricblock.Principal{MSPID: "CommissionMSP", Role: "member"}}
	admin := fabricblock.SignaturePolicy{Principal: &fabricblock.Principal{MSPID: "CommissionMSP", Role: "admin"}}
	for name, c := range map[string]struct {
		policy fabricblock.EndorsementPolicy
		block  fabricblock.Block
		want   string // in the endorsement issue of the edited transaction; "" for none
	}{
		"deployed policy, both organisations":  {*defined, b, ""},
		"deployed policy, the Commission only": {*defined, onlyCommission, "no valid endorsement by a peer of ObserversMSP"},
		"OR, the Commission only": {fabricblock.EndorsementPolicy{Signature: &fabricblock.SignaturePolicy{N: 1,
			Rules: []fabricblock.SignaturePolicy{peer("CommissionMSP"), peer("ObserversMSP")}}}, onlyCommission, ""},
		"a member of the Commission": {fabricblock.EndorsementPolicy{Signature: &member}, onlyCommission, ""},
		"an admin of the Commission": {fabricblock.EndorsementPolicy{Signature: &admin}, b, "no valid endorsement by an admin of CommissionMSP"},
		"one signer cannot count twice": {fabricblock.EndorsementPolicy{Signature: &fabricblock.SignaturePolicy{N: 2,
			Rules: []fabricblock.SignaturePolicy{peer("CommissionMSP"), member}}}, onlyCommission, "do not satisfy"},
		"a channel policy (a majority)":   {fabricblock.EndorsementPolicy{ChannelReference: "/Channel/Application/Endorsement"}, onlyCommission, "no valid endorsement by a peer of ObserversMSP"},
		"the lifecycle's commit, one org": {*defined, oneOrg, "no valid endorsement by a peer of"},
	} {
		h := newHistory()
		h.orderers = blocks[0].ChannelConfig
		h.policies = map[string]fabricblock.EndorsementPolicy{"ballot": c.policy}
		r, err := audit.Auditor{Chaincode: "ballot"}.Block(c.block.PreviousHash, c.block, h)
		if err != nil {
			t.Fatal(err)
		}
		edited := b.Txs[tx].ID
		if c.block.Number == commitDef.Number {
			edited = commitDef.Txs[defTx].ID
		}
		var got []audit.Issue
		for _, is := range r.Issues {
			if is.Kind == audit.KindEndorsement && is.TxID == edited {
				got = append(got, is)
			}
		}
		switch {
		case c.want == "" && len(got) != 0:
			t.Errorf("%s: issues %+v", name, got)
		case c.want != "" && (len(got) != 1 || !strings.Contains(got[0].Message, c.want)):
			t.Errorf("%s: issues %+v; want one endorsement issue saying %q", name, got, c.want)
		}
	}
}
