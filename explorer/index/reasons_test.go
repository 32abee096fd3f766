package index_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/explorer/index"
	"github.com/votechain/votechain/network/fabricblock"
	"github.com/votechain/votechain/network/fabricblock/ledgertest"
)

// TestElectionAndReasonsKept: the index keeps the election record a block
// wrote, so that the audit of a later block (after reopening, in an index
// made before reasons were recorded) recounts a refused vote with its
// reason, and the batch keeps the reasons.
func TestElectionAndReasonsKept(t *testing.T) {
	ctx := context.Background()
	path, db := freshIndexFile(t)
	// An index from before reasons were recorded.
	if _, err := db.Exec(`ALTER TABLE batches DROP COLUMN reasons`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	e := testElection()
	votes := []ballot.Vote{
		{ID: "00000000000000000000000000000001", State: "CA", Contest: president, Nullifier: ballot.HashHex([32]byte{1}), Choice: "alice", CastAt: e.OpensAt.UnixMilli()},
		{ID: "00000000000000000000000000000002", State: "CA", Contest: president, Nullifier: ballot.HashHex([32]byte{2}), Choice: "bob", CastAt: e.OpensAt.UnixMilli()},
	}
	blocks := ledgertest.Chain([]ledgertest.Tx{{ID: "g", Config: true}},
		[]ledgertest.Tx{setupTx(e)},
		[]ledgertest.Tx{commitTx(t, votes, ballot.RejectUnknownChoice)})
	idx := indexChain(t, path, 2, blocks)
	got, err := idx.Election(t.Context())
	if err != nil || got == nil || got.ID != "e" {
		t.Fatalf("indexed election %+v, %v", got, err)
	}
	batch, err := idx.Batch(ctx, "CA", 1)
	if err != nil || !slices.Equal(batch.Reasons, []string{ballot.RejectUnknownChoice}) || batch.Record().Status(1) != ballot.ReceiptRejected {
		t.Fatalf("indexed batch %+v, %v", batch, err)
	}
}

// indexChain audits and saves blocks into the index at path, reopening it
// before block reopenAt (so that what the audit needs comes from the
// database), and returns the open index, closed when the test ends. Every
// block must audit without issues.
func indexChain(t *testing.T, path string, reopenAt int, blocks []*common.Block) *index.Index {
	t.Helper()
	return indexBlocks(t, path, reopenAt, blocks, func(_ int, _ *index.Index, r audit.Report) {
		if len(r.Issues) != 0 {
			t.Fatalf("block %d: issues %+v", r.Block.Number, r.Issues)
		}
	})
}

// indexBlocks is indexChain whatever the audit finds: after is given each
// block's report once it is saved (its Writer's commit may follow), with
// the index.
func indexBlocks(t *testing.T, path string, reopenAt int, blocks []*common.Block, after func(int, *index.Index, audit.Report)) *index.Index {
	t.Helper()
	return indexBlocksVia(t, path, reopenAt, blocks, indexWith{}, after)
}

// indexWith is how indexBlocksVia indexes.
type indexWith struct {
	// perWriter is the blocks audited against and saved with a Writer of
	// their own, committed after the last, as the explorer's follower
	// does; 0: each with the committed index (Index.Save).
	perWriter int
	// minFilterKeys, if set, is the least size of the index's filters.
	minFilterKeys int
}

// indexBlocksVia is indexBlocks indexing as with says; reopenAt must be
// at a Writer's first block.
func indexBlocksVia(t *testing.T, path string, reopenAt int, blocks []*common.Block, with indexWith, after func(int, *index.Index, audit.Report)) *index.Index {
	t.Helper()
	open := func() *index.Index {
		idx, err := index.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		if with.minFilterKeys > 0 {
			index.SetMinFilterKeys(idx, with.minFilterKeys)
		}
		return idx
	}
	idx := open()
	t.Cleanup(func() { idx.Close() })
	var prev []byte
	var w *index.Writer
	for i, blk := range blocks {
		if i == reopenAt {
			if w != nil {
				t.Fatalf("reopen at block %d, within a Writer", i)
			}
			idx.Close()
			idx = open()
		}
		var r audit.Report
		if with.perWriter > 0 {
			if w == nil {
				var err error
				if w, err = idx.Begin(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			r = auditThenSave(t, blk, prev, w, w.Save)
			if (i+1)%with.perWriter == 0 || i == len(blocks)-1 {
				if err := w.Commit(); err != nil {
					t.Fatal(err)
				}
				w = nil
			}
		} else {
			r = auditThenSave(t, blk, prev, idx, idx.Save)
		}
		after(i, idx, r)
		prev = r.Block.Hash
	}
	return idx
}

// auditAndSave audits blk (whose predecessor hashes to prev) against h,
// fails on any issue, saves it with save and returns its hash.
func auditAndSave(t *testing.T, blk *common.Block, prev []byte, h audit.History, save func(context.Context, audit.Report) error) []byte {
	t.Helper()
	r := auditThenSave(t, blk, prev, h, save)
	if len(r.Issues) != 0 {
		t.Fatalf("block %d: issues %+v", r.Block.Number, r.Issues)
	}
	return r.Block.Hash
}

// auditThenSave is auditAndSave whatever the audit finds: it returns the
// block's report, saved.
func auditThenSave(t *testing.T, blk *common.Block, prev []byte, h audit.History, save func(context.Context, audit.Report) error) audit.Report {
	t.Helper()
	fb, err := fabricblock.Parse(blk)
	if err != nil {
		t.Fatal(err)
	}
	r, err := (audit.Auditor{Chaincode: "ballot", SkipSignatures: true}).Block(t.Context(), prev, fb, h)
	if err != nil {
		t.Fatal(err)
	}
	if err := save(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRollKept: the index keeps the roll marks and the seal the blocks
// wrote, so that after reopening the recount rejects a vote off the roll as
// not_on_roll; the audit page's counts by reason and the roll's size come
// from it.
func TestRollKept(t *testing.T) {
	ctx := context.Background()
	at := time.Now().UnixMilli()
	on := ballot.Vote{ID: "00000000000000000000000000000001", State: "CA", Contest: president, Nullifier: ballot.HashHex([32]byte{1}), Choice: "alice", CastAt: at}
	off := ballot.Vote{ID: "00000000000000000000000000000002", State: "CA", Contest: president, Nullifier: ballot.HashHex([32]byte{2}), Choice: "alice", CastAt: at}
	e, loads, seal := sealedRoll(testElection(), ballot.RollEntry{State: "CA", Contest: president, Nullifier: on.Nullifier})
	blocks := ledgertest.Chain([]ledgertest.Tx{{ID: "g", Config: true}},
		[]ledgertest.Tx{setupTx(e), loads[0]},
		[]ledgertest.Tx{seal},
		[]ledgertest.Tx{commitTx(t, []ballot.Vote{on, off}, ballot.RejectNotOnRoll)})
	idx := indexChain(t, filepath.Join(t.TempDir(), "index.db"), 3, blocks)
	byReason, err := idx.RejectedByReason(ctx)
	if err != nil || len(byReason) != 1 || byReason[ballot.RejectNotOnRoll] != 1 {
		t.Fatalf("rejected by reason %v, %v", byReason, err)
	}
	if roll, err := idx.Roll(ctx); err != nil || !reflect.DeepEqual(roll, index.Roll{Voters: 1, ByContest: map[string]int64{president: 1}, Sealed: true, SealBlock: 2, RollEntries: new(1)}) {
		t.Fatalf("roll %+v, %v", roll, err)
	}
}

// commitTx is the CommitBatch transaction "c" of batch CA/1 of votes, whose
// first vote counts and whose second is rejected for reason.
func commitTx(t *testing.T, votes []ballot.Vote, reason string) ledgertest.Tx {
	t.Helper()
	return commitTxWith(t, "c", "CA", 1, votes, map[int]string{1: reason})
}

// commitTxWith is the CommitBatch transaction id of batch (state, seq) of
// votes as the chaincode writes it when it rejects rejects (index →
// reason) and counts the rest.
func commitTxWith(t *testing.T, id, state string, seq uint64, votes []ballot.Vote, rejects map[int]string) ledgertest.Tx {
	t.Helper()
	b, err := ballot.BuildBatch(state, seq, votes)
	if err != nil {
		t.Fatal(err)
	}
	return ledgertest.CommitBatch(id, b, rejects)
}

// The contests of testElection.
const (
	president = "president"
	question  = "Q-1"
)

// testElection is an election of CA and NY, open now, with a race and a
// question.
func testElection() ballot.Election {
	return ballot.Election{ID: "e", Name: "E", States: []string{"CA", "NY"},
		Contests: []ballot.Contest{
			{ID: president, Title: "President", Kind: ballot.ContestRace, Choices: []string{"alice"}},
			{ID: question, Title: "Question 1", Kind: ballot.ContestQuestion, Choices: []string{"yes", "no"}},
		},
		OpensAt: time.Now().Add(-time.Hour).UTC().Truncate(time.Second), ClosesAt: time.Now().Add(time.Hour).UTC().Truncate(time.Second),
		RollRoot: ballot.HashHex(ballot.MerkleRoot(nil)), RollEntries: new(0), Status: ballot.StatusConfigured,
		Batchers: []string{"User1@commission.votechain.test"}}
}

// setupTx is the SetupElection transaction "s" that writes e.
func setupTx(e ballot.Election) ledgertest.Tx { return ledgertest.SetupElection("s", e) }

// sealedRoll returns e with the roll of entries as its roll root, the
// LoadRoll transactions of its chunks and the SealRoll that follows, as
// the chaincode writes them.
func sealedRoll(e ballot.Election, entries ...ballot.RollEntry) (ballot.Election, []ledgertest.Tx, ledgertest.Tx) {
	_, loads, seal := ledgertest.Roll("l", entries)
	e.SetRoll(entries)
	return e, loads, seal
}

// nullifier is voter's nullifier for contest.
func nullifier(voter int, contest string) string {
	return ballot.HashHex(ballot.NullifierOf([32]byte{byte(voter), 'v'}, contest))
}

// vote is voter's vote of state in contest for choice.
func vote(state string, voter int, contest, choice string) ballot.Vote {
	return ballot.Vote{ID: fmt.Sprintf("%032x", voter<<8|len(contest)), State: state, Contest: contest, Nullifier: nullifier(voter, contest),
		Choice: choice, CastAt: time.Now().Add(-time.Minute).UnixMilli()}
}

// TestRecountPerContest: the index recounts per state, contest and choice
// (as the chaincode's results are), keeps the roll with each entry's
// contest, and after reopening recounts a vote whose nullifier is on the
// roll for another contest as not_on_roll.
func TestRecountPerContest(t *testing.T) {
	ctx := context.Background()
	e := testElection()
	var entries []ballot.RollEntry
	for voter := range 4 {
		entries = append(entries, ballot.RollEntry{State: "CA", Contest: president, Nullifier: nullifier(voter, president)})
		if voter < 3 {
			entries = append(entries, ballot.RollEntry{State: "CA", Contest: question, Nullifier: nullifier(voter, question)})
		}
	}
	entries = append(entries, ballot.RollEntry{State: "NY", Contest: question, Nullifier: nullifier(9, question)})
	misfiled := vote("CA", 3, question, "no")
	misfiled.Nullifier = nullifier(3, president) // voter 3 is on the roll for president only
	ca1 := []ballot.Vote{vote("CA", 0, president, "alice"), vote("CA", 0, question, "yes"), vote("CA", 1, question, "no"), misfiled}
	ca2 := []ballot.Vote{vote("CA", 1, question, "yes"), vote("CA", 2, question, "yes"), vote("CA", 3, president, "alice")}
	ny1 := []ballot.Vote{vote("NY", 9, question, "no")}
	e, loads, seal := sealedRoll(e, entries...)
	blocks := ledgertest.Chain([]ledgertest.Tx{{ID: "g", Config: true}},
		[]ledgertest.Tx{setupTx(e), loads[0]},
		[]ledgertest.Tx{seal},
		[]ledgertest.Tx{commitTxWith(t, "c1", "CA", 1, ca1, map[int]string{3: ballot.RejectNotOnRoll})},
		[]ledgertest.Tx{commitTxWith(t, "c2", "CA", 2, ca2, map[int]string{0: ballot.RejectDuplicate}), commitTxWith(t, "c3", "NY", 1, ny1, nil)})
	idx := indexChain(t, filepath.Join(t.TempDir(), "index.db"), 3, blocks)

	res, err := idx.Recount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantCA := ballot.Tally{president: {"alice": 2}, question: {"yes": 2, "no": 1}}
	wantNational := ballot.Tally{president: {"alice": 2}, question: {"yes": 2, "no": 2}}
	if ca := res.States["CA"]; ca.Batches != 2 || ca.Counted != 5 || ca.Rejected != 2 || !ca.Tallies.Equal(wantCA) {
		t.Errorf("CA recount %+v, want tallies %v", ca, wantCA)
	}
	if ny := res.States["NY"]; !ny.Tallies.Equal(ballot.Tally{question: {"no": 1}}) {
		t.Errorf("NY recount %+v", ny)
	}
	if res.Counted != 6 || res.Rejected != 2 || !res.National.Equal(wantNational) {
		t.Errorf("national recount %d counted, %d rejected, %v; want 6, 2, %v", res.Counted, res.Rejected, res.National, wantNational)
	}
	roll, err := idx.Roll(ctx)
	if err != nil || roll.Voters != 8 || !maps.Equal(roll.ByContest, map[string]int64{president: 4, question: 4}) {
		t.Errorf("roll %+v, %v", roll, err)
	}
	for _, c := range []struct {
		state, contest, nullifier string
		want                      bool
	}{
		{"CA", president, nullifier(3, president), true},
		{"CA", question, nullifier(3, president), false},
		{"NY", question, nullifier(0, question), false},
	} {
		if got, err := idx.OnRoll(t.Context(), c.state, c.contest, c.nullifier); err != nil || got != c.want {
			t.Errorf("OnRoll(%s, %s, %.8s…) = %v, %v; want %v", c.state, c.contest, c.nullifier, got, err, c.want)
		}
	}
	// The audit's bulk lookups, over two states: the rejected misfiled
	// vote used no nullifier; voter 3's president nullifier is on the roll
	// (for president), voter 0's question nullifier is not in NY.
	key := func(state string, voter int, contest string) audit.Nullifier {
		return audit.Nullifier{State: state, Nullifier: nullifier(voter, contest)}
	}
	keys := []audit.Nullifier{key("CA", 0, president), key("CA", 3, president), key("CA", 2, question), key("NY", 9, question),
		key("NY", 0, question), key("CA", 5, president)}
	used, err := idx.UsedNullifiers(t.Context(), keys)
	wantUsed := map[audit.Nullifier]bool{keys[0]: true, keys[1]: true, keys[2]: true, keys[3]: true}
	if err != nil || !maps.Equal(used, wantUsed) {
		t.Errorf("UsedNullifiers = %v, %v; want %v", used, err, wantUsed)
	}
	rolled, err := idx.RollContests(t.Context(), keys)
	wantRolled := map[audit.Nullifier]string{keys[0]: president, keys[1]: president, keys[2]: question, keys[3]: question}
	if err != nil || !maps.Equal(rolled, wantRolled) {
		t.Errorf("RollContests = %v, %v; want %v", rolled, err, wantRolled)
	}
	if got, err := idx.Vote(ctx, ca1[1].ID); err != nil || got.Contest != question || got.Choice != "yes" || !got.Counted {
		t.Errorf("vote %s: %+v, %v", ca1[1].ID, got, err)
	}
}

// TestVoteKeysSharedByIDs: vote ids are found by a hash of the id; a vote
// whose id shares the hash (made here by writing its place under the other
// id's key, in a segment or in the recent table of an index written
// before) is told apart by its id, and an id that hashes as a vote's but
// is not one is not found.
func TestVoteKeysSharedByIDs(t *testing.T) {
	for _, where := range []string{"segment", "vote_keys_recent"} {
		t.Run(where, func(t *testing.T) {
			ctx := context.Background()
			e := testElection()
			votes := []ballot.Vote{vote("CA", 0, question, "yes"), vote("CA", 1, question, "no"), vote("CA", 2, question, "yes")}
			path := filepath.Join(t.TempDir(), "index.db")
			idx := indexChain(t, path, 0, ledgertest.Chain([]ledgertest.Tx{{ID: "g", Config: true}}, []ledgertest.Tx{setupTx(e)},
				[]ledgertest.Tx{commitTxWith(t, "c1", "CA", 1, votes, nil)}))
			// Vote 0 and vote 2 then both stand under vote 2's key, vote 0
			// first (vote 2 in the segment Close writes, vote 0 in another
			// or in the table).
			var batch int64
			var err error
			if where == "segment" {
				if err := idx.Flush(ctx); err != nil {
					t.Fatal(err)
				}
				if err := index.AddVoteKeySegment(idx, index.VoteKey(votes[2].ID), 1, 0); err != nil {
					t.Fatal(err)
				}
			}
			if err := idx.Close(); err != nil {
				t.Fatal(err)
			}
			if where == "vote_keys_recent" {
				db, err := sql.Open("sqlite", "file:"+path)
				if err != nil {
					t.Fatal(err)
				}
				if err := db.QueryRow(`SELECT id FROM batch_votes WHERE state = 'CA' AND seq = 1`).Scan(&batch); err != nil {
					t.Fatal(err)
				}
				if _, err := db.Exec(`INSERT INTO vote_keys_recent VALUES (?, ?, 0)`, index.VoteKey(votes[2].ID), batch); err != nil {
					t.Fatal(err)
				}
				db.Close()
			}
			if idx, err = index.Open(context.Background(), path); err != nil {
				t.Fatal(err)
			}
			defer idx.Close()
			for i, v := range votes {
				if got, err := idx.Vote(ctx, v.ID); err != nil || got.ID != v.ID || got.Index != i || got.Choice != v.Choice {
					t.Errorf("vote %d (%s): %+v, %v", i, v.ID, got, err)
				}
			}
			if got, err := idx.Vote(ctx, "ffffffffffffffffffffffffffffffff"); !errors.Is(err, index.ErrNotFound) {
				t.Errorf("unknown vote: %+v, %v; want not found", got, err)
			}
		})
	}
}

// TestOpenRefusesOlderIndex: an index with a votes table (made before a
// batch's votes were stored once per batch; the oldest without contests)
// or a vote_ids or used table (before vote ids and nullifiers were keyed
// by hash) or a used_keys table (before used nullifiers pointed at their
// votes) is refused with the fix.
func TestOpenRefusesOlderIndex(t *testing.T) {
	for name, votes := range map[string]string{
		"before contests":     `CREATE TABLE votes (state TEXT, seq INTEGER, idx INTEGER, id TEXT, nullifier TEXT, candidate TEXT, cast_at INTEGER, counted INTEGER)`,
		"rows per vote":       `CREATE TABLE votes (state TEXT, seq INTEGER, idx INTEGER, id TEXT, contest TEXT, nullifier TEXT, choice TEXT, cast_at INTEGER, counted INTEGER)`,
		"vote ids by id":      `CREATE TABLE vote_ids (id TEXT, state TEXT, seq INTEGER, idx INTEGER, PRIMARY KEY (id, state, seq, idx)) WITHOUT ROWID`,
		"used by state":       `CREATE TABLE used (state TEXT, nullifier TEXT, PRIMARY KEY (state, nullifier)) WITHOUT ROWID`,
		"used with nullifier": `CREATE TABLE used_keys (key INTEGER, state TEXT, nullifier TEXT, PRIMARY KEY (key, state, nullifier)) WITHOUT ROWID`,
	} {
		path := filepath.Join(t.TempDir(), "index.db")
		db, err := sql.Open("sqlite", "file:"+path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(votes); err != nil {
			t.Fatal(err)
		}
		db.Close()
		if idx, err := index.Open(context.Background(), path); err == nil || !strings.Contains(err.Error(), "older layout") || !strings.Contains(err.Error(), "reindex") {
			if idx != nil {
				idx.Close()
			}
			t.Fatalf("Open of an index %s: %v", name, err)
		}
	}
}

// freshIndexFile makes an index file, closes it and opens it with SQLite
// alone, for a test to change or inspect.
func freshIndexFile(t *testing.T) (string, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "index.db")
	idx, err := index.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	idx.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	return path, db
}

// TestIndexRefusedAcrossLayouts: an index of this layout holds the table
// by which explorers before the segments (whose check was this query)
// refuse it, since they would miss every key in the segments, and reopens
// here; one of layout 1 (before the election's history) is marked 2 on
// open, so explorers of layout 1 refuse it; one marked by a later layout
// is refused with the fix.
func TestIndexRefusedAcrossLayouts(t *testing.T) {
	path, db := freshIndexFile(t)
	defer db.Close()
	var refusedBefore bool
	if err := db.QueryRow(`SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name IN ('votes', 'vote_ids', 'used', 'used_keys')`).Scan(&refusedBefore); err != nil || !refusedBefore {
		t.Fatalf("an explorer before the segments would open this index: %v, %v", refusedBefore, err)
	}
	var version int
	if err := db.QueryRow(`PRAGMA user_version`).Scan(&version); err != nil || version != 2 {
		t.Fatalf("user_version %d, %v; want 2", version, err)
	}
	if _, err := db.Exec(`PRAGMA user_version = 1`); err != nil { // as an explorer before the election's history left it
		t.Fatal(err)
	}
	idx, err := index.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	idx.Close()
	if err := db.QueryRow(`PRAGMA user_version`).Scan(&version); err != nil || version != 2 {
		t.Fatalf("user_version after an open of layout 1: %d, %v; want it marked 2", version, err)
	}
	if _, err := db.Exec(`PRAGMA user_version = 3`); err != nil {
		t.Fatal(err)
	}
	if idx, err := index.Open(context.Background(), path); err == nil || !strings.Contains(err.Error(), "later explorer") || !strings.Contains(err.Error(), "reindex") {
		if idx != nil {
			idx.Close()
		}
		t.Fatalf("Open of a later layout: %v", err)
	}
}

// TestWriterSeesItsOwnBlocks: blocks audited and saved in one Writer see
// the election, roll and seal that earlier blocks of the same Writer wrote:
// the recount rejects a refused choice, a vote off the roll and a
// duplicate as the chaincode did, and nothing is flagged.
func TestWriterSeesItsOwnBlocks(t *testing.T) {
	ctx := context.Background()
	idx, err := index.Open(context.Background(), filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer idx.Close()
	e := testElection()
	rolled := []ballot.RollEntry{{State: "CA", Contest: president, Nullifier: nullifier(0, president)},
		{State: "CA", Contest: president, Nullifier: nullifier(2, president)}}
	votes := []ballot.Vote{vote("CA", 0, president, "alice"), vote("CA", 1, president, "alice"), vote("CA", 2, president, "mallory")}
	e, loads, seal := sealedRoll(e, rolled...)
	blocks := ledgertest.Chain([]ledgertest.Tx{{ID: "g", Config: true}},
		[]ledgertest.Tx{setupTx(e), loads[0]},
		[]ledgertest.Tx{seal},
		[]ledgertest.Tx{commitTxWith(t, "c1", "CA", 1, votes, map[int]string{1: ballot.RejectNotOnRoll, 2: ballot.RejectUnknownChoice})},
		[]ledgertest.Tx{commitTxWith(t, "c2", "CA", 2, votes[:1], map[int]string{0: ballot.RejectDuplicate})})
	w, err := idx.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Rollback() // after a failure; a no-op after Commit
	var prev []byte
	for _, blk := range blocks {
		prev = auditAndSave(t, blk, prev, w, w.Save)
	}
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	byReason, err := idx.RejectedByReason(ctx)
	want := map[string]int64{ballot.RejectNotOnRoll: 1, ballot.RejectUnknownChoice: 1, ballot.RejectDuplicate: 1}
	if err != nil || !maps.Equal(byReason, want) {
		t.Fatalf("rejected by reason %v, %v; want %v", byReason, err, want)
	}
}

// TestLargeBatchKeys: a batch larger than one multi-row insert (maxRowsPerInsert)
// stores every vote's id and counted nullifier: each vote is found by its
// id at its index, and after reopening (the used nullifiers' filter rebuilt
// from the table) a later batch's re-use of any counted nullifier is a
// duplicate, while the nullifier of the vote rejected in the batch stays
// usable.
func TestLargeBatchKeys(t *testing.T) {
	ctx := context.Background()
	const n = 250
	var votes []ballot.Vote
	for voter := range n {
		votes = append(votes, vote("CA", voter, question, "yes"))
	}
	// The last vote re-uses the first one's nullifier: a duplicate.
	dup := vote("CA", n, question, "no")
	dup.Nullifier = votes[0].Nullifier
	votes[n-1] = dup
	reuse := []ballot.Vote{vote("CA", n+1, question, "yes"), vote("CA", n+2, question, "yes"), vote("CA", n+3, question, "yes")}
	reuse[0].Nullifier, reuse[1].Nullifier = votes[7].Nullifier, votes[200].Nullifier
	reuse[2].Nullifier = nullifier(n-1, question) // the rejected vote's own voter never voted
	path := filepath.Join(t.TempDir(), "index.db")
	idx := indexChain(t, path, 3, ledgertest.Chain([]ledgertest.Tx{{ID: "g", Config: true}}, []ledgertest.Tx{setupTx(testElection())},
		[]ledgertest.Tx{commitTxWith(t, "c1", "CA", 1, votes, map[int]string{n - 1: ballot.RejectDuplicate})},
		[]ledgertest.Tx{commitTxWith(t, "c2", "CA", 2, reuse, map[int]string{0: ballot.RejectDuplicate, 1: ballot.RejectDuplicate})}))
	for i, v := range votes {
		if got, err := idx.Vote(ctx, v.ID); err != nil || got.ID != v.ID || got.Index != i || got.Counted != (i != n-1) {
			t.Fatalf("vote %d (%s): %+v, %v", i, v.ID, got, err)
		}
	}
	if b, err := idx.Batch(ctx, "CA", 2); err != nil || !slices.Equal(b.Rejected, []int{0, 1}) || b.Counted != 1 {
		t.Fatalf("batch CA/2 %+v, %v; want votes 0 and 1 rejected as duplicates, vote 2 counted", b, err)
	}
}

// TestElectionFinalisedKept: the index keeps that the election was
// finalised across a reopen, even once a (flagged) write took the record
// back to closed and cleared finalised_at, so a batch in a later block is
// still refused; an index that kept the election's writes from a block
// after 0 answers true if it saw a finalise since, else
// audit.ErrNotRecorded.
func TestElectionFinalisedKept(t *testing.T) {
	te := testElection()
	e, err := ballot.SetupElection(te)
	if err != nil {
		t.Fatal(err)
	}
	e.FinaliseNeedsTotals = false // an earlier chaincode's record, whose finalise carries no totals
	closedAt := time.Now().Add(-2 * time.Second).UTC()
	closed, finalised := e, e
	closed.Status, closed.ClosedAt = ballot.StatusClosed, closedAt
	finalised.Status, finalised.ClosedAt, finalised.FinalisedAt = ballot.StatusFinalised, closedAt, closedAt.Add(time.Second)
	write := func(id, function string, at time.Time, rec ballot.Election) ledgertest.Tx {
		raw, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		return ledgertest.Tx{ID: id, Function: function, Time: at, Writes: []fabricblock.Write{{Namespace: "ballot", Key: ballot.ElectionKey, Value: raw}}}
	}
	batch, err := ballot.BuildBatch("CA", 1, []ballot.Vote{vote("CA", 1, president, "alice")})
	if err != nil {
		t.Fatal(err)
	}
	blocks := ledgertest.Chain([]ledgertest.Tx{{ID: "g", Config: true}},
		[]ledgertest.Tx{ledgertest.SetupElectionUnmarked("s", te), write("close", "CloseElection", closed.ClosedAt, closed)},
		[]ledgertest.Tx{write("final", "FinaliseElection", finalised.FinalisedAt, finalised)},
		[]ledgertest.Tx{write("reopen", "CloseElection", closed.ClosedAt, closed)},
		[]ledgertest.Tx{ledgertest.CommitBatch("c1", batch, nil)})
	path := filepath.Join(t.TempDir(), "index.db")
	var issues []audit.Issue
	idx := indexBlocks(t, path, len(blocks)-1, blocks, func(i int, idx *index.Index, r audit.Report) { // the batch audited by the index reopened
		issues = append(issues, r.Issues...)
		if was, err := idx.ElectionFinalised(t.Context()); err != nil || was != (i >= 2) {
			t.Fatalf("after block %d: ElectionFinalised %v, %v; want %v", i, was, err, i >= 2)
		}
	})
	if len(issues) != 2 || issues[0].Kind != audit.KindElection || issues[0].TxID != "reopen" ||
		issues[1].Kind != audit.KindBatchRefused || issues[1].TxID != "c1" {
		t.Fatalf("issues %+v; want the un-finalise (election) and the batch after it (batch_refused)", issues)
	}
	idx = reopen(t, idx, path, `UPDATE election_history SET since = 3`)
	if was, err := idx.ElectionFinalised(t.Context()); err != nil || !was {
		t.Fatalf("ElectionFinalised of an index that kept the election from block 3 and saw a finalise: %v, %v; want true (the finalise stands)", was, err)
	}
	idx = reopen(t, idx, path, `UPDATE election_history SET finalised = NULL`)
	defer idx.Close()
	if _, err := idx.ElectionFinalised(t.Context()); !errors.Is(err, audit.ErrNotRecorded) {
		t.Fatalf("ElectionFinalised of an index that kept the election from block 3 and saw no finalise: %v; want audit.ErrNotRecorded", err)
	}
}

// TestKeptSinceNamesTableAndDate: a lookup of what an index kept from a
// block after 0 (an old index's *_since table, election_history), or did
// not keep (channel_config), answers audit.ErrNotRecorded naming the table
// and the time an index had to be written before to be such (the table's
// comment in schema.go).
func TestKeptSinceNamesTableAndDate(t *testing.T) {
	for _, tc := range []struct {
		table, before string
		keep, old     string // statements that make the index one that kept it, and one that did not
		says          string // what the error says of the table
		lookup        func(context.Context, *index.Index) error
	}{
		{"log_since", "2026-12-04 16:36", ``, `UPDATE log_since SET block = 2`, "(log_since: kept from block 2)",
			func(ctx context.Context, idx *index.Index) error { return errOf(idx.IntakeLog(ctx)) }},
		{"policies_since", "2026-12-04 17:29", ``, `UPDATE policies_since SET block = 2`, "(policies_since: kept from block 2)",
			func(ctx context.Context, idx *index.Index) error { return errOf(idx.Policies(ctx)) }},
		{"approvals_since", "2026-12-04 20:25", ``, `UPDATE approvals_since SET block = 2`, "(approvals_since: kept from block 2)",
			func(ctx context.Context, idx *index.Index) error { return errOf(idx.Approvals(ctx)) }},
		{"roll_chunks_since", "2026-12-04 14:07", ``, `UPDATE roll_chunks_since SET block = 2`, "(roll_chunks_since: kept from block 2)",
			func(ctx context.Context, idx *index.Index) error { return errOf(idx.RollChunks(ctx)) }},
		{"election_history", "2026-12-06 13:21", ``, `UPDATE election_history SET since = 2`, "(election_history: kept from block 2)",
			func(ctx context.Context, idx *index.Index) error { return errOf(idx.ElectionFinalised(ctx)) }},
		{"channel_config", "2026-12-04 14:29", `INSERT INTO channel_config VALUES (1, '{}')`, `DELETE FROM channel_config`, "(channel_config: none kept)",
			func(ctx context.Context, idx *index.Index) error { return errOf(idx.ChannelConfig(ctx)) }},
	} {
		t.Run(tc.table, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "index.db")
			idx, err := index.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			idx = reopen(t, idx, path, tc.keep)
			if err := tc.lookup(t.Context(), idx); err != nil {
				t.Fatalf("lookup on an index that kept it: %v", err)
			}
			idx = reopen(t, idx, path, tc.old)
			defer idx.Close()
			err = tc.lookup(t.Context(), idx)
			if !errors.Is(err, audit.ErrNotRecorded) || !strings.Contains(err.Error(), "written before "+tc.before) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("lookup on an index that did not keep it: %v; want audit.ErrNotRecorded naming %q and %s", err, tc.before, tc.says)
			}
		})
	}
}

// errOf is the error of a lookup's answer.
func errOf[T any](_ T, err error) error { return err }

// reopen closes idx, runs stmt (if any) on its file at path, as an index
// written otherwise would hold it, and opens it again with opts.
func reopen(t *testing.T, idx *index.Index, path, stmt string, opts ...index.Option) *index.Index {
	t.Helper()
	idx.Close()
	if stmt != "" {
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.Exec(stmt)
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	idx, err := index.Open(context.Background(), path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}
