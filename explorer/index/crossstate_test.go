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
// earlier block is flagged cross_state at its transaction, and the index
// keeps the issue for the explorer's audit page and API (Issues, Totals);
// the voter's vote in the other contest is not flagged. The audit asks
// the committed index (no filter of nullifiers alone: each vote looked up
// in the other state) or, as the explorer does, a Writer a block, whose
// filter of nullifiers alone is built when first asked (in the CA block:
// no votes yet, the CA votes then added as saved) or, the index reopened
// before the NY block, from the stored batches. A filter missing the CA
// votes, saved or stored, would miss the finding.
func TestCrossStateFlagged(t *testing.T) {
	ctx := context.Background()
	twice := vote("NY", 1, president, "alice")
	blocks := ledgertest.Chain([]ledgertest.Tx{{ID: "g", Config: true}},
		[]ledgertest.Tx{setupTx(testElection())},
		[]ledgertest.Tx{commitTxWith(t, "ca", "CA", 1, []ballot.Vote{vote("CA", 1, president, "alice"), vote("CA", 2, president, "alice")}, nil)},
		[]ledgertest.Tx{commitTxWith(t, "ny", "NY", 1, []ballot.Vote{vote("NY", 3, president, "alice"), twice, vote("NY", 1, question, "yes")}, nil)})
	want := "batch NY/1: 1 counted votes whose nullifiers were counted before in another state, each a voter counted twice in one contest; the chaincode keeps a nullifier to one state only once the roll is sealed, and this election's is not (first: vote " +
		twice.ID + " in contest president, nullifier " + twice.Nullifier + ", counted before in CA)"
	for name, c := range map[string]struct {
		writers  bool
		reopenAt int
	}{
		"the committed index, reopened": {false, 3},
		"a Writer a block":              {true, -1},
		"a Writer a block, reopened":    {true, 3},
	} {
		t.Run(name, func(t *testing.T) {
			var issues []audit.Issue
			after := func(_ int, _ *index.Index, r audit.Report) { issues = append(issues, r.Issues...) }
			path := filepath.Join(t.TempDir(), "index.db")
			idx := indexBlocksVia(t, path, c.reopenAt, blocks, c.writers, after)
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
		})
	}
}
