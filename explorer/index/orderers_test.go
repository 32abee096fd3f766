package index_test

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/explorer/index"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/network/fabricblock"
	"github.com/votechain/votechain/network/fabricblock/ledgertest"
)

// TestCapturedChainIndexed: the blocks of a real network, audited with
// every check (the orderers' signatures too) against the index as they
// are saved, raise no issue; the index keeps the genesis block's orderer
// configuration and the ballot chaincode's endorsement policy across a
// reopen, and says when it holds no configuration.
func TestCapturedChainIndexed(t *testing.T) {
	ctx := context.Background()
	blocks, err := ledgertest.CapturedBlocks()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "index.db")
	idx, err := index.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { idx.Close() }()
	if _, err := idx.ChannelConfig(); !errors.Is(err, audit.ErrNotRecorded) {
		t.Fatalf("ChannelConfig of an empty index: %v; want audit.ErrNotRecorded", err)
	}
	var prev []byte
	var genesis fabricblock.Block
	for i, blk := range blocks {
		b, err := fabricblock.Parse(blk)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			genesis = b
		}
		r, err := audit.Auditor{Chaincode: "ballot"}.Block(prev, b, idx)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Issues) != 0 {
			t.Fatalf("captured block %d: issues %+v", b.Number, r.Issues)
		}
		if err := idx.Save(ctx, r); err != nil {
			t.Fatal(err)
		}
		prev = b.Hash
	}
	idx.Close()
	if idx, err = index.Open(path); err != nil {
		t.Fatal(err)
	}
	if cfg, err := idx.ChannelConfig(); err != nil || cfg == nil || !reflect.DeepEqual(*cfg, *genesis.ChannelConfig) {
		t.Fatalf("ChannelConfig after reopening = %+v, %v; want the genesis block's", cfg, err)
	}
	if ps, err := idx.Policies(); err != nil || len(ps) != 1 || ps["ballot"].String() != network.EndorsementPolicy {
		t.Fatalf("Policies after reopening = %v, %v; want ballot's %s", ps, err, network.EndorsementPolicy)
	}
}
