package audit_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/network/fabricblock"
	"github.com/votechain/votechain/network/fabricblock/ledgertest"
)

// auditedBlock is the key of the value, the block's number, that
// ctxHistory.audit puts in the ctx of each block's audit.
type auditedBlock struct{}

// ctxHistory is memHistory recording the calls of each History method,
// and those whose ctx does not come from the one given to the audit of the
// block: it lacks that ctx's auditedBlock value, the block's number (set by
// audit), or cannot be cancelled (Done nil: context.WithoutCancel of the
// audit's, which keeps the value but not the cancel). A ctx the audit
// derives from its own (WithTimeout) keeps both.
type ctxHistory struct {
	*memHistory
	number uint64         // the block's
	calls  map[string]int // by method
	others []string       // "method in block n"
}

func (h *ctxHistory) saw(ctx context.Context, method string) {
	h.calls[method]++
	if n, ok := ctx.Value(auditedBlock{}).(uint64); !ok || n != h.number || ctx.Done() == nil {
		h.others = append(h.others, fmt.Sprintf("%s in block %d", method, h.number))
	}
}

// audit audits blocks in order, each with a ctx of its own, recording the
// reports.
func (h *ctxHistory) audit(t *testing.T, a audit.Auditor, blocks []fabricblock.Block) {
	t.Helper()
	var prev []byte
	for _, b := range blocks {
		h.number = b.Number
		r, err := a.Block(context.WithValue(t.Context(), auditedBlock{}, b.Number), prev, b, h)
		if err != nil {
			t.Fatalf("block %d: %v", b.Number, err)
		}
		h.add(r)
		prev = b.Hash
	}
}

func (h *ctxHistory) UsedNullifiers(ctx context.Context, keys []audit.Nullifier) (map[audit.Nullifier]bool, error) {
	h.saw(ctx, "UsedNullifiers")
	return h.memHistory.UsedNullifiers(ctx, keys)
}
func (h *ctxHistory) MaybeUsedAnywhere(ctx context.Context, nullifiers []string) (map[string]bool, bool, error) {
	h.saw(ctx, "MaybeUsedAnywhere")
	return h.memHistory.MaybeUsedAnywhere(ctx, nullifiers)
}
func (h *ctxHistory) BatchRoot(ctx context.Context, state string, seq uint64) (string, bool, error) {
	h.saw(ctx, "BatchRoot")
	return h.memHistory.BatchRoot(ctx, state, seq)
}
func (h *ctxHistory) Election(ctx context.Context) (*ballot.Election, error) {
	h.saw(ctx, "Election")
	return h.memHistory.Election(ctx)
}
func (h *ctxHistory) ElectionFinalised(ctx context.Context) (bool, error) {
	h.saw(ctx, "ElectionFinalised")
	return h.memHistory.ElectionFinalised(ctx)
}
func (h *ctxHistory) RollSealed(ctx context.Context) (bool, error) {
	h.saw(ctx, "RollSealed")
	return h.memHistory.RollSealed(ctx)
}
func (h *ctxHistory) RollContests(ctx context.Context, keys []audit.Nullifier) (map[audit.Nullifier]string, error) {
	h.saw(ctx, "RollContests")
	return h.memHistory.RollContests(ctx, keys)
}
func (h *ctxHistory) ChannelConfig(ctx context.Context) (*fabricblock.ChannelConfig, error) {
	h.saw(ctx, "ChannelConfig")
	return h.memHistory.ChannelConfig(ctx)
}
func (h *ctxHistory) RollChunks(ctx context.Context) ([]ballot.RollChunkRecord, error) {
	h.saw(ctx, "RollChunks")
	return h.memHistory.RollChunks(ctx)
}
func (h *ctxHistory) IntakeLog(ctx context.Context) (audit.IntakeLog, error) {
	h.saw(ctx, "IntakeLog")
	return h.memHistory.IntakeLog(ctx)
}
func (h *ctxHistory) Batched(ctx context.Context) (map[string]ballot.BatchTotals, error) {
	h.saw(ctx, "Batched")
	return h.memHistory.Batched(ctx)
}
func (h *ctxHistory) Policies(ctx context.Context) (map[string]fabricblock.EndorsementPolicy, error) {
	h.saw(ctx, "Policies")
	return h.memHistory.Policies(ctx)
}
func (h *ctxHistory) ValidTxIDs(ctx context.Context, ids []string) (map[string]bool, error) {
	h.saw(ctx, "ValidTxIDs")
	return h.memHistory.ValidTxIDs(ctx, ids)
}
func (h *ctxHistory) Approvals(ctx context.Context) (audit.Approvals, error) {
	h.saw(ctx, "Approvals")
	return h.memHistory.Approvals(ctx)
}

// TestHistoryReadsWithTheAuditsContext: every History read of Auditor.Block
// gets the ctx the block's audit was given (a ctx of the block's own), or
// one derived from it that its cancel still ends.
// The chains audited reach every History method, which the test checks:
// the captured real network's (block signatures, lifecycle approvals and
// definitions, the election's set-up, batches of several states recounted
// with no roll sealed: BatchRoot, MaybeUsedAnywhere) and one whose roll is
// sealed before its batches (RollChunks, RollContests).
func TestHistoryReadsWithTheAuditsContext(t *testing.T) {
	h := &ctxHistory{memHistory: newHistory(), calls: map[string]int{}}
	h.audit(t, audit.Auditor{Chaincode: "ballot"}, parsedCapture(t))

	rolled := &ctxHistory{memHistory: newHistory(), calls: h.calls} // one count of the calls of both
	on, alsoOn := vote("CA", 1, "alice"), vote("NY", 2, "bob")
	e := testElection()
	e.States = []string{"CA", "NY"}
	e, load, seal := sealedRoll(e, on, alsoOn)
	var blocks []fabricblock.Block
	for _, blk := range ledgertest.Chain([]ledgertest.Tx{{ID: "g", Config: true}, setupTx(t, "s", e), load}, []ledgertest.Tx{seal},
		[]ledgertest.Tx{commitTx(t, "c1", build(t, "CA", 1, on))}, []ledgertest.Tx{commitTx(t, "c2", build(t, "NY", 1, alsoOn))}) {
		b, err := fabricblock.Parse(blk)
		if err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, b)
	}
	rolled.audit(t, audit.Auditor{Chaincode: "ballot", SkipSignatures: true}, blocks)

	if others := append(h.others, rolled.others...); len(others) > 0 {
		t.Errorf("History reads with another ctx than the audit's: %v", others)
	}
	history := reflect.TypeFor[audit.History]()
	for i := range history.NumMethod() {
		if m := history.Method(i).Name; h.calls[m] == 0 {
			t.Errorf("History.%s never called by the audits: add a block that reaches it (calls %v)", m, h.calls)
		}
	}
}
