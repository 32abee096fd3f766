package index_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
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
	idx, err := index.Open(context.Background(), path)
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
	// The roll: kept and fillers below it in a full chunk 0, later alone
	// in chunk 1.
	entries := []ballot.RollEntry{kept, later}
	for i := range ballot.RollChunkEntries - 1 {
		entries = append(entries, ballot.RollEntry{State: "CA", Contest: president, Nullifier: fmt.Sprintf("%064x", i+1)})
	}
	e, loads, seal := sealedRoll(testElection(), entries...)
	if len(loads) != 2 || !slices.ContainsFunc(loads[1].Writes, func(w fabricblock.Write) bool { return w.Key == ballot.NullifierKey(later.State, later.Nullifier) }) {
		t.Fatalf("the roll's chunks hold later elsewhere than alone in chunk 1: pick voters whose nullifiers ascend")
	}
	genesis := []ledgertest.Tx{{ID: "g", Config: true}}

	// A Writer that rolls back the roll entry it saved.
	w, err := idx.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, blk := range ledgertest.Chain(genesis, []ledgertest.Tx{ledgertest.LoadRoll("l0", 0, dropped)}) {
		auditAndSave(t, blk, blk.Header.PreviousHash, w, w.Save)
		if i == 1 {
			if got, err := w.RollContests(t.Context(), []audit.Nullifier{key(dropped)}); err != nil || got[key(dropped)] != president {
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
	chain := ledgertest.Chain(genesis, []ledgertest.Tx{setupTx(e), loads[0]},
		[]ledgertest.Tx{loads[1]}, []ledgertest.Tx{seal},
		[]ledgertest.Tx{commitTxWith(t, "c1", "CA", 1, votes, map[int]string{1: ballot.RejectNotOnRoll})})
	keys := []audit.Nullifier{key(kept), key(dropped), key(later)}
	want := map[audit.Nullifier]string{key(kept): president, key(later): question}
	var prev []byte
	for _, blocks := range [][]int{{0, 1}, {2}} {
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
		got, err := w.RollContests(t.Context(), keys)
		if err != nil || !maps.Equal(got, want) {
			t.Errorf("%s: the Writer's RollContests = %v, %v; want %v", when, got, err, want)
		}
		if got, err := idx.RollContests(t.Context(), keys); err != nil || !maps.Equal(got, want) {
			t.Errorf("%s: the table's RollContests = %v, %v; want %v", when, got, err, want)
		}
	}
	check("after the commits")
	idx.Close()
	if idx, err = index.Open(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	check("after reopening")
	w, err = idx.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The seal is checked against the chunk records of both Writers, read
	// from the table (auditAndSave fails on any issue), and the rolled-back
	// Writer's chunk 0 is not among them (it would be written again).
	for _, i := range []int{3, 4} {
		prev = auditAndSave(t, chain[i], prev, w, w.Save)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if chunks, err := idx.RollChunks(t.Context()); err != nil || len(chunks) != 2 || chunks[0] != ledgertest.ChunkRecord(loads[0]) || chunks[1] != ledgertest.ChunkRecord(loads[1]) {
		t.Fatalf("the index's RollChunks = %+v, %v; want both chunks' records", chunks, err)
	}
	byReason, err := idx.RejectedByReason(ctx)
	if err != nil || !maps.Equal(byReason, map[string]int64{ballot.RejectNotOnRoll: 1}) {
		t.Fatalf("rejected by reason %v, %v; want the dropped voter's vote not on the roll", byReason, err)
	}
}

// TestRollChunksSince: how an index that holds a roll is classed when it
// first opens with roll_chunks_since, on a roll of two chunks loaded in
// blocks 1 and 2 and sealed in block 3, each case an old index's layout
// after block 2. One begun once log_since was in (log_since 0) kept the
// records from block 0: RollChunks answers with the records it holds and
// the seal is recomputed over them, passing over the roll's records,
// flagged roll_seal over fewer (its ledger's roll marks came without
// their chunk record). An older one (log_since after block 0) is taken
// as having kept them from block 0 only where what it holds proves it
// lost none: every roll mark under a chunk record it holds, or every
// LoadRoll it holds at or after its log_since block or the first block
// flagged roll_chunk (as one begun between roll_chunks and log_since whose
// marks came without records); else (roll marks without records and no such flag, as one
// begun before roll_chunks, also one that then indexed LoadRolls with
// their records) RollChunks answers audit.ErrNotRecorded and the audit
// skips the seal rather than flag it. The one such index that cannot be
// judged (a LoadRoll with its record, then one flagged without) is taken
// as not recorded. An index with no roll has no chunks and says so.
func TestRollChunksSince(t *testing.T) {
	entries := []ballot.RollEntry{{State: "CA", Contest: president, Nullifier: strings.Repeat("f", 64)}}
	for i := range ballot.RollChunkEntries {
		entries = append(entries, ballot.RollEntry{State: "CA", Contest: president, Nullifier: fmt.Sprintf("%064x", i+1)})
	}
	e, loads, seal := sealedRoll(testElection(), entries...)
	if len(loads) != 2 {
		t.Fatalf("the roll has %d chunks; want 2", len(loads))
	}
	for _, tc := range []struct {
		name, stmt string
		noRecord   []int // the chunks whose LoadRoll writes no chunk record (flagged roll_chunk)
		chunks     int   // RollChunks' records, -1 for audit.ErrNotRecorded
		flagged    bool  // the seal flagged roll_seal
	}{
		{"older than roll_chunks", `UPDATE log_since SET block = 3; DELETE FROM roll_chunks`, nil, -1, false},
		{"older than roll_chunks, LoadRolls since", `UPDATE log_since SET block = 3; DELETE FROM roll_chunks WHERE idx = 0`, nil, -1, false},
		{"older than log_since, chunk records", `UPDATE log_since SET block = 3`, nil, 2, false},
		{"older than log_since, marks without records", `UPDATE log_since SET block = 3`, []int{0, 1}, 0, true},
		{"older than log_since, marks without a record first", `UPDATE log_since SET block = 3`, []int{0}, 1, true},
		{"older than log_since, marks without a record after a record", `UPDATE log_since SET block = 3`, []int{1}, -1, false},
		{"older than log_since, LoadRolls after it", `UPDATE log_since SET block = 1`, []int{1}, 1, true},
		{"log_since 0, chunk records", ``, nil, 2, false},
		{"log_since 0, no chunk record", `DELETE FROM roll_chunks`, nil, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loads := slices.Clone(loads)
			for _, i := range tc.noRecord {
				loads[i].Writes = slices.DeleteFunc(slices.Clone(loads[i].Writes), func(w fabricblock.Write) bool {
					_, chunk := ballot.ParseRollChunkKey(w.Key)
					return chunk
				})
			}
			chain := ledgertest.Chain([]ledgertest.Tx{{ID: "g", Config: true}}, []ledgertest.Tx{setupTx(e), loads[0]}, []ledgertest.Tx{loads[1]}, []ledgertest.Tx{seal})
			path := filepath.Join(t.TempDir(), "index.db")
			idx, err := index.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			if chunks, err := idx.RollChunks(t.Context()); err != nil || len(chunks) != 0 {
				t.Fatalf("RollChunks of an empty index = %v, %v", chunks, err)
			}
			var prev []byte
			for i, blk := range chain[:3] {
				r := auditThenSave(t, blk, prev, idx, idx.Save)
				prev = r.Block.Hash
				want := 0
				if i > 0 && slices.Contains(tc.noRecord, i-1) {
					want = 1
				}
				if flagged := slices.DeleteFunc(slices.Clone(r.Issues), func(is audit.Issue) bool { return is.Kind != audit.KindRollChunk }); len(r.Issues) != want || len(flagged) != want {
					t.Fatalf("block %d: issues %+v; want %d roll_chunk", i, r.Issues, want)
				}
			}
			idx = reopen(t, idx, path, `DROP TABLE roll_chunks_since; `+tc.stmt)
			defer idx.Close()
			chunks, err := idx.RollChunks(t.Context())
			if tc.chunks < 0 && !errors.Is(err, audit.ErrNotRecorded) || tc.chunks >= 0 && (err != nil || len(chunks) != tc.chunks) {
				t.Fatalf("RollChunks = %d records, %v; want %d records (-1: audit.ErrNotRecorded)", len(chunks), err, tc.chunks)
			}
			r := auditThenSave(t, chain[3], prev, idx, idx.Save)
			if flagged := slices.ContainsFunc(r.Issues, func(is audit.Issue) bool { return is.Kind == audit.KindRollSeal }); flagged != tc.flagged {
				t.Fatalf("the seal: issues %+v; want roll_seal flagged %v", r.Issues, tc.flagged)
			}
		})
	}
}

// TestRollSealCheckedOverMarksWithoutRecords: on an index that kept the
// chunk records from block 0, roll marks that came without their chunk
// record (a LoadRoll the audit flags roll_chunk) do not make it pass for
// an index written before it kept them: after reopening, the seal a later
// block writes is recomputed over the records it holds (none), flagged
// roll_seal, not skipped (the marks the recount goes by are not the roll
// the election published), and RollChunks answers with no records, not
// audit.ErrNotRecorded.
func TestRollSealCheckedOverMarksWithoutRecords(t *testing.T) {
	e, loads, seal := sealedRoll(testElection(), ballot.RollEntry{State: "CA", Contest: president, Nullifier: nullifier(0, president)})
	load := loads[0]
	load.Writes = slices.DeleteFunc(slices.Clone(load.Writes), func(w fabricblock.Write) bool {
		_, chunk := ballot.ParseRollChunkKey(w.Key)
		return chunk
	})
	chain := ledgertest.Chain([]ledgertest.Tx{{ID: "g", Config: true}}, []ledgertest.Tx{setupTx(e), load}, []ledgertest.Tx{seal})
	want := []struct{ kind, txID string }{{}, {audit.KindRollChunk, load.ID}, {audit.KindRollSeal, seal.ID}}
	idx := indexBlocks(t, filepath.Join(t.TempDir(), "index.db"), 2, chain, func(i int, _ *index.Index, r audit.Report) {
		if w := want[i]; w.kind != "" && !slices.ContainsFunc(r.Issues, func(is audit.Issue) bool { return is.Kind == w.kind && is.TxID == w.txID }) {
			t.Errorf("block %d: issues %+v; want %s flagged %s", i, r.Issues, w.txID, w.kind)
		}
	})
	if chunks, err := idx.RollChunks(t.Context()); err != nil || len(chunks) != 0 {
		t.Fatalf("RollChunks after roll marks without their chunk record = %v, %v; want none, recorded", chunks, err)
	}
}
