package chaincode

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
)

// testRoll returns the roll of voters 0..n-1 of state for president (the
// nullifiers of vote), sorted, and its root.
func testRoll(state string, n int) ([]ballot.RollEntry, string) {
	return testRollOf(state, n, president)
}

// testRollOf returns the roll of voters 0..n-1 of state for each of
// contests, sorted, and its root.
func testRollOf(state string, n int, contests ...string) ([]ballot.RollEntry, string) {
	var entries []ballot.RollEntry
	for i := range n {
		for _, c := range contests {
			entries = append(entries, ballot.RollEntry{State: state, Contest: c, Nullifier: nullifier(i, c)})
		}
	}
	return entries, ballot.RollRoot(entries) // sorts them
}

// setUpWithRoll sets testElection up stating the roll of voters 0..n-1
// of state for president (testRoll), and returns the election and the
// roll's entries and root.
func (h *harness) setUpWithRoll(state string, n int) (ballot.Election, []ballot.RollEntry, string) {
	entries, root := testRoll(state, n)
	e := testElection()
	e.SetRoll(entries)
	h.must(commissionAdmin, h.setupFn(e))
	return e, entries, root
}

func (h *harness) loadFn(c ballot.RollChunk) txFunc { return h.jsonArg(c, h.cc.LoadRoll) }

func (h *harness) sealFn() txFunc { return h.cc.SealRoll }

// TestRollOnLedger: an admin loads the roll in chunks and seals it against
// the election's roll root; from then on CommitBatch rejects votes whose
// nullifier is not on the roll of the batch's state as not_on_roll, reading
// the roll entries in the same exchange as the nullifiers, and counts the
// rest.
func TestRollOnLedger(t *testing.T) {
	h := newHarness(t)
	e, entries, root := h.setUpWithRoll("CA", 10)

	_, err := h.call(commissionAdmin, h.sealFn())
	wantErr(t, "SealRoll before loading", err, "does not match the roll root")
	chunk := ballot.RollChunk{Index: 0, Entries: entries}
	_, err = h.call(commissionClient, h.loadFn(chunk))
	wantErr(t, "LoadRoll by a client", err, "admins only")
	h.must(commissionAdmin, h.loadFn(chunk))
	if h.stub.puts != 10+1 || h.stub.writeExchanges != 1 {
		t.Fatalf("LoadRoll: %d PutState in %d exchanges, want 11 in 1", h.stub.puts, h.stub.writeExchanges)
	}
	h.must(commissionAdmin, h.loadFn(chunk)) // a retry writes nothing
	if h.stub.puts != 0 {
		t.Fatalf("LoadRoll again wrote %d keys", h.stub.puts)
	}
	_, err = h.call(commissionAdmin, h.loadFn(ballot.RollChunk{Index: 0, Entries: entries[1:]}))
	wantErr(t, "LoadRoll changing a chunk", err, "already loaded")

	var seal ballot.RollSeal
	if err := json.Unmarshal([]byte(h.must(commissionAdmin, h.sealFn())), &seal); err != nil || seal.Voters != 10 || seal.Chunks != 1 || seal.Root != root {
		t.Fatalf("seal %+v (%v)", seal, err)
	}
	_, err = h.call(commissionAdmin, h.loadFn(ballot.RollChunk{Index: 1, Entries: []ballot.RollEntry{{State: "CA", Contest: president, Nullifier: root}}}))
	wantErr(t, "LoadRoll after sealing", err, "sealed")
	rerooted, resized := e, e
	rerooted.RollRoot, resized.RollEntries = entries[0].Nullifier, new(11)
	_, err = h.call(commissionAdmin, h.setupFn(rerooted))
	wantErr(t, "SetupElection changing a sealed roll's root", err, "roll is sealed with root")
	_, err = h.call(commissionAdmin, h.setupFn(resized))
	wantErr(t, "SetupElection changing a sealed roll's size", err, "roll is sealed with 10 entries; the election's roll_entries cannot be 11")
	h.must(commissionAdmin, h.setupFn(e)) // the same record again

	h.now = opens.Add(time.Hour)
	vs := votes("CA", 8, 4) // voters 8 and 9 are on the roll, 10 and 11 not
	rec, err := h.commit(batch(t, "CA", 1, vs))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Counted != 2 || !slices.Equal(rec.Rejected, []int{2, 3}) || !slices.Equal(rec.Reasons, []string{ballot.RejectNotOnRoll, ballot.RejectNotOnRoll}) ||
		!rec.Tallies.Equal(ballot.TallyOf(vs[:2])) {
		t.Fatalf("record %+v", rec)
	}
	if s := h.stub; s.multiGets != 1 || s.keysRead != 3+4 || s.gets != 0 {
		t.Fatalf("CommitBatch read %d keys in %d GetMultipleStates and %d GetState", s.keysRead, s.multiGets, s.gets)
	}
	// Voter 0 is on the roll of CA, not of NY.
	rec, err = h.commit(batch(t, "NY", 1, []ballot.Vote{vote("NY", 0, "bob")}))
	if err != nil || rec.Counted != 0 || rec.Reason(0) != ballot.RejectNotOnRoll {
		t.Fatalf("a CA voter in NY: %+v (%v)", rec, err)
	}
	// The rejected votes used no nullifier, and a voter on the roll who
	// has not voted is no used nullifier either.
	_, err = h.call(observerAdmin, locate(h, "CA", vs[2].Nullifier))
	wantErr(t, "a not_on_roll vote's nullifier", err, "not used")
	_, err = h.call(observerAdmin, locate(h, "CA", vote("CA", 0, "alice").Nullifier))
	wantErr(t, "an unused roll voter's nullifier", err, "not used")
	if used, _ := listAll(t, h, "CA", 3); !slices.Equal(used, sortedNullifiers(vs[:2])) {
		t.Fatalf("ListNullifiers(CA) = %v; want only the two counted voters", used)
	}
	// A second vote of a roll voter is a duplicate.
	rec, err = h.commit(batch(t, "CA", 2, []ballot.Vote{vote("CA", 9, "bob")}))
	if err != nil || rec.Reason(0) != ballot.RejectDuplicate {
		t.Fatalf("a roll voter voting again: %+v (%v)", rec, err)
	}
}

// TestSealRollHoldsTheSize: a roll leaf carries no prefix, so a chunk
// whose one entry is the roll root hashes to the root; SealRoll refuses it
// since the election states the roll's size (10), and writes no seal.
func TestSealRollHoldsTheSize(t *testing.T) {
	h := newHarness(t)
	_, _, root := h.setUpWithRoll("CA", 10)
	forged := ballot.RollChunk{Entries: []ballot.RollEntry{{State: "CA", Contest: president, Nullifier: root}}}
	h.must(commissionAdmin, h.loadFn(forged))
	_, err := h.call(commissionAdmin, h.sealFn())
	wantErr(t, "SealRoll of the root as the one entry", err, "1 entries, the election's roll_entries states 10")
	if h.stub.state[ballot.RollSealKey] != nil {
		t.Fatal("a refused seal was written")
	}
}

// TestRollListsNullifierOnce: the roll cannot list one nullifier under
// two states (its voter could then vote in each): LoadRoll refuses a chunk
// that does, naming both entries, and SealRoll refuses loaded chunks that
// do, the nullifier ending one chunk and starting the next, and writes no
// seal. The sealing check is one comparison per chunk boundary
// (ballot.SealRoll), no index over the roll's nullifiers.
func TestRollListsNullifierOnce(t *testing.T) {
	h := newHarness(t)
	entries, _ := testRoll("CA", ballot.RollChunkEntries)
	last := entries[len(entries)-1]
	inNY := last
	inNY.State = "NY"
	e := testElection()
	e.SetRoll(append(slices.Clone(entries), inNY))
	h.must(commissionAdmin, h.setupFn(e))

	_, err := h.call(commissionAdmin, h.loadFn(ballot.RollChunk{Index: 1, Entries: []ballot.RollEntry{last, inNY}}))
	wantErr(t, "LoadRoll of a chunk listing a nullifier under CA and NY", err,
		"entries 0 and 1 list nullifier "+last.Nullifier+" as CA/"+president+" and NY/"+president)

	h.must(commissionAdmin, h.loadFn(ballot.RollChunk{Index: 0, Entries: entries}))
	h.must(commissionAdmin, h.loadFn(ballot.RollChunk{Index: 1, Entries: []ballot.RollEntry{inNY}}))
	_, err = h.call(commissionAdmin, h.sealFn())
	wantErr(t, "SealRoll of chunks listing a nullifier under CA and NY", err, "nullifier "+last.Nullifier+" ends roll chunk 0 and starts chunk 1")
	if h.stub.state[ballot.RollSealKey] != nil {
		t.Fatal("a refused seal was written")
	}
}

// sortedNullifiers returns the votes' nullifiers in key order.
func sortedNullifiers(vs []ballot.Vote) []string {
	var ns []string
	for _, v := range vs {
		ns = append(ns, v.Nullifier)
	}
	slices.Sort(ns)
	return ns
}

// TestSealRollAfterBatch: once a batch is committed without a sealed roll,
// the roll can no longer be sealed, so one rule holds for every batch; the
// refusal names the batch by its id ("CA/1", not the key's padded seq).
func TestSealRollAfterBatch(t *testing.T) {
	h := newHarness(t)
	h.open()
	if rec, err := h.commit(batch(t, "CA", 1, votes("CA", 0, 2))); err != nil || rec.Counted != 2 {
		t.Fatalf("without a sealed roll: %+v (%v)", rec, err)
	}
	_, err := h.call(commissionAdmin, h.sealFn())
	wantErr(t, "SealRoll after a batch", err, "batch CA/1 is committed; the roll can no longer be sealed") // the batch's id, as Batch.ID writes it
	// Nor loaded: a roll mark must never overwrite a used nullifier.
	entries, _ := testRoll("CA", 2)
	_, err = h.call(commissionAdmin, h.loadFn(ballot.RollChunk{Entries: entries}))
	wantErr(t, "LoadRoll after a batch", err, "batch CA/1 is committed; the roll can no longer be loaded")
}

// TestRollPerContest: LoadRoll marks each entry's key with its contest
// (ballot.RollMark), and once sealed CommitBatch counts a vote only if its
// nullifier is on the roll for the vote's own contest: a voter on the roll
// for both contests votes in both; a voter on the roll for one contest
// cannot vote in the other, not even with the nullifier of the first.
func TestRollPerContest(t *testing.T) {
	h := newHarness(t)
	entries := []ballot.RollEntry{ // voters 0 and 1 in both contests, voter 2 for president only
		{State: "CA", Contest: president, Nullifier: nullifier(0, president)}, {State: "CA", Contest: prop, Nullifier: nullifier(0, prop)},
		{State: "CA", Contest: president, Nullifier: nullifier(1, president)}, {State: "CA", Contest: prop, Nullifier: nullifier(1, prop)},
		{State: "CA", Contest: president, Nullifier: nullifier(2, president)},
	}
	e := testElection()
	e.SetRoll(entries)
	h.must(commissionAdmin, h.setupFn(e))
	h.must(commissionAdmin, h.loadFn(ballot.RollChunk{Entries: entries}))
	for _, en := range entries {
		if got := string(h.stub.state[ballot.NullifierKey("CA", en.Nullifier)]); got != "roll/"+en.Contest {
			t.Fatalf("LoadRoll wrote %q under %s's key, want the mark of %s", got, en.Nullifier, en.Contest)
		}
	}
	h.must(commissionAdmin, h.sealFn())

	h.now = opens.Add(time.Hour)
	forged := voteIn("CA", 2, prop, "yes")
	forged.Nullifier = nullifier(2, president) // on the roll, but for president
	vs := []ballot.Vote{
		voteIn("CA", 0, president, "alice"), voteIn("CA", 0, prop, "yes"), // both count
		voteIn("CA", 1, prop, "no"),
		voteIn("CA", 2, prop, "yes"), // voter 2 has no nullifier on the roll for prop
		forged,
		voteIn("CA", 2, president, "bob"),
	}
	rec, err := h.commit(batch(t, "CA", 1, vs))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.Rejected, []int{3, 4}) || !slices.Equal(rec.Reasons, []string{ballot.RejectNotOnRoll, ballot.RejectNotOnRoll}) ||
		!rec.Tallies.Equal(ballot.Tally{president: {"alice": 1, "bob": 1}, prop: {"yes": 1, "no": 1}}) {
		t.Fatalf("record %+v", rec)
	}
	// The mark of voter 2's president nullifier became the record of the
	// counted vote, not of the forged one.
	var loc ballot.NullifierRecord
	json.Unmarshal([]byte(h.must(observerAdmin, locate(h, "CA", nullifier(2, president)))), &loc)
	if loc.Contest != president || loc.Index != 5 {
		t.Fatalf("voter 2's president nullifier locates %+v", loc)
	}
	// Once used, a nullifier's record keeps it on the roll of its contest
	// only: a vote in the other contest with it is still not on the roll,
	// one in its own contest a duplicate.
	again := voteIn("CA", 0, prop, "no")
	again.Nullifier = nullifier(0, president)
	rec, err = h.commit(batch(t, "CA", 2, []ballot.Vote{again, voteIn("CA", 0, president, "bob")}))
	if err != nil || !slices.Equal(rec.Reasons, []string{ballot.RejectNotOnRoll, ballot.RejectDuplicate}) {
		t.Fatalf("second batch %+v (%v)", rec, err)
	}
}
