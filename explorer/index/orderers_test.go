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
// configuration, the ballot chaincode's endorsement policy and the
// organisations' approvals of it across a reopen, and says when it holds no configuration; a definition naming a
// channel policy is shown with the rule the configuration gives it.
func TestCapturedChainIndexed(t *testing.T) {
	ctx := context.Background()
	blocks, err := ledgertest.CapturedBlocks()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "index.db")
	idx, err := index.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { idx.Close() }()
	if _, err := idx.ChannelConfig(t.Context()); !errors.Is(err, audit.ErrNotRecorded) {
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
		r, err := audit.Auditor{Chaincode: "ballot"}.Block(t.Context(), prev, b, idx)
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
	if idx, err = index.Open(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	if cfg, err := idx.ChannelConfig(t.Context()); err != nil || cfg == nil || !reflect.DeepEqual(*cfg, *genesis.ChannelConfig) {
		t.Fatalf("ChannelConfig after reopening = %+v, %v; want the genesis block's", cfg, err)
	}
	if ps, err := idx.Policies(t.Context()); err != nil || len(ps) != 1 || ps["ballot"].String() != network.EndorsementPolicy {
		t.Fatalf("Policies after reopening = %v, %v; want ballot's %s", ps, err, network.EndorsementPolicy)
	}
	if a, err := idx.Approvals(t.Context()); err != nil || len(a) != 2 || len(a["CommissionMSP"]) < 3 || len(a["ObserversMSP"]) < 3 {
		t.Fatalf("Approvals after reopening = %v, %v; want both organisations' approvals of the definition", a, err)
	}
	// A definition naming a channel policy is shown with the rule the
	// channel's configuration gives it.
	last := blocks[len(blocks)-1]
	next := fabricblock.Block{Number: last.Header.Number + 1, PreviousHash: prev, Hash: []byte{1}, DataHash: []byte{2}, DataHashOK: true}
	ref := fabricblock.EndorsementPolicy{ChannelReference: "/Channel/Application/Endorsement"}
	if err := idx.Save(ctx, audit.Report{Block: next, Policies: map[string]fabricblock.EndorsementPolicy{"other": ref}}); err != nil {
		t.Fatal(err)
	}
	shown, err := idx.EndorsementPolicies(ctx)
	if want := "/Channel/Application/Endorsement: AND(OR('CommissionMSP.peer'),OR('ObserversMSP.peer'))"; err != nil || shown["other"] != want || shown["ballot"] != network.EndorsementPolicy {
		t.Fatalf("EndorsementPolicies = %v, %v; want other's %s", shown, err, want)
	}
	// An index that kept the approvals only from a later block says so.
	idx = reopen(t, idx, path, `UPDATE approvals_since SET block = 3`)
	if a, err := idx.Approvals(t.Context()); !errors.Is(err, audit.ErrNotRecorded) {
		t.Fatalf("Approvals of an index that kept them from block 3: %v, %v; want audit.ErrNotRecorded", a, err)
	}
}
