package logmonitor

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
)

// fakeLog serves entries, optionally with one replaced.
type fakeLog struct{ entries [][]byte }

func (f fakeLog) Entries(_ context.Context, _ string, start, end uint64) ([][]byte, error) {
	end = min(end, uint64(len(f.entries)))
	if start >= end {
		return nil, nil
	}
	return f.entries[start:end], nil
}

type fakeLedger struct {
	status  string
	keys    ballot.LogKeys
	head    *ballot.AnchoredHead
	batches []ballot.Batch
	records []ballot.BatchRecord
	// pageSize is the records of a BatchesFrom page (default 2); listed
	// counts the records listed.
	pageSize int
	listed   int
}

func (f *fakeLedger) Election(context.Context) (*ballot.Election, error) {
	return &ballot.Election{ID: "e1", States: []string{"CA"}, Status: f.status}, nil
}
func (f *fakeLedger) LogKeys(context.Context) (ballot.LogKeys, error) { return f.keys, nil }
func (f *fakeLedger) LogHead(context.Context, string) (ballot.AnchoredHead, error) {
	if f.head == nil {
		return ballot.AnchoredHead{}, fmt.Errorf("%w: none", ballot.ErrNotFound)
	}
	return *f.head, nil
}

// BatchesFrom pages through the records as ListBatches does, in sequence
// order, pageSize (default 2) a page; a bookmark is the sequence number
// of a page's first record (a key, as the ledger's are).
func (f *fakeLedger) BatchesFrom(_ context.Context, _ string, bookmark string, fn func(ballot.BatchRecord) error) (string, error) {
	recs := slices.SortedFunc(slices.Values(f.records), func(a, b ballot.BatchRecord) int { return cmp.Compare(a.Seq, b.Seq) })
	if bookmark != "" {
		seq, _ := strconv.ParseUint(bookmark, 10, 64)
		recs = slices.DeleteFunc(recs, func(r ballot.BatchRecord) bool { return r.Seq < seq })
	}
	size := cmp.Or(f.pageSize, 2)
	for len(recs) > 0 {
		page := recs[:min(size, len(recs))]
		for _, r := range page {
			f.listed++
			if err := fn(r); err != nil {
				return "", err
			}
		}
		if recs = recs[len(page):]; len(page) < size || len(recs) == 0 {
			break
		}
		bookmark = strconv.FormatUint(recs[0].Seq, 10)
	}
	return bookmark, nil
}

func (f *fakeLedger) CommittedBatch(_ context.Context, txID, state string, seq uint64) (ballot.Batch, error) {
	for i, r := range f.records {
		if r.TxID == txID && r.State == state && r.Seq == seq {
			return f.batches[i], nil
		}
	}
	return ballot.Batch{}, errors.New("no such transaction")
}

// scene: 10 accepted votes, anchored; the ledger holds 0..5 counted, 6 as a
// rejected duplicate; 7..9 were deleted from the queue (7 and 8 cast long
// ago, 9 just now).
type scene struct {
	key     ed25519.PrivateKey
	votes   []ballot.Vote
	entries [][]byte
	tree    ballot.LogTree
	ledger  *fakeLedger
	now     time.Time
}

func newScene(t testing.TB) *scene {
	t.Helper()
	s := &scene{key: ed25519.NewKeyFromSeed(make([]byte, 32)), now: time.UnixMilli(1_000_000)}
	s.ledger = &fakeLedger{status: ballot.StatusConfigured}
	s.ledger.keys, _, _ = ballot.LogKeys{}.Register([]ballot.LogKey{ballot.NewLogKey(s.key.Public().(ed25519.PublicKey))}, 1)
	for i := range 10 {
		id, _ := ballot.NewVoteID()
		cast := s.now.Add(-time.Hour).UnixMilli()
		if i == 9 {
			cast = s.now.Add(-time.Second).UnixMilli()
		}
		v := ballot.Vote{ID: id, State: "CA", Contest: "president", Nullifier: ballot.HashHex(ballot.NullifierOf([32]byte{byte(i)}, "president")), Choice: "alice", CastAt: cast}
		enc, _ := v.Encode()
		s.votes = append(s.votes, v)
		s.entries = append(s.entries, enc)
		s.tree.Append(ballot.EntryLeaf(enc))
	}
	s.anchor(t, 10)
	for seq, vs := range [][]ballot.Vote{s.votes[:4], s.votes[4:7]} {
		b, err := ballot.BuildBatch("CA", uint64(seq+1), vs)
		if err != nil {
			t.Fatal(err)
		}
		rec := ballot.BatchRecord{State: "CA", Seq: uint64(seq + 1), Root: b.Root, Votes: len(vs), Counted: len(vs), TxID: fmt.Sprintf("tx%d", seq), Rejected: []int{}, Reasons: []string{}}
		if seq == 1 {
			rec.Reject(2, ballot.RejectDuplicate)
			rec.Counted--
		}
		s.ledger.batches = append(s.ledger.batches, b)
		s.ledger.records = append(s.ledger.records, rec)
	}
	return s
}

func (s *scene) signed(t testing.TB, size uint64) ballot.TreeHead {
	t.Helper()
	root, _ := s.tree.Root(size)
	h, err := ballot.TreeHead{Election: "e1", State: "CA", Size: size, Root: ballot.HashHex(root), Timestamp: s.now.UnixMilli()}.Sign(s.key)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (s *scene) anchor(t testing.TB, size uint64) {
	s.ledger.head = &ballot.AnchoredHead{Head: s.signed(t, size), TxID: "anchor"}
}

func (s *scene) monitor(entries [][]byte) *Monitor {
	return &Monitor{Log: fakeLog{entries: entries}, Ledger: s.ledger, Deadline: time.Minute, Now: func() time.Time { return s.now }}
}

// The monitor flags exactly the votes deleted before commit as MISSING
// (past the deadline) or pending (within it), and the duplicate as
// rejected with the ledger's reason. Within the one state it tells
// Progressed of the entries read (one page), then of each batch's votes
// placed; a second check, reading nothing new, tells nothing.
func TestMonitorFindsOmissions(t *testing.T) {
	s := newScene(t)
	m := s.monitor(s.entries)
	var told []uint64
	m.Progressed = func(read uint64) { told = append(told, read) }
	rep, err := m.Check(context.Background(), map[string]ballot.TreeHead{"CA": s.signed(t, 4)})
	if err != nil {
		t.Fatal(err)
	}
	wantRead := []uint64{uint64(len(s.entries))}
	for _, r := range s.ledger.records {
		wantRead = append(wantRead, wantRead[len(wantRead)-1]+uint64(r.Votes))
	}
	if !slices.Equal(told, wantRead) {
		t.Errorf("told of entries and votes read %v; want %v: the entries' page, then each batch", told, wantRead)
	}
	told = nil
	if _, err := m.Check(context.Background(), nil); err != nil || len(told) != 0 {
		t.Errorf("a second check: %v, told %v; want nothing read", err, told)
	}
	st := rep.States[0]
	if st.Counts[ballot.StandingCounted] != 6 || st.Counts[ballot.StandingRejected] != 1 || st.Counts[ballot.StandingMissing] != 2 || st.Counts[ballot.StandingPending] != 1 {
		t.Fatalf("counts %v", st.Counts)
	}
	want := map[uint64]string{6: ballot.StandingRejected, 7: ballot.StandingMissing, 8: ballot.StandingMissing, 9: ballot.StandingPending}
	for _, e := range st.Entries {
		if want[e.Index] != e.Standing || e.Vote != s.votes[e.Index] {
			t.Errorf("entry %d: %s, want %s", e.Index, e.Standing, want[e.Index])
		}
		if e.Index == 6 && e.Reason != ballot.RejectDuplicate {
			t.Errorf("the duplicate's reason %q", e.Reason)
		}
	}
	if got := len(rep.Missing()); got != 2 {
		t.Fatalf("%d MISSING, want 2", got)
	}
	// Acceptance receipts of the same votes stand the same way.
	placed, err := Placements(context.Background(), s.ledger, "CA")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range map[int]string{0: ballot.StandingCounted, 6: ballot.StandingRejected, 7: ballot.StandingMissing} {
		proof, _ := s.tree.InclusionProof(uint64(i), 10)
		leaf, _ := s.tree.Leaf(uint64(i))
		a := ballot.Acceptance{VoteID: s.votes[i].ID, Vote: s.votes[i], Index: uint64(i), Leaf: ballot.HashHex(leaf), Proof: ballot.HexHashes(proof), Head: s.ledger.head.Head}
		got, _, err := Standing(a, s.ledger.keys, placed, s.now, time.Minute, false)
		if err != nil || got != want {
			t.Errorf("receipt %d: %s, %v; want %s", i, got, err, want)
		}
	}
}

// With PendingListed the report lists the oldest pending entries only,
// and every rejected one; the counts and PendingUnlisted cover the rest.
func TestMonitorListsTheOldestPending(t *testing.T) {
	s := newScene(t)
	s.addVotes(5)
	s.anchor(t, 15)
	m := s.monitor(s.entries)
	m.Deadline, m.PendingListed = 2*time.Hour, 3 // entries 7-14 pending
	rep, err := m.Check(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	st := rep.States[0]
	var listed []uint64
	for _, e := range st.Entries {
		listed = append(listed, e.Index)
	}
	if st.Counts[ballot.StandingPending] != 8 || st.Counts[ballot.StandingRejected] != 1 || st.PendingUnlisted != 5 || !slices.Equal(listed, []uint64{6, 7, 8, 9}) {
		t.Fatalf("counts %v, %d unlisted, entries listed %v: want 8 pending, the rejected 6 and the pending 7-9 listed, 5 unlisted", st.Counts, st.PendingUnlisted, listed)
	}
	m.PendingListed = 0
	if rep, err = m.Check(context.Background(), nil); err != nil || len(rep.States[0].Entries) != 9 || rep.States[0].PendingUnlisted != 0 {
		t.Fatalf("with no bound: %d entries listed, %d unlisted, %v; want all 9", len(rep.States[0].Entries), rep.States[0].PendingUnlisted, err)
	}
}

// An open entry keeps no vote until it is listed: the listed ones' votes
// are read again from the log (a run of them in one read) and kept, and one
// served differently from the verified entry fails the check.
func TestMonitorReadsListedVotesOnce(t *testing.T) {
	s := newScene(t)
	s.addVotes(5)
	s.anchor(t, 15)
	log := &countingLog{fakeLog: fakeLog{entries: s.entries}}
	m := &Monitor{Log: log, Ledger: s.ledger, Deadline: 2 * time.Hour, PendingListed: 3, Now: func() time.Time { return s.now }}
	for i, want := range []int{15 + 4, 0} { // the entries, then 6–9 again; then nothing
		log.served = 0
		rep, err := m.Check(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if log.served != want {
			t.Errorf("check %d read %d entries; want %d", i+1, log.served, want)
		}
		for _, e := range rep.States[0].Entries {
			if e.Vote != s.votes[e.Index] {
				t.Errorf("check %d: entry %d lists vote %+v, want %+v", i+1, e.Index, e.Vote, s.votes[e.Index])
			}
		}
	}
	forged := append([][]byte(nil), s.entries...)
	forged[12] = s.entries[13]
	m.Log, m.PendingListed = fakeLog{entries: forged}, 0
	if _, err := m.Check(context.Background(), nil); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("entry 12 served again as another: %v, want ErrInconsistent", err)
	}
}

// Entries served that are not the signed ones, and a head seen before that
// the log no longer gives, fail the check with ErrInconsistent.
func TestMonitorRefusesARewrittenLog(t *testing.T) {
	s := newScene(t)
	forged := append([][]byte(nil), s.entries...)
	forged[7] = s.entries[8]
	if _, err := s.monitor(forged).Check(context.Background(), nil); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("forged entries: %v, want ErrInconsistent", err)
	}
	if _, err := s.monitor(s.entries[:5]).Check(context.Background(), nil); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("withheld entries: %v, want ErrInconsistent", err)
	}
	old := s.signed(t, 4)
	other := ballot.Vote{ID: "0123456789abcdef0123456789abcdef", State: "CA", Contest: "president", Nullifier: ballot.HashHex([32]byte{1}), Choice: "bob", CastAt: 1}
	var rewritten ballot.LogTree
	enc, _ := other.Encode()
	rewritten.Append(ballot.EntryLeaf(enc))
	root, _ := rewritten.Root(1)
	old.Size, old.Root = 1, ballot.HashHex(root)
	if _, err := s.monitor(s.entries).Check(context.Background(), map[string]ballot.TreeHead{"CA": old}); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("a head of another log: %v, want ErrInconsistent", err)
	}
}

// TestMonitorInconsistencyEvidence: a log found inconsistent with a signed
// head is an *InconsistentError (still ErrInconsistent, its message the
// finding's) naming the state, the anchored and the seen head, and what
// shows it: entries that do not give the anchored root are EntriesDiffer,
// whatever head was seen; a signed head seen before of the anchored
// head's size with another root is HeadsDiffer, whatever the log serves,
// found without reading it; a smaller signed one whose root the anchored
// log does not give is PrefixDiffers; one that is not the election's state
// head signed by a registered key is SeenNotSigned.
func TestMonitorInconsistencyEvidence(t *testing.T) {
	s := newScene(t)
	forged := append([][]byte(nil), s.entries...)
	forged[7] = s.entries[8]
	// otherRoot is the head of size with the log's root at size-1 (and
	// election, if not ""), signed unless unsigned.
	otherRoot := func(size uint64, election string, unsigned bool) ballot.TreeHead {
		h := s.signed(t, size)
		h.Root = s.signed(t, size-1).Root
		if election != "" {
			h.Election = election
		}
		if !unsigned {
			h, _ = h.Sign(s.key)
		}
		return h
	}
	for name, c := range map[string]struct {
		entries [][]byte
		seen    ballot.TreeHead
		want    Evidence
	}{
		"entries not the anchored head's":                        {forged, ballot.TreeHead{}, EntriesDiffer},
		"entries not the anchored head's, a head seen before":    {forged, s.signed(t, 4), EntriesDiffer},
		"a head of the anchored size, another root":              {s.entries, otherRoot(10, "", false), HeadsDiffer},
		"a head of the anchored size, another root, its entries": {forged, otherRoot(10, "", false), HeadsDiffer},
		"a smaller head the anchored log does not give":          {s.entries, otherRoot(4, "", false), PrefixDiffers},
		"a smaller head, not signed":                             {s.entries, otherRoot(4, "", true), SeenNotSigned},
		"a smaller head of another election":                     {s.entries, otherRoot(4, "e0", false), SeenNotSigned},
		"a head of the anchored size of another election":        {s.entries, otherRoot(10, "e0", false), SeenNotSigned},
	} {
		log := &countingLog{fakeLog: fakeLog{entries: c.entries}}
		m := s.monitor(nil)
		m.Log = log
		_, err := m.Check(context.Background(), map[string]ballot.TreeHead{"CA": c.seen})
		var e *InconsistentError
		if !errors.As(err, &e) || !errors.Is(err, ErrInconsistent) {
			t.Errorf("%s: %v; want an *InconsistentError", name, err)
			continue
		}
		if e.Evidence != c.want || e.State != "CA" || e.Anchored != *s.ledger.head || e.Seen != c.seen || err.Error() != e.Err.Error() {
			t.Errorf("%s: %+v; want evidence %d, the state CA, the anchored head and the seen one", name, e, c.want)
		}
		if c.want == HeadsDiffer && log.served != 0 {
			t.Errorf("%s: read %d entries; the two heads alone prove the fork", name, log.served)
		}
	}
}

// TestMonitorSeenAhead: a head seen before past the anchored head, or
// with none anchored, is not checked, whatever its root, and its state's
// report says so (SeenAhead); one no larger is checked and not so marked.
// Once the anchored head reaches its size it is checked: the log's own
// head passes, one of that size with another root is HeadsDiffer.
func TestMonitorSeenAhead(t *testing.T) {
	s := newScene(t)
	forked := s.signed(t, 10)
	forked.Root = s.signed(t, 9).Root
	forked, _ = forked.Sign(s.key)
	check := func(seen ballot.TreeHead) (bool, error) {
		rep, err := s.monitor(s.entries).Check(context.Background(), map[string]ballot.TreeHead{"CA": seen})
		if err != nil {
			return false, err
		}
		return rep.States[0].SeenAhead, nil
	}
	s.anchor(t, 6)
	for name, c := range map[string]struct {
		seen ballot.TreeHead
		want bool
	}{
		"the log's head past the anchored one": {s.signed(t, 10), true},
		"a forked head past the anchored one":  {forked, true},
		"a head of the anchored size":          {s.signed(t, 6), false},
		"a smaller head":                       {s.signed(t, 4), false},
		"none":                                 {ballot.TreeHead{}, false},
	} {
		if ahead, err := check(c.seen); err != nil || ahead != c.want {
			t.Errorf("anchored at 6, %s: seen ahead %v, %v; want %v and no error", name, ahead, err, c.want)
		}
	}
	s.anchor(t, 10)
	if ahead, err := check(s.signed(t, 10)); err != nil || ahead {
		t.Errorf("anchored at 10, the log's head of 10: seen ahead %v, %v; want it checked and passed", ahead, err)
	}
	var e *InconsistentError
	if _, err := check(forked); !errors.As(err, &e) || e.Evidence != HeadsDiffer {
		t.Errorf("anchored at 10, a forked head of 10: %v; want HeadsDiffer", err)
	}
	s.ledger.head = nil
	for seen, want := range map[ballot.TreeHead]bool{s.signed(t, 4): true, {}: false} {
		if ahead, err := check(seen); err != nil || ahead != want {
			t.Errorf("none anchored, a head of %d seen: seen ahead %v, %v; want %v", seen.Size, ahead, err, want)
		}
	}
}

// TestMonitorRefusesAnUnverifiedHead: an anchored head signed by a key not
// registered, or whose signature is not its key's over it, fails the check
// (ErrUnknownLogKey, ErrBadSignature) although the log's entries give its
// root: the explorer's intake log page shows a head's signature verified
// on the strength of this check.
func TestMonitorRefusesAnUnverifiedHead(t *testing.T) {
	for name, c := range map[string]struct {
		forge func(h ballot.TreeHead) ballot.TreeHead
		want  error
	}{
		"signed by a key not registered": {func(h ballot.TreeHead) ballot.TreeHead {
			h, _ = h.Sign(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32)))
			return h
		}, ballot.ErrUnknownLogKey},
		"signature altered": {func(h ballot.TreeHead) ballot.TreeHead {
			digit := "0"
			if h.Signature[0] == '0' {
				digit = "1"
			}
			h.Signature = digit + h.Signature[1:] // still 128 lower-case hex
			return h
		}, ballot.ErrBadSignature},
	} {
		s := newScene(t)
		s.ledger.head.Head = c.forge(s.ledger.head.Head)
		_, err := s.monitor(s.entries).Check(context.Background(), nil)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), "the anchored CA head") {
			t.Errorf("%s: %v; want the anchored head refused with %v", name, err, c.want)
		}
	}
}

// TestMonitorRefusesAForeignHead: an anchored head signed by a registered
// key that names another election, or another state, than the ledger's
// record it was read from fails the check (ErrForeignHead, not a finding
// of inconsistency) naming both elections, although the log's entries give
// its root, and saying what may have put it there, in words true of each
// cause (another election's: an older chaincode's set-up or another
// ledger's head, not only one of them) and that the log cannot be checked
// against it; the scene's own head passes.
func TestMonitorRefusesAForeignHead(t *testing.T) {
	const uncheckable = "this ledger's CA log cannot be checked against its anchor, a failure"
	for name, c := range map[string]struct {
		election, state string
		want            error
		why             string
	}{
		"the ledger's election and state": {"e1", "CA", nil, ""},
		"another election": {"e2", "CA", ErrForeignHead, `: a head of another election: either a chaincode older than today's set the election up again after the head was anchored ` +
			`(today's refuses a set-up once a head is anchored, ballot.CheckSetUpAnchored; the explorer's audit flags such a set-up), or the peer read serves another ledger's head; either way ` + uncheckable},
		"another state": {"e1", "NY", ErrForeignHead, `: a head of another state: the ledger keeps each state's head under that state (ballot.LogHeadKey) and the chaincode anchors none of another state there, ` +
			`so the peer read serves a record the ledger's rules do not write, and ` + uncheckable},
	} {
		s := newScene(t)
		h := s.ledger.head.Head
		h.Election, h.State = c.election, c.state
		h, err := h.Sign(s.key)
		if err != nil {
			t.Fatal(err)
		}
		s.ledger.head.Head = h
		_, err = s.monitor(s.entries).Check(context.Background(), nil)
		if !errors.Is(err, c.want) || errors.Is(err, ErrInconsistent) {
			t.Errorf("%s: %v; want %v", name, err, c.want)
			continue
		}
		if want := fmt.Sprintf(`the anchored CA head: %v: it names election %q, state %q; the ledger's election is "e1"`, ErrForeignHead, c.election, c.state) + c.why; c.want != nil && err.Error() != want {
			t.Errorf("%s: %v; want it to name the head's election and state and the ledger's, and say what that means: %s", name, err, want)
		}
	}
}

func TestFinalisedMeansMissing(t *testing.T) {
	s := newScene(t)
	s.ledger.status = ballot.StatusFinalised
	rep, err := s.monitor(s.entries).Check(context.Background(), nil)
	if err != nil || rep.States[0].Counts[ballot.StandingMissing] != 3 {
		t.Fatalf("finalised: %+v, %v; want the 3 entries off the ledger MISSING", rep.States, err)
	}
}

// treeProofs serves consistency proofs of a tree, optionally from another
// (rewritten) one.
type treeProofs struct{ tree *ballot.LogTree }

func (p treeProofs) Consistency(_ context.Context, _ string, first, second uint64) ([][32]byte, error) {
	return p.tree.ConsistencyProof(first, second)
}

// TestExtends: a later head extends an earlier one by the served proof, in
// either order; a rewritten log's proof, or another root at the same size,
// is ErrInconsistent.
func TestExtends(t *testing.T) {
	s := newScene(t)
	ctx := context.Background()
	h3, h7, h10 := s.signed(t, 3), s.signed(t, 7), s.signed(t, 10)
	for _, c := range [][2]ballot.TreeHead{{h3, h7}, {h7, h10}, {h10, h3}, {h7, h7}} {
		if err := Extends(ctx, treeProofs{&s.tree}, c[0], c[1]); err != nil {
			t.Errorf("%d → %d: %v", c[0].Size, c[1].Size, err)
		}
	}
	var rewritten ballot.LogTree
	for i, e := range s.entries {
		if i == 1 {
			e = append([]byte(nil), s.entries[2]...)
		}
		rewritten.Append(ballot.EntryLeaf(e))
	}
	if err := Extends(ctx, treeProofs{&rewritten}, h3, h10); !errors.Is(err, ErrInconsistent) {
		t.Errorf("proof from a rewritten log: %v, want ErrInconsistent", err)
	}
	other := h7
	other.Root = h10.Root
	if err := Extends(ctx, treeProofs{&s.tree}, h7, other); !errors.Is(err, ErrInconsistent) {
		t.Errorf("two roots at size 7: %v, want ErrInconsistent", err)
	}
}

// countingLog is a fakeLog that counts the entries it serves.
type countingLog struct {
	fakeLog
	served int
}

func (c *countingLog) Entries(ctx context.Context, state string, start, end uint64) ([][]byte, error) {
	got, err := c.fakeLog.Entries(ctx, state, start, end)
	c.served += len(got)
	return got, err
}

// countingLedger is a fakeLedger that counts the transactions read.
type countingLedger struct {
	*fakeLedger
	txs int
}

func (c *countingLedger) CommittedBatch(ctx context.Context, txID, state string, seq uint64) (ballot.Batch, error) {
	c.txs++
	return c.fakeLedger.CommittedBatch(ctx, txID, state, seq)
}

// addVotes appends n votes cast long ago to the scene's log.
func (s *scene) addVotes(n int) { s.addVotesCast(n, s.now.Add(-time.Hour)) }

// addVotesCast appends n votes cast at cast to the scene's log.
func (s *scene) addVotesCast(n int, cast time.Time) {
	for range n {
		id, _ := ballot.NewVoteID()
		v := ballot.Vote{ID: id, State: "CA", Contest: "president", Nullifier: ballot.HashHex(ballot.NullifierOf([32]byte{byte(len(s.votes))}, "president")),
			Choice: "bob", CastAt: cast.UnixMilli()}
		enc, _ := v.Encode()
		s.votes = append(s.votes, v)
		s.entries = append(s.entries, enc)
		s.tree.Append(ballot.EntryLeaf(enc))
	}
}

// commit adds batch seq of votes, all counted, to the scene's ledger.
func (s *scene) commit(t testing.TB, seq uint64, votes ...ballot.Vote) {
	t.Helper()
	b, err := ballot.BuildBatch("CA", seq, votes)
	if err != nil {
		t.Fatal(err)
	}
	s.ledger.batches = append(s.ledger.batches, b)
	s.ledger.records = append(s.ledger.records, ballot.BatchRecord{State: "CA", Seq: seq, Root: b.Root, Votes: len(votes), Counted: len(votes), TxID: fmt.Sprintf("tx%d", seq), Rejected: []int{}, Reasons: []string{}})
}

// TestMonitorReadsOnlyWhatIsNew: a second check with nothing new reads no
// entry and no transaction and finds the same; after new entries and a new
// batch it reads exactly those, and an entry counted since is no longer
// listed; every check still verifies the anchored head and the heads seen.
func TestMonitorReadsOnlyWhatIsNew(t *testing.T) {
	s := newScene(t)
	ctx := context.Background()
	log := &countingLog{fakeLog: fakeLog{entries: s.entries}}
	ledger := &countingLedger{fakeLedger: s.ledger}
	m := &Monitor{Log: log, Ledger: ledger, Deadline: time.Minute, Now: func() time.Time { return s.now }}
	check := func(seen map[string]ballot.TreeHead, entries, txs int) StateReport {
		t.Helper()
		log.served, ledger.txs = 0, 0
		rep, err := m.Check(ctx, seen)
		if err != nil {
			t.Fatal(err)
		}
		if log.served != entries || ledger.txs != txs {
			t.Fatalf("the check read %d entries and %d transactions, want %d and %d", log.served, ledger.txs, entries, txs)
		}
		return rep.States[0]
	}
	first := check(nil, 10+4, 2) // and the listed 6–9's votes again
	again := check(map[string]ballot.TreeHead{"CA": s.signed(t, 10)}, 0, 0)
	if !reflect.DeepEqual(again, first) {
		t.Fatalf("a check with nothing new found\n%+v\nthe first found\n%+v", again, first)
	}

	s.addVotes(2) // entries 10, 11
	log.entries = s.entries
	s.anchor(t, 12)
	s.commit(t, 3, s.votes[7], s.votes[10])
	st := check(map[string]ballot.TreeHead{"CA": s.signed(t, 10)}, 2+1, 1) // and 11's vote, listed
	want := map[uint64]string{6: ballot.StandingRejected, 8: ballot.StandingMissing, 9: ballot.StandingPending, 11: ballot.StandingMissing}
	if st.Counts[ballot.StandingCounted] != 8 || len(st.Entries) != len(want) {
		t.Fatalf("after new entries and a batch: counts %v, entries %+v", st.Counts, st.Entries)
	}
	for _, e := range st.Entries {
		if want[e.Index] != e.Standing || e.Vote != s.votes[e.Index] {
			t.Errorf("entry %d: %s, want %s", e.Index, e.Standing, want[e.Index])
		}
	}

	// A head seen before that the remembered log does not give, and an
	// anchored head of the same size with another root, are still caught.
	other := s.signed(t, 5)
	other.Root = s.signed(t, 6).Root
	if _, err := m.Check(ctx, map[string]ballot.TreeHead{"CA": other}); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("a head the log does not give: %v, want ErrInconsistent", err)
	}
	check(nil, 12+6, 3) // from scratch after the failure, and the listed 6, 8, 9, 11 in one read of 6–11
	s.ledger.head.Head = s.signed(t, 11)
	s.ledger.head.Head.Size = 12
	s.ledger.head.Head, _ = s.ledger.head.Head.Sign(s.key)
	if _, err := m.Check(ctx, nil); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("an anchored head of the same size with another root: %v, want ErrInconsistent", err)
	}
}

// TestMonitorForgetsCountedPlaces: the monitor keeps the places of votes
// whose entries it has not counted (a batch on the ledger before the head
// that anchors its entries, a rejected vote) and forgets a vote's place
// once its entry is counted, so its memory follows the backlog, not the
// election.
func TestMonitorForgetsCountedPlaces(t *testing.T) {
	s := newScene(t)
	ctx := context.Background()
	m := &Monitor{Log: fakeLog{}, Ledger: s.ledger, Deadline: time.Minute, Now: func() time.Time { return s.now }}
	check := func(counted, placed int) {
		t.Helper()
		m.Log = fakeLog{entries: s.entries}
		rep, err := m.Check(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := rep.States[0].Counts[ballot.StandingCounted]; got != counted {
			t.Errorf("%d entries counted, want %d", got, counted)
		}
		if got := m.memos["CA"].placed.Len(); got != placed {
			t.Errorf("the monitor keeps the places of %d votes, want %d", got, placed)
		}
	}
	check(6, 1) // votes 0–5 counted; vote 6 rejected, its place kept

	s.addVotesCast(2, s.now) // entries 10 and 11, committed before a head anchors them
	s.commit(t, 3, s.votes[10], s.votes[11])
	check(6, 3)
	s.anchor(t, 12)
	check(8, 1)
}

// TestMonitorFindsUnloggedVotes: a vote the ledger counts that the log
// does not hold is unlogged once the log holds entries cast Deadline after
// it (in a finalised election at once), counted and listed with its batch
// and index, and its place forgotten; one cast later waits.
func TestMonitorFindsUnloggedVotes(t *testing.T) {
	s := newScene(t)
	ctx := context.Background()
	vote := func(cast time.Time, n byte) ballot.Vote {
		id, _ := ballot.NewVoteID()
		return ballot.Vote{ID: id, State: "CA", Contest: "president", Nullifier: ballot.HashHex(ballot.NullifierOf([32]byte{200, n}, "president")), Choice: "bob", CastAt: cast.UnixMilli()}
	}
	old, recent := vote(s.now.Add(-time.Hour), 1), vote(s.now.Add(-10*time.Second), 2) // the log's newest entry: s.now-1s
	s.commit(t, 3, s.votes[7], old, recent)
	m := s.monitor(s.entries)
	rep, err := m.Check(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := rep.States[0]
	want := []UnloggedVote{{Seq: 3, Index: 1, CastAt: old.CastAt}}
	if st.Unlogged != 1 || !reflect.DeepEqual(st.UnloggedVotes, want) || st.Counts[ballot.StandingCounted] != 7 {
		t.Fatalf("unlogged %d %+v, counted %d; want the vote cast an hour before the log's newest entry, %+v, and 7 counted", st.Unlogged, st.UnloggedVotes, st.Counts[ballot.StandingCounted], want)
	}
	if got := m.memos["CA"].placed.Len(); got != 2 { // the rejected 6, the recent vote
		t.Errorf("the monitor keeps %d places; want 2", got)
	}
	s.ledger.status = ballot.StatusFinalised
	if rep, err = m.Check(ctx, nil); err != nil || rep.States[0].Unlogged != 2 || len(rep.States[0].UnloggedVotes) != 2 {
		t.Fatalf("finalised: %+v, %v; want both votes unlogged", rep.States, err)
	}
}

// TestMonitorAsFinalised: in a closed election a monitor AsFinalised
// judges by the finalised rule, as one will once the election is
// finalised: the entry within its deadline is MISSING, and a counted vote
// cast after the log's newest entry is unlogged at once; a monitor without
// it waits for both.
func TestMonitorAsFinalised(t *testing.T) {
	s := newScene(t)
	s.ledger.status = ballot.StatusClosed
	id, _ := ballot.NewVoteID()
	late := ballot.Vote{ID: id, State: "CA", Contest: "president", Nullifier: ballot.HashHex(ballot.NullifierOf([32]byte{201}, "president")), Choice: "bob", CastAt: s.now.UnixMilli()}
	s.commit(t, 3, late) // the log's newest entry: s.now-1s
	for _, final := range []bool{false, true} {
		m := s.monitor(s.entries)
		m.AsFinalised = final
		rep, err := m.Check(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		st := rep.States[0]
		missing, pending, unlogged := 2, 1, 0
		if final {
			missing, pending, unlogged = 3, 0, 1
		}
		if st.Counts[ballot.StandingMissing] != missing || st.Counts[ballot.StandingPending] != pending || st.Unlogged != unlogged || len(st.UnloggedVotes) != unlogged {
			t.Errorf("AsFinalised %v: %d MISSING, %d pending, %d unlogged %+v; want %d, %d, %d", final,
				st.Counts[ballot.StandingMissing], st.Counts[ballot.StandingPending], st.Unlogged, st.UnloggedVotes, missing, pending, unlogged)
		}
	}
}

// TestMonitorHeadlessState: a state no gateway anchored a head for has no
// accepted votes as far as the logs show; its votes on the ledger are not
// judged while the election may still take votes (they may be waiting for
// their gateway's first head), and are every one unlogged once it is
// finalised, or checked as finalised; the rejected duplicate is not.
func TestMonitorHeadlessState(t *testing.T) {
	for _, tc := range []struct {
		status      string
		asFinalised bool
		unlogged    int
	}{
		{ballot.StatusConfigured, false, 0},
		{ballot.StatusClosed, false, 0},
		{ballot.StatusClosed, true, 6},
		{ballot.StatusFinalised, false, 6},
	} {
		s := newScene(t)
		s.ledger.head, s.ledger.status = nil, tc.status
		m := s.monitor(nil)
		m.AsFinalised = tc.asFinalised
		for check := 1; check <= 2; check++ { // the second finds nothing new
			rep, err := m.Check(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			st := rep.States[0]
			if st.Head != nil || st.Unlogged != tc.unlogged || len(st.UnloggedVotes) != tc.unlogged || len(st.Counts) != 0 {
				t.Errorf("%s, as finalised %v, check %d: head %v, %d unlogged %+v, counts %v; want no head, %d unlogged, no counts",
					tc.status, tc.asFinalised, check, st.Head, st.Unlogged, st.UnloggedVotes, st.Counts, tc.unlogged)
			}
			if judged := tc.unlogged > 0; st.Batched != (ballot.BatchTotals{}) != judged {
				t.Errorf("%s, as finalised %v, check %d: the report is of batches totalling %+v; want those judged, if any", tc.status, tc.asFinalised, check, st.Batched)
			} else if judged && st.Batched != (ballot.BatchTotals{Batches: 2, Votes: 7}) {
				t.Errorf("%s, as finalised %v, check %d: the report is of batches totalling %+v; want the 2 batches' 7 votes", tc.status, tc.asFinalised, check, st.Batched)
			}
			if check == 1 && s.ledger.listed != min(tc.unlogged, 2) {
				t.Errorf("%s, as finalised %v: %d batch records listed; want them all (2) when judged, none otherwise", tc.status, tc.asFinalised, s.ledger.listed)
			}
		}
	}
}

// TestMonitorChecksOtherHeadsByReading: a head seen before at a size the
// monitor remembers no root for is checked by reading the log again (once:
// its root is remembered then), and a log that serves other entries when
// read again fails the check.
func TestMonitorChecksOtherHeadsByReading(t *testing.T) {
	s := newScene(t)
	ctx := context.Background()
	log := &countingLog{fakeLog: fakeLog{entries: s.entries}}
	m := &Monitor{Log: log, Ledger: s.ledger, Deadline: time.Minute, Now: func() time.Time { return s.now }}
	if _, err := m.Check(ctx, nil); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{10, 0} {
		log.served = 0
		if _, err := m.Check(ctx, map[string]ballot.TreeHead{"CA": s.signed(t, 4)}); err != nil {
			t.Fatalf("check %d with the head of size 4: %v", i+1, err)
		}
		if log.served != want {
			t.Errorf("check %d with the head of size 4 read %d entries; want %d", i+1, log.served, want)
		}
	}
	forged := append([][]byte(nil), s.entries...)
	forged[2] = s.entries[3]
	m.Log = fakeLog{entries: forged}
	if _, err := m.Check(ctx, map[string]ballot.TreeHead{"CA": s.signed(t, 5)}); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("the log served again with entry 2 replaced: %v; want ErrInconsistent", err)
	}
}

// TestMonitorTakesCommittedBatches: a batch handed over with Committed is
// placed without reading its transaction, and gives the same findings as
// one read from the ledger; one handed over from another transaction than
// the ledger's record names, or with another number of votes, is read from
// the ledger; what a check placed, or a state outside the election, is
// forgotten.
func TestMonitorTakesCommittedBatches(t *testing.T) {
	ctx := context.Background()
	s := newScene(t)
	want, err := s.monitor(s.entries).Check(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	ledger := &countingLedger{fakeLedger: s.ledger}
	m := &Monitor{Log: fakeLog{entries: s.entries}, Ledger: ledger, Deadline: time.Minute, Now: func() time.Time { return s.now }}
	for i, b := range s.ledger.batches {
		leaves, err := ballot.Leaves(b.Votes)
		if err != nil {
			t.Fatal(err)
		}
		txID := s.ledger.records[i].TxID
		if i == 1 {
			txID = "another"
		}
		m.Committed("CA", b.Seq, txID, b.Votes, leaves)
	}
	m.Committed("CA", 3, "tx3", make([]ballot.Vote, 2), make([][32]byte, 2)) // not on the ledger yet
	m.Committed("OR", 1, "tx9", make([]ballot.Vote, 5), make([][32]byte, 5)) // not a state of the election
	got, err := m.Check(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ledger.txs != 1 {
		t.Errorf("the check read %d transactions; want 1 (the batch handed over from another transaction)", ledger.txs)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("with batches handed over the check found\n%+v\nreading the ledger it finds\n%+v", got, want)
	}
	if len(m.fed) != 1 || len(m.fed["CA"]) != 1 || m.fedVotes != 2 {
		t.Fatalf("after the check the monitor keeps %v (%d votes); want only batch CA/3 (2 votes)", m.fed, m.fedVotes)
	}

	// Batch 3 committed with other votes than handed over: read from the ledger.
	s.commit(t, 3, s.votes[7], s.votes[8], s.votes[9])
	if _, err := m.Check(ctx, nil); err != nil || ledger.txs != 2 || m.fedVotes != 0 {
		t.Fatalf("batch 3 of 3 votes, 2 handed over: %v, %d transactions read (want 2), %d votes kept (want 0)", err, ledger.txs, m.fedVotes)
	}
}

// BenchmarkMonitorMemory is the heap a Monitor keeps per entry of a
// state's log of 200,000 entries after a check: all of them counted
// (committed in batches of 2,000), or all pending, as behind a backlog
// (the explorer's monitor keeps the election's states for as long as it
// runs). live-bytes/vote is its heap after a collection, less the heap
// before the monitor was made.
//
//	go test -run '^$' -bench MonitorMemory -benchtime 3x ./explorer/logmonitor/
func BenchmarkMonitorMemory(b *testing.B) {
	const entries, perBatch = 200_000, 2_000
	for _, counted := range []bool{true, false} {
		b.Run(map[bool]string{true: "counted", false: "pending"}[counted], func(b *testing.B) {
			s := newScene(b)
			s.ledger.head, s.ledger.batches, s.ledger.records = nil, nil, nil
			s.votes, s.entries, s.tree = nil, nil, ballot.LogTree{}
			s.addVotes(entries)
			if counted {
				for i := 0; i < entries; i += perBatch {
					s.commit(b, uint64(i/perBatch+1), s.votes[i:i+perBatch]...)
				}
			}
			s.anchor(b, entries)
			heap := func() uint64 {
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				return ms.HeapAlloc
			}
			var kept float64
			for range b.N {
				before := heap()
				m := &Monitor{Log: fakeLog{entries: s.entries}, Ledger: s.ledger, Deadline: 2 * time.Hour, PendingListed: 100, Now: func() time.Time { return s.now }}
				rep, err := m.Check(context.Background(), nil)
				if err != nil {
					b.Fatal(err)
				}
				if got := rep.States[0].Counts[ballot.StandingCounted]; counted != (got == entries) {
					b.Fatalf("%d entries counted of %d", got, entries)
				}
				rep = Report{}
				kept += float64(heap()) - float64(before)
				runtime.KeepAlive(m)
			}
			b.ReportMetric(kept/float64(b.N)/entries, "live-bytes/vote")
		})
	}
}

// BenchmarkMonitorCheck is the explorer's periodic intake log check of a
// state whose log holds 50,000 entries, all committed in batches of 500:
// with nothing new since the last check (new=0), and with 1,000 new
// entries and their two batches (new=1000).
func BenchmarkMonitorCheck(b *testing.B) {
	const entries, perBatch = 50_000, 500
	for _, fresh := range []int{0, 1000} {
		b.Run(fmt.Sprintf("new=%d", fresh), func(b *testing.B) {
			s := newScene(b)
			s.ledger.head, s.ledger.batches, s.ledger.records = nil, nil, nil
			s.ledger.pageSize = 500 // fabricclient's pages
			s.votes, s.entries, s.tree = nil, nil, ballot.LogTree{}
			seq := uint64(0)
			grow := func(n int) {
				from := len(s.votes)
				s.addVotes(n)
				for i := from; i < len(s.votes); i += perBatch {
					seq++
					s.commit(b, seq, s.votes[i:min(i+perBatch, len(s.votes))]...)
				}
				s.anchor(b, uint64(len(s.votes)))
			}
			grow(entries)
			log := &fakeLog{entries: s.entries}
			m := &Monitor{Log: log, Ledger: s.ledger, Deadline: time.Minute, Now: func() time.Time { return s.now }}
			ctx := context.Background()
			if _, err := m.Check(ctx, nil); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if fresh > 0 {
					b.StopTimer()
					grow(fresh)
					log.entries = s.entries
					b.StartTimer()
				}
				rep, err := m.Check(ctx, nil)
				if err != nil || rep.States[0].Counts[ballot.StandingCounted] != len(s.votes) {
					b.Fatalf("%+v, %v", rep.States[0].Counts, err)
				}
			}
		})
	}
}

// TestMonitorListsOnlyNewBatches: a check lists the state's batch records
// from the page the last listing ended in, not from the first; an entry
// that this listing leaves MISSING (its batch recorded late, with a lower
// number) is looked for in the whole list before it is called MISSING.
func TestMonitorListsOnlyNewBatches(t *testing.T) {
	s := newScene(t)
	s.commit(t, 3, s.votes[7], s.votes[8], s.votes[9])
	s.addVotes(2)
	s.commit(t, 4, s.votes[10], s.votes[11])
	s.anchor(t, 12)
	m := s.monitor(s.entries)
	check := func(listed, counted int, batched ballot.BatchTotals) {
		t.Helper()
		s.ledger.listed = 0
		m.Log = fakeLog{entries: s.entries}
		rep, err := m.Check(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		st := rep.States[0]
		if s.ledger.listed != listed || st.Counts[ballot.StandingCounted] != counted || len(rep.Missing()) != 0 {
			t.Fatalf("the check listed %d batch records and found %v; want %d listed, %d counted, none MISSING", s.ledger.listed, st.Counts, listed, counted)
		}
		if st.Batched != batched { // each batch once, however often listed
			t.Fatalf("the report is of batches totalling %+v; want %+v", st.Batched, batched)
		}
	}
	check(4, 11, ballot.BatchTotals{Batches: 4, Votes: 12}) // pages [1 2] [3 4]
	check(2, 11, ballot.BatchTotals{Batches: 4, Votes: 12}) // [3 4] again
	s.addVotes(2)                                           // entries 12, 13
	s.commit(t, 5, s.votes[12], s.votes[13])
	s.anchor(t, 14)
	check(3, 13, ballot.BatchTotals{Batches: 5, Votes: 14}) // [3 4] [5]
	s.addVotes(1)                                           // entry 14, cast long ago
	s.commit(t, 0, s.votes[14])
	s.anchor(t, 15)
	check(1+6, 14, ballot.BatchTotals{Batches: 6, Votes: 15}) // [5], then from the first: [0 1] [2 3] [4 5]
	check(2, 14, ballot.BatchTotals{Batches: 6, Votes: 15})   // [4 5]
}
