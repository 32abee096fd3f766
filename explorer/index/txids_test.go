package index_test

import (
	"context"
	"maps"
	"path/filepath"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/peer"

	"github.com/votechain/votechain/explorer/index"
	"github.com/votechain/votechain/network/fabricblock/ledgertest"
)

// TestValidTxIDs: the index answers which ids VALID transactions carried
// (not an invalid one's), a Writer its own blocks' before they are
// committed too, so that the audit flags a replay as replay.
func TestValidTxIDs(t *testing.T) {
	ctx := context.Background()
	idx, err := index.Open(context.Background(), filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	blocks := ledgertest.Chain([]ledgertest.Tx{{ID: "g", Config: true}},
		[]ledgertest.Tx{{ID: "p", Function: "Probe"}, {ID: "bad", Function: "Probe", Code: peer.TxValidationCode_MVCC_READ_CONFLICT}},
		[]ledgertest.Tx{{ID: "q", Function: "Probe"}})
	var prev []byte
	for _, blk := range blocks[:2] {
		prev = auditAndSave(t, blk, prev, idx, idx.Save)
	}
	ask := []string{"p", "q", "bad", "g", "none"}
	if got, err := idx.ValidTxIDs(t.Context(), ask); err != nil || !maps.Equal(got, map[string]bool{"p": true, "g": true}) {
		t.Fatalf("ValidTxIDs = %v, %v; want p and the genesis block's g", got, err)
	}
	w, err := idx.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Rollback()
	auditAndSave(t, blocks[2], prev, w, w.Save)
	if got, err := w.ValidTxIDs(t.Context(), ask); err != nil || !maps.Equal(got, map[string]bool{"p": true, "q": true, "g": true}) {
		t.Fatalf("the Writer's ValidTxIDs = %v, %v; want p, q and g", got, err)
	}
}
