package verify

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/logmonitor"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/network/fabricclient"
)

// signedAcceptances returns the acceptance receipts of a 3-entry log signed
// by key.
func signedAcceptances(t *testing.T, key ed25519.PrivateKey) []ballot.Acceptance {
	t.Helper()
	votes := caVotes(3, 0)
	tree := logOf(votes)
	var out []ballot.Acceptance
	for i := range votes {
		out = append(out, acceptanceOf(t, tree, votes, uint64(i), 3, key))
	}
	return out
}

// caVotes returns n votes of CA cast at 1 (Unix ms), their nullifiers
// those of voters first, first+1, …
func caVotes(n int, first byte) []ballot.Vote {
	var votes []ballot.Vote
	for i := range n {
		id, _ := ballot.NewVoteID()
		votes = append(votes, ballot.Vote{ID: id, State: "CA", Contest: "president", Nullifier: ballot.HashHex(ballot.NullifierOf([32]byte{first + byte(i)}, "president")), Choice: "alice", CastAt: 1})
	}
	return votes
}

// logOf returns the log whose entries are votes.
func logOf(votes []ballot.Vote) *ballot.LogTree {
	var tree ballot.LogTree
	for _, v := range votes {
		leaf, _ := v.Leaf()
		tree.Append(leaf)
	}
	return &tree
}

// acceptanceOf returns the acceptance receipt of entry i of tree (whose
// entries are votes) under the head of its first size entries, signed by
// key.
func acceptanceOf(t *testing.T, tree *ballot.LogTree, votes []ballot.Vote, i, size uint64, key ed25519.PrivateKey) ballot.Acceptance {
	t.Helper()
	root, _ := tree.Root(size)
	h, err := ballot.TreeHead{Election: "e", State: "CA", Size: size, Root: ballot.HashHex(root), Timestamp: 1}.Sign(key)
	if err != nil {
		t.Fatal(err)
	}
	proof, _ := tree.InclusionProof(i, size)
	leaf, _ := tree.Leaf(i)
	return ballot.Acceptance{VoteID: votes[i].ID, Vote: votes[i], Index: i, Leaf: ballot.HashHex(leaf), Proof: ballot.HexHashes(proof), Head: h}
}

// Offline, with a key file of public keys: genuine receipts are VALID; an
// altered one and one signed by a key not in the file FAIL with the reason.
func TestAcceptanceOffline(t *testing.T) {
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key.Public().(ed25519.PublicKey))+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	keys, err := ReadKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	as := signedAcceptances(t, key)
	altered := as[1]
	altered.Vote.Choice = "bob"
	rogue := signedAcceptances(t, ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32)))[0]
	var out bytes.Buffer
	tally, err := CheckAcceptances(context.Background(), &out, append(as, altered, rogue), keys, nil, nil, time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if tally.ok != 3 || tally.fail != 2 || tally.Verdict() != Failed {
		t.Fatalf("tally %+v:\n%s", tally, out.String())
	}
	text := out.String()
	for _, want := range []string{"FAIL " + altered.VoteID + ": ballot: acceptance receipt does not hold together", "FAIL " + rogue.VoteID + ": ballot: tree head signed by a key not registered", "VALID " + as[0].VoteID + ": accepted as entry 0 of the CA log of election e under a head of 3 entries"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "damaged") {
		t.Errorf("a receipt with a good vote id is said to be damaged:\n%s", text)
	}
}

// TestAcceptanceSummaryOfItsMode: checked offline (no ledger), which
// compares no heads, acceptance receipts give a summary of the two
// outcomes offline gives, "N receipts: a valid, b failed", as the VALID
// and FAIL lines count them, one a receipt, and none of the counts that
// are always 0 offline (forked, bad proof, missing, pending, unchecked).
// Against the ledger without the gateway's proofs, which compares no
// heads, the summary counts good, failed, missing and pending, not forked,
// bad proof or unchecked (always 0 there); with them it counts every
// outcome. (cmd/verify's TestAcceptanceOfflineRun runs the command.)
func TestAcceptanceSummaryOfItsMode(t *testing.T) {
	key, keys := registeredKey(t)
	as := signedAcceptances(t, key)
	altered := as[1]
	altered.Vote.Choice = "bob"
	var out strings.Builder
	tally, err := CheckAcceptances(context.Background(), &out, append(slices.Clone(as), altered), keys, nil, nil, time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := AcceptanceSummary(tally, true, false), "4 receipts: 3 valid, 1 failed"; tally.Verdict() != Failed || got != want {
		t.Errorf("offline: verdict %v, summary %q; want Failed and %q:\n%s", tally.Verdict(), got, want, out.String())
	}
	labels := map[string]int{}
	for _, line := range strings.SplitAfter(strings.TrimSuffix(out.String(), "\n"), "\n") {
		label, _, _ := strings.Cut(line, " ")
		labels[label]++
	}
	if want := map[string]int{"VALID": 3, "FAIL": 1}; !maps.Equal(labels, want) {
		t.Errorf("offline: lines labelled %v; want %v, one a receipt:\n%s", labels, want, out.String())
	}

	tally, err = CheckAcceptances(context.Background(), io.Discard, as, keys, pendingLedger{}, nil, time.Minute, time.UnixMilli(1))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := AcceptanceSummary(tally, false, false), "3 receipts: 0 good, 0 failed, 0 missing, 3 pending"; got != want {
		t.Errorf("against the ledger, no heads compared: summary %q; want %q", got, want)
	}
	if got, want := AcceptanceSummary(tally, false, true), "3 receipts: 0 good, 0 failed, 0 forked, 0 bad proof, 0 missing, 3 pending, 0 unchecked"; got != want {
		t.Errorf("against the ledger, the heads compared (--gateway): summary %q; want %q", got, want)
	}
}

// TestSplitAcceptances: of the values read, those that are not acceptance
// receipts (a saved error answer, an array) FAIL, each on its line in the
// order read, named by where it was read and saying where to get one; the
// receipts are returned in order, and the outcomes count the others
// failed, so that added to the receipts' (Plus) the summary counts every
// value read.
func TestSplitAcceptances(t *testing.T) {
	key, keys := registeredKey(t)
	as := signedAcceptances(t, key)
	var in strings.Builder
	for i, a := range as[:2] {
		line, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		in.Write(append(line, '\n'))
		if i == 0 {
			in.WriteString(`{"error":{"code":"no_vote","message":"no vote"}}` + "\n[]\n")
		}
	}
	read, err := ReadJSON[ballot.Acceptance](strings.NewReader(in.String()), "saved.json", "acceptance receipt", true)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	got, notAcceptances := SplitAcceptances(&out, read)
	if len(got) != 2 || got[0].VoteID != as[0].VoteID || got[1].VoteID != as[1].VoteID || notAcceptances != (Outcomes{fail: 2}) {
		t.Fatalf("%d receipts, outcomes %+v; want the 2 receipts in order and 2 failed", len(got), notAcceptances)
	}
	const route = "; one is the body of the gateway's GET /api/v1/votes/{vote_id}/acceptance\n"
	want := "FAIL saved.json: acceptance receipt 2: not an acceptance receipt: it is an error answer (no_vote: no vote), saved from a request that failed" + route +
		"FAIL saved.json: acceptance receipt 3: not an acceptance receipt: it is a JSON array; a file holds one acceptance receipt object, or one per line (jq -c '.[]' splits an array)" + route
	if out.String() != want {
		t.Errorf("printed:\n%s\nwant:\n%s", out.String(), want)
	}
	tally, err := CheckAcceptances(context.Background(), io.Discard, got, keys, nil, nil, time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if summary, want := AcceptanceSummary(tally.Plus(notAcceptances), true, false), "4 receipts: 2 valid, 2 failed"; summary != want {
		t.Errorf("summary %q; want %q", summary, want)
	}
}

// TestKeysFileWithNoKey: a --keys file that holds no key (empty, blank,
// an empty record) is refused naming the file and what it must hold, not
// as a registration of "1..64 log keys".
func TestKeysFileWithNoKey(t *testing.T) {
	for _, data := range []string{"", "\n \n", `{"keys":[]}`} {
		path := writeFile(t, data)
		_, err := ReadKeys(path)
		if err == nil || !strings.Contains(err.Error(), path+" holds no log key: want the ledger's GetLogKeys record") {
			t.Errorf("keys file %q: %v; want it to hold no log key", data, err)
		}
	}
}

// pendingLedger is election e in progress with no batch committed: every
// acceptance receipt that verifies is PENDING within the deadline.
type pendingLedger struct{ StandingLedger }

func (pendingLedger) Election(context.Context) (*ballot.Election, error) {
	return &ballot.Election{ID: "e", Status: ballot.StatusConfigured}, nil
}

func (pendingLedger) BatchesFrom(context.Context, string, string, func(ballot.BatchRecord) error) (string, error) {
	return "", nil
}

// TestAcceptanceMalformedVoteID: an acceptance receipt whose vote id is not
// one FAILs, offline and against a ledger where it would be PENDING, and
// so does one that also has a head signed by an unknown key, the FAIL line
// saying where to get a good receipt (the library's reason alone said
// nothing to do); the genuine receipt is PENDING.
func TestAcceptanceMalformedVoteID(t *testing.T) {
	key, keys := registeredKey(t)
	genuine := signedAcceptances(t, key)[0]
	rogue := signedAcceptances(t, ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32)))[0]
	cases := []struct {
		name   string
		a      func() ballot.Acceptance
		reason string
	}{
		{"receipt's vote id short", func() ballot.Acceptance { a := genuine; a.VoteID = a.VoteID[:31]; return a }, "is not the receipt's"},
		{"receipt's vote id upper-case", func() ballot.Acceptance { a := genuine; a.VoteID = strings.ToUpper(a.VoteID); return a }, "is not the receipt's"},
		{"both vote ids not hex", func() ballot.Acceptance { a := genuine; a.VoteID = "g" + a.VoteID[1:]; a.Vote.ID = a.VoteID; return a }, "is not 32 lowercase hex characters"},
		{"malformed and signed by an unknown key", func() ballot.Acceptance { a := rogue; a.VoteID += "0"; a.Vote.ID = a.VoteID; return a }, "is not 32 lowercase hex characters"},
	}
	for _, ledger := range []StandingLedger{nil, pendingLedger{}} {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s, ledger %t", c.name, ledger != nil), func(t *testing.T) {
				var out bytes.Buffer
				tally, err := CheckAcceptances(context.Background(), &out, []ballot.Acceptance{c.a(), genuine}, keys, ledger, nil, time.Minute, time.UnixMilli(1))
				if err != nil || tally.fail != 1 || tally.Verdict() != Failed || !strings.HasPrefix(out.String(), "FAIL ") || !strings.Contains(out.String(), c.reason) {
					t.Fatalf("tally %+v, %v; want 1 FAIL mentioning %q:\n%s", tally, err, c.reason, out.String())
				}
				fail, _, _ := strings.Cut(out.String(), "\n")
				if want := "; the file is damaged or is not an acceptance receipt: fetch the vote's again from the gateway, GET /api/v1/votes/{vote_id}/acceptance?state=STATE&index=N"; !strings.Contains(fail, want) {
					t.Errorf("the FAIL line does not say what to do (%q):\n%s", want, fail)
				}
				if ledger != nil && tally.pending != 1 {
					t.Errorf("the genuine receipt is not PENDING:\n%s", out.String())
				}
			})
		}
	}
}

// anchoredLedger is pendingLedger whose CA log has the anchored head head.
type anchoredLedger struct {
	pendingLedger
	head ballot.AnchoredHead
}

func (l anchoredLedger) LogHead(context.Context, string) (ballot.AnchoredHead, error) {
	return l.head, nil
}

// registeredKey returns a log signing key and the record registering it.
func registeredKey(t *testing.T) (ed25519.PrivateKey, ballot.LogKeys) {
	t.Helper()
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	keys, _, err := ballot.LogKeys{}.Register([]ballot.LogKey{ballot.NewLogKey(key.Public().(ed25519.PublicKey))}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return key, keys
}

// anchoredLog returns n (at least 5) votes of CA, their log and a ledger
// whose anchored CA head, signed by key in tx "anchor", is that of the
// log's first 5 entries.
func anchoredLog(t *testing.T, n int, key ed25519.PrivateKey) ([]ballot.Vote, *ballot.LogTree, anchoredLedger) {
	t.Helper()
	votes := caVotes(n, 0)
	log := logOf(votes)
	return votes, log, anchoredLedger{head: ballot.AnchoredHead{Head: acceptanceOf(t, log, votes, 0, 5, key).Head, TxID: "anchor"}}
}

// logProofs serves the consistency proofs of a log, counting them.
type logProofs struct {
	tree  *ballot.LogTree
	asked int
}

func (p *logProofs) Consistency(_ context.Context, _ string, first, second uint64) ([][32]byte, error) {
	p.asked++
	return p.tree.ConsistencyProof(first, second)
}

// TestAcceptanceForkedHead: with consistency proofs (--gateway), a
// receipt whose signed head is of the log anchored on the ledger, before,
// at or after the anchored head, stands as its vote does (PENDING here); one
// whose head, signed by the same registered key, is of another log (a
// fork: another third entry) fails: FORK when of the anchored head's size
// (the two heads prove it), BAD-PROOF when smaller (only the gateway's
// proof, which did not verify, says so), each line saying which; a proof
// is asked once a head. Without proofs the heads are not compared.
func TestAcceptanceForkedHead(t *testing.T) {
	key, keys := registeredKey(t)
	votes, log, ledger := anchoredLog(t, 6, key) // the gateway's log: 6 entries, 5 under the anchored head
	forkVotes := append(append(slices.Clone(votes[:2]), caVotes(1, 100)...), votes[3:5]...)
	fork := logOf(forkVotes)
	of := []ballot.Acceptance{
		acceptanceOf(t, log, votes, 1, 3, key),
		acceptanceOf(t, log, votes, 0, 5, key),
		acceptanceOf(t, log, votes, 5, 6, key),
	}
	forked := []ballot.Acceptance{
		acceptanceOf(t, fork, forkVotes, 2, 3, key),
		acceptanceOf(t, fork, forkVotes, 2, 5, key),
	}
	receipts := append(append(slices.Clone(of), forked...), of[0], forked[0]) // the last two: heads checked before

	proofs := &logProofs{tree: log}
	var out bytes.Buffer
	tally, err := CheckAcceptances(context.Background(), &out, receipts, keys, ledger, proofs, time.Minute, time.UnixMilli(1))
	if want := (Outcomes{pending: 4, fork: 1, badProof: 2}); err != nil || tally != want || tally.Verdict() != Failed {
		t.Fatalf("tally %+v, %v; want %+v, the 4 receipts of the anchored log PENDING and the 3 of the fork failed:\n%s", tally, err, want, out.String())
	}
	for _, want := range []string{
		"BAD-PROOF " + forked[0].VoteID + ": its head of the CA log (3 entries, signed by key " + forked[0].Head.KeyID + " at 1970-01-01T00:00:00Z) is not shown to be of the log anchored on the ledger (5 entries, tx anchor…): " +
			"the gateway's consistency proof between them did not verify: logmonitor: the log is inconsistent with a signed head: CA log of size 5 does not extend the one of size 3: ballot: consistency proof does not match the two roots: from 3 to 5; " +
			"either the signer showed the voter another log (a fork) or the gateway serves a bad proof for heads of one log, and either way it cannot show its log is append-only; a proof that verifies, from another gateway of this election (--gateway), clears the head, and none exists for a fork\n",
		"FORK " + forked[1].VoteID + ": its head of the CA log (5 entries, signed by key " + forked[1].Head.KeyID + " at 1970-01-01T00:00:00Z) is not of the log anchored on the ledger (5 entries, tx anchor…): " +
			"two signed heads of one size with different roots prove it, the signer showed the voter another log: logmonitor: the log is inconsistent with a signed head: CA log of size 5 does not extend the one of size 5: ballot: consistency proof does not match the two roots: two roots ",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	for _, a := range of {
		if !strings.Contains(out.String(), "PENDING "+a.VoteID) {
			t.Errorf("the receipt under the head of %d entries of the anchored log is not PENDING:\n%s", a.Head.Size, out.String())
		}
	}
	if proofs.asked != 3 {
		t.Errorf("%d consistency proofs asked; want 3 (heads of 3 and 6 entries, the fork's of 3)", proofs.asked)
	}

	out.Reset()
	if tally, err := CheckAcceptances(context.Background(), &out, receipts, keys, ledger, nil, time.Minute, time.UnixMilli(1)); err != nil || tally.pending != len(receipts) {
		t.Errorf("without proofs: tally %+v, %v; want every receipt PENDING, the heads not compared:\n%s", tally, err, out.String())
	}
}

// failingProofs is logProofs whose gateway answers an error to every
// proof to or from size failing, as one lagging or of another log would.
type failingProofs struct {
	*logProofs
	failing uint64
}

func (p failingProofs) Consistency(ctx context.Context, state string, first, second uint64) ([][32]byte, error) {
	if first == p.failing || second == p.failing {
		p.asked++
		return nil, fmt.Errorf("gateway answered 400 Bad Request to /api/v1/log/%s/consistency: the log has fewer entries", state)
	}
	return p.logProofs.Consistency(ctx, state, first, second)
}

// TestAcceptanceProofNotGiven: a head the gateway gives no consistency
// proof for leaves its receipts UNCHECKED (their vote's standing, the
// gateway's answer and the fix on the line), the proof asked once for the
// head however many receipts carry it; the receipts after them are still
// checked (one PENDING, a fork FORK), and the run's status is 1: the
// fork is a failure whatever the run could not check.
func TestAcceptanceProofNotGiven(t *testing.T) {
	key, keys := registeredKey(t)
	votes, log, ledger := anchoredLog(t, 6, key)
	forkVotes := append(slices.Clone(votes[:4]), caVotes(1, 100)...)
	unproved := []ballot.Acceptance{acceptanceOf(t, log, votes, 0, 3, key), acceptanceOf(t, log, votes, 2, 3, key)}
	pending := acceptanceOf(t, log, votes, 5, 6, key)
	forked := acceptanceOf(t, logOf(forkVotes), forkVotes, 4, 5, key)
	proofs := failingProofs{logProofs: &logProofs{tree: log}, failing: 3}

	var out bytes.Buffer
	tally, err := CheckAcceptances(context.Background(), &out, append(unproved, pending, forked), keys, ledger, proofs, time.Minute, time.UnixMilli(1))
	if err != nil || tally.unchecked != 2 || tally.pending != 1 || tally.fork != 1 || tally.Verdict() != Failed {
		t.Fatalf("tally %+v, %v; want 2 UNCHECKED, 1 PENDING, 1 FORK and status 1:\n%s", tally, err, out.String())
	}
	for _, a := range unproved {
		want := "UNCHECKED " + a.VoteID + ": its vote stands pending on the ledger; its head of the CA log (3 entries, signed by key " + a.Head.KeyID +
			") against the one anchored on the ledger (5 entries, tx anchor…): no verdict: consistency proof of the CA log from 3 to 5: gateway answered 400 Bad Request" +
			" to /api/v1/log/CA/consistency: the log has fewer entries; run verify again later, or check that --gateway is the URL of a running gateway of this election\n"
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	for _, want := range []string{"PENDING " + pending.VoteID + ": accepted", "FORK " + forked.VoteID + ": its head of the CA log (5 entries,"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if proofs.asked != 2 {
		t.Errorf("%d consistency proofs asked; want 2 (the head of 3 entries once, though 2 receipts carry it; that of 6)", proofs.asked)
	}
}

// headProofs is a gateway's consistency proofs and its own latest head.
type headProofs struct {
	*logProofs
	head ballot.TreeHead
}

func (p headProofs) Head(context.Context, string) (ballot.TreeHead, error) { return p.head, nil }

// TestAcceptanceProofOfAnotherLog: a consistency proof that does not
// verify judges the heads only if the gateway that gave it serves this
// election's log. A receipt of the anchored log, given a proof of another
// log (a wrong --gateway), is UNCHECKED saying why when that gateway's own
// head is signed by no registered key, or (signed by one) of another
// election, not BAD-PROOF; from a gateway whose head is this election's,
// signed by a registered key, the proof stands: BAD-PROOF, a failure (not
// FORK: the heads are of two sizes, and only the proof finds them apart).
func TestAcceptanceProofOfAnotherLog(t *testing.T) {
	key, keys := registeredKey(t)
	votes, log, ledger := anchoredLog(t, 6, key)
	a := acceptanceOf(t, log, votes, 5, 6, key)
	other := logOf(caVotes(6, 200))
	stranger := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	for name, c := range map[string]struct {
		head     ballot.TreeHead
		want     string
		badProof bool
	}{
		"another election's gateway": {signedAs(t, a.Head, "f", key), `UNCHECKED ` + a.VoteID + `: its vote stands pending on the ledger; its head of the CA log (6 entries, signed by key ` + a.Head.KeyID +
			`) against the one anchored on the ledger (5 entries, tx anchor…): no verdict: its consistency proof did not verify, and the gateway that gave it serves the CA log of election "f", not of this election "e": give --gateway a gateway of this election`, false},
		"a gateway signing with a key not registered":       {signedAs(t, a.Head, "e", stranger), "the gateway that gave it signs its CA head with no key registered for this election", false},
		"another election named under a key not registered": {signedAs(t, a.Head, "f", stranger), "the gateway that gave it signs its CA head with no key registered for this election", false},
		"a gateway of this election":                        {a.Head, "BAD-PROOF " + a.VoteID + ": its head of the CA log (6 entries,", true},
	} {
		var out bytes.Buffer
		proofs := headProofs{logProofs: &logProofs{tree: other}, head: c.head}
		tally, err := CheckAcceptances(context.Background(), &out, []ballot.Acceptance{a}, keys, ledger, proofs, time.Minute, time.UnixMilli(1))
		if err != nil || (tally.badProof == 1) != c.badProof || (tally.unchecked == 1) == c.badProof || tally.total() != 1 || !strings.Contains(out.String(), c.want) {
			t.Errorf("%s: tally %+v, %v; want BAD-PROOF %v and the line %q:\n%s", name, tally, err, c.badProof, c.want, out.String())
		}
	}
}

// signedAs returns h signed by key as a head of election.
func signedAs(t *testing.T, h ballot.TreeHead, election string, key ed25519.PrivateKey) ballot.TreeHead {
	t.Helper()
	h.Election = election
	h, err := h.Sign(key)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestAcceptanceOtherElection: a receipt whose head is of election f,
// signed by a log key election e registered too, checked against e's
// ledger FAILs naming both elections and where to check it, with or
// without the gateway's proofs: not FORK (its log is f's, not a fork of
// e's), not PENDING (e's ledger will never hold it), no proof asked for
// it. The receipt of e beside it is PENDING.
func TestAcceptanceOtherElection(t *testing.T) {
	key, keys := registeredKey(t)
	votes, log, ledger := anchoredLog(t, 5, key)
	ofE := acceptanceOf(t, log, votes, 1, 3, key)
	ofF := acceptanceOf(t, log, votes, 2, 3, key)
	ofF.Head = signedAs(t, ofF.Head, "f", key)
	if err := ofF.Verify(keys); err != nil {
		t.Fatalf("the receipt of f does not verify with the key e registered: %v", err)
	}
	for _, proofs := range []*logProofs{nil, {tree: log}} {
		var given logmonitor.Proofs
		if proofs != nil {
			given = proofs
		}
		var out bytes.Buffer
		tally, err := CheckAcceptances(context.Background(), &out, []ballot.Acceptance{ofF, ofE}, keys, ledger, given, time.Minute, time.UnixMilli(1))
		if err != nil || tally.fail != 1 || tally.pending != 1 || tally.Verdict() != Failed {
			t.Fatalf("proofs %t: tally %+v, %v; want the receipt of f failed, that of e PENDING:\n%s", proofs != nil, tally, err, out.String())
		}
		want := "FAIL " + ofF.VoteID + `: a receipt of election "f" (its signed head says so), and this ledger is election "e"'s: it holds neither the receipt's vote nor its log, so the receipt cannot be checked here; check it against election "f"'s ledger (--profile of that election's network)` + "\n"
		if !strings.Contains(out.String(), want) || strings.Contains(out.String(), "FORK") {
			t.Errorf("proofs %t: output lacks %q, or has FORK:\n%s", proofs != nil, want, out.String())
		}
		if proofs != nil && proofs.asked != 1 {
			t.Errorf("%d consistency proofs asked; want 1, for the receipt of e", proofs.asked)
		}
	}
}

// TestAcceptanceAnchoredNotSigned: an anchored head that is not a validly
// signed head of its state's log in the ledger's election (signed by a key
// not registered, a signature that does not verify, a malformed root, a
// head of another state or of another election) is no evidence against
// the log's signer: a receipt of its state FAILs (status 1), not FORK,
// and no proof is asked for it. A head that does not verify is one the
// ledger should never hold (anchoredUnsound); one of another election (a
// record set up again by an older chaincode after the head was anchored,
// or another ledger's head: it was UNCHECKED, status 2, run after run) or
// state says itself what it may be, as --log does.
func TestAcceptanceAnchoredNotSigned(t *testing.T) {
	key, keys := registeredKey(t)
	votes, log, ledger := anchoredLog(t, 5, key)
	a := acceptanceOf(t, log, votes, 1, 5, key)
	forkVotes := append(slices.Clone(votes[:4]), caVotes(1, 100)...)
	madeUp := acceptanceOf(t, logOf(forkVotes), forkVotes, 0, 5, key).Head // a root the signer never signed for this log
	stranger := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	const unsound, otherPeer = "; " + anchoredUnsound + "; " + checkOtherPeer + "\n", "a failure), so the receipt's head is not compared with it, and this is no fork of the log's signer; " + checkOtherPeer + "\n"
	for name, c := range map[string]struct {
		head   ballot.TreeHead
		reason error
		means  string // what the line ends with
	}{
		"signed by a key not registered":   {signedAs(t, madeUp, "e", stranger), ballot.ErrUnknownLogKey, unsound},
		"a signature that does not verify": {badlySigned(madeUp), ballot.ErrBadSignature, unsound},
		"a malformed root":                 {func() ballot.TreeHead { h := madeUp; h.Root = "not a root"; return h }(), ballot.ErrBadHead, unsound},
		"a head of another state": {func() ballot.TreeHead { h := a.Head; h.State = "NY"; return signedAs(t, h, "e", key) }(), logmonitor.ErrForeignHead,
			`: it names election "e", state "NY"; the ledger's election is "e": a head of another state: ` + "the ledger keeps each state's head under that state (ballot.LogHeadKey) and the chaincode anchors none of another state there, so the peer read serves a record the ledger's rules do not write, and this ledger's CA log cannot be checked against its anchor, " + otherPeer},
		"a head of another election": {signedAs(t, a.Head, "old", key), logmonitor.ErrForeignHead,
			`: it names election "old", state "CA"; the ledger's election is "e": a head of another election: either a chaincode older than today's set the election up again after the head was anchored ` +
				"(today's refuses a set-up once a head is anchored, ballot.CheckSetUpAnchored; the explorer's audit flags such a set-up), or the peer read serves another ledger's head; either way this ledger's CA log cannot be checked against its anchor, " + otherPeer},
	} {
		t.Run(name, func(t *testing.T) {
			forged := ledger
			forged.head.Head = c.head
			proofs := &logProofs{tree: log}
			var out bytes.Buffer
			tally, err := CheckAcceptances(context.Background(), &out, []ballot.Acceptance{a}, keys, forged, proofs, time.Minute, time.UnixMilli(1))
			if err != nil || tally != (Outcomes{fail: 1}) || tally.Verdict() != Failed {
				t.Fatalf("tally %+v, %v; want the receipt FAILed:\n%s", tally, err, out.String())
			}
			want := "FAIL " + a.VoteID + ": the ledger served an anchored CA head (tx anchor…) that is not a validly signed head of this election's CA log (" + c.reason.Error()
			if !strings.HasPrefix(out.String(), want) || !strings.HasSuffix(out.String(), c.means) {
				t.Errorf("the line does not start %q and end with what it means, %q:\n%s", want, c.means, out.String())
			}
			if proofs.asked != 0 {
				t.Errorf("%d consistency proofs asked; want none", proofs.asked)
			}
		})
	}
}

// headlessLedger is a finalised election whose state CA has no log head
// (no gateway accepted a vote there) and one committed batch of votes,
// those of rejected rejected with reasons (none if nil).
type headlessLedger struct {
	StandingLedger
	batch    ballot.Batch
	rejected []int
	reasons  []string
}

func (headlessLedger) Election(context.Context) (*ballot.Election, error) {
	return &ballot.Election{ID: "e", States: []string{"CA"}, Status: ballot.StatusFinalised}, nil
}

func (headlessLedger) LogKeys(context.Context) (ballot.LogKeys, error) { return ballot.LogKeys{}, nil }

func (headlessLedger) LogHead(context.Context, string) (ballot.AnchoredHead, error) {
	return ballot.AnchoredHead{}, ballot.ErrNotFound
}

func (l headlessLedger) BatchesFrom(_ context.Context, _, _ string, fn func(ballot.BatchRecord) error) (string, error) {
	rejected, reasons := l.rejected, l.reasons
	if rejected == nil {
		rejected, reasons = []int{}, []string{}
	}
	return "", fn(ballot.BatchRecord{State: "CA", Seq: 1, Votes: len(l.batch.Votes), Root: l.batch.Root, TxID: "tx1", Rejected: rejected, Reasons: reasons})
}

func (l headlessLedger) CommittedBatch(context.Context, string, string, uint64) (ballot.Batch, error) {
	return l.batch, nil
}

// TestLogCheckHeadlessStateUnlogged: votes the ledger counts for a state
// whose log has no head (none accepted there by a gateway) are UNLOGGED in
// a finalised election, listed under the state's "no head" line, and fail
// the check.
func TestLogCheckHeadlessStateUnlogged(t *testing.T) {
	var votes []ballot.Vote
	for i := range 2 {
		id, _ := ballot.NewVoteID()
		votes = append(votes, ballot.Vote{ID: id, State: "CA", Contest: "president", Nullifier: ballot.HashHex(ballot.NullifierOf([32]byte{byte(i)}, "president")), Choice: "alice", CastAt: 1})
	}
	b, err := ballot.BuildBatch("CA", 1, votes)
	if err != nil {
		t.Fatal(err)
	}
	m := &logmonitor.Monitor{Ledger: headlessLedger{batch: b}, Deadline: time.Minute}
	var out bytes.Buffer
	tally, err := monitorLog(context.Background(), &out, nil, m, nil, "Observers", nil)
	if err != nil || tally.Verdict() != Failed {
		t.Fatalf("verdict %v (%v); want Failed:\n%s", tally.Verdict(), err, out.String())
	}
	for _, want := range []string{"CA: no head anchored yet\n  2 UNLOGGED: votes the ledger counts that the CA log does not hold", "UNLOGGED batch CA/1, vote 0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestRecordMismatchFails: a batch record that does not describe its
// transaction's votes (its root not theirs: logmonitor.ErrRecordMismatch)
// is a finding that reading again does not clear, not a ledger that
// cannot be read: verify --log prints one FAIL line saying so (status 1;
// it was an error, status 2, "run again"), and --acceptance, with and
// without --gateway, FAILs each receipt of the state saying so (status 1;
// it stopped the run as a failed ledger read, status 2).
func TestRecordMismatchFails(t *testing.T) {
	key, keys := registeredKey(t)
	votes, log, anchored := anchoredLog(t, 5, key)
	batch, err := ballot.BuildBatch("CA", 1, votes)
	if err != nil {
		t.Fatal(err)
	}
	recorded := batch // the record's root is recorded.Root; the transaction's votes give batch.Root
	recorded.Root = ballot.HashHex([32]byte{1})
	mismatch := "read the CA batches: batch CA/1: " + logmonitor.ErrRecordMismatch.Error() + ": the ledger's record of batch CA/1 has root " + recorded.Root +
		", the votes of its transaction tx1 give " + batch.Root + "; " + recordMismatchMeans + "\n"

	code, out, err := runLogCheck(t, votes, headedLedger{headlessLedger: headlessLedger{batch: recorded}, head: anchored.head.Head, keys: keys}, nil)
	if want := "FAIL " + mismatch; code != Failed || out != want || err != nil {
		t.Errorf("--log: verdict %v, %v, stdout:\n%s\nwant Failed, no error and the one line %q", code, err, out, want)
	}

	receipts := []ballot.Acceptance{acceptanceOf(t, log, votes, 0, 5, key), acceptanceOf(t, log, votes, 3, 5, key)}
	for _, proofs := range []*logProofs{nil, {tree: log}} {
		var withProofs logmonitor.Proofs // a nil *logProofs is not a nil Proofs
		if proofs != nil {
			withProofs = proofs
		}
		var out bytes.Buffer
		tally, err := CheckAcceptances(context.Background(), &out, receipts, keys, placedLedger{anchoredLedger: anchored, batch: recorded}, withProofs, time.Minute, time.UnixMilli(1))
		want := ""
		for _, a := range receipts {
			want += "FAIL " + a.VoteID + ": where its vote stands cannot be read from this ledger: " + mismatch
		}
		if err != nil || tally != (Outcomes{fail: 2}) || tally.Verdict() != Failed || out.String() != want {
			t.Errorf("--acceptance, heads compared %t: tally %+v, %v, output:\n%s\nwant both receipts FAILed, status 1:\n%s", proofs != nil, tally, err, out.String(), want)
		}
	}
}

// headedLedger is an open election of one state, CA, whose log has the
// anchored head head, signed by a key of keys; with headErr set, the
// anchored head cannot be read.
type headedLedger struct {
	headlessLedger
	head    ballot.TreeHead
	keys    ballot.LogKeys
	headErr error
}

func (headedLedger) Election(context.Context) (*ballot.Election, error) {
	return &ballot.Election{ID: "e", States: []string{"CA"}, Status: ballot.StatusConfigured}, nil
}

func (l headedLedger) LogKeys(context.Context) (ballot.LogKeys, error) { return l.keys, nil }

func (l headedLedger) LogHead(context.Context, string) (ballot.AnchoredHead, error) {
	return ballot.AnchoredHead{Head: l.head, TxID: "tx0"}, l.headErr
}

// placedLedger is anchoredLedger whose CA votes are on the ledger in one
// batch: counted but for the indices of rejected, rejected with reasons.
type placedLedger struct {
	anchoredLedger
	batch    ballot.Batch
	rejected []int
	reasons  []string
}

func (l placedLedger) BatchesFrom(_ context.Context, _, _ string, fn func(ballot.BatchRecord) error) (string, error) {
	return "", fn(ballot.BatchRecord{State: "CA", Seq: 1, Votes: len(l.batch.Votes), Root: l.batch.Root, TxID: "tx1", Rejected: l.rejected, Reasons: l.reasons})
}

func (l placedLedger) CommittedBatch(context.Context, string, string, uint64) (ballot.Batch, error) {
	return l.batch, nil
}

// TestAcceptanceUncheckedStanding: receipts under a head the gateway
// gives no proof for are UNCHECKED with their vote's standing (counted,
// rejected with the reason, pending), but a MISSING vote does not rest on
// the heads' comparison: its receipt is MISSING, a failure (status 1),
// its line saying too that the fork check has no verdict and why; it
// counts as missing only, and in the cross-cut missingUnchecked. Without
// it the run is not complete, status 2.
func TestAcceptanceUncheckedStanding(t *testing.T) {
	f := newStandingLog(t)
	var receipts []ballot.Acceptance // under the head of 4 entries, which the gateway gives no proof for
	for i := range 4 {
		receipts = append(receipts, f.acceptance(t, uint64(i), 4))
	}
	keys, ledger, proofs, now := f.keys, f.ledger, f.proofs, f.now

	var out bytes.Buffer
	tally, err := CheckAcceptances(context.Background(), &out, receipts, keys, ledger, proofs, time.Minute, now)
	if want := (Outcomes{missing: 1, unchecked: 3, missingUnchecked: 1}); err != nil || tally != want || tally.Verdict() != Failed {
		t.Fatalf("tally %+v, %v; want %+v (1 missing under an unchecked head, 3 unchecked) and status 1:\n%s", tally, err, want, out.String())
	}
	head := "its head of the CA log (4 entries, signed by key " + receipts[0].Head.KeyID + ") against the one anchored on the ledger (5 entries, tx anchor…): no verdict: consistency proof of the CA log from 4 to 5: gateway answered 400 Bad Request" +
		" to /api/v1/log/CA/consistency: the log has fewer entries; run verify again later, or check that --gateway is the URL of a running gateway of this election\n"
	for _, want := range []string{
		"UNCHECKED " + receipts[0].VoteID + ": its vote stands counted on the ledger; " + head,
		"UNCHECKED " + receipts[1].VoteID + ": its vote stands rejected (unknown_choice) on the ledger; " + head,
		"MISSING " + receipts[2].VoteID + ": accepted (entry 2 of the CA log, cast 1970-01-01T00:00:00Z) under the head of 4 entries signed by key " + receipts[2].Head.KeyID +
			" at 1970-01-01T00:00:00Z, and not on the ledger 1m0s after; whether its head is a fork is UNCHECKED: " + head,
		"UNCHECKED " + receipts[3].VoteID + ": its vote stands pending on the ledger; " + head,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	notMissing := slices.Delete(slices.Clone(receipts), 2, 3)
	if tally, err := CheckAcceptances(context.Background(), &out, notMissing, keys, ledger, proofs, time.Minute, now); err != nil || tally.unchecked != 3 || tally.missing != 0 || tally.Verdict() != Unchecked {
		t.Errorf("without the MISSING receipt: tally %+v, %v; want 3 unchecked and status 2:\n%s", tally, err, out.String())
	}
}

// standingLog is a CA log of 6 votes, its heads signed by a registered
// key, and a ledger whose anchored head is that of its first 5 entries,
// where at now, with a deadline of a minute, vote 0 is counted, 1 rejected
// (unknown_choice), 3 pending (cast at now) and the others missing; the
// gateway's proofs give none to or from 4 entries.
type standingLog struct {
	key    ed25519.PrivateKey
	keys   ballot.LogKeys
	votes  []ballot.Vote
	log    *ballot.LogTree
	ledger placedLedger
	proofs failingProofs
	now    time.Time
}

func newStandingLog(t *testing.T) standingLog {
	t.Helper()
	f := standingLog{now: time.UnixMilli(1).Add(time.Hour), votes: caVotes(6, 0)}
	f.key, f.keys = registeredKey(t)
	f.votes[3].CastAt = f.now.UnixMilli() // within the deadline: pending
	f.log = logOf(f.votes)
	batch, err := ballot.BuildBatch("CA", 1, f.votes[:2])
	if err != nil {
		t.Fatal(err)
	}
	f.ledger = placedLedger{
		anchoredLedger: anchoredLedger{head: ballot.AnchoredHead{Head: f.acceptance(t, 0, 5).Head, TxID: "anchor"}},
		batch:          batch, rejected: []int{1}, reasons: []string{ballot.RejectUnknownChoice},
	}
	f.proofs = failingProofs{logProofs: &logProofs{tree: f.log}, failing: 4}
	return f
}

// acceptance is the receipt of entry i under the head of size entries.
func (f standingLog) acceptance(t *testing.T, i, size uint64) ballot.Acceptance {
	t.Helper()
	return acceptanceOf(t, f.log, f.votes, i, size, f.key)
}

// TestAcceptanceOutcomesPartition: whatever the mix of outcomes, each
// receipt counts in exactly one (a receipt with two findings, MISSING
// under a head with no verdict or FORK of a missing vote, in the one of
// more weight, the cross-cut shown apart), so the counts, and the
// summary's, add up to the receipts; the tally is that of the lines'
// labels, one line a receipt; the exit status is the rule's.
func TestAcceptanceOutcomesPartition(t *testing.T) {
	f := newStandingLog(t)
	forkVotes := append(append(slices.Clone(f.votes[:2]), caVotes(1, 100)...), f.votes[3:5]...) // its third vote missing
	fork := logOf(forkVotes)
	altered := f.acceptance(t, 0, 5)
	altered.Vote.Choice = "bob"
	kinds := map[string]ballot.Acceptance{
		"counted":           f.acceptance(t, 0, 5),
		"rejected":          f.acceptance(t, 1, 5),
		"missing":           f.acceptance(t, 2, 5),
		"pending":           f.acceptance(t, 3, 5),
		"unchecked":         f.acceptance(t, 0, 4),
		"unchecked missing": f.acceptance(t, 2, 4),
		"fork":              acceptanceOf(t, fork, forkVotes, 2, 5, f.key), // of the anchored head's size
		"bad proof":         acceptanceOf(t, fork, forkVotes, 2, 3, f.key),
		"failed":            altered,
	}
	labels := map[string]func(*Outcomes) *int{
		"COUNTED": func(o *Outcomes) *int { return &o.ok }, "REJECTED": func(o *Outcomes) *int { return &o.ok },
		"FAIL": func(o *Outcomes) *int { return &o.fail }, "FORK": func(o *Outcomes) *int { return &o.fork },
		"BAD-PROOF": func(o *Outcomes) *int { return &o.badProof }, "MISSING": func(o *Outcomes) *int { return &o.missing },
		"PENDING": func(o *Outcomes) *int { return &o.pending }, "UNCHECKED": func(o *Outcomes) *int { return &o.unchecked },
	}
	for _, c := range []struct {
		kinds []string
		want  Outcomes
		exit  Verdict
	}{
		{[]string{"counted", "rejected", "pending"}, Outcomes{ok: 2, pending: 1}, Pending},
		{[]string{"counted", "unchecked", "pending"}, Outcomes{ok: 1, unchecked: 1, pending: 1}, Unchecked},
		{[]string{"unchecked", "unchecked missing"}, Outcomes{unchecked: 1, missing: 1, missingUnchecked: 1}, Failed},
		{[]string{"unchecked missing", "unchecked missing", "missing"}, Outcomes{missing: 3, missingUnchecked: 2}, Failed},
		{[]string{"fork", "bad proof", "unchecked"}, Outcomes{fork: 1, badProof: 1, unchecked: 1}, Failed},
		{[]string{"failed", "missing", "pending", "unchecked"}, Outcomes{fail: 1, missing: 1, pending: 1, unchecked: 1}, Failed},
		{slices.Sorted(maps.Keys(kinds)), Outcomes{ok: 2, fail: 1, fork: 1, badProof: 1, missing: 2, missingUnchecked: 1, pending: 1, unchecked: 1}, Failed},
	} {
		t.Run(strings.Join(c.kinds, ", "), func(t *testing.T) {
			var receipts []ballot.Acceptance
			for _, k := range c.kinds {
				receipts = append(receipts, kinds[k])
			}
			var out bytes.Buffer
			tally, err := CheckAcceptances(context.Background(), &out, receipts, f.keys, f.ledger, f.proofs, time.Minute, f.now)
			if err != nil || tally != c.want || tally.total() != len(receipts) || tally.Verdict() != c.exit {
				t.Fatalf("tally %+v (total %d, verdict %v), %v; want %+v (total %d, verdict %v):\n%s", tally, tally.total(), tally.Verdict(), err, c.want, len(receipts), c.exit, out.String())
			}
			var printed Outcomes
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			for _, line := range lines {
				label, _, _ := strings.Cut(line, " ")
				count, ok := labels[label]
				if !ok {
					t.Fatalf("a line of no outcome: %s", line)
				}
				*count(&printed)++
			}
			printed.missingUnchecked = strings.Count(out.String(), "; whether its head is a fork is UNCHECKED: ")
			if len(lines) != len(receipts) || printed != tally {
				t.Errorf("%d lines counting %+v; want one a receipt counting %+v:\n%s", len(lines), printed, tally, out.String())
			}
			summary := AcceptanceSummary(tally, false, true)
			counts, ofReceipts := strings.CutPrefix(summary, fmt.Sprintf("%d receipts: ", len(receipts)))
			crossCut := fmt.Sprintf(" (%d of them under an unchecked head)", tally.missingUnchecked)
			said := strings.Contains(counts, crossCut)
			sum := 0
			for _, field := range strings.Split(strings.Replace(counts, crossCut, "", 1), ", ") {
				var n int
				if _, err := fmt.Sscan(field, &n); err != nil {
					t.Fatalf("summary %q: %q holds no count", summary, field)
				}
				sum += n
			}
			if !ofReceipts || sum != len(receipts) || said != (tally.missingUnchecked > 0) {
				t.Errorf("summary %q: want %d receipts, its counts adding up to them, and the missing under an unchecked head (%d) said when there are any", summary, len(receipts), tally.missingUnchecked)
			}
		})
	}
}

// gatewayTransport is a fake gateway's HTTP transport: each request,
// counted, gets answer's response or error.
type gatewayTransport struct {
	asked  int
	answer func(*http.Request) (*http.Response, error)
}

func (g *gatewayTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	g.asked++
	return g.answer(r)
}

// TestAcceptanceGatewaySilent: a gateway that does not answer a
// consistency proof (it holds the request past --gateway-timeout, or
// refuses the connection) is asked once a run, not once a head: the
// receipts of the other heads are UNCHECKED at once, their lines saying
// the gateway did not answer earlier in the run, with its first error and
// the fixes. A gateway that answers an error is not stuck: each head is
// asked. (Asked once, the run waits one --gateway-timeout, not one a
// head: the count is asserted, not the time, which a slow machine
// stretches.)
func TestAcceptanceGatewaySilent(t *testing.T) {
	key, keys := registeredKey(t)
	votes, log, ledger := anchoredLog(t, 12, key)
	var receipts []ballot.Acceptance // a head each, all but that of 5 entries (the anchored one's) needing a proof
	for _, size := range []uint64{1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12} {
		receipts = append(receipts, acceptanceOf(t, log, votes, size-1, size, key))
	}
	const base, limit = "http://gateway.test", 200 * time.Millisecond
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	for _, c := range []struct {
		name   string
		answer func(*http.Request) (*http.Response, error)
		silent string // the first request's error, if the gateway did not answer it
	}{
		{"held past the limit", func(r *http.Request) (*http.Response, error) { <-r.Context().Done(); return nil, r.Context().Err() },
			"the gateway at " + base + " did not answer within 200ms: is it overloaded or stuck? its log may say why; give --gateway-timeout more time, or give --gateway the URL of another running gateway"},
		{"connection refused", func(*http.Request) (*http.Response, error) { return nil, refused },
			"the gateway at " + base + " did not answer (dial tcp: connect: connection refused): is the system up? `make up` starts it; else give --gateway the URL of a running gateway"},
		{"answering 400", func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: http.StatusBadRequest, Status: "400 Bad Request", Header: http.Header{}, Body: io.NopCloser(strings.NewReader("the log has fewer entries")), Request: r}, nil
		}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			transport := &gatewayTransport{answer: c.answer}
			gateway := logmonitor.Gateway{Base: base, Client: &http.Client{Transport: transport}, Ask: func(ctx context.Context, send func(context.Context) error) error {
				return cli.AskGateway(ctx, base, "--gateway", limit, "--gateway-timeout", send) // as verify asks it
			}}
			var out bytes.Buffer
			tally, err := CheckAcceptances(context.Background(), &out, receipts, keys, ledger, gateway, time.Minute, time.UnixMilli(1))
			if err != nil || tally.unchecked != len(receipts) || tally.Verdict() != Unchecked {
				t.Fatalf("tally %+v, %v; want every receipt UNCHECKED, status 2:\n%s", tally, err, out.String())
			}
			if wantAsked := map[bool]int{true: 1, false: len(receipts)}[c.silent != ""]; transport.asked != wantAsked {
				t.Errorf("the gateway was asked %d times; want %d:\n%s", transport.asked, wantAsked, out.String())
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if c.silent != "" && !strings.HasSuffix(lines[0], "consistency proof of the CA log from 1 to 5: "+c.silent+"; run verify again later, or check that --gateway is the URL of a running gateway of this election") {
				t.Errorf("the first head's line does not give the gateway's silence:\n%s", lines[0])
			}
			for _, line := range lines[1:] {
				notAsked := "not asked: the gateway did not answer earlier in this run (the consistency proof of the CA log from 1 to 5: " + c.silent + "); run verify again later"
				if said := strings.Contains(line, notAsked); said != (c.silent != "") {
					t.Errorf("a later head's line says %q: %t; want %t:\n%s", notAsked, said, c.silent != "", line)
				}
			}
			if c.silent == "" && !strings.Contains(lines[len(lines)-1], "consistency proof of the CA log from 5 to 12: gateway answered 400 Bad Request to /api/v1/log/CA/consistency?first=5&second=12: the log has fewer entries") {
				t.Errorf("the last head's line does not give the gateway's answer to it:\n%s", lines[len(lines)-1])
			}
		})
	}
}

// servedLog is a fake gateway's answer to reads of the CA log whose
// entries are votes (GET /api/v1/log/CA/entries, as JSON).
func servedLog(t *testing.T, votes []ballot.Vote) func(*http.Request) (*http.Response, error) {
	t.Helper()
	var entries []string
	for _, v := range votes {
		enc, err := v.Encode()
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, hex.EncodeToString(enc))
	}
	return func(r *http.Request) (*http.Response, error) {
		if r.URL.Path != "/api/v1/log/CA/entries" {
			return nil, fmt.Errorf("unexpected request %s", r.URL)
		}
		start, _ := strconv.Atoi(r.URL.Query().Get("start"))
		end, _ := strconv.Atoi(r.URL.Query().Get("end"))
		end = min(end, len(entries))
		body, _ := json.Marshal(map[string][]string{"entries": entries[min(start, end):end]})
		return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(bytes.NewReader(body)), Request: r}, nil
	}
}

// TestLogInconsistentHeads: verify --log --log-state words a log found
// inconsistent with a signed head as --acceptance words heads, on one
// line, each a failure (status 1), the state file not updated: a head seen
// before of the anchored head's size with another root is FORK whatever
// log the gateway serves (the two heads prove it); a smaller one whose
// root the anchored log's entries do not give is FORK too (entries that
// give the anchored root are its log); entries that do not give the
// anchored root, the head seen before of another size, are BAD-PROOF (the
// log rewritten, or a gateway serving bad entries); a head seen before of
// this election whose signature does not verify (a damaged file) FAILs. A
// --log-state file of another election is a usage error (status 2) naming
// the file's election, the ledger's and the fix, nothing checked. A log
// that gives both heads passes (status 0, the file updated). An anchored
// head the ledger should never hold (malformed, signed by a key not
// registered, a signature that does not verify) FAILs (status 1) saying
// so, and one of another election FAILs saying what may have put it there
// (an older chaincode's set-up, or another ledger's head: not "should
// never hold"), while one that cannot be read is an error (status 2: try
// again).
func TestLogInconsistentHeads(t *testing.T) {
	key, keys := registeredKey(t)
	votes := caVotes(5, 0)
	forkVotes := append(append(slices.Clone(votes[:2]), caVotes(1, 100)...), votes[3:]...)
	log, fork := logOf(votes), logOf(forkVotes)
	headOf := func(tree *ballot.LogTree, size uint64) ballot.TreeHead {
		return acceptanceOf(t, tree, votes, 0, size, key).Head
	}
	batch, err := ballot.BuildBatch("CA", 1, votes)
	if err != nil {
		t.Fatal(err)
	}
	anchored := headOf(log, 5)
	stranger := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	malformed := anchored
	malformed.Root = strings.ToUpper(malformed.Root)
	seenHead := func(h ballot.TreeHead) string {
		return "the head of the CA log (" + strconv.FormatUint(h.Size, 10) + " entries, signed by key " + h.KeyID + " at 1970-01-01T00:00:00Z) seen before (--log-state) is not of the log anchored on the ledger (5 entries, tx tx0…): "
	}
	const forkMeans = ", the log was rewritten after it was signed: logmonitor: the log is inconsistent with a signed head: "
	for name, c := range map[string]struct {
		served         []ballot.Vote
		seen, anchored ballot.TreeHead
		code           Verdict
		want           []string // what stdout starts with, then what it holds
		err            string   // what the error says, "" for none
	}{
		"a head of the anchored size, another root": {votes, headOf(fork, 5), anchored, Failed, []string{
			"FORK CA: " + seenHead(headOf(fork, 5)) + forkBySize + forkMeans + "the CA head of size 5 signed at 1 has root "}, ""},
		"a head of the anchored size, another root, the gateway serving its log": {forkVotes, headOf(fork, 5), anchored, Failed, []string{
			"FORK CA: " + seenHead(headOf(fork, 5)) + forkBySize + forkMeans}, ""},
		"a smaller head the anchored log does not give": {votes, headOf(fork, 3), anchored, Failed, []string{
			"FORK CA: " + seenHead(headOf(fork, 3)) + "the log's entries, which give the anchored head's root, give another root at its size, which proves it" + forkMeans + "the CA head of size 3 signed at 1 has root ",
			"… there (rewritten)\n"}, ""},
		"a log that does not give the anchored root": {forkVotes, headOf(log, 3), anchored, Failed, []string{
			"BAD-PROOF CA: what the gateway serves of the CA log is not shown to be of the log anchored on the ledger (5 entries, tx tx0…): logmonitor: the log is inconsistent with a signed head: CA: the 5 entries give root " + ballot.HashHex(must(fork.Root(5))),
			"; either the log was rewritten after the anchored head was signed (a fork) or the gateway serves a bad proof for heads of one log, and either way it cannot show its log is append-only; a proof that verifies, from another gateway of this election (--gateway), clears the head, and none exists for a fork\n"}, ""},
		"a head seen before, its signature damaged": {votes, badlySigned(headOf(fork, 3)), anchored, Failed, []string{
			"FAIL CA: logmonitor: the log is inconsistent with a signed head: the CA head of size 3 signed at 1 has root ",
			"; the head seen before (--log-state) is not a head of this election's CA log signed by a registered key (the file was damaged or edited: a run writes only heads it verified), so this proves nothing of the log: give --log-state the file an earlier run wrote, or a new one\n"}, ""},
		"a head seen before of another election": {votes, signedAs(t, headOf(fork, 3), "f", key), anchored, Passed, []string{""},
			`heads.json: holds heads of election "f" (CA), not of this ledger's election "e"; a run against that election's ledger wrote it`},
		"a larger head seen before of another election": {votes, signedAs(t, headOf(log, 5), "f", key), headOf(log, 3), Passed, []string{""},
			`heads.json: holds heads of election "f" (CA), not of this ledger's election "e"`},
		"a log that gives both heads": {votes, headOf(log, 3), anchored, Passed, []string{
			"CA: 5 entries under the head anchored in tx tx0… (signed by key " + anchored.KeyID + " at 1970-01-01T00:00:00Z): 5 counted, 0 rejected, 0 DUPLICATE, 0 pending, 0 MISSING\n"}, ""},
		"an anchored head whose signature does not verify": {votes, headOf(log, 3), badlySigned(anchored), Failed, []string{
			"FAIL the anchored CA head: " + ballot.ErrBadSignature.Error(), "; " + anchoredUnsound + "; " + checkOtherPeer + "\n"}, ""},
		"an anchored head signed by a key not registered": {votes, headOf(log, 3), signedAs(t, anchored, "e", stranger), Failed, []string{
			"FAIL the anchored CA head: " + ballot.ErrUnknownLogKey.Error(), "; " + anchoredUnsound + "; " + checkOtherPeer + "\n"}, ""},
		"an anchored head with a malformed root": {votes, headOf(log, 3), malformed, Failed, []string{
			"FAIL the anchored CA head: " + ballot.ErrBadHead.Error() + ": root ", "; " + anchoredUnsound + "; " + checkOtherPeer + "\n"}, ""},
		"an anchored head of another election": {votes, headOf(log, 3), signedAs(t, anchored, "f", key), Failed, []string{
			"FAIL the anchored CA head: " + logmonitor.ErrForeignHead.Error() + `: it names election "f", state "CA"; the ledger's election is "e": a head of another election: either a chaincode older than today's set the election up again`,
			"or the peer read serves another ledger's head; either way this ledger's CA log cannot be checked against its anchor, a failure; " + checkOtherPeer + "\n"}, ""},
		"an anchored head not read": {votes, headOf(log, 3), ballot.TreeHead{}, Passed, []string{""}, "the peer did not answer"},
	} {
		t.Run(name, func(t *testing.T) {
			state := &LogState{path: filepath.Join(t.TempDir(), "heads.json"), seen: map[string]ballot.TreeHead{"CA": c.seen}}
			ledger := headedLedger{headlessLedger: headlessLedger{batch: batch}, head: c.anchored, keys: keys}
			if c.anchored == (ballot.TreeHead{}) {
				ledger.headErr = errors.New("the peer did not answer")
			}
			code, out, err := runLogCheck(t, c.served, ledger, state)
			if code != c.code || !strings.HasPrefix(out, c.want[0]) || strings.Count(out, "\n") > 1 || !errorSays(err, c.err) {
				t.Fatalf("verdict %v, %v, stdout:\n%s\nwant %v, one line starting %q, an error holding %q (none if empty)", code, err, out, c.code, c.want[0], c.err)
			}
			for _, want := range c.want[1:] {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			saved, err := ReadLogState(state.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			passed := code == Passed && c.err == ""
			if wantSaved := map[bool]int{true: 1, false: 0}[passed]; len(saved.seen) != wantSaved || (passed && saved.seen["CA"] != anchored) {
				t.Errorf("the state file holds %+v; want the anchored head only after a run that passed", saved.seen)
			}
		})
	}
}

// TestLogStateSavedWhole: --log-state's file is replaced whole, never
// truncated and rewritten in place (a run killed mid-write left it cut,
// and the next run exited 2 with the heads kept as a fork's evidence
// lost): a reader that opened it before a save still reads the heads it
// held, whole, and the file then holds the new ones; the temporary file a
// run killed outright left beside it is removed.
func TestLogStateSavedWhole(t *testing.T) {
	key, _ := registeredKey(t)
	votes := caVotes(5, 0)
	log := logOf(votes)
	path := filepath.Join(t.TempDir(), "heads.json")
	state := &LogState{path: path, seen: map[string]ballot.TreeHead{"CA": acceptanceOf(t, log, votes, 0, 3, key).Head}}
	if err := state.save(); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	stale := filepath.Join(filepath.Dir(path), ".heads.json.123.tmp")
	if err := os.WriteFile(stale, before[:10], 0o600); err != nil {
		t.Fatal(err)
	}

	state.seen["CA"] = acceptanceOf(t, log, votes, 0, 5, key).Head
	if err := state.save(); err != nil {
		t.Fatal(err)
	}
	if held, err := io.ReadAll(reader); err != nil || !bytes.Equal(held, before) {
		t.Errorf("the file opened before the save reads %q (%v); want the heads it held, %q: it was rewritten in place", held, err, before)
	}
	if saved, err := ReadLogState(path, nil); err != nil || !maps.Equal(saved.seen, state.seen) {
		t.Errorf("the file holds %+v (%v); want %+v", saved, err, state.seen)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the temporary file a killed run left is still there (%v)", err)
	}
}

// badlySigned is h with a signature that does not verify.
func badlySigned(h ballot.TreeHead) ballot.TreeHead {
	h.Signature = strings.Repeat("0", 128)
	return h
}

// discardBars are Bars that draw nothing, given so that the checks run
// the code of their progress.
func discardBars(Step, int64) Bar { return noBar{} }

// runLogCheck runs verify --log's check (MonitorLog) of the CA log, the
// gateway serving the entries of served, against ledger, with the heads
// seen before of state; it returns the verdict of its outcomes, what it
// printed and its error.
func runLogCheck(t *testing.T, served []ballot.Vote, ledger StandingLedger, state *LogState) (Verdict, string, error) {
	t.Helper()
	return runLogCheckIn(context.Background(), t, served, ledger, state)
}

// runLogCheckIn is runLogCheck in a run whose context is ctx.
func runLogCheckIn(ctx context.Context, t *testing.T, served []ballot.Vote, ledger StandingLedger, state *LogState) (Verdict, string, error) {
	t.Helper()
	return runLogCheckWith(ctx, t, served, ledger, state, discardBars)
}

// runLogCheckWith is runLogCheckIn drawing its progress on bars.
func runLogCheckWith(ctx context.Context, t *testing.T, served []ballot.Vote, ledger StandingLedger, state *LogState, bars Bars) (Verdict, string, error) {
	t.Helper()
	gateway := logmonitor.Gateway{Base: "http://gateway.test", Client: &http.Client{Transport: &gatewayTransport{answer: servedLog(t, served)}}}
	var out bytes.Buffer
	tally, err := MonitorLog(ctx, &out, bars, gateway, ledger, "Observers", time.Minute, state)
	return tally.Verdict(), out.String(), err
}

// errorSays reports whether err holds want, or is nil when want is "".
func errorSays(err error, want string) bool {
	if want == "" {
		return err == nil
	}
	return err != nil && strings.Contains(err.Error(), want)
}

// TestLogHeadSeenAhead: a head seen before (--log-state) past the head the
// peer has anchored now (a peer behind the one an earlier run read) is not
// checked, whether or not it is of the anchored log: the state's line is
// followed by a PENDING line saying so, nothing failed, the status is 3
// (run again), and the file keeps that head, not the smaller anchored one.
// Once the anchored head reaches it, the next run checks it: the log's own
// head passes (status 0), a head of that size with another root is FORK.
func TestLogHeadSeenAhead(t *testing.T) {
	key, keys := registeredKey(t)
	votes := caVotes(5, 0)
	log, fork := logOf(votes), logOf(append(slices.Clone(votes[:4]), caVotes(1, 100)...))
	headOf := func(tree *ballot.LogTree, size uint64) ballot.TreeHead {
		return acceptanceOf(t, tree, votes, 0, size, key).Head
	}
	batch, err := ballot.BuildBatch("CA", 1, votes)
	if err != nil {
		t.Fatal(err)
	}
	ledgerAt := func(size uint64) headedLedger {
		return headedLedger{headlessLedger: headlessLedger{batch: batch}, head: headOf(log, size), keys: keys}
	}
	for name, c := range map[string]struct {
		seen ballot.TreeHead
		code Verdict
		then string // what the run once anchored past it starts with
	}{
		"the log's head": {headOf(log, 5), Passed, "CA: 5 entries under the head anchored in tx tx0…"},
		"a forked head":  {headOf(fork, 5), Failed, "FORK CA: the head of the CA log (5 entries, "},
	} {
		t.Run(name, func(t *testing.T) {
			state := &LogState{path: filepath.Join(t.TempDir(), "heads.json"), seen: map[string]ballot.TreeHead{"CA": c.seen}}
			code, out, _ := runLogCheck(t, votes, ledgerAt(3), state)
			pending := "\n  PENDING the head of the CA log (5 entries, signed by key " + c.seen.KeyID + " at 1970-01-01T00:00:00Z) seen before (--log-state): past the head this peer has anchored (3 entries), so not checked this run; kept in the file, it is checked once the anchored head reaches it."
			if code != Pending || !strings.HasPrefix(out, "CA: 3 entries under the head anchored in tx tx0…") || !strings.Contains(out, pending) || strings.Count(out, "\n") != 2 {
				t.Fatalf("anchored at 3: verdict %v, stdout:\n%s\nwant Pending, the state's line and %q", code, out, pending)
			}
			saved, err := ReadLogState(state.path, nil)
			if err != nil || saved.seen["CA"] != c.seen {
				t.Fatalf("the state file holds %+v (%v); want the head seen before, kept", saved, err)
			}
			code, out, _ = runLogCheck(t, votes, ledgerAt(5), saved)
			if code != c.code || !strings.HasPrefix(out, c.then) || strings.Contains(out, "PENDING") {
				t.Fatalf("anchored at 5: verdict %v, stdout:\n%s\nwant %v, starting %q", code, out, c.code, c.then)
			}
		})
	}
}

// must is v, for an error that cannot be.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// locatingPlacedLedger is a placedLedger whose nullifiers are
// nullifiersAt's.
type locatingPlacedLedger struct {
	placedLedger
	*nullifiersAt
}

// TestAcceptanceDuplicateSaysWhereCounted: an acceptance receipt of a vote
// the ledger rejected as a duplicate says where its nullifier was counted
// (one read; none for the counted vote's receipt): the same vote id is a
// re-send, harmless, REJECTED and good (status 0); another vote id is
// DUPLICATE, saying another vote with the voter's credentials was counted
// first and to contact the election's officials (status 4, its own count
// in the summary); a nullifier the ledger holds as unused FAILs, the line
// ending with the fix (the other organisation's peer, --peer), status 1.
// The old code printed "rejected: duplicate", good, status 0, for both.
func TestAcceptanceDuplicateSaysWhereCounted(t *testing.T) {
	f := newStandingLog(t)
	f.ledger.reasons = []string{ballot.RejectDuplicate} // vote 1 rejected as a duplicate, vote 0 counted
	receipts := []ballot.Acceptance{f.acceptance(t, 0, 5), f.acceptance(t, 1, 5)}
	dup := f.votes[1]
	other, _ := ballot.NewVoteID()
	cases := []struct {
		name    string
		counted string // the vote id counted with the nullifier; "" if it is unused
		line    string
		tally   Outcomes
		exit    Verdict
		summary string
	}{
		{"same vote id", dup.ID, "REJECTED " + dup.ID + ": on the ledger, rejected: duplicate; its nullifier was counted with this same vote " + dup.ID +
			" (index 3 of batch CA/9): this copy was a re-send of it, which is harmless, and the vote counts once\n",
			Outcomes{ok: 2}, Passed, "2 receipts: 2 good, 0 failed, 0 missing, 0 pending"},
		{"another vote id", other, "DUPLICATE " + dup.ID + ": on the ledger, rejected: duplicate; another vote with this voter's credentials was counted first: its nullifier was counted with vote " + other +
			" (index 3 of batch CA/9), not with this vote " + dup.ID + "; if the voter cast only this vote, someone else voted with their credentials: contact the election's officials\n",
			Outcomes{ok: 1, otherCounted: 1}, Duplicate, "2 receipts: 1 good, 0 failed, 0 missing, 0 pending, 1 duplicate of another vote counted first"},
		{"nullifier not located", "", "FAIL " + dup.ID + ": the ledger rejected vote " + dup.ID + " as a duplicate, yet holds its nullifier " + dup.Nullifier +
			" as unused in CA: its records contradict each other; check again through the other organisation's peer (--peer)\n",
			Outcomes{ok: 1, fail: 1}, Failed, "2 receipts: 1 good, 1 failed, 0 missing, 0 pending"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			at := map[string]ballot.NullifierRecord{}
			if c.counted != "" {
				at[dup.Nullifier] = ballot.NullifierRecord{State: "CA", Seq: 9, Index: 3, VoteID: c.counted}
			}
			ledger := locatingPlacedLedger{f.ledger, &nullifiersAt{at: at}}
			var out bytes.Buffer
			tally, err := CheckAcceptances(context.Background(), &out, receipts, f.keys, ledger, nil, time.Minute, f.now)
			if err != nil || tally != c.tally || tally.Verdict() != c.exit {
				t.Fatalf("tally %+v (verdict %v), %v; want %+v, verdict %v:\n%s", tally, tally.Verdict(), err, c.tally, c.exit, out.String())
			}
			if !hasLine(out.String(), c.line) || !strings.HasPrefix(out.String(), "COUNTED "+receipts[0].VoteID) {
				t.Errorf("output lacks the counted receipt's line or %q:\n%s", c.line, out.String())
			}
			if ledger.reads != 1 {
				t.Errorf("%d nullifier reads, want 1 (the duplicate's)", ledger.reads)
			}
			if got := AcceptanceSummary(tally, false, false); got != c.summary {
				t.Errorf("summary %q, want %q", got, c.summary)
			}
		})
	}
}

// nullifiersAt is a ledger's used nullifiers: where each was counted (a
// nullifier it lacks is unused), reads counting the reads of them.
type nullifiersAt struct {
	at         map[string]ballot.NullifierRecord
	unreadable string // a nullifier whose read fails
	fail       error  // if set, every read's error
	reads      int
}

func (n *nullifiersAt) LocateNullifier(_ context.Context, _, nullifier string) (ballot.NullifierRecord, error) {
	n.reads++
	if n.fail != nil {
		return ballot.NullifierRecord{}, n.fail
	}
	if nullifier == n.unreadable {
		return ballot.NullifierRecord{}, errors.New("peer unreachable")
	}
	rec, ok := n.at[nullifier]
	if !ok {
		return rec, ballot.ErrNotFound
	}
	return rec, nil
}

// locatingHeadedLedger is a headedLedger whose nullifiers are
// nullifiersAt's.
type locatingHeadedLedger struct {
	headedLedger
	*nullifiersAt
}

// TestLogDuplicateSaysWhereCounted: verify --log says of each entry the
// ledger rejected as a duplicate where its nullifier was counted, as
// --acceptance does: with this same vote id a re-send (its rejected line
// says so, status 0); with another vote id a DUPLICATE line (status 4);
// held as unused, a FAIL line (status 1); a read that fails, an UNCHECKED
// line (status 2), the run going on to the other entries and saving the
// state's head (--log-state), which Check verified before. Entries of one
// nullifier share one read. The state's line counts the DUPLICATE, FAIL
// and UNCHECKED entries apart from the rejected ones. The old code stopped
// at the failed read, the head unsaved, and counted every such entry
// "rejected".
func TestLogDuplicateSaysWhereCounted(t *testing.T) {
	key, keys := registeredKey(t)
	votes := caVotes(5, 0)
	votes[4].Nullifier = votes[3].Nullifier // a voter's second try
	batch, err := ballot.BuildBatch("CA", 1, votes)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ballot.NewVoteID()
	resent := ballot.NullifierRecord{State: "CA", Seq: 1, Index: 1, VoteID: votes[1].ID}
	counted := ballot.NullifierRecord{State: "CA", Seq: 4, Index: 2, VoteID: other}
	entry := func(label string, i int) string {
		return "  " + label + " " + votes[i].ID + ": entry " + strconv.Itoa(i) + ", cast 1970-01-01T00:00:00Z, duplicate"
	}
	resentAt := func(i int, at string) string { // entry i rejected, its nullifier counted with vote i itself, at at
		return entry("rejected", i) + "; its nullifier was counted with this same vote " + votes[i].ID + " (" + at + "): this copy was a re-send of it, which is harmless, and the vote counts once\n"
	}
	resend := resentAt(1, "index 1 of batch CA/1")
	countedWith := func(i int, id, at string) string { // entry i DUPLICATE, its nullifier counted with vote id, at at
		return entry("DUPLICATE", i) + "; another vote with this voter's credentials was counted first: its nullifier was counted with vote " + id +
			" (" + at + "), not with this vote " + votes[i].ID + "; if the voter cast only this vote, someone else voted with their credentials: contact the election's officials\n"
	}
	otherVote := func(i int) string { return countedWith(i, other, "index 2 of batch CA/4") }
	unused := func(i int) string {
		return entry("FAIL", i) + ": the ledger rejected vote " + votes[i].ID + " as a duplicate, yet holds its nullifier " + votes[i].Nullifier +
			" as unused in CA: its records contradict each other; check again through the other organisation's peer (--peer)\n"
	}
	unchecked := func(i int) string {
		return entry("UNCHECKED", i) + ": whether another vote was counted with its nullifier is not known: cannot read the ledger: where nullifier " + votes[i].Nullifier +
			" of vote " + votes[i].ID + " was counted: peer unreachable; run verify again\n"
	}
	dup := ballot.RejectDuplicate
	for name, c := range map[string]struct {
		rejected   []int // as duplicates
		at         map[string]ballot.NullifierRecord
		unreadable string
		code       Verdict
		counts     string // of the state's line
		want       []string
		reads      int
	}{
		"a re-send and another vote counted first": {[]int{1, 3, 4}, map[string]ballot.NullifierRecord{votes[1].Nullifier: resent, votes[3].Nullifier: counted}, "", Duplicate,
			"2 counted, 1 rejected, 2 DUPLICATE, 0 pending, 0 MISSING", []string{resend, otherVote(3), otherVote(4)}, 2},
		"a re-send only": {[]int{1}, map[string]ballot.NullifierRecord{votes[1].Nullifier: resent}, "", Passed,
			"4 counted, 1 rejected, 0 DUPLICATE, 0 pending, 0 MISSING", []string{resend}, 1},
		"a voter's second try": {[]int{3, 4}, map[string]ballot.NullifierRecord{votes[3].Nullifier: {State: "CA", Seq: 1, Index: 3, VoteID: votes[3].ID}}, "", Duplicate,
			"3 counted, 1 rejected, 1 DUPLICATE, 0 pending, 0 MISSING",
			[]string{resentAt(3, "index 3 of batch CA/1"), countedWith(4, votes[3].ID, "index 3 of batch CA/1")}, 1},
		"a nullifier held as unused": {[]int{1, 3, 4}, map[string]ballot.NullifierRecord{votes[1].Nullifier: resent}, "", Failed,
			"2 counted, 1 rejected, 0 DUPLICATE, 0 pending, 0 MISSING, 2 FAIL",
			[]string{resend, unused(3), unused(4)}, 2},
		"a read that fails": {[]int{1, 3, 4}, map[string]ballot.NullifierRecord{votes[1].Nullifier: resent}, votes[3].Nullifier, Unchecked,
			"2 counted, 1 rejected, 0 DUPLICATE, 0 pending, 0 MISSING, 2 UNCHECKED", []string{unchecked(3), unchecked(4), resend}, 2},
	} {
		t.Run(name, func(t *testing.T) {
			nullifiers := &nullifiersAt{at: c.at, unreadable: c.unreadable}
			anchored := acceptanceOf(t, logOf(votes), votes, 0, 5, key).Head
			ledger := locatingHeadedLedger{headedLedger{
				headlessLedger: headlessLedger{batch: batch, rejected: c.rejected, reasons: slices.Repeat([]string{dup}, len(c.rejected))},
				head:           anchored, keys: keys}, nullifiers}
			state := &LogState{path: filepath.Join(t.TempDir(), "heads.json"), seen: map[string]ballot.TreeHead{}}
			code, out, err := runLogCheck(t, votes, ledger, state)
			head := fmt.Sprintf("CA: 5 entries under the head anchored in tx tx0… (signed by key %s at 1970-01-01T00:00:00Z): %s\n", keys.Keys[0].ID, c.counts)
			if code != c.code || !strings.HasPrefix(out, head) || strings.Count(out, "\n") != 1+len(c.rejected) {
				t.Fatalf("verdict %v, %v, stdout:\n%s\nwant %v, starting %q", code, err, out, c.code, head)
			}
			for _, want := range c.want {
				if !hasLine(out, want) {
					t.Errorf("output lacks the line %q:\n%s", want, out)
				}
			}
			if nullifiers.reads != c.reads {
				t.Errorf("%d nullifier reads; want %d, one a nullifier", nullifiers.reads, c.reads)
			}
			if saved, err := ReadLogState(state.path, nil); err != nil || saved.seen["CA"] != anchored {
				t.Errorf("the state file holds %+v (%v); want the anchored head, checked", saved, err)
			}
		})
	}
}

// TestLedgerUnanswered: a ledger read got no answer when the peer was not
// reachable (fabricclient.Unreachable) or did not answer in time (a
// DeadlineExceeded, the context's or gRPC's) while the run went on; an
// answer ("not found", the peer's own Unavailable, a refusal) is not one,
// nor is any error once the run's context has ended.
func TestLedgerUnanswered(t *testing.T) {
	down := fmt.Errorf("evaluate LocateNullifier: %w", &fabricclient.UnreachableError{Org: "Commission", Addr: "127.0.0.1:27210", Cause: "dial tcp 127.0.0.1:27210: connect: connection refused"})
	for name, c := range map[string]struct {
		err  error
		want bool
	}{
		"no error":               {nil, false},
		"the peer not reachable": {down, true},
		"the context's deadline": {fmt.Errorf("evaluate LocateNullifier: %w", context.DeadlineExceeded), true},
		"gRPC's deadline":        {status.Error(codes.DeadlineExceeded, "context deadline exceeded"), true},
		"not found":              {ballot.ErrNotFound, false},
		"the peer's Unavailable": {status.Error(codes.Unavailable, "no peers available to evaluate chaincode votechain in channel election"), false},
		"a refusal":              {status.Error(codes.Unknown, "chaincode response 500"), false},
	} {
		if got := ledgerUnanswered(context.Background(), c.err); got != c.want {
			t.Errorf("%s (%v): unanswered %v; want %v", name, c.err, got, c.want)
		}
	}
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if ledgerUnanswered(ended, down) {
		t.Errorf("the peer not reachable once the run ended: unanswered; want the run, not the peer, to have stopped")
	}
}

// TestLogStopsAtAnUnansweredPeer: verify --log looks up the nullifiers of
// the entries rejected as duplicates until one look-up gets no answer (the
// peer not reachable, fabricclient.Unreachable, or not answering in time):
// it makes no other, every duplicate is UNCHECKED (status 2, the heads
// still saved), the ones not looked up saying so, and the error returned
// names the peer, and the others to read through in its Others (a
// *PeerDownError). A ledger that answers, "not found" or an error of its
// own, a reachable peer's Unavailable included, is still asked of each
// nullifier, each failed look-up UNCHECKED alone. The
// old code made one look-up a nullifier against a peer that was down, each
// after its own wait, and, before that was fixed, stopped at any
// Unavailable, the peer's own ("no peers available to evaluate") too.
func TestLogStopsAtAnUnansweredPeer(t *testing.T) {
	votes, headed := fourDuplicatesLedger(t)
	down := fmt.Errorf("evaluate LocateNullifier: %w", &fabricclient.UnreachableError{Org: "Observers", Addr: "127.0.0.1:27110", Cause: "dial tcp 127.0.0.1:27110: connect: connection refused"})
	stopped := "the Observers peer did not answer a look-up of where a duplicate's nullifier was counted (" + down.Error() +
		"), so no more were asked of it: 4 entries rejected as duplicates are UNCHECKED; once that peer answers, check again, or check through the other organisation's peer"
	for name, c := range map[string]struct {
		fail      error
		reads     int
		code      Verdict
		counts    string // after the state's "1 counted, 0 rejected, 0 DUPLICATE, 0 pending, 0 MISSING"
		notLooked int    // lines saying the entry was not looked up
		err       string // what the error starts with, "" for none
	}{
		"the peer down":              {down, 1, Unchecked, ", 4 UNCHECKED", 3, stopped},
		"the peer not answering":     {status.Error(codes.DeadlineExceeded, "context deadline exceeded"), 1, Unchecked, ", 4 UNCHECKED", 3, "the Observers peer did not answer"},
		"every nullifier not found":  {ballot.ErrNotFound, 4, Failed, ", 4 FAIL", 0, ""},
		"an answer refusing":         {fmt.Errorf("evaluate LocateNullifier: %w", status.Error(codes.Unknown, "evaluate call to endorser returned error: chaincode response 500")), 4, Unchecked, ", 4 UNCHECKED", 0, ""},
		"the peer's own Unavailable": {fmt.Errorf("evaluate LocateNullifier: %w", status.Error(codes.Unavailable, "no peers available to evaluate chaincode votechain in channel election")), 4, Unchecked, ", 4 UNCHECKED", 0, ""},
	} {
		t.Run(name, func(t *testing.T) {
			nullifiers := &nullifiersAt{fail: c.fail}
			anchored := headed.head
			ledger := locatingHeadedLedger{headed, nullifiers}
			state := &LogState{path: filepath.Join(t.TempDir(), "heads.json"), seen: map[string]ballot.TreeHead{}}
			code, out, err := runLogCheck(t, votes, ledger, state)
			if nullifiers.reads != c.reads {
				t.Errorf("%d look-ups; want %d", nullifiers.reads, c.reads)
			}
			head := "1 counted, 0 rejected, 0 DUPLICATE, 0 pending, 0 MISSING" + c.counts + "\n"
			if code != c.code || !strings.Contains(out, head) || strings.Count(out, errNotLookedUp.Error()) != c.notLooked {
				t.Errorf("verdict %v, stdout:\n%s\nwant %v, the state's line ending %q, %d entries not looked up", code, out, c.code, head, c.notLooked)
			}
			if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.HasPrefix(err.Error(), c.err)) {
				t.Errorf("error %v; want one starting %q, or none if empty", err, c.err)
			}
			if failed := errLedger.Error(); c.notLooked == 0 && c.counts == ", 4 UNCHECKED" && strings.Count(out, failed) != 4 {
				t.Errorf("stdout:\n%s\nwant each UNCHECKED line saying the look-up failed (%q)", out, failed)
			}
			if saved, err := ReadLogState(state.path, nil); err != nil || saved.seen["CA"] != anchored {
				t.Errorf("the state file holds %+v (%v); want the anchored head, checked", saved, err)
			}
		})
	}
	if err := unansweredError("Commission", down, 2); !strings.HasSuffix(err.Error(), "the other organisation's peer") || !slices.Equal(err.Others, []string{"Observers"}) || !errors.Is(err, down) {
		t.Errorf("through the Commission's peer: %v; want the Observers' peer offered", err)
	}
}

// fourDuplicatesLedger is the ledger of CA's five votes, in one batch, its
// head anchored and signed by a registered key: entries 1 to 4 rejected as
// duplicates, each with its own nullifier.
func fourDuplicatesLedger(t *testing.T) ([]ballot.Vote, headedLedger) {
	t.Helper()
	key, keys := registeredKey(t)
	votes := caVotes(5, 0)
	batch, err := ballot.BuildBatch("CA", 1, votes)
	if err != nil {
		t.Fatal(err)
	}
	dups := []int{1, 2, 3, 4}
	return votes, headedLedger{
		headlessLedger: headlessLedger{batch: batch, rejected: dups, reasons: slices.Repeat([]string{ballot.RejectDuplicate}, len(dups))},
		head:           acceptanceOf(t, logOf(votes), votes, 0, 5, key).Head, keys: keys}
}

// runEndingNullifiers is a NullifierLocator during whose first look-up the
// run ends (end): that look-up and each after it fail with fail, as gRPC
// fails a call whose context has ended.
type runEndingNullifiers struct {
	end   func()
	fail  error
	reads int
}

func (n *runEndingNullifiers) LocateNullifier(context.Context, string, string) (ballot.NullifierRecord, error) {
	n.reads++
	n.end()
	return ballot.NullifierRecord{}, fmt.Errorf("evaluate LocateNullifier: %w", n.fail)
}

// TestLogLookUpsEndWithTheRun: when the run ends (--timeout's deadline, a
// signal) while verify --log looks up duplicates' nullifiers, each look-up
// is made and fails at once, UNCHECKED, none said to be not looked up
// because the peer did not answer, and the error returned is the run's
// end (its context's cause, which the command words), not the peer's
// silence with advice to wait for it or read through another; the status
// is 2, the run not complete. The old code took a look-up the deadline cut
// short for the peer not answering, and said nothing of a signal.
func TestLogLookUpsEndWithTheRun(t *testing.T) {
	votes, headed := fourDuplicatesLedger(t)
	for name, c := range map[string]struct {
		cause error
		fail  error
	}{
		"--timeout": {context.DeadlineExceeded, status.Error(codes.DeadlineExceeded, context.DeadlineExceeded.Error())},
		"SIGINT":    {cli.Interrupted{Signal: syscall.SIGINT}, status.Error(codes.Canceled, context.Canceled.Error())},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			nullifiers := &runEndingNullifiers{end: func() { cancel(c.cause) }, fail: c.fail}
			ledger := struct {
				headedLedger
				*runEndingNullifiers
			}{headed, nullifiers}
			code, out, err := runLogCheckIn(ctx, t, votes, ledger, nil)
			if nullifiers.reads != 4 {
				t.Errorf("%d look-ups; want 4, one a duplicate", nullifiers.reads)
			}
			if code != Unchecked || !strings.Contains(out, ", 4 UNCHECKED\n") || strings.Contains(out, errNotLookedUp.Error()) {
				t.Errorf("verdict %v, stdout:\n%s\nwant Unchecked, 4 UNCHECKED, none said not looked up", code, out)
			}
			if !errors.Is(err, c.cause) {
				t.Errorf("error %v; want the run's end, %v", err, c.cause)
			}
		})
	}
}
