package index_test

import (
	"context"
	"maps"
	"path/filepath"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/explorer/index"
	"github.com/votechain/votechain/network/fabricblock"
	"github.com/votechain/votechain/network/fabricblock/ledgertest"
)

// TestWriterRollLookups: a Writer's roll lookups (RollContests, from the
// index's in-memory roll) see the entries it saved itself and those of
// committed Writers, not those of a Writer rolled back, and after
// reopening (the roll read anew from the table) answer as the table does;
// the recount of votes off the roll agrees with the chaincode's.
func TestWriterRollLookups(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "index.db")
	idx, err := index.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { idx.Close() }()
	entry := func(voter int, contest string) ballot.RollEntry {
		return ballot.RollEntry{State: "CA", Contest: contest, Nullifier: nullifier(voter, contest)}
	}
	key := func(e ballot.RollEntry) audit.Nullifier {
		return audit.Nullifier{State: e.State, Nullifier: e.Nullifier}
	}
	kept, dropped, later := entry(0, president), entry(1, president), entry(2, question)
	seal := ledgertest.Tx{ID: "seal", Function: "SealRoll", Writes: []fabricblock.Write{{Namespace: "ballot", Key: ballot.RollSealKey, Value: []byte("{}")}}}
	genesis := []ledgertest.Tx{{ID: "g", Config: true}}

	// A Writer that rolls back the roll entry it saved.
	w, err := idx.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, blk := range ledgertest.Chain(genesis, []ledgertest.Tx{loadRollTx("l0", dropped)}) {
		auditAndSave(t, blk, blk.Header.PreviousHash, w, w.Save)
		if i == 1 {
			if got, err := w.RollContests([]audit.Nullifier{key(dropped)}); err != nil || got[key(dropped)] != president {
				t.Fatalf("the Writer's RollContests of its own entry: %v, %v", got, err)
			}
		}
	}
	if err := w.Rollback(); err != nil {
		t.Fatal(err)
	}

	// The chain indexed instead: the entry kept in one Writer, the entry
	// later in the next, then the votes of all three voters: the dropped
	// one's is not on the roll.
	votes := []ballot.Vote{vote("CA", 0, president, "alice"), vote("CA", 1, president, "alice"), vote("CA", 2, question, "yes")}
	chain := ledgertest.Chain(genesis, []ledgertest.Tx{setupTx(testElection()), loadRollTx("l1", kept)},
		[]ledgertest.Tx{loadRollTx("l2", later)}, []ledgertest.Tx{seal},
		[]ledgertest.Tx{commitTxWith(t, "c1", "CA", 1, votes, map[int]string{1: ballot.RejectNotOnRoll})})
	keys := []audit.Nullifier{key(kept), key(dropped), key(later)}
	want := map[audit.Nullifier]string{key(kept): president, key(later): question}
	var prev []byte
	for _, blocks := range [][]int{{0, 1}, {2, 3}} {
		w, err := idx.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range blocks {
			prev = auditAndSave(t, chain[i], prev, w, w.Save)
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		t.Helper()
		w, err := idx.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Rollback()
		got, err := w.RollContests(keys)
		if err != nil || !maps.Equal(got, want) {
			t.Errorf("%s: the Writer's RollContests = %v, %v; want %v", when, got, err, want)
		}
		if got, err := idx.RollContests(keys); err != nil || !maps.Equal(got, want) {
			t.Errorf("%s: the table's RollContests = %v, %v; want %v", when, got, err, want)
		}
	}
	check("after the commits")
	idx.Close()
	if idx, err = index.Open(path); err != nil {
		t.Fatal(err)
	}
	check("after reopening")
	w, err = idx.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	auditAndSave(t, chain[4], prev, w, w.Save)
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	byReason, err := idx.RejectedByReason(ctx)
	if err != nil || !maps.Equal(byReason, map[string]int64{ballot.RejectNotOnRoll: 1}) {
		t.Fatalf("rejected by reason %v, %v; want the dropped voter's vote not on the roll", byReason, err)
	}
}
