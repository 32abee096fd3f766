package index_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/explorer/index"
	"github.com/votechain/votechain/network/fabricblock/ledgertest"
)

// TestCrossStateFlagged: in an election whose roll is not sealed, a vote
// counted in NY with the nullifier a CA vote was counted with in an
// earlier block, the index reopened in between (so the audit's lookup
// reads the index's used nullifiers, not what it saved in this process),
// is flagged cross_state at its transaction, and the index keeps the issue
// for the explorer's audit page and API (Issues, Totals); the voter's
// vote in the other contest is not flagged.
func TestCrossStateFlagged(t *testing.T) {
	ctx := context.Background()
	twice := vote("NY", 1, president, "alice")
	blocks := ledgertest.Chain([]ledgertest.Tx{{ID: "g", Config: true}},
		[]ledgertest.Tx{setupTx(testElection())},
		[]ledgertest.Tx{commitTxWith(t, "ca", "CA", 1, []ballot.Vote{vote("CA", 1, president, "alice"), vote("CA", 2, president, "alice")}, nil)},
		[]ledgertest.Tx{commitTxWith(t, "ny", "NY", 1, []ballot.Vote{vote("NY", 3, president, "alice"), twice, vote("NY", 1, question, "yes")}, nil)})
	var issues []audit.Issue
	idx := indexBlocks(t, filepath.Join(t.TempDir(), "index.db"), 3, blocks, func(_ int, _ *index.Index, r audit.Report) {
		issues = append(issues, r.Issues...)
	})
	want := "batch NY/1: 1 counted votes whose nullifiers were counted before in another state, each a voter counted twice in one contest; the chaincode keeps a nullifier to one state only once the roll is sealed, and this election's is not (first: vote " +
		twice.ID + " in contest president, nullifier " + twice.Nullifier + ", counted before in CA)"
	if len(issues) != 1 || issues[0].Kind != audit.KindCrossState || issues[0].TxID != "ny" || issues[0].Block != 3 || issues[0].Message != want {
		t.Fatalf("issues %+v; want one cross_state at tx ny of block 3: %q", issues, want)
	}
	kept, err := idx.Issues(ctx, 0, 10)
	if err != nil || len(kept) != 1 || kept[0].Kind != audit.KindCrossState || !strings.Contains(kept[0].Message, twice.ID) {
		t.Errorf("the index keeps issues %+v, %v; want the cross_state one", kept, err)
	}
	if totals, err := idx.Totals(ctx); err != nil || totals.Issues != 1 {
		t.Errorf("totals %+v, %v; want 1 issue", totals, err)
	}
}
