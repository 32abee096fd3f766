package ballot

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// testRoll returns n roll entries of distinct nullifiers, sorted, and their
// roll root computed over all leaves at once (RollRoot).
func testRoll(n int) ([]RollEntry, string) {
	entries := make([]RollEntry, n)
	for i := range entries {
		entries[i] = RollEntry{State: "TX", Contest: []string{"president", "L2025-001"}[i%2], Nullifier: HashHex(sha256.Sum256(fmt.Appendf(nil, "voter %d", i)))}
	}
	root := RollRoot(entries)
	return entries, root
}

// TestSealRoll: chunk roots combine into the root over all nullifiers, for
// rolls of zero, one, a full chunk and several chunks with a partial last.
func TestSealRoll(t *testing.T) {
	for _, n := range []int{0, 1, 5, RollChunkEntries, RollChunkEntries + 1, 3*RollChunkEntries + 77} {
		entries, root := testRoll(n)
		var recs []RollChunkRecord
		for _, c := range ChunkRoll(entries) {
			recs = append(recs, mustCheck(t, c))
		}
		for _, stated := range []*int{&n, nil} {
			seal, err := SealRoll(root, stated, recs)
			if err != nil || seal.Voters != n || seal.Chunks != len(recs) || seal.Root != root {
				t.Fatalf("%d voters (size stated: %v): seal %+v, %v", n, stated != nil, seal, err)
			}
		}
		if _, err := SealRoll(root, new(n+1), recs); !errors.Is(err, ErrRollRoot) {
			t.Errorf("%d voters, %d stated: %v", n, n+1, err)
		}
		if n > RollChunkEntries {
			if _, err := SealRoll(root, &n, recs[:len(recs)-1]); !errors.Is(err, ErrRollRoot) {
				t.Errorf("%d voters, last chunk missing: %v", n, err)
			}
			if _, err := SealRoll(root, &n, recs[1:]); err == nil {
				t.Errorf("%d voters, first chunk missing: sealed", n)
			}
		}
	}
}

// TestSealRollForgeries: a roll leaf carries no prefix, so chunks that
// stand a node's hash in for its whole subtree hash to the roll root: one
// chunk whose one entry is the root itself, or the tail chunks collapsed
// into one entry, their subtree's hash. SealRoll seals both when the
// record states no size (an earlier chaincode's record: the gap such
// records keep) and refuses both when it states the roll's.
func TestSealRollForgeries(t *testing.T) {
	// Chunks 0 and 1 are the root's left subtree, chunks 2 (full) and 3
	// (5 entries) its right one. The nullifiers start with a zero byte, so
	// the right subtree's hash (almost surely) sorts after chunk 1.
	entries := make([]RollEntry, 3*RollChunkEntries+5)
	for i := range entries {
		h := sha256.Sum256(fmt.Appendf(nil, "voter %d", i))
		h[0] = 0
		entries[i] = RollEntry{State: "TX", Contest: "president", Nullifier: HashHex(h)}
	}
	root, n := RollRoot(entries), len(entries)
	var honest []RollChunkRecord
	for _, c := range ChunkRoll(entries) {
		honest = append(honest, mustCheck(t, c))
	}
	right2, _ := ParseHash(honest[2].Root)
	right3, _ := ParseHash(honest[3].Root)
	oneEntry := func(index int, nullifier string) RollChunkRecord {
		return mustCheck(t, RollChunk{Index: index, Entries: []RollEntry{{State: "TX", Contest: "president", Nullifier: nullifier}}})
	}
	forgeries := map[string][]RollChunkRecord{
		"the root as the one entry":           {oneEntry(0, root)},
		"chunks 2 and 3 as their node's hash": append(slices.Clone(honest[:2]), oneEntry(2, HashHex(hashNode(right2, right3)))),
	}
	for name, forged := range forgeries {
		if seal, err := SealRoll(root, nil, forged); err != nil || seal.Voters >= n {
			t.Errorf("%s, no size stated: seal %+v, %v; want it sealed with fewer than %d voters", name, seal, err, n)
		}
		_, err := SealRoll(root, &n, forged)
		if !errors.Is(err, ErrRollRoot) || !strings.Contains(err.Error(), fmt.Sprintf("roll_entries states %d", n)) {
			t.Errorf("%s, %d entries stated: %v; want ErrRollRoot naming the size", name, n, err)
		}
	}
	if _, err := SealRoll(root, &n, honest); err != nil {
		t.Fatalf("the honest roll, its size stated: %v", err)
	}
}

// mustCheck returns c's record (RollChunk.Check), failing t if c is no chunk.
func mustCheck(t *testing.T, c RollChunk) RollChunkRecord {
	t.Helper()
	r, err := c.Check()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRollChunkCheck refuses chunks a roll cannot be made of.
func TestRollChunkCheck(t *testing.T) {
	entries, _ := testRoll(3)
	swapped := []RollEntry{entries[1], entries[0], entries[2]}
	repeated := []RollEntry{entries[0], entries[0]}
	bad := []RollEntry{{State: "tx", Contest: "president", Nullifier: entries[0].Nullifier}}
	noContest := []RollEntry{{State: "TX", Nullifier: entries[0].Nullifier}}
	badContest := []RollEntry{{State: "TX", Contest: "roll/x", Nullifier: entries[0].Nullifier}}
	if r, err := (RollChunk{Index: 2, Entries: entries}).Check(); err != nil || r.Entries != 3 || r.Index != 2 ||
		r.First != entries[0].Nullifier || r.Last != entries[2].Nullifier {
		t.Fatalf("good chunk: %+v, %v", r, err)
	}
	for name, c := range map[string]RollChunk{
		"unsorted": {Entries: swapped}, "repeated": {Entries: repeated}, "bad state": {Entries: bad},
		"no contest": {Entries: noContest}, "bad contest": {Entries: badContest},
		"empty": {}, "negative index": {Index: -1, Entries: entries}, "too long": {Entries: make([]RollEntry, RollChunkEntries+1)},
	} {
		if _, err := c.Check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestRollChunkRootIgnoresContest: the roll root is over nullifiers only;
// the contest binds through the nullifier (NullifierOf), so relabelling an
// entry's contest keeps the chunk root. The chaincode's mark, not the root,
// then carries the contest.
func TestRollChunkRootIgnoresContest(t *testing.T) {
	entries, root := testRoll(3)
	a, _ := RollChunk{Entries: entries}.Check()
	relabelled := slices.Clone(entries)
	for i := range relabelled {
		relabelled[i].Contest = "other"
	}
	b, _ := RollChunk{Entries: relabelled}.Check()
	if a.Root != b.Root || a.Root != root {
		t.Fatalf("chunk roots %s and %s, roll root %s", a.Root, b.Root, root)
	}
}

func TestRollMark(t *testing.T) {
	for _, c := range []string{"president", "L2025-001", "a"} {
		m := RollMark(c)
		if string(m) != "roll/"+c {
			t.Fatalf("RollMark(%s) = %q", c, m)
		}
		if got, ok := ParseRollMark(m); !ok || got != c {
			t.Fatalf("ParseRollMark(RollMark(%s)) = %q, %v", c, got, ok)
		}
	}
	rec, _ := json.Marshal(NullifierRecord{State: "TX", Contest: "president", Seq: 1, VoteID: "v"})
	for _, v := range [][]byte{rec, nil, []byte("roll"), []byte("Roll/president"), []byte("x/roll/president")} {
		if c, ok := ParseRollMark(v); ok {
			t.Errorf("ParseRollMark(%q) = %q, a mark", v, c)
		}
	}
	if c, ok := ParseRollMark(RollMark("president")); !ok || c == "L2025-001" {
		t.Fatal("a mark of one contest read as another's")
	}
}

func TestParseRollChunkKey(t *testing.T) {
	for _, i := range []int{0, 7, 599, 1 << 30} {
		if got, ok := ParseRollChunkKey(RollChunkKey(i)); !ok || got != i {
			t.Fatalf("ParseRollChunkKey(RollChunkKey(%d)) = %d, %v", i, got, ok)
		}
	}
	for _, k := range []string{RollSealKey, ElectionKey, BatchKey("CA", 1), NullifierKey("CA", strings.Repeat("ab", 32)),
		compositeKey(RollChunkObject, "7"), compositeKey(RollChunkObject, "000000000x"), compositeKey(RollChunkObject, "0000000001", "x"), "rollchunk"} {
		if i, ok := ParseRollChunkKey(k); ok {
			t.Errorf("ParseRollChunkKey(%q) = %d, a chunk key", k, i)
		}
	}
}

// TestRollListsNullifierOnce: a roll listing one nullifier under two
// states is refused as ErrRollRepeat, naming the nullifier and, within a
// chunk, both entries' state and contest; across chunks SealRoll refuses a
// nullifier that ends one chunk and starts the next (ErrRollRepeat), and
// chunks whose ranges overlap. The same roll listing the nullifier once
// seals.
func TestRollListsNullifierOnce(t *testing.T) {
	entries, _ := testRoll(RollChunkEntries + 1)
	twice := entries[3]
	twice.State = "NY"
	inChunk := slices.Insert(slices.Clone(entries[:5]), 4, twice)
	_, err := RollChunk{Index: 0, Entries: inChunk}.Check()
	want := fmt.Sprintf("roll chunk 0 entries 3 and 4 list nullifier %s as TX/%s and NY/%s", twice.Nullifier, twice.Contest, twice.Contest)
	if !errors.Is(err, ErrRollRepeat) || !strings.Contains(err.Error(), want) {
		t.Errorf("a nullifier under two states in one chunk: %v; want ErrRollRepeat saying %q", err, want)
	}

	full := mustCheck(t, RollChunk{Index: 0, Entries: entries[:RollChunkEntries]})
	last := entries[RollChunkEntries-1]
	last.State = "NY"
	n := RollChunkEntries + 1
	for name, c := range map[string]struct {
		second RollChunk
		repeat bool   // the error is ErrRollRepeat
		says   string // "": sealed
	}{
		"listed once": {RollChunk{Index: 1, Entries: entries[RollChunkEntries:]}, false, ""},
		"the last of chunk 0 first in chunk 1": {RollChunk{Index: 1, Entries: []RollEntry{last}}, true,
			fmt.Sprintf("nullifier %s ends roll chunk 0 and starts chunk 1", last.Nullifier)},
		"chunk 1 inside chunk 0's range": {RollChunk{Index: 1, Entries: []RollEntry{twice}}, false,
			fmt.Sprintf("roll chunk 1 does not follow chunk 0 in nullifier order: it starts at %s", twice.Nullifier)},
	} {
		chunks := []RollChunkRecord{full, mustCheck(t, c.second)}
		root := RollRoot(append(slices.Clone(entries[:RollChunkEntries]), c.second.Entries...))
		_, err := SealRoll(root, &n, chunks)
		switch {
		case c.says == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case c.says != "" && (err == nil || !strings.Contains(err.Error(), c.says)):
			t.Errorf("%s: %v; want an error saying %q", name, err, c.says)
		case errors.Is(err, ErrRollRepeat) != c.repeat:
			t.Errorf("%s: %v; ErrRollRepeat %v, want %v", name, err, !c.repeat, c.repeat)
		}
	}
}
