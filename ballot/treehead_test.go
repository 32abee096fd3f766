package ballot

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func testSigner(t *testing.T, seed byte) (ed25519.PrivateKey, LogKeys) {
	t.Helper()
	priv := ed25519.NewKeyFromSeed([]byte(strings.Repeat(string(rune('a'+seed)), 32)))
	keys, n, err := LogKeys{}.Register([]LogKey{NewLogKey(priv.Public().(ed25519.PublicKey))}, 1)
	if err != nil || n != 1 {
		t.Fatalf("register: %d, %v", n, err)
	}
	return priv, keys
}

func testLogVotes(t *testing.T, n int) ([]Vote, *LogTree) {
	t.Helper()
	var log LogTree
	var votes []Vote
	for i := range n {
		id, _ := NewVoteID()
		v := Vote{ID: id, State: "CA", Contest: "president", Nullifier: HashHex(NullifierOf([32]byte{byte(i)}, "president")), Choice: "alice", CastAt: int64(1000 + i)}
		leaf, err := v.Leaf()
		if err != nil {
			t.Fatal(err)
		}
		log.Append(leaf)
		votes = append(votes, v)
	}
	return votes, &log
}

// rewrite returns the log of votes with vote i's choice changed.
func rewrite(votes []Vote, i int) *LogTree {
	var t LogTree
	for j, v := range votes {
		if j == i {
			v.Choice = "carol"
		}
		l, _ := v.Leaf()
		t.Append(l)
	}
	return &t
}

func signedHead(t *testing.T, priv ed25519.PrivateKey, log *LogTree, size uint64) TreeHead {
	t.Helper()
	root, err := log.Root(size)
	if err != nil {
		t.Fatal(err)
	}
	h, err := TreeHead{Election: "e1", State: "CA", Size: size, Root: HashHex(root), Timestamp: 5000}.Sign(priv)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func acceptanceOf(t *testing.T, votes []Vote, log *LogTree, head TreeHead, i uint64) Acceptance {
	t.Helper()
	proof, err := log.InclusionProof(i, head.Size)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := votes[i].Leaf()
	return Acceptance{VoteID: votes[i].ID, Vote: votes[i], Index: i, Leaf: HashHex(leaf), Proof: HexHashes(proof), Head: head}
}

func TestAcceptanceVerifiesAndRefusesTampering(t *testing.T) {
	priv, keys := testSigner(t, 0)
	votes, log := testLogVotes(t, 11)
	head := signedHead(t, priv, log, 11)
	for i := range uint64(11) {
		if err := acceptanceOf(t, votes, log, head, i).Verify(keys); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	good := acceptanceOf(t, votes, log, head, 4)
	other, _ := testSigner(t, 1)
	cases := []struct {
		name   string
		change func(a *Acceptance)
		want   error
	}{
		{"another choice", func(a *Acceptance) { a.Vote.Choice = "bob" }, ErrBadAcceptance},
		{"another vote id", func(a *Acceptance) { a.VoteID = votes[5].ID }, ErrBadAcceptance},
		{"another vote with its own leaf", func(a *Acceptance) {
			a.Vote, a.VoteID = votes[5], votes[5].ID
			l, _ := votes[5].Leaf()
			a.Leaf = HashHex(l)
		}, ErrRootMismatch},
		{"another index", func(a *Acceptance) { a.Index = 5 }, ErrRootMismatch},
		{"index past the head", func(a *Acceptance) { a.Index = 11 }, ErrIndexOutOfRange},
		{"larger head size", func(a *Acceptance) { a.Head.Size = 12 }, ErrBadSignature},
		{"another root", func(a *Acceptance) { a.Head.Root = HashHex([32]byte{1}) }, ErrBadSignature},
		{"later timestamp", func(a *Acceptance) { a.Head.Timestamp++ }, ErrBadSignature},
		{"another election", func(a *Acceptance) { a.Head.Election = "e2" }, ErrBadSignature},
		{"head's root not hex", func(a *Acceptance) { a.Head.Root = strings.ToUpper(a.Head.Root) }, ErrBadHead},
		{"head's signature cut", func(a *Acceptance) { a.Head.Signature = a.Head.Signature[:126] }, ErrBadHead},
		{"head of no election", func(a *Acceptance) { a.Head.Election = "" }, ErrBadHead},
		{"unregistered key", func(a *Acceptance) { a.Head = signedHead(t, other, log, 11) }, ErrUnknownLogKey},
		{"key id of the registered key, signed by another", func(a *Acceptance) {
			h := signedHead(t, other, log, 11)
			h.KeyID = a.Head.KeyID
			a.Head = h
		}, ErrBadSignature},
		{"proof hash flipped", func(a *Acceptance) {
			a.Proof = append([]string(nil), a.Proof...)
			a.Proof[0] = HashHex([32]byte{9})
		}, ErrRootMismatch},
	}
	for _, c := range cases {
		a := good
		c.change(&a)
		if err := a.Verify(keys); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestRegisterLogKeys(t *testing.T) {
	priv, keys := testSigner(t, 0)
	again, n, err := keys.Register([]LogKey{NewLogKey(priv.Public().(ed25519.PublicKey))}, 9)
	if err != nil || n != 0 || len(again.Keys) != 1 || again.Keys[0].RegisteredAt != 1 {
		t.Fatalf("registering a key again: %+v, %d, %v", again, n, err)
	}
	bad := NewLogKey(priv.Public().(ed25519.PublicKey))
	bad.ID = "0000000000000000"
	if _, _, err := keys.Register([]LogKey{bad}, 9); err == nil {
		t.Fatal("a key under another key's id was registered")
	}
	if _, _, err := keys.Register([]LogKey{{ID: bad.ID, PublicKey: "zz"}}, 9); err == nil {
		t.Fatal("a malformed key was registered")
	}
}

// A rewritten log cannot extend a head signed before the rewrite.
func TestHeadExtends(t *testing.T) {
	priv, _ := testSigner(t, 0)
	votes, log := testLogVotes(t, 9)
	h5, h9 := signedHead(t, priv, log, 5), signedHead(t, priv, log, 9)
	proof, _ := log.ConsistencyProof(5, 9)
	if err := h9.Extends(h5, proof); err != nil {
		t.Fatal(err)
	}
	rewritten := rewrite(votes, 2)
	r9 := signedHead(t, priv, rewritten, 9)
	rproof, _ := rewritten.ConsistencyProof(5, 9)
	if err := r9.Extends(h5, rproof); !errors.Is(err, ErrConsistencyProof) {
		t.Fatalf("rewritten log: %v, want %v", err, ErrConsistencyProof)
	}
	if err := h5.Extends(h9, nil); !errors.Is(err, ErrConsistencyOrder) {
		t.Fatalf("shrunk log: %v", err)
	}
}

func TestLogEntries(t *testing.T) {
	votes, log := testLogVotes(t, 6)
	var entries [][]byte
	for _, v := range votes {
		e, _ := v.Encode()
		entries = append(entries, e)
	}
	root, _ := log.Root(5)
	got, tree, err := LogEntries(entries, 5, root)
	if err != nil || len(got) != 5 || got[4] != votes[4] || tree.Size() != 5 {
		t.Fatalf("LogEntries: %d votes, %v", len(got), err)
	}
	entries[1] = append([]byte(nil), entries[2]...)
	if _, _, err := LogEntries(entries, 5, root); !errors.Is(err, ErrRootMismatch) {
		t.Fatalf("a served entry replaced: %v", err)
	}
	if _, _, err := LogEntries(entries[:4], 5, root); !errors.Is(err, ErrSizeOutOfRange) {
		t.Fatalf("too few entries: %v", err)
	}
}

func TestEntryStanding(t *testing.T) {
	now := time.UnixMilli(100_000)
	cases := []struct {
		placed bool
		status string
		castAt int64
		final  bool
		want   string
	}{
		{true, ReceiptCounted, 0, false, StandingCounted},
		{true, ReceiptDuplicate, 0, true, StandingRejected},
		{true, ReceiptRejected, 0, false, StandingRejected},
		{false, "", 95_000, false, StandingPending},
		{false, "", 90_000, false, StandingMissing},
		{false, "", 99_000, true, StandingMissing},
	}
	for _, c := range cases {
		if got := EntryStanding(c.placed, c.status, c.castAt, now, 10*time.Second, c.final); got != c.want {
			t.Errorf("%+v: %s, want %s", c, got, c.want)
		}
	}
}

func TestAnchorCheck(t *testing.T) {
	priv, keys := testSigner(t, 0)
	other, _ := testSigner(t, 1)
	e := &Election{ID: "e1", States: []string{"CA"}}
	votes, log := testLogVotes(t, 9)
	h4, h9 := signedHead(t, priv, log, 4), signedHead(t, priv, log, 9)
	proof, _ := log.ConsistencyProof(4, 9)
	const at = 5000 // the transaction's time: the heads' stamp
	if ok, err := (LogAnchor{Head: h4}).Check(e, keys, TreeHead{}, at); !ok || err != nil {
		t.Fatalf("first head: %v, %v", ok, err)
	}
	if ok, err := (LogAnchor{Head: h9, Consistency: HexHashes(proof)}).Check(e, keys, h4, at); !ok || err != nil {
		t.Fatalf("extending head: %v, %v", ok, err)
	}
	if ok, err := (LogAnchor{Head: h4}).Check(e, keys, h4, at); ok || err != nil {
		t.Fatalf("repeat: %v, %v; want no change, no error", ok, err)
	}
	rewritten := rewrite(votes, 1)
	r9 := signedHead(t, priv, rewritten, 9)
	rproof, _ := rewritten.ConsistencyProof(4, 9)
	refusals := []struct {
		name string
		a    LogAnchor
		prev TreeHead
		want error
	}{
		{"rewritten log", LogAnchor{Head: r9, Consistency: HexHashes(rproof)}, h4, ErrConsistencyProof},
		{"shrunk log", LogAnchor{Head: h4}, h9, ErrConsistencyOrder},
		{"no proof", LogAnchor{Head: h9}, h4, ErrConsistencyProofSz},
		{"unregistered key", LogAnchor{Head: signedHead(t, other, log, 4)}, TreeHead{}, ErrUnknownLogKey},
	}
	for _, r := range refusals {
		_, err := r.a.Check(e, keys, r.prev, at)
		if !errors.Is(err, r.want) {
			t.Errorf("%s: %v, want %v", r.name, err, r.want)
		}
		// A log that does not extend the anchored one is a head conflict,
		// and says so in its text (what crosses the chaincode's boundary).
		conflict := r.want != ErrUnknownLogKey
		if errors.Is(err, ErrHeadConflict) != conflict || IsHeadConflict(fmt.Sprint("peer: ", err)) != conflict {
			t.Errorf("%s: %v; a head conflict: %v", r.name, err, conflict)
		}
		if IsHeadStale(fmt.Sprint(err)) {
			t.Errorf("%s: %v; marked as a stale head", r.name, err)
		}
	}
	wrong := h4
	wrong.Election = "e2"
	if _, err := (LogAnchor{Head: wrong}).Check(e, keys, TreeHead{}, at); err == nil {
		t.Error("a head of another election was anchored")
	}
}

// signedHeadAt is signedHead stamped at (Unix ms).
func signedHeadAt(t *testing.T, priv ed25519.PrivateKey, log *LogTree, size uint64, at int64) TreeHead {
	t.Helper()
	h := signedHead(t, priv, log, size)
	h.Timestamp = at
	h, err := h.Sign(priv)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestAnchorCheckStamps: a head stamped before the anchored one is refused
// as stale, marked so across the chaincode's boundary, and not as a head
// conflict; one stamped more than MaxClockSkew after the transaction is
// refused; the same stamp as the anchored head's, and up to MaxClockSkew
// ahead, are anchored.
func TestAnchorCheckStamps(t *testing.T) {
	priv, keys := testSigner(t, 0)
	e := &Election{ID: "e1", States: []string{"CA"}}
	_, log := testLogVotes(t, 9)
	proof, _ := log.ConsistencyProof(4, 9)
	skew := MaxClockSkew.Milliseconds()
	h4 := signedHeadAt(t, priv, log, 4, 7000)
	anchored := func(string) (AnchoredHead, error) { return AnchoredHead{Head: h4}, nil }
	anchor := func(stamp, at int64) error {
		in := LogAnchorsInput{Heads: []LogAnchor{{Head: signedHeadAt(t, priv, log, 9, stamp), Consistency: HexHashes(proof)}}}
		_, err := in.Anchor(e, keys, anchored, "t1", at)
		return err
	}
	err := anchor(6999, 8000)
	if !errors.Is(err, ErrHeadStale) || !IsHeadStale(fmt.Sprint("peer: ", err)) || IsHeadConflict(err.Error()) {
		t.Errorf("a head stamped before the anchored one: %v; want %v, marked, no conflict", err, ErrHeadStale)
	}
	for _, ok := range [][2]int64{{7000, 8000}, {8000 + skew, 8000}} {
		if err := anchor(ok[0], ok[1]); err != nil {
			t.Errorf("a head stamped %d in a transaction of %d: %v", ok[0], ok[1], err)
		}
	}
	if err := anchor(8001+skew, 8000); !errors.Is(err, ErrHeadFromFuture) {
		t.Errorf("a head stamped %s and 1 ms after the transaction: %v; want %v", MaxClockSkew, err, ErrHeadFromFuture)
	}
}

// TestEmptyHeads: a head of size 0 must have the empty tree's root; an
// anchored one keeps its stamp against the next head, and its repeat
// writes nothing.
func TestEmptyHeads(t *testing.T) {
	priv, keys := testSigner(t, 0)
	e := &Election{ID: "e1", States: []string{"CA"}}
	_, log := testLogVotes(t, 4)
	empty := signedHeadAt(t, priv, log, 0, 7000)
	if err := empty.Verify(keys); err != nil {
		t.Fatalf("a head of the empty log: %v", err)
	}
	bad := empty
	bad.Root = HashHex([32]byte{1})
	if bad, _ = bad.Sign(priv); !errors.Is(bad.Verify(keys), ErrBadHead) {
		t.Errorf("a head of size 0 with another root: %v; want %v", bad.Verify(keys), ErrBadHead)
	}
	if _, err := (LogAnchor{Head: bad}).Check(e, keys, TreeHead{}, 7000); err == nil {
		t.Error("a head of size 0 with another root was anchored")
	}
	if ok, err := (LogAnchor{Head: empty}).Check(e, keys, TreeHead{}, 7000); !ok || err != nil {
		t.Fatalf("the first head, empty: %v, %v", ok, err)
	}
	if ok, err := (LogAnchor{Head: signedHeadAt(t, priv, log, 0, 8000)}).Check(e, keys, empty, 8000); ok || err != nil {
		t.Errorf("a repeat of the anchored empty head: %v, %v; want no change, no error", ok, err)
	}
	if _, err := (LogAnchor{Head: signedHeadAt(t, priv, log, 4, 6999)}).Check(e, keys, empty, 8000); !errors.Is(err, ErrHeadStale) {
		t.Errorf("a head stamped before the anchored empty head: %v; want %v", err, ErrHeadStale)
	}
}

func TestUnaccounted(t *testing.T) {
	h := AnchoredHead{Head: TreeHead{Size: 10}}
	for _, c := range []struct{ counted, rejected, want uint64 }{{6, 1, 3}, {9, 1, 0}, {12, 0, 0}, {0, 0, 10}} {
		if got := h.Unaccounted(StateResult{Counted: c.counted, Rejected: c.rejected}); got != c.want {
			t.Errorf("%d counted, %d rejected under a head of 10: %d unaccounted, want %d", c.counted, c.rejected, got, c.want)
		}
	}
}

// TestAnchorHeads: an AnchorLogHeads argument gives the records of the
// heads that move their state's anchored head, stamped with the
// transaction; a repeat writes nothing; two heads of a state, a failing
// head or no head refuse the whole transaction.
func TestAnchorHeads(t *testing.T) {
	priv, keys := testSigner(t, 0)
	e := &Election{ID: "e1", States: []string{"CA", "NY"}}
	_, log := testLogVotes(t, 9)
	h4, h9 := signedHead(t, priv, log, 4), signedHead(t, priv, log, 9)
	proof, _ := log.ConsistencyProof(4, 9)
	anchored := map[string]AnchoredHead{"CA": {Head: h4, TxID: "t0", AnchoredAt: 10}}
	prev := func(st string) (AnchoredHead, error) { return anchored[st], nil }
	next := LogAnchor{Head: h9, Consistency: HexHashes(proof)}

	got, err := LogAnchorsInput{Heads: []LogAnchor{next}}.Anchor(e, keys, prev, "t1", 20)
	if want := []AnchoredHead{{Head: h9, TxID: "t1", AnchoredAt: 20}}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("extending head: %+v, %v; want %+v", got, err, want)
	}
	if got, err := (LogAnchorsInput{Heads: []LogAnchor{{Head: h4}}}).Anchor(e, keys, prev, "t1", 20); err != nil || len(got) != 0 {
		t.Fatalf("repeat of the anchored head: %+v, %v; want nothing written", got, err)
	}
	for name, in := range map[string]LogAnchorsInput{
		"no head":               {},
		"two heads of a state":  {Heads: []LogAnchor{next, next}},
		"a head without proof":  {Heads: []LogAnchor{{Head: h9}}},
		"a head of no state":    {Heads: []LogAnchor{{Head: TreeHead{Election: "e1", State: "TX"}}}},
		"one good, one failing": {Heads: []LogAnchor{next, {Head: h4}}},
	} {
		if got, err := in.Anchor(e, keys, prev, "t1", 20); err == nil {
			t.Errorf("%s: anchored %+v", name, got)
		}
	}
	failing := errors.New("store down")
	if _, err := (LogAnchorsInput{Heads: []LogAnchor{next}}).Anchor(e, keys, func(string) (AnchoredHead, error) { return AnchoredHead{}, failing }, "t1", 20); !errors.Is(err, failing) {
		t.Errorf("a failing read of the anchored head: %v", err)
	}
}

func TestParseLogHeadKey(t *testing.T) {
	if st, ok := ParseLogHeadKey(LogHeadKey("CA")); !ok || st != "CA" {
		t.Fatalf("ParseLogHeadKey(LogHeadKey(CA)) = %q, %v", st, ok)
	}
	for _, key := range []string{LogKeysKey, BatchKey("CA", 1), NullifierKey("CA", strings.Repeat("ab", 32)), RollChunkKey(0),
		"\x00loghead\x00\x00", "\x00loghead\x00CA\x00x\x00", "\x00loghead\x00CA"} {
		if st, ok := ParseLogHeadKey(key); ok {
			t.Errorf("%q parsed as the head key of %q", key, st)
		}
	}
	key := BatchKey("CA", 1)
	if n := testing.AllocsPerRun(100, func() { ParseLogHeadKey(key) }); n != 0 {
		t.Errorf("ParseLogHeadKey allocates %.0f times", n)
	}
}

// The clock advice names both bounds, MaxClockSkew's value included, and
// the fix, in one sentence a caller can end or continue.
func TestClockSkewAdvice(t *testing.T) {
	advice := ClockSkewAdvice()
	for _, says := range []string{MaxClockSkew.String(), "max_skew", "peer.authentication.timewindow", "`chronyc tracking` or `timedatectl`", "sudo timedatectl set-ntp true"} {
		if !strings.Contains(advice, says) {
			t.Errorf("the advice does not say %q: %s", says, advice)
		}
	}
	if first := advice[:1]; first != strings.ToUpper(first) || strings.HasSuffix(advice, ".") || strings.Contains(advice, ". ") {
		t.Errorf("want one sentence, capitalised, without its final period: %q", advice)
	}
}
