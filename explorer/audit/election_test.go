package audit_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/network/fabricblock/ledgertest"
)

// TestElectionIssuesClipRecords: the election records reach the audit
// unchecked, so an issue quoting a record's status (or an id, through the
// lifecycle's refusal) clips it (ballot.Clip): a write of a megabyte
// status, over a record or over one of a megabyte status, gives issues of
// bounded length that still say what they flag.
func TestElectionIssuesClipRecords(t *testing.T) {
	c := newElectionChain(t)
	huge := strings.Repeat("s", 1<<20)
	opened := [][]ledgertest.Tx{{{ID: "g", Config: true}}, {c.setup}}
	const bound = 4 << 10
	for name, blocks := range map[string][][]ledgertest.Tx{
		"a huge status over a configured one": append(slices.Clone(opened), []ledgertest.Tx{statusTx(t, "odd", "CloseElection", c.e, huge)}),
		"a close over a huge status":          append(slices.Clone(opened), []ledgertest.Tx{statusTx(t, "odd", "CloseElection", c.e, huge)}, []ledgertest.Tx{c.closeTx}),
	} {
		t.Run(name, func(t *testing.T) {
			issues := issuesOf(auditChain(t, blocks))
			if len(issues) == 0 {
				t.Fatal("no issue; want the odd write flagged")
			}
			for _, is := range issues {
				if is.Kind != audit.KindElection || !strings.Contains(is.Message, "the election record written with status") {
					t.Errorf("issue %.300v; want an election step flagged", is)
				}
				if len(is.Message) > bound {
					t.Errorf("an issue of %d bytes, over %d: %.200s...", len(is.Message), bound, is.Message)
				}
			}
		})
	}
}
