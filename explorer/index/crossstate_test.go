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
// counted in NY with the nullifier a CA vote was counted with two blocks
// before is flagged cross_state at its transaction, and the index keeps
// the issue for the explorer's audit page and API (Issues, Totals); the
// voter's vote in the other contest is not flagged. The audit asks the
// committed index (no filter of nullifiers alone: each vote looked up in
// the other state) or, as the explorer does, Writers, whose filter of
// nullifiers alone is built when first asked: in the first CA block (no
// votes yet, the CA votes then added as saved), in a Writer of one block
// or of three (the setup saved in it before), or, the index reopened after
// that block, from the stored batches. With filters of 2 keys at least,
// the second CA block's 8 votes fill the filter, which chains new stages
// (the NY vote's nullifier then in the first, not the newest). A filter
// missing the first CA votes, saved or stored, or dropping them as it
// grows, would miss the finding.
func TestCrossStateFlagged(t *testing.T) {
	ctx := context.Background()
	twice := vote("NY", 1, president, "alice")
	var fillers []ballot.Vote
	for i := range 8 {
		fillers = append(fillers, vote("CA", 10+i, president, "alice"))
	}
	blocks := ledgertest.Chain([]ledgertest.Tx{{ID: "g", Config: true}},
		[]ledgertest.Tx{setupTx(testElection())},
		[]ledgertest.Tx{commitTxWith(t, "ca", "CA", 1, []ballot.Vote{vote("CA", 1, president, "alice"), vote("CA", 2, president, "alice")}, nil)},
		[]ledgertest.Tx{commitTxWith(t, "ca2", "CA", 2, fillers, nil)},
		[]ledgertest.Tx{commitTxWith(t, "ny", "NY", 1, []ballot.Vote{vote("NY", 3, president, "alice"), twice, vote("NY", 1, question, "yes")}, nil)})
	want := "batch NY/1: 1 counted votes whose nullifiers were counted before in another state, each a voter counted twice in one contest; the chaincode keeps a nullifier to one state only once the roll is sealed, and this election's is not (first: vote " +
		twice.ID + " in contest president, nullifier " + twice.Nullifier + ", counted before in CA)"
	for name, c := range map[string]struct {
		with     indexWith
		reopenAt int
		stages   int // of the filter of nullifiers alone at the end, at least
	}{
		"the committed index, reopened":                  {indexWith{}, 3, 0},
		"a Writer a block":                               {indexWith{perWriter: 1}, -1, 1},
		"a Writer a block, reopened":                     {indexWith{perWriter: 1}, 3, 1},
		"a Writer of three blocks, the filter chained":   {indexWith{perWriter: 3, minFilterKeys: 2}, -1, 3},
		"Writers of three blocks, reopened, chained":     {indexWith{perWriter: 3, minFilterKeys: 2}, 3, 2},
		"a Writer a block, reopened, the filter chained": {indexWith{perWriter: 1, minFilterKeys: 2}, 3, 2},
	} {
		t.Run(name, func(t *testing.T) {
			var issues []audit.Issue
			after := func(_ int, _ *index.Index, r audit.Report) { issues = append(issues, r.Issues...) }
			path := filepath.Join(t.TempDir(), "index.db")
			idx := indexBlocksVia(t, path, c.reopenAt, blocks, c.with, after)
			if len(issues) != 1 || issues[0].Kind != audit.KindCrossState || issues[0].TxID != "ny" || issues[0].Block != 4 || issues[0].Message != want {
				t.Fatalf("issues %+v; want one cross_state at tx ny of block 4: %q", issues, want)
			}
			if stages := index.AnywhereStages(idx); stages < c.stages {
				t.Errorf("the filter of nullifiers alone has %d stages; want %d at least", stages, c.stages)
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
