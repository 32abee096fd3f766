package audit_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/network/fabricblock"
)

// TestApprovals: on the captured real network both organisations approved
// the ballot chaincode's definition before its commit (no issue); a commit
// endorsed by an organisation whose approval was of another value, or that
// approved nothing, is flagged as approval on the commit, an approval
// written to another organisation's collection is flagged on itself, and a
// history that did not keep approvals checks no commit against them.
func TestApprovals(t *testing.T) {
	blocks := parsedCapture(t)
	approve := map[string][2]int{} // MSP id → block and transaction of its approval
	commit := [2]int{-1, -1}
	for bi, b := range blocks {
		for ti, tx := range b.Txs {
			switch {
			case tx.Function == "ApproveChaincodeDefinitionForMyOrg":
				approve[tx.Creator] = [2]int{bi, ti}
			case tx.Function == "CommitChaincodeDefinition":
				commit = [2]int{bi, ti}
			}
		}
	}
	if len(approve) != 2 || commit[0] < 0 {
		t.Fatalf("captured approvals %v, commit %v; want both organisations' and a commit", approve, commit)
	}
	commitID := blocks[commit[0]].Txs[commit[1]].ID
	edit := func(org string, f func(*fabricblock.Tx)) []fabricblock.Block {
		out := slices.Clone(blocks)
		at := approve[org]
		out[at[0]].Txs = slices.Clone(out[at[0]].Txs)
		tx := &out[at[0]].Txs[at[1]]
		tx.HashedWrites = slices.Clone(tx.HashedWrites)
		f(tx)
		return out
	}
	endorsementInfo := fabricblock.ApprovalKeyHash("ballot", 1, "EndorsementInfo")
	for name, c := range map[string]struct {
		blocks  []fabricblock.Block
		notKept bool
		want    []string // "tx: part of the message" of each approval issue
	}{
		"as captured": {blocks: blocks},
		"the Observers approved another endorsement policy": {blocks: edit("ObserversMSP", func(tx *fabricblock.Tx) {
			for i, w := range tx.HashedWrites {
				if string(w.KeyHash) == string(endorsementInfo[:]) {
					tx.HashedWrites[i].ValueHash = []byte("another policy's hash")
				}
			}
		}), want: []string{commitID + ": endorsed by ObserversMSP, which had not approved that definition (EndorsementInfo approved with another value)"}},
		"the Observers approved nothing": {blocks: edit("ObserversMSP", func(tx *fabricblock.Tx) { tx.HashedWrites = nil }),
			want: []string{commitID + ": ObserversMSP, which had not approved that definition (EndorsementInfo not approved, ValidationInfo not approved, Collections not approved)"}},
		"the Commission wrote the Observers' approvals": {blocks: edit("CommissionMSP", func(tx *fabricblock.Tx) {
			for i := range tx.HashedWrites {
				tx.HashedWrites[i].Collection = fabricblock.ImplicitOrgCollectionPrefix + "ObserversMSP"
			}
		}), want: []string{
			blocks[approve["CommissionMSP"][0]].Txs[approve["CommissionMSP"][1]].ID + ": writes ObserversMSP's approvals with no valid endorsement by a peer of ObserversMSP",
			commitID + ": CommissionMSP, which had not approved that definition"}},
		"approvals not kept": {blocks: edit("ObserversMSP", func(tx *fabricblock.Tx) { tx.HashedWrites = nil }), notKept: true},
	} {
		h := newHistory()
		var hist interface {
			audit.History
			add(audit.Report)
		} = h
		if c.notKept {
			hist = approvalsNotKept{h}
		}
		var got []string
		for _, b := range c.blocks {
			r, err := audit.Auditor{Chaincode: "ballot"}.Block(t.Context(), b.PreviousHash, b, hist)
			if err != nil {
				t.Fatal(err)
			}
			for _, is := range r.Issues {
				if is.Kind != audit.KindApproval {
					t.Errorf("%s: issue %+v", name, is)
					continue
				}
				got = append(got, fmt.Sprintf("%s: %s", is.TxID, is.Message))
			}
			hist.add(r)
		}
		ok := len(got) == len(c.want)
		for i := 0; ok && i < len(got); i++ {
			id, part, _ := strings.Cut(c.want[i], ": ")
			ok = strings.HasPrefix(got[i], id+": ") && strings.Contains(got[i], part)
		}
		if !ok {
			t.Errorf("%s: approval issues %q; want %q", name, got, c.want)
		}
	}
}

// approvalsNotKept is a History that kept no approvals.
type approvalsNotKept struct{ *memHistory }

func (approvalsNotKept) Approvals(context.Context) (audit.Approvals, error) {
	return nil, fmt.Errorf("index of 2026-12-03: %w", audit.ErrNotRecorded)
}
