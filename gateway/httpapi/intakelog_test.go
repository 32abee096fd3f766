package httpapi

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/votechain/votechain/ballot"
)

func testLogKey() (ed25519.PrivateKey, ballot.LogKeys) {
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	keys, _, _ := ballot.LogKeys{}.Register([]ballot.LogKey{ballot.NewLogKey(key.Public().(ed25519.PublicKey))}, 1)
	return key, keys
}

// A 202 names the vote's log index and acceptance URL; the receipt there
// arrives within the log's Wait (2 s: past it the gateway answers 503
// head_pending, so a 200 is the promise kept, however slow the machine) and
// verifies offline with the registered key; a monitor reads the entries and
// a consistency proof.
func TestAcceptanceReceipt(t *testing.T) {
	key, keys := testLogKey()
	f := newFixture(t, fixtureOpts{logKey: key})
	var accepted []voteAccepted
	for i := range 3 {
		name := voterName(i)
		f.enroll(name, "cred", "CA")
		rec := f.vote(voteBody(name, "cred", "CA", "alice"))
		wantAccepted(t, rec.Code, rec.Body.Bytes())
		var a voteAccepted
		if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || a.LogIndex == nil || *a.LogIndex != int64(i) {
			t.Fatalf("202 body %s: want log_index %d", rec.Body, i)
		}
		accepted = append(accepted, a)
	}
	for i, a := range accepted {
		rec := f.do(http.MethodGet, a.AcceptanceURL, "")
		if rec.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s (want the receipt within the log's Wait)", a.AcceptanceURL, rec.Code, rec.Body)
		}
		var r ballot.Acceptance
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if err := r.Verify(keys); err != nil || r.VoteID != a.VoteID || r.Index != uint64(i) || r.Vote.Choice != "alice" {
			t.Fatalf("acceptance %d: %+v does not verify: %v", i, r, err)
		}
	}
	head := f.do(http.MethodGet, "/api/v1/log/CA/head", "")
	var h ballot.TreeHead
	if err := json.Unmarshal(head.Body.Bytes(), &h); err != nil || h.Size != 3 || h.Verify(keys) != nil {
		t.Fatalf("head %d %s", head.Code, head.Body)
	}
	rec := f.do(http.MethodGet, "/api/v1/log/CA/entries?start=0&end=10", "")
	var es logEntries
	if err := json.Unmarshal(rec.Body.Bytes(), &es); err != nil || len(es.Entries) != 3 {
		t.Fatalf("entries %d %s", rec.Code, rec.Body)
	}
	raw := make([][]byte, len(es.Entries))
	for i, e := range es.Entries {
		raw[i], _ = hex.DecodeString(e)
	}
	root, _ := ballot.ParseHash(h.Root)
	if _, _, err := ballot.LogEntries(raw, h.Size, root); err != nil {
		t.Fatalf("served entries do not give the signed root: %v", err)
	}
	// A monitor that prefers frames gets the same entries as frames; a
	// browser's Accept still gets JSON.
	rec = f.do(http.MethodGet, "/api/v1/log/CA/entries?start=0&end=10", "", "Accept", ballot.EntryFramesType+", application/json")
	framed, err := ballot.SplitEntryFrames(rec.Body.Bytes())
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != ballot.EntryFramesType || err != nil || len(framed) != len(raw) {
		t.Fatalf("framed entries: %d %q: %d entries, %v", rec.Code, rec.Header().Get("Content-Type"), len(framed), err)
	}
	for i := range raw {
		if !bytes.Equal(framed[i], raw[i]) {
			t.Fatalf("framed entry %d differs from the JSON answer's", i)
		}
	}
	rec = f.do(http.MethodGet, "/api/v1/log/CA/entries?start=0&end=10", "", "Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	if err := json.Unmarshal(rec.Body.Bytes(), &es); err != nil || len(es.Entries) != 3 {
		t.Fatalf("entries for a browser: %d %s", rec.Code, rec.Body)
	}
	rec = f.do(http.MethodGet, "/api/v1/log/CA/consistency?first=1&second=3", "")
	var cp logConsistency
	if err := json.Unmarshal(rec.Body.Bytes(), &cp); err != nil || cp.First != 1 || cp.Second != 3 || len(cp.Proof) == 0 {
		t.Fatalf("consistency %d %s", rec.Code, rec.Body)
	}
}

// TestAcceptanceErrors walks every refusal of the log's routes.
func TestAcceptanceErrors(t *testing.T) {
	key, _ := testLogKey()
	f := newFixture(t, fixtureOpts{logKey: key})
	var issued string
	for i := range 2 {
		f.enroll(voterName(i), "c", "NY")
		rec := f.vote(voteBody(voterName(i), "c", "NY", "bob"))
		issued = wantAccepted(t, rec.Code, rec.Body.Bytes())
	}
	unissued, _ := ballot.NewVoteID()
	cases := []struct {
		path   string
		status int
		code   string
	}{
		{acceptancePath("XYZ", "state=NY&index=1"), http.StatusBadRequest, codeInvalidVoteID},
		{acceptancePath(issued, "state=NY"), http.StatusBadRequest, codeInvalidField},
		{acceptancePath(issued, "state=NY&index=-1"), http.StatusBadRequest, codeInvalidField},
		{acceptancePath(issued, "state=ZZ&index=1"), http.StatusNotFound, codeUnknownState},
		{acceptancePath(issued, "state=NY&index=0"), http.StatusNotFound, codeNoVote},
		{acceptancePath(issued, "state=NY&index="+strconv.Itoa(1<<40)), http.StatusNotFound, codeNoVote},
		{acceptancePath(unissued, "state=NY&index=1"), http.StatusNotFound, codeNoVote},
		{"/api/v1/log/ZZ/head", http.StatusNotFound, codeUnknownState},
		{"/api/v1/log/NY/entries?start=5&end=5", http.StatusBadRequest, codeInvalidField},
		{"/api/v1/log/NY/entries?start=0&end=1001", http.StatusBadRequest, codeInvalidField},
		{"/api/v1/log/NY/entries?start=0", http.StatusBadRequest, codeInvalidField},
		{"/api/v1/log/NY/consistency?first=2&second=1", http.StatusBadRequest, codeInvalidField},
		{"/api/v1/log/NY/consistency?first=1&second=99", http.StatusBadRequest, codeInvalidField},
	}
	for _, c := range cases {
		rec := f.do(http.MethodGet, c.path, "")
		if rec.Code != c.status {
			t.Errorf("GET %s: %d %s; want %d %s", c.path, rec.Code, rec.Body, c.status, c.code)
			continue
		}
		if e := errorOf(t, rec.Code, rec.Body.Bytes(), rec.Header()); e.Code != c.code {
			t.Errorf("GET %s: code %s; want %s", c.path, e.Code, c.code)
		}
	}
	if rec := f.do(http.MethodGet, acceptancePath(issued, "state=NY&index=1"), ""); rec.Code != http.StatusOK {
		t.Fatalf("the genuine receipt: %d %s", rec.Code, rec.Body)
	}

	off := newFixture(t, fixtureOpts{})
	off.enroll("v1", "cred", "CA")
	rec := off.vote(voteBody("v1", "cred", "CA", "alice"))
	var a voteAccepted
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || a.LogIndex != nil || a.AcceptanceURL != "" {
		t.Fatalf("202 without a log: %s", rec.Body)
	}
	wantError(t, off.do(http.MethodGet, acceptancePath(a.VoteID, "state=CA&index=0"), ""), http.StatusNotFound, codeLogOff)
	wantError(t, off.do(http.MethodGet, "/api/v1/log/CA/head", ""), http.StatusNotFound, codeLogOff)
}

// acceptancePath is the path of vote voteID's acceptance receipt with the
// query q, built from ballot's receipt paths as the gateway's
// acceptance_url and verify build it, so that a move of the route is made
// in ballot alone (TestOpenAPIMatchesRoutes pins the public path).
func acceptancePath(voteID, q string) string {
	return ballot.ReceiptPath(voteID) + ballot.AcceptancePathSuffix + "?" + q
}
