package chaincode

import (
	"crypto/ed25519"
	"encoding/json"
	"testing"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/votechain/votechain/ballot"
)

// logFixture is a log of CA votes signed by a key.
type logFixture struct {
	key  ed25519.PrivateKey
	tree ballot.LogTree
}

func (l *logFixture) grow(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		leaf, err := vote("CA", int(l.tree.Size())+i, "alice").Leaf()
		if err != nil {
			t.Fatal(err)
		}
		l.tree.Append(leaf)
	}
}

// anchor is the anchor of the whole log from its first from entries,
// stamped with the log's size (Unix ms: long past).
func (l *logFixture) anchor(t *testing.T, from uint64) ballot.LogAnchor {
	t.Helper()
	return l.anchorStamped(t, from, int64(l.tree.Size()))
}

// anchorStamped is anchor with the head stamped at (Unix ms).
func (l *logFixture) anchorStamped(t *testing.T, from uint64, at int64) ballot.LogAnchor {
	t.Helper()
	size := l.tree.Size()
	root, _ := l.tree.Root(size)
	h, err := ballot.TreeHead{Election: testElection().ID, State: "CA", Size: size, Root: ballot.HashHex(root), Timestamp: at}.Sign(l.key)
	if err != nil {
		t.Fatal(err)
	}
	proof, _ := l.tree.ConsistencyProof(from, size)
	return ballot.LogAnchor{Head: h, Consistency: ballot.HexHashes(proof)}
}

func (h *harness) registerFn(keys ...ed25519.PrivateKey) txFunc {
	var in ballot.LogKeysInput
	for _, k := range keys {
		in.Keys = append(in.Keys, ballot.NewLogKey(k.Public().(ed25519.PublicKey)))
	}
	return h.jsonArg(in, h.cc.RegisterLogKeys)
}

func (h *harness) anchorFn(anchors ...ballot.LogAnchor) txFunc {
	return h.jsonArg(ballot.LogAnchorsInput{Heads: anchors}, h.cc.AnchorLogHeads)
}

// TestAnchorLogHeads: the admin registers a key; a Commission client
// anchors heads that extend the anchored one; a head by an unregistered key,
// a rewritten log and a shrunk log are refused with the reason.
func TestAnchorLogHeads(t *testing.T) {
	h := newHarness(t)
	h.open()
	log := &logFixture{key: ed25519.NewKeyFromSeed(make([]byte, 32))}
	rogue := ed25519.NewKeyFromSeed([]byte("rogue-key-rogue-key-rogue-key-32"))
	_, err := h.call(commissionClient, h.registerFn(log.key))
	wantErr(t, "RegisterLogKeys by a client", err, "admins only")
	h.must(commissionAdmin, h.registerFn(log.key))
	var keys ballot.LogKeys
	if err := json.Unmarshal([]byte(h.must(observerAdmin, h.cc.GetLogKeys)), &keys); err != nil || len(keys.Keys) != 1 || keys.Keys[0].RegisteredAt != h.now.UnixMilli() {
		t.Fatalf("GetLogKeys: %+v, %v", keys, err)
	}

	log.grow(t, 5)
	first := log.anchor(t, 0)
	_, err = h.call(observerAdmin, h.anchorFn(first))
	wantErr(t, "AnchorLogHeads by an observer", err, "is not a CommissionMSP client")
	h.must(commissionClient, h.anchorFn(first))
	h.must(commissionClient, h.anchorFn(first)) // a repeat writes nothing
	if h.stub.puts != 0 {
		t.Fatalf("a repeated anchor wrote %d keys", h.stub.puts)
	}
	log.grow(t, 7)
	second := log.anchor(t, 5)
	h.must(commissionClient, h.anchorFn(second))
	var rec ballot.AnchoredHead
	if err := json.Unmarshal([]byte(h.must(observerAdmin, func(ctx contractapi.TransactionContextInterface) (string, error) { return h.cc.GetLogHead(ctx, "CA") })), &rec); err != nil ||
		rec.Head != second.Head || rec.TxID == "" {
		t.Fatalf("GetLogHead: %+v, %v", rec, err)
	}

	unregistered := log.anchor(t, 12)
	unregistered.Head, _ = unregistered.Head.Sign(rogue)
	_, err = h.call(commissionClient, h.anchorFn(unregistered))
	wantErr(t, "a head by an unregistered key", err, ballot.UnknownLogKeyMark+" head of CA")
	wantErr(t, "a head by an unregistered key", err, ballot.ErrUnknownLogKey.Error())

	rewritten := &logFixture{key: log.key}
	rewritten.grow(t, 3)
	rewritten.tree.Append([32]byte{7}) // entry 3 replaced
	rewritten.grow(t, 10)
	_, err = h.call(commissionClient, h.anchorFn(rewritten.anchor(t, 12)))
	wantErr(t, "a rewritten log", err, "does not extend")
	wantErr(t, "a rewritten log", err, ballot.HeadConflictMark) // what the gateway classifies by
	_, err = h.call(commissionClient, h.anchorFn(first))
	wantErr(t, "a shrunk log", err, "cannot shrink")
	wantErr(t, "a shrunk log", err, ballot.HeadConflictMark)

	if _, err := h.commit(batch(t, "CA", 1, votes("CA", 0, 12))); err != nil { // the 12 anchored votes
		t.Fatal(err)
	}
	h.must(commissionAdmin, h.cc.CloseElection)
	h.must(commissionAdmin, h.finalise())
	log.grow(t, 1)
	_, err = h.call(commissionClient, h.anchorFn(log.anchor(t, 12)))
	wantErr(t, "anchoring after finalise", err, "finalised")
}

func TestListBatches(t *testing.T) {
	h := newHarness(t)
	h.open()
	for seq := uint64(1); seq <= 3; seq++ {
		if _, err := h.commit(batch(t, "CA", seq, votes("CA", int(seq)*10, 2))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.commit(batch(t, "NY", 1, votes("NY", 0, 1))); err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	bookmark := ""
	for pages := 0; ; pages++ {
		out := h.must(observerAdmin, func(ctx contractapi.TransactionContextInterface) (string, error) {
			return h.cc.ListBatches(ctx, "CA", bookmark, 2)
		})
		var page BatchPage
		if err := json.Unmarshal([]byte(out), &page); err != nil || pages > 3 {
			t.Fatalf("page %s: %v", out, err)
		}
		for _, r := range page.Batches {
			if r.State != "CA" || r.TxID == "" {
				t.Fatalf("record %+v", r)
			}
			seqs = append(seqs, r.Seq)
		}
		if bookmark = page.Bookmark; bookmark == "" {
			break
		}
	}
	if len(seqs) != 3 || seqs[0] != 1 || seqs[2] != 3 {
		t.Fatalf("CA batches listed: %v; want 1, 2, 3", seqs)
	}
	_, err := h.call(observerAdmin, func(ctx contractapi.TransactionContextInterface) (string, error) {
		return h.cc.ListBatches(ctx, "CA", "", 0)
	})
	wantErr(t, "page size 0", err, "page size")
}

// openWithLogKey is an open election's harness and an empty log whose
// key is registered.
func openWithLogKey(t *testing.T) (*harness, *logFixture) {
	t.Helper()
	h := newHarness(t)
	h.open()
	log := &logFixture{key: ed25519.NewKeyFromSeed(make([]byte, 32))}
	h.must(commissionAdmin, h.registerFn(log.key))
	return h, log
}

// TestAnchorLogHeadStamps: AnchorLogHeads refuses a head stamped more than
// MaxClockSkew after the transaction's time, and one stamped before the
// anchored head with HeadStaleMark (what the gateway signs again by), not
// HeadConflictMark; the same log stamped no earlier is anchored.
func TestAnchorLogHeadStamps(t *testing.T) {
	h, log := openWithLogKey(t)
	log.grow(t, 3)
	tx := h.now.UnixMilli()
	_, err := h.call(commissionClient, h.anchorFn(log.anchorStamped(t, 0, tx+MaxClockSkew.Milliseconds()+1)))
	wantErr(t, "a head stamped past the skew after the transaction", err, "too far after")
	ahead := tx + MaxClockSkew.Milliseconds() // a signer's clock ahead, within the skew
	h.must(commissionClient, h.anchorFn(log.anchorStamped(t, 0, ahead)))
	log.grow(t, 2)
	_, err = h.call(commissionClient, h.anchorFn(log.anchorStamped(t, 3, tx)))
	wantErr(t, "a head stamped before the anchored one", err, ballot.HeadStaleMark)
	if err != nil && ballot.IsHeadConflict(err.Error()) {
		t.Errorf("a head stamped before the anchored one: %v, marked as a head conflict", err)
	}
	h.must(commissionClient, h.anchorFn(log.anchorStamped(t, 3, ahead)))
}

// TestAnchorLogHeadsFromAFastClock: the anchor of a signer whose clock (the
// transaction's time, and its head's stamp) is more than MaxClockSkew ahead
// of the peer's is refused with ballot.ClockSkewMark, neither a stale head
// nor a conflict (signing again would not help); within the skew it is
// anchored.
func TestAnchorLogHeadsFromAFastClock(t *testing.T) {
	h, log := openWithLogKey(t)
	log.grow(t, 3)
	h.skew = -MaxClockSkew - time.Second // the peer's clock behind the signer's
	_, err := h.call(commissionClient, h.anchorFn(log.anchorStamped(t, 0, h.now.UnixMilli())))
	wantErr(t, "an anchor from a clock past the skew ahead", err, ballot.ClockSkewMark)
	if err != nil && (ballot.IsHeadStale(err.Error()) || ballot.IsHeadConflict(err.Error())) {
		t.Errorf("an anchor from a clock past the skew ahead: %v, marked as a stale or conflicting head", err)
	}
	h.skew = -MaxClockSkew
	h.must(commissionClient, h.anchorFn(log.anchorStamped(t, 0, h.now.UnixMilli())))
}

// FinaliseElection refuses while a state's batches hold fewer votes than
// its anchored head says were accepted.
func TestFinaliseNeedsTheAnchoredVotes(t *testing.T) {
	h, log := openWithLogKey(t)
	log.grow(t, 5)
	h.must(commissionClient, h.anchorFn(log.anchor(t, 0)))
	if _, err := h.commit(batch(t, "CA", 1, votes("CA", 0, 3))); err != nil {
		t.Fatal(err)
	}
	h.must(commissionAdmin, h.cc.CloseElection)
	_, err := h.call(commissionAdmin, h.finalise())
	wantErr(t, "finalise with 2 anchored votes off the ledger", err, "at least 2 accepted votes are not on the ledger")
	if _, err := h.commit(batch(t, "CA", 2, votes("CA", 3, 2))); err != nil {
		t.Fatal(err)
	}
	h.must(commissionAdmin, h.finalise())
}
