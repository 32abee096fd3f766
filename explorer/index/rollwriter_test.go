package index_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/peer"

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
// first opens with roll_chunks_since, on a roll of CA and NY in two
// chunks loaded in blocks 1 and 2 and sealed in block 3, each case an old
// index's layout after block 2. One begun once log_since was in
// (log_since 0) kept the records from block 0: RollChunks answers with
// the records it holds and the seal is recomputed over them, passing over
// the roll's records, flagged roll_seal over fewer (its ledger's roll
// marks came without their chunk record). An older one (log_since after
// block 0) is taken as having kept them from block 0 only where what it
// holds proves it lost none: every roll mark, of either state, under a
// chunk record it holds, or no VALID transaction of the election before
// its log_since block and the first block flagged roll_chunk (as one
// begun between roll_chunks and log_since whose marks came without
// records); else (roll marks without records and no such flag, as one
// begun before roll_chunks, also one that then indexed LoadRolls with
// their records) RollChunks answers audit.ErrNotRecorded and the audit
// skips the seal rather than flag it. The one such index that cannot be
// judged (a LoadRoll with its record, then one flagged without) is taken
// as not recorded, whatever function the loads call: LoadRoll as the
// explorer's tests do, ballot:LoadRoll as the real network's client
// does, or another that writes the same (a chaincode not ours). An index
// with no roll has no chunks and says so.
func TestRollChunksSince(t *testing.T) {
	entries := []ballot.RollEntry{{State: "CA", Contest: president, Nullifier: strings.Repeat("f", 64)}}
	for i := range ballot.RollChunkEntries {
		entries = append(entries, ballot.RollEntry{State: []string{"CA", "NY"}[i%2], Contest: president, Nullifier: fmt.Sprintf("%064x", i+1)})
	}
	e, loads, seal := sealedRoll(testElection(), entries...)
	if len(loads) != 2 {
		t.Fatalf("the roll has %d chunks; want 2", len(loads))
	}
	for _, tc := range []struct {
		name, stmt string
		noRecord   []int  // the chunks whose LoadRoll writes no chunk record (flagged roll_chunk)
		function   string // the loads' function as invoked, if not LoadRoll
		chunks     int    // RollChunks' records, -1 for audit.ErrNotRecorded
		flagged    bool   // the seal flagged roll_seal
	}{
		{"older than roll_chunks", `UPDATE log_since SET block = 3; DELETE FROM roll_chunks`, nil, "", -1, false},
		{"older than roll_chunks, LoadRolls since", `UPDATE log_since SET block = 3; DELETE FROM roll_chunks WHERE idx = 0`, nil, "", -1, false},
		{"older than log_since, chunk records", `UPDATE log_since SET block = 3`, nil, "", 2, false},
		{"older than log_since, marks without records", `UPDATE log_since SET block = 3`, []int{0, 1}, "", 0, true},
		{"older than log_since, marks without a record first", `UPDATE log_since SET block = 3`, []int{0}, "", 1, true},
		{"older than log_since, marks without a record after a record", `UPDATE log_since SET block = 3`, []int{1}, "", -1, false},
		{"older than log_since, marks without a record after a record, ballot:LoadRoll", `UPDATE log_since SET block = 3`, []int{1}, "ballot:LoadRoll", -1, false},
		{"older than log_since, marks without a record after a record, another function", `UPDATE log_since SET block = 3`, []int{1}, "ballot:Other", -1, false},
		{"older than log_since, LoadRolls after it", `UPDATE log_since SET block = 1`, []int{1}, "", 1, true},
		{"log_since 0, chunk records", ``, nil, "", 2, false},
		{"log_since 0, no chunk record", `DELETE FROM roll_chunks`, nil, "", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loads := slices.Clone(loads)
			for i := range loads {
				loads[i].Function = cmp.Or(tc.function, loads[i].Function)
			}
			for _, i := range tc.noRecord {
				loads[i] = withoutRecord(loads[i])
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
			idx = reopen(t, idx, path, `DROP TABLE roll_chunks_since; DROP TABLE roll_chunks_judged; `+tc.stmt)
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
	load := withoutRecord(loads[0])
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

// TestRollChunksSinceBound: what an index older than log_since holds
// before its bound (its log_since block or the first block flagged
// roll_chunk or roll_seal, whichever is first; a roll of one chunk whose
// marks came without their record, flagged roll_chunk in the last block)
// and how it is judged. An INVALID LoadRoll (its writes never committed)
// and VALID transactions of Fabric's _lifecycle (which writes its own
// namespace only) prove nothing lost: the index is taken as having kept
// every record, so the seal is recomputed (over none). A VALID
// transaction indexed as _lifecycle's whose function is not one of
// _lifecycle's (LoadRoll: a proposal whose header names the ballot
// chaincode, which Fabric runs, and whose invocation spec, which the
// index keeps, names _lifecycle) may have written the roll: not
// recorded. A roll_seal flag
// bounds as a roll_chunk one does: a roll sealed before it was loaded,
// flagged in its set-up's block, leaves the set-up after the bound. A
// VALID transaction of the election before the bound may have written the
// roll whatever its function (the chaincode's SetupElection here): not
// recorded. The log says which, with the fix for the second.
func TestRollChunksSinceBound(t *testing.T) {
	e, loads, seal := sealedRoll(testElection(), ballot.RollEntry{State: "CA", Contest: president, Nullifier: nullifier(0, president)})
	noRecord := withoutRecord(loads[0])
	invalid := loads[0]
	invalid.ID, invalid.Code = "invalid", peer.TxValidationCode_MVCC_READ_CONFLICT
	approve := ledgertest.Tx{ID: "approve", Chaincode: "_lifecycle", Function: "ApproveChaincodeDefinitionForMyOrg"}
	commit := ledgertest.Tx{ID: "commit", Chaincode: "_lifecycle", Function: "CommitChaincodeDefinition"}
	named := ledgertest.Tx{ID: "named", Chaincode: "_lifecycle", Function: "LoadRoll"}
	early := seal
	early.ID = "early"
	genesis := []ledgertest.Tx{{ID: "g", Config: true}}
	for _, tc := range []struct {
		name   string
		blocks [][]ledgertest.Tx
		chunks int // RollChunks' records, -1 for audit.ErrNotRecorded
	}{
		{"an INVALID LoadRoll and _lifecycle transactions before it", [][]ledgertest.Tx{genesis, {invalid, approve, commit}, {setupTx(e), noRecord}}, 0},
		{"a LoadRoll indexed as _lifecycle's before it", [][]ledgertest.Tx{genesis, {named, commit}, {setupTx(e), noRecord}}, -1},
		{"roll_seal flagged first", [][]ledgertest.Tx{genesis, {setupTx(e), early}, {noRecord}}, 0},
		{"SetupElection before it", [][]ledgertest.Tx{genesis, {setupTx(e)}, {noRecord}}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logged strings.Builder
			idx, _ := indexOld(t, tc.blocks, ``, index.WithLogger(slog.New(slog.NewTextHandler(&logged, nil))))
			defer idx.Close()
			chunks, err := idx.RollChunks(t.Context())
			if tc.chunks < 0 && !errors.Is(err, audit.ErrNotRecorded) || tc.chunks >= 0 && (err != nil || len(chunks) != tc.chunks) {
				t.Fatalf("RollChunks = %d records, %v; want %d records (-1: audit.ErrNotRecorded)", len(chunks), err, tc.chunks)
			}
			want := []string{"level=INFO", "roll_chunks_since=0", "proof=", "duration="}
			if tc.chunks < 0 {
				want = []string{"level=WARN", "roll_chunks_since=3", "the audit skips the roll's seal", "run `explorer reindex`", "duration="}
			}
			for _, w := range want {
				if !strings.Contains(logged.String(), w) {
					t.Errorf("the log %q does not say %q", logged.String(), w)
				}
			}
		})
	}
}

// TestRollChunksJudgedAgainOnce: an index whose roll_chunks_since an
// earlier rule set is judged again on its next open, once: one with no
// roll_chunks_judged (as explorers of 2026-12-07 before it left it), here
// judged by the LoadRoll function's name, which took an index whose
// set-up was indexed before its bound (log_since, the first roll_chunk
// flag) for one that kept every record; one rule 1 judged, which passed
// over a LoadRoll indexed as _lifecycle's. The log says so, naming the
// earlier judgement and the fix, and, where the earlier rule judged the
// index recorded (0, so the seal was recomputed over records it may have
// lost), that a roll_seal flagged since may be false; the next open logs
// nothing.
func TestRollChunksJudgedAgainOnce(t *testing.T) {
	e, loads, _ := sealedRoll(testElection(), ballot.RollEntry{State: "CA", Contest: president, Nullifier: nullifier(0, president)})
	const earlier = `CREATE TABLE roll_chunks_since (id INTEGER PRIMARY KEY CHECK (id = 1), block INTEGER NOT NULL);
		INSERT INTO roll_chunks_since VALUES (1, %d); `
	const rule1 = `CREATE TABLE roll_chunks_judged (id INTEGER PRIMARY KEY CHECK (id = 1), rule INTEGER NOT NULL);
		INSERT INTO roll_chunks_judged VALUES (1, 1)`
	named := ledgertest.Tx{ID: "named", Chaincode: "_lifecycle", Function: "LoadRoll"}
	falseSeal := "a roll_seal flagged since may be false"
	for _, tc := range []struct {
		name   string
		before ledgertest.Tx // the transaction before the bound
		stmt   string
		want   []string // what the log says, but falseSeal
		says   bool     // the log says falseSeal
	}{
		{"the LoadRoll name rule, recorded", setupTx(e), fmt.Sprintf(earlier, 0), []string{"roll_chunks_since=3", "earlier_rule_roll_chunks_since=0"}, true},
		{"the LoadRoll name rule, not recorded", setupTx(e), fmt.Sprintf(earlier, 2), []string{"roll_chunks_since=2", "earlier_rule_roll_chunks_since=2"}, false},
		{"rule 1, recorded", named, fmt.Sprintf(earlier, 0) + rule1, []string{"roll_chunks_since=3", "earlier_rule_roll_chunks_since=0"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logged strings.Builder
			log := index.WithLogger(slog.New(slog.NewTextHandler(&logged, nil)))
			blocks := [][]ledgertest.Tx{{{ID: "g", Config: true}}, {tc.before}, {withoutRecord(loads[0])}}
			idx, path := indexOld(t, blocks, tc.stmt, log)
			if chunks, err := idx.RollChunks(t.Context()); !errors.Is(err, audit.ErrNotRecorded) {
				t.Fatalf("RollChunks after the earlier rule's judgement = %d records, %v; want audit.ErrNotRecorded", len(chunks), err)
			}
			for _, w := range append(tc.want, "level=WARN", "run `explorer reindex`") {
				if !strings.Contains(logged.String(), w) {
					t.Errorf("the log %q does not say %q", logged.String(), w)
				}
			}
			if says := strings.Contains(logged.String(), falseSeal); says != tc.says {
				t.Errorf("the log %q says %q: %v; want %v", logged.String(), falseSeal, says, tc.says)
			}
			logged.Reset()
			idx = reopen(t, idx, path, ``, log)
			defer idx.Close()
			if logged.Len() != 0 {
				t.Errorf("the next open logged %q; want nothing", logged.String())
			}
		})
	}
}

// indexOld audits and saves blocks into a new index, then reopens it with
// opts as an index older than log_since (begun before 2026-12-04 16:36:
// log_since at the block after them) that no explorer judged (neither
// roll_chunks_since nor roll_chunks_judged) would be, after stmt; it
// returns the index and its path.
func indexOld(t *testing.T, blocks [][]ledgertest.Tx, stmt string, opts ...index.Option) (*index.Index, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "index.db")
	idx, err := index.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	var prev []byte
	for _, blk := range ledgertest.Chain(blocks...) {
		prev = auditThenSave(t, blk, prev, idx, idx.Save).Block.Hash
	}
	return reopen(t, idx, path, fmt.Sprintf(`DROP TABLE roll_chunks_since; DROP TABLE roll_chunks_judged; UPDATE log_since SET block = %d; `, len(blocks))+stmt, opts...), path
}

// withoutRecord is load writing its roll marks and no chunk record (a
// LoadRoll the audit flags roll_chunk).
func withoutRecord(load ledgertest.Tx) ledgertest.Tx {
	load.Writes = slices.DeleteFunc(slices.Clone(load.Writes), func(w fabricblock.Write) bool {
		_, chunk := ballot.ParseRollChunkKey(w.Key)
		return chunk
	})
	return load
}
