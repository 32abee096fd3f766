package index_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/explorer/index"
	"github.com/votechain/votechain/network/fabricblock"
	"github.com/votechain/votechain/network/fabricblock/ledgertest"
)

// TestSaveOnceInOrder: blocks are saved in order, each once; a block saved
// again or out of order is refused and changes nothing; the checkpoint and
// rows survive reopening.
func TestSaveOnceInOrder(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "index.db")
	idx, err := index.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	blocks := ledgertest.Chain([]ledgertest.Tx{{ID: "g", Config: true}}, []ledgertest.Tx{{ID: "a", Function: "probe:Put"}},
		[]ledgertest.Tx{{ID: "b", Function: "probe:Put"}})
	reports := make([]audit.Report, len(blocks))
	var prev []byte
	for i, blk := range blocks {
		b, err := fabricblock.Parse(blk)
		if err != nil {
			t.Fatal(err)
		}
		if reports[i], err = (audit.Auditor{Chaincode: "ballot", SkipSignatures: true}).Block(t.Context(), prev, b, idx); err != nil {
			t.Fatal(err)
		}
		prev = b.Hash
	}
	for _, r := range reports[:2] {
		if err := idx.Save(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := idx.Save(ctx, reports[1]); err == nil {
		t.Fatal("block 1 saved twice")
	}
	idx.Close()
	if idx, err = index.Open(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	next, last, err := idx.Checkpoint(ctx)
	if err != nil || next != 2 || string(last) != string(reports[1].Block.Hash) {
		t.Fatalf("checkpoint after reopening: %d %x %v", next, last, err)
	}
	if err := idx.Save(ctx, reports[0]); err == nil {
		t.Fatal("block 0 saved again after reopening")
	}
	if err := idx.Save(ctx, reports[2]); err != nil {
		t.Fatal(err)
	}
	tot, err := idx.Totals(ctx)
	if err != nil || tot.Blocks != 3 || tot.Txs != 3 || tot.Issues != 0 {
		t.Fatalf("totals %+v %v", tot, err)
	}
	if txs, err := idx.Txs(ctx, "a"); err != nil || len(txs) != 1 || txs[0].Function != "probe:Put" {
		t.Fatalf("tx a: %+v %v", txs, err)
	}
}

// TestCloseWithWriterOpen: closing the index, by Close or
// CloseWithoutFlush, with a Writer still open (a test that failed midway,
// or an OpenIndex refusal) rolls it back and returns rather than waiting
// for it forever; the block it saved is not kept.
func TestCloseWithWriterOpen(t *testing.T) {
	ctx := context.Background()
	for name, close := range map[string]func(*index.Index) error{"Close": (*index.Index).Close, "CloseWithoutFlush": (*index.Index).CloseWithoutFlush} {
		path := filepath.Join(t.TempDir(), "index.db")
		idx, err := index.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		w, err := idx.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		chain := ledgertest.Chain([]ledgertest.Tx{{ID: "genesis", Config: true}})
		b, err := fabricblock.Parse(chain[0])
		if err != nil {
			t.Fatal(err)
		}
		report, err := audit.Auditor{Chaincode: "ballot", SkipSignatures: true}.Block(t.Context(), nil, b, w)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Save(ctx, report); err != nil {
			t.Fatal(err)
		}
		closed := make(chan error, 1)
		go func() { closed <- close(idx) }()
		select {
		case err := <-closed:
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s with a Writer open did not return in 10 s", name)
		}
		idx, err = index.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		next, _, err := idx.Checkpoint(ctx)
		idx.Close()
		if err != nil || next != 0 {
			t.Fatalf("%s: checkpoint after the rolled-back block: %d, %v; want 0", name, next, err)
		}
	}
}

// TestAuditReadsWithItsContext: the audit's lookups on the index, committed
// or inside a Writer, run with the ctx given to Auditor.Block: a cancelled
// one stops the audit with context.Canceled instead of reading on.
func TestAuditReadsWithItsContext(t *testing.T) {
	idx, err := index.Open(context.Background(), filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	b, err := fabricblock.Parse(ledgertest.Chain([]ledgertest.Tx{{ID: "genesis", Config: true}})[0])
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	auditor := audit.Auditor{Chaincode: "ballot", SkipSignatures: true}
	if _, err := auditor.Block(cancelled, nil, b, idx); !errors.Is(err, context.Canceled) {
		t.Errorf("audit on the committed index with a cancelled ctx: %v; want context.Canceled", err)
	}
	w, err := idx.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Rollback()
	if _, err := auditor.Block(cancelled, nil, b, w); !errors.Is(err, context.Canceled) {
		t.Errorf("audit in a Writer with a cancelled ctx: %v; want context.Canceled", err)
	}
	if _, err := auditor.Block(t.Context(), nil, b, w); err != nil {
		t.Errorf("audit in the same Writer with a live ctx: %v", err)
	}
}
