package audit_test

import (
	"maps"
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
		r, err := audit.Auditor{Chaincode: "ballot"}.Block(t.Context(), b.PreviousHash, b, h)
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
	// The channel's configuration as captured, and edited: its
	// Endorsement and LifecycleEndorsement policies stated as ANY, and not read (as indexed before
	// the application's policies were).
	captured := blocks[0].ChannelConfig
	if got := captured.ApplicationPolicies["/Channel/Application/Endorsement"].String(); got != "AND(OR('CommissionMSP.peer'),OR('ObserversMSP.peer'))" {
		t.Fatalf("captured channel Endorsement policy %s", got)
	}
	anyOrg := *captured
	anyOrg.ApplicationPolicies = maps.Clone(captured.ApplicationPolicies)
	for _, path := range []string{"/Channel/Application/Endorsement", fabricblock.LifecycleEndorsementPolicy} {
		p := anyOrg.ApplicationPolicies[path]
		p.N = 1
		anyOrg.ApplicationPolicies[path] = p
	}
	unread := *captured
	unread.ApplicationPolicies = nil
	ref := func(path string) fabricblock.EndorsementPolicy {
		return fabricblock.EndorsementPolicy{ChannelReference: path}
	}
	for name, c := range map[string]struct {
		policy fabricblock.EndorsementPolicy
		block  fabricblock.Block
		want   string                     // in the endorsement issue of the edited transaction; "" for none
		cfg    *fabricblock.ChannelConfig // nil: as captured
	}{
		"deployed policy, both organisations":  {*defined, b, "", nil},
		"deployed policy, the Commission only": {*defined, onlyCommission, "no valid endorsement by a peer of ObserversMSP", nil},
		"OR, the Commission only": {fabricblock.EndorsementPolicy{Signature: &fabricblock.SignaturePolicy{N: 1,
			Rules: []fabricblock.SignaturePolicy{peer("CommissionMSP"), peer("ObserversMSP")}}}, onlyCommission, "", nil},
		"a member of the Commission": {fabricblock.EndorsementPolicy{Signature: &member}, onlyCommission, "", nil},
		"an admin of the Commission": {fabricblock.EndorsementPolicy{Signature: &admin}, b, "no valid endorsement by an admin of CommissionMSP", nil},
		"one signer cannot count twice": {fabricblock.EndorsementPolicy{Signature: &fabricblock.SignaturePolicy{N: 2,
			Rules: []fabricblock.SignaturePolicy{peer("CommissionMSP"), member}}}, onlyCommission, "do not satisfy", nil},
		"a channel policy (a majority)":        {ref("/Channel/Application/Endorsement"), onlyCommission, "no valid endorsement by a peer of ObserversMSP", nil},
		"a channel policy, both organisations": {ref("/Channel/Application/Endorsement"), b, "", nil},
		"a channel policy stated as ANY":       {ref("/Channel/Application/Endorsement"), onlyCommission, "", &anyOrg},
		"a channel policy not stated":          {ref("/Channel/Application/Elsewhere"), b, "endorsement policy NOBODY", nil},
		"a channel policy, config not read":    {ref("/Channel/Application/Elsewhere"), onlyCommission, "no valid endorsement by a peer of ObserversMSP", &unread},
		"the lifecycle's commit, one org":      {*defined, oneOrg, "no valid endorsement by a peer of", nil},
		"the lifecycle's commit, one org, ANY": {*defined, oneOrg, "", &anyOrg},
	} {
		h := newHistory()
		h.orderers = captured
		if c.cfg != nil {
			h.orderers = c.cfg
		}
		h.policies = map[string]fabricblock.EndorsementPolicy{"ballot": c.policy}
		r, err := audit.Auditor{Chaincode: "ballot"}.Block(t.Context(), c.block.PreviousHash, c.block, h)
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
