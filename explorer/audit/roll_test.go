package audit_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/network/fabricblock"
	"github.com/votechain/votechain/network/fabricblock/ledgertest"
)

// rollOfSize returns n roll entries of CA for the president race.
func rollOfSize(n int) []ballot.RollEntry {
	entries := make([]ballot.RollEntry, n)
	for i := range entries {
		entries[i] = ballot.RollEntry{State: "CA", Contest: president, Nullifier: ballot.HashHex(sha256.Sum256(fmt.Append(nil, "voter", i)))}
	}
	return entries
}

// rewrite returns tx with the value of its write of key replaced by
// value (nil: the write dropped).
func rewrite(tx ledgertest.Tx, key string, value []byte) ledgertest.Tx {
	var writes []fabricblock.Write
	for _, w := range tx.Writes {
		if w.Key == key {
			if value == nil {
				continue
			}
			w.Value = value
		}
		writes = append(writes, w)
	}
	tx.Writes = writes
	return tx
}

// twoChunkRoll is a roll of two chunks, the second of 3 entries, as
// ledgertest.Roll loads and seals it, and the test election of its root
// with its set-up.
type twoChunkRoll struct {
	entries []ballot.RollEntry
	root    string
	loads   []ledgertest.Tx
	seal    ledgertest.Tx
	e       ballot.Election
	setup   ledgertest.Tx
}

func newTwoChunkRoll(t *testing.T) twoChunkRoll {
	rc := twoChunkRoll{entries: rollOfSize(ballot.RollChunkEntries + 3), e: testElection()}
	rc.root, rc.loads, rc.seal = ledgertest.Roll("load", rc.entries)
	rc.e.SetRoll(rc.entries)
	rc.setup = setupTx(t, "s", rc.e)
	return rc
}

// TestRollChecks: the audit recomputes every chunk record from its
// transaction's roll marks and the seal from the chunks loaded before it
// and the election's roll root. An honest roll of two chunks, loaded in
// two blocks and sealed in a third, raises nothing; each way a chaincode
// could misstate the roll is flagged with its kind, on the transaction
// that did it.
func TestRollChecks(t *testing.T) {
	rc := newTwoChunkRoll(t)
	entries, root, loads, seal, e, setup := rc.entries, rc.root, rc.loads, rc.seal, rc.e, rc.setup
	honest := [][]ledgertest.Tx{{setup}, {loads[0]}, {loads[1], seal}}
	reports := auditChain(t, honest)
	if ks := kinds(reports); len(ks) != 0 {
		t.Fatalf("honest roll flagged: %v", ks)
	}
	if !reports[2].RollSealed || len(rollEntries(reports)) != len(entries) || len(reports[1].RollChunks) != 1 || reports[2].RollChunks[0].Index != 1 {
		t.Fatalf("reports: sealed %v, %d entries, chunks %v and %v", reports[2].RollSealed, len(rollEntries(reports)), reports[1].RollChunks, reports[2].RollChunks)
	}

	chunk1 := ballot.RollChunkKey(1)
	otherRecord := ledgertest.ChunkRecord(loads[1])
	otherRecord.Root = ledgertest.ChunkRecord(loads[0]).Root
	var lastMark string
	for _, w := range loads[1].Writes {
		if _, ok := ballot.ParseRollMark(w.Value); ok {
			lastMark = w.Key
		}
	}
	otherElection := e
	otherElection.RollRoot = ballot.HashHex(sha256.Sum256([]byte("another roll")))
	extra := rollOfSize(ballot.RollChunkEntries + 4)[ballot.RollChunkEntries+3:] // on no chunk
	sealAgain := seal                                                            // another transaction writing the same seal (not a replay: another id)
	sealAgain.ID = "seal-again"
	claimed := ballot.RollSeal{Root: root, Voters: len(entries) + 1, Chunks: 2, TxID: seal.ID}
	cases := map[string]struct {
		blocks [][]ledgertest.Tx
		want   []string // "kind tx" of each issue
	}{
		"chunk record missing":     {[][]ledgertest.Tx{{setup}, {loads[0]}, {rewrite(loads[1], chunk1, nil), seal}}, []string{audit.KindRollChunk + " " + loads[1].ID, audit.KindRollSeal + " " + seal.ID}},
		"chunk record's root":      {[][]ledgertest.Tx{{setup}, {loads[0]}, {rewrite(loads[1], chunk1, mustJSON(t, otherRecord)), seal}}, []string{audit.KindRollChunk + " " + loads[1].ID, audit.KindRollSeal + " " + seal.ID}},
		"a mark the record lacks":  {[][]ledgertest.Tx{{setup}, {loads[0]}, {rewrite(loads[1], lastMark, nil), seal}}, []string{audit.KindRollChunk + " " + loads[1].ID}},
		"chunk record undecodable": {[][]ledgertest.Tx{{setup}, {loads[0]}, {rewrite(loads[1], chunk1, []byte("{")), seal}}, []string{audit.KindRollChunk + " " + loads[1].ID, audit.KindRollSeal + " " + seal.ID}},
		"chunk loaded again":       {[][]ledgertest.Tx{{setup}, {loads[0]}, {loads[1], ledgertest.LoadRoll("again", 1, extra...)}}, []string{audit.KindRollChunk + " " + "again"}},
		"seal of another root":     {[][]ledgertest.Tx{{setupTx(t, "s", otherElection)}, {loads[0]}, {loads[1], ledgertest.SealRoll(seal.ID, otherElection.RollRoot, ledgertest.ChunkRecord(loads[0]), ledgertest.ChunkRecord(loads[1]))}}, []string{audit.KindRollSeal + " " + seal.ID}},
		"seal of a chunk missing":  {[][]ledgertest.Tx{{setup}, {loads[0]}, {seal}}, []string{audit.KindRollSeal + " " + seal.ID}},
		"seal's voters":            {[][]ledgertest.Tx{{setup}, {loads[0]}, {loads[1], rewrite(seal, ballot.RollSealKey, mustJSON(t, claimed))}}, []string{audit.KindRollSeal + " " + seal.ID}},
		"seal with no election":    {[][]ledgertest.Tx{{{ID: "g", Config: true}}, {loads[0]}, {loads[1], seal}}, []string{audit.KindRollSeal + " " + seal.ID}},
		"seal written again":       {append(slices.Clone(honest), []ledgertest.Tx{sealAgain}), []string{audit.KindRollSeal + " " + sealAgain.ID}},
		"marks after the seal":     {append(slices.Clone(honest), []ledgertest.Tx{ledgertest.LoadRoll("late", 2, extra...)}), []string{audit.KindRollSeal + " " + "late"}},
	}
	for name, c := range cases {
		reports := auditChain(t, c.blocks)
		var got []string
		for _, r := range reports {
			for _, is := range r.Issues {
				got = append(got, is.Kind+" "+is.TxID)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: issues %q; want %q", name, got, c.want)
		}
	}
}

// TestRollSealHoldsTheSize: the audit holds the seal to the roll's size
// the election record states, as the chaincode does: a seal of honest
// chunks whose entries differ from the record's roll_entries is flagged,
// and so is the forgery a leaf without a prefix allows, one chunk whose
// one entry is the roll root (it hashes to the root). A record stating no
// size, as an earlier chaincode wrote it, holds the seal to its root
// alone: the same forgery passes, the gap such records keep.
func TestRollSealHoldsTheSize(t *testing.T) {
	rc := newTwoChunkRoll(t)
	n := len(rc.entries)
	oversized, unsized := rc.e, rc.e
	oversized.RollEntries, unsized.RollEntries = new(n+1), nil
	forged := ledgertest.LoadRoll("forged", 0, ballot.RollEntry{State: "CA", Contest: president, Nullifier: rc.root})
	forgedSeal := ledgertest.SealRoll(rc.seal.ID, rc.root, ledgertest.ChunkRecord(forged))
	noSuchRoll := "roll_seal " + rc.seal.ID + ": seal of root " + rc.root
	for name, c := range map[string]struct {
		blocks [][]ledgertest.Tx
		want   []string
	}{
		"honest, the size stated": {[][]ledgertest.Tx{{rc.setup}, {rc.loads[0]}, {rc.loads[1], rc.seal}}, nil},
		"another size stated": {[][]ledgertest.Tx{{setupTx(t, "s", oversized)}, {rc.loads[0]}, {rc.loads[1], rc.seal}},
			[]string{fmt.Sprintf("%s over %d voters, but the loaded chunks are no such roll: ballot: the loaded roll does not match the roll root: 2 chunks hold %d entries, the election's roll_entries states %d", noSuchRoll, n, n, n+1)}},
		"the root as the one entry, the size stated": {[][]ledgertest.Tx{{rc.setup}, {forged, forgedSeal}},
			[]string{fmt.Sprintf("%s over 1 voters, but the loaded chunks are no such roll: ballot: the loaded roll does not match the roll root: 1 chunks hold 1 entries, the election's roll_entries states %d", noSuchRoll, n)}},
		"the root as the one entry, no size stated": {[][]ledgertest.Tx{{setupTx(t, "s", unsized)}, {forged, forgedSeal}}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			wantIssues(t, issuesOf(auditChain(t, c.blocks)), c.want)
		})
	}
}

// notRecorded is a History that kept no chunk records.
type notRecorded struct{ *memHistory }

func (notRecorded) RollChunks(context.Context) ([]ballot.RollChunkRecord, error) {
	return nil, fmt.Errorf("index of layout 1: %w", audit.ErrNotRecorded)
}

// TestSealUncheckedWithoutChunks: when History did not keep the chunks of
// earlier blocks (an index written before it did), the seal is not
// recomputed, rather than flagged; a chunk in the seal's own block is
// still checked against its marks.
func TestSealUncheckedWithoutChunks(t *testing.T) {
	entries := rollOfSize(ballot.RollChunkEntries + 1)
	_, loads, seal := ledgertest.Roll("load", entries)
	e := testElection()
	e.SetRoll(entries)
	reports := auditChainWith(t, notRecorded{newHistory()}, [][]ledgertest.Tx{{setupTx(t, "s", e)}, {loads[0]},
		{rewrite(loads[1], ballot.RollChunkKey(1), []byte(`{"index":1}`)), seal}})
	var issues []audit.Issue
	for _, r := range reports {
		issues = append(issues, r.Issues...)
	}
	if len(issues) != 1 || issues[0].Kind != audit.KindRollChunk || issues[0].TxID != loads[1].ID {
		t.Fatalf("issues %+v; want only the chunk record that differs from its marks", issues)
	}
}

// TestRollAfterBatches: LoadRoll and SealRoll refuse once a batch is
// committed, so a VALID load after one is flagged (roll_chunk), naming the
// marks that overwrote a counted vote's nullifier record, whether the
// batch is in a block before or earlier in the load's; a VALID seal after
// one is flagged (roll_seal).
func TestRollAfterBatches(t *testing.T) {
	rc := newTwoChunkRoll(t)
	loads, seal, setup := rc.loads, rc.seal, rc.setup
	var marked string // a nullifier the second chunk marks
	for _, w := range loads[1].Writes {
		if _, ok := ballot.ParseRollMark(w.Value); ok {
			_, marked, _ = ballot.ParseNullifierKey(w.Key)
		}
	}
	onRoll := vote("CA", 1, "alice")
	onRoll.Nullifier = marked
	c1 := commitTx(t, "c1", build(t, "CA", 1, onRoll))
	overwrote := fmt.Sprintf("roll_chunk %s: the roll loaded once 1 batches are committed (LoadRoll refuses once one is): 1 of its 3 roll marks overwrote a counted vote's nullifier record (first CA/%s)", loads[1].ID, marked)
	for name, tc := range map[string]struct {
		blocks [][]ledgertest.Tx
		want   []string
	}{
		"loaded before the batch":              {[][]ledgertest.Tx{{setup}, {loads[0]}, {loads[1]}, {c1}}, nil},
		"loaded after the batch":               {[][]ledgertest.Tx{{setup}, {loads[0]}, {c1}, {loads[1]}}, []string{overwrote}},
		"loaded after the batch, in its block": {[][]ledgertest.Tx{{setup}, {loads[0]}, {c1, loads[1]}}, []string{overwrote}},
		"a mark on no counted vote": {[][]ledgertest.Tx{{setup}, {loads[1]}, {c1}, {loads[0]}},
			[]string{fmt.Sprintf("roll_chunk %s: the roll loaded once 1 batches are committed (LoadRoll refuses once one is)", loads[0].ID)}},
		"sealed after the batch": {[][]ledgertest.Tx{{setup}, {loads[0]}, {loads[1]}, {c1}, {seal}},
			[]string{"roll_seal " + seal.ID + ": the roll sealed once 1 batches are committed: SealRoll refuses once one is"}},
	} {
		t.Run(name, func(t *testing.T) {
			wantIssues(t, issuesOf(auditChain(t, tc.blocks)), tc.want)
		})
	}
}

// TestRollListsNullifierOnce: a roll that lists one nullifier under two
// states (its voter could vote in each) is flagged with what it is, the
// nullifier and the entries named: within one transaction's marks as no
// chunk (roll_chunk), across chunks by the seal (roll_seal), where the
// nullifier ends one chunk and starts the next. A roll listing each
// nullifier once raises nothing.
func TestRollListsNullifierOnce(t *testing.T) {
	e := testElection()
	e.States = []string{"CA", "NY"}
	entries := rollOfSize(ballot.RollChunkEntries)
	ballot.SortRoll(entries)
	last := entries[len(entries)-1]
	inNY := last
	inNY.State = "NY"
	e.SetRoll(append(slices.Clone(entries), inNY))
	setup := setupTx(t, "s", e)

	_, loads, _ := ledgertest.Roll("load", entries)
	acrossChunks := ledgertest.LoadRoll("load1", 1, inNY)
	seal := ledgertest.SealRoll("seal", e.RollRoot, ledgertest.ChunkRecord(loads[0]), ledgertest.ChunkRecord(acrossChunks))
	// A chaincode that wrote both marks in one LoadRoll, with the record
	// of the chunk of the CA marks.
	small := rollOfSize(3)
	smallInNY := small[1]
	smallInNY.State = "NY"
	inOneChunk := ledgertest.LoadRoll("small", 0, small...)
	inOneChunk.Writes = append([]fabricblock.Write{{Namespace: "ballot", Key: ballot.NullifierKey(smallInNY.State, smallInNY.Nullifier), Value: ballot.RollMark(smallInNY.Contest)}}, inOneChunk.Writes...)

	clean := e
	clean.SetRoll(slices.Clone(entries))
	_, _, cleanSeal := ledgertest.Roll("load", entries)
	for name, c := range map[string]struct {
		blocks [][]ledgertest.Tx
		want   []string // the issue's "kind tx: " and what its message must hold
	}{
		"listed once": {[][]ledgertest.Tx{{setupTx(t, "s", clean)}, {loads[0]}, {cleanSeal}}, nil},
		"in one transaction's marks": {[][]ledgertest.Tx{{setup}, {inOneChunk}}, []string{
			audit.KindRollChunk + " " + inOneChunk.ID + ": ", "the transaction's 4 roll marks are no chunk: " + ballot.ErrRollRepeat.Error(),
			"list nullifier " + smallInNY.Nullifier + " as ", "CA/" + president, "NY/" + president}},
		"across chunks": {[][]ledgertest.Tx{{setup}, {loads[0]}, {acrossChunks}, {seal}}, []string{
			audit.KindRollSeal + " " + seal.ID + ": ", fmt.Sprintf("the loaded chunks are no such roll: %v: nullifier %s ends roll chunk 0 and starts chunk 1", ballot.ErrRollRepeat, last.Nullifier)}},
	} {
		t.Run(name, func(t *testing.T) {
			issues := issuesOf(auditChain(t, c.blocks))
			if len(c.want) == 0 {
				if len(issues) != 0 {
					t.Fatalf("issues %+v; want none", issues)
				}
				return
			}
			if len(issues) != 1 || issues[0].Kind+" "+issues[0].TxID+": " != c.want[0] {
				t.Fatalf("issues %+v; want one, %q", issues, c.want[0])
			}
			for _, part := range c.want[1:] {
				if !strings.Contains(issues[0].Message, part) {
					t.Errorf("issue %q does not say %q", issues[0].Message, part)
				}
			}
		})
	}
}

// TestRollIssuesClipRecords: the chunk and seal records reach the audit
// unchecked, so the issues quoting them clip their text fields
// (ballot.Clip): a record with a megabyte root, bounds or transaction id
// gives issues of bounded length, which still say what they flag.
func TestRollIssuesClipRecords(t *testing.T) {
	rc := newTwoChunkRoll(t)
	huge := strings.Repeat("f", 1<<20)
	chunk1 := ballot.RollChunkKey(1)
	hugeChunk := ledgertest.ChunkRecord(rc.loads[1])
	hugeChunk.First, hugeChunk.Last, hugeChunk.Root = huge, huge, huge
	hugeLoad := rewrite(rc.loads[1], chunk1, mustJSON(t, hugeChunk))
	loadAgain := rc.loads[1]
	loadAgain.ID = "load-again"
	hugeSeal := rewrite(rc.seal, ballot.RollSealKey, mustJSON(t, ballot.RollSeal{Root: huge, Voters: len(rc.entries), Chunks: 2, TxID: huge}))
	const bound = 4 << 10
	for name, c := range map[string]struct {
		blocks [][]ledgertest.Tx
		want   []string // what the issues must say, in order
	}{
		"a chunk record, and written again": {[][]ledgertest.Tx{{rc.setup}, {rc.loads[0]}, {hugeLoad}, {loadAgain}},
			[]string{"roll chunk 1: record {", "roll chunk 1: record written again (first root fff"}},
		"a seal of a roll": {[][]ledgertest.Tx{{rc.setup}, {rc.loads[0]}, {rc.loads[1]}, {hugeSeal}},
			[]string{"seal {Root:fff"}},
		"a seal of no roll": {[][]ledgertest.Tx{{rc.setup}, {rc.loads[0]}, {hugeSeal}},
			[]string{"seal of root fff"}},
	} {
		t.Run(name, func(t *testing.T) {
			issues := issuesOf(auditChain(t, c.blocks))
			var messages []string
			for _, is := range issues {
				if len(is.Message) > bound {
					t.Errorf("a %s issue of %d bytes, over %d: %.200s...", is.Kind, len(is.Message), bound, is.Message)
				}
				messages = append(messages, is.Message)
			}
			for _, part := range c.want {
				if !slices.ContainsFunc(messages, func(m string) bool { return strings.Contains(m, part) }) {
					t.Errorf("no issue says %q: %.300q", part, messages)
				}
			}
		})
	}
}
