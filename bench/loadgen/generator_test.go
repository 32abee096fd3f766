package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/roll"
)

// race is a one-race election's contest; referendum a three-question one's.
var (
	race       = []ballot.Contest{{ID: "president", Title: "President", Kind: ballot.ContestRace, Choices: []string{"alice", "bob"}}}
	referendum = []ballot.Contest{
		{ID: "L2025-001", Title: "Law 1", Kind: ballot.ContestQuestion, Choices: []string{"oui", "non"}},
		{ID: "L2025-002", Title: "Law 2", Kind: ballot.ContestQuestion, Choices: []string{"oui", "non"}},
		{ID: "L2025-003", Title: "Law 3", Kind: ballot.ContestQuestion, Choices: []string{"oui", "non"}},
	}
)

func testRoll(perState map[string]int, states ...string) *Roll {
	r := &Roll{States: states}
	for _, s := range states {
		var vs []roll.Entry
		for i := range perState[s] {
			vs = append(vs, roll.Entry{VoterID: fmt.Sprintf("%s-%d", s, i), Credential: "c", State: s})
		}
		r.Voters = append(r.Voters, vs)
	}
	return r
}

// nextVote is src's next vote and the contest it says the vote is in.
func nextVote(t *testing.T, src Source) (voteBody, string) {
	t.Helper()
	body, contest, err := src([]byte("kept"))
	if err != nil {
		t.Fatal(err)
	}
	if string(body[:4]) != "kept" {
		t.Fatalf("source did not append to dst: %s", body)
	}
	var v voteBody
	if err := json.Unmarshal(body[4:], &v); err != nil {
		t.Fatal(err)
	}
	return v, contest
}

func TestGeneratorMixSkewAndExhaustion(t *testing.T) {
	r := testRoll(map[string]int{"CA": 3000, "MI": 3000}, "CA", "MI")
	g, err := NewGenerator(r, race, Mix{Duplicate: 0.1, Ineligible: 0.05}, 1)
	if err != nil {
		t.Fatal(err)
	}
	fresh := map[string]bool{}
	perState := map[string]int{}
	for range 2000 {
		body, kind, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		var v voteBody
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		switch kind {
		case Fresh:
			if fresh[v.VoterID] {
				t.Fatalf("voter %s sent fresh twice", v.VoterID)
			}
			fresh[v.VoterID] = true
			perState[v.State]++
		case Duplicate:
			if !fresh[v.VoterID] {
				t.Fatalf("duplicate of %s, who has not voted", v.VoterID)
			}
		case Ineligible:
			if v.Credential == "c" {
				t.Fatalf("ineligible attempt uses a roll voter: %+v", v)
			}
		}
	}
	f, d, i := g.Counts()
	if f+d+i != 2000 || d < 120 || d > 280 || i < 50 || i > 150 {
		t.Fatalf("counts fresh %d duplicate %d ineligible %d", f, d, i)
	}
	// CA (39.5 M) is picked about 3.9 times as often as MI (10.1 M).
	if ratio := float64(perState["CA"]) / float64(perState["MI"]); ratio < 3 || ratio > 5 {
		t.Fatalf("CA/MI = %.2f (%v)", ratio, perState)
	}
	for g.Remaining() > 0 {
		if _, _, err := g.Next(); err != nil {
			t.Fatal(err)
		}
	}
	g.mix = Mix{}
	if _, _, err := g.Next(); !errors.Is(err, ErrRollExhausted) {
		t.Fatalf("after the whole roll: %v", err)
	}
}

func TestGeneratorRefusesBadMix(t *testing.T) {
	r := testRoll(map[string]int{"CA": 1}, "CA")
	if _, err := NewGenerator(r, race, Mix{Duplicate: 0.6, Ineligible: 0.5}, 1); err == nil {
		t.Fatal("a mix above 1 accepted")
	}
}

func TestResendsSendOnlyVotersAlreadySent(t *testing.T) {
	r := testRoll(map[string]int{"CA": 100, "MI": 100}, "CA", "MI")
	g, err := NewGenerator(r, race, Mix{}, 7)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Resends(1); err == nil {
		t.Fatal("resend before any voter was sent accepted")
	}
	first := sendFresh(t, g, 20)
	mark := g.SentFresh()
	for range 30 { // later voters must not be re-sent
		if _, _, err := g.Next(); err != nil {
			t.Fatal(err)
		}
	}
	src, err := g.Resends(mark)
	if err != nil {
		t.Fatal(err)
	}
	_, dupBefore, _ := g.Counts()
	for range 200 {
		v, contest := nextVote(t, src)
		if !first[v.VoterID] || contest != "president" {
			t.Fatalf("re-sent %s (contest %q), not one of the first %d voters", v.VoterID, contest, mark)
		}
	}
	if _, dup, _ := g.Counts(); dup-dupBefore != 200 {
		t.Fatalf("%d re-sends counted as duplicates, want 200", dup-dupBefore)
	}
}

// TestGeneratorTakeUnsent: the voters taken are exactly those never sent
// fresh, and the generator sends none of them afterwards.
func TestGeneratorTakeUnsent(t *testing.T) {
	r := testRoll(map[string]int{"CA": 500, "MI": 300}, "CA", "MI")
	g, err := NewGenerator(r, race, Mix{}, 7)
	if err != nil {
		t.Fatal(err)
	}
	sent := sendFresh(t, g, 600)
	left := g.TakeUnsent()
	if left.Size() != 800-len(sent) || g.Remaining() != 0 {
		t.Fatalf("took %d voters, %d remain in the generator; want %d and 0", left.Size(), g.Remaining(), 800-len(sent))
	}
	for i, vs := range left.Voters {
		for _, v := range vs {
			if sent[v.VoterID] || v.State != left.States[i] {
				t.Fatalf("voter %s (%s) taken under %s; sent before: %v", v.VoterID, v.State, left.States[i], sent[v.VoterID])
			}
		}
	}
	if _, _, err := g.Next(); !errors.Is(err, ErrRollExhausted) {
		t.Fatalf("Next after TakeUnsent: %v; want ErrRollExhausted", err)
	}
}

// sendFresh makes n attempts of a generator without duplicates or
// ineligible voters and returns the voter ids sent.
func sendFresh(t *testing.T, g *Generator, n int) map[string]bool {
	t.Helper()
	sent := map[string]bool{}
	for range n {
		body, _, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		var v voteBody
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		sent[v.VoterID] = true
	}
	return sent
}

// TestGeneratorSpreadsVotesOverContests: with several contests every vote
// names one of them and a choice of it, the voters spread over all of them,
// a re-sent vote names its voter's contest again, and the source returns
// the contest; with one contest the body names none.
func TestGeneratorSpreadsVotesOverContests(t *testing.T) {
	r := testRoll(map[string]int{"CA": 600, "MI": 600}, "CA", "MI")
	g, err := NewGenerator(r, referendum, Mix{Duplicate: 0.2}, 3)
	if err != nil {
		t.Fatal(err)
	}
	contestOf, per := map[string]string{}, map[string]int{}
	src := g.Votes()
	for range 900 {
		v, contest := nextVote(t, src)
		i := slices.IndexFunc(referendum, func(c ballot.Contest) bool { return c.ID == v.Contest })
		if i < 0 || !referendum[i].HasChoice(v.Choice) || contest != v.Contest {
			t.Fatalf("vote %+v (source's contest %q): not a contest and choice of the referendum, or not the source's contest", v, contest)
		}
		if c, ok := contestOf[v.VoterID]; ok && c != v.Contest {
			t.Fatalf("voter %s voted in %s, then in %s", v.VoterID, c, v.Contest)
		} else if !ok {
			contestOf[v.VoterID] = v.Contest
			per[v.Contest]++
		}
	}
	for _, c := range referendum {
		if share := float64(per[c.ID]) / float64(len(contestOf)); share < 0.25 || share > 0.42 {
			t.Errorf("%.2f of the voters in %s (%v)", share, c.ID, per)
		}
	}

	one, err := NewGenerator(r, race, Mix{}, 3)
	if err != nil {
		t.Fatal(err)
	}
	body, _, err := one.Next()
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	if _, named := v["contest"]; named || !race[0].HasChoice(v["choice"].(string)) {
		t.Fatalf("one-race vote %s: names a contest or a choice not of the race", body)
	}
}

// TestRecorderKeepsTheContestOf202s: the recorder keeps, for every vote id
// answered 202, the contest its request's vote was in.
func TestRecorderKeepsTheContestOf202s(t *testing.T) {
	rc := NewRecorder(time.Now())
	ids := []string{"00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221100", "0123456789abcdef0123456789abcdef"}
	for i, code := range []int{202, 202, 409} {
		contest := referendum[i].ID
		rc.record(&answer{code: code, sent: time.Now(), contest: contest, body: []byte(fmt.Sprintf(`{"vote_id":%q}`, ids[i]))})
	}
	got := rc.AcceptedContests()
	if len(got) != 2 {
		t.Fatalf("%d contests kept, want the two 202s': %v", len(got), got)
	}
	for i := range 2 {
		id, _ := ParseVoteID(ids[i])
		if got[id] != referendum[i].ID {
			t.Errorf("vote %s in %q, want %s", ids[i], got[id], referendum[i].ID)
		}
	}
	// A gateway answering the same id twice is counted twice (the loss
	// check reports it), and an unreadable 202 apart.
	rc.record(&answer{code: 202, sent: time.Now(), contest: referendum[0].ID, body: []byte(fmt.Sprintf(`{"vote_id":%q}`, ids[0]))})
	rc.record(&answer{code: 202, sent: time.Now(), contest: referendum[0].ID, body: []byte(`{"vote_id":"not hex"}`)})
	counts, bad := rc.AcceptedIDs()
	first, _ := ParseVoteID(ids[0])
	second, _ := ParseVoteID(ids[1])
	if len(counts) != 2 || counts[first] != 2 || counts[second] != 1 || bad != 1 {
		t.Fatalf("AcceptedIDs %v, %d unreadable; want %s twice, %s once, 1 unreadable", counts, bad, ids[0], ids[1])
	}
}

// TestVoteBodyIsTheJSONEncoding: the hand-written body is byte for byte
// what encoding/json writes, escapes included.
func TestVoteBodyIsTheJSONEncoding(t *testing.T) {
	for _, b := range []voteBody{
		{VoterID: "CA-1", Credential: "c", State: "CA", Choice: "alice"},
		{VoterID: "ghost-1-2", Credential: "0000000000000000", State: "TX", Contest: "L2025-001", Choice: "oui"},
		{VoterID: `a"b\c`, Credential: "<&>", State: "é", Contest: "x\ny", Choice: "\u2028\x7f"},
	} {
		want, _ := json.Marshal(b)
		if got := b.appendJSON([]byte("prefix")); string(got) != "prefix"+string(want) {
			t.Errorf("appendJSON(%+v) = %s; want %s", b, got[6:], want)
		}
	}
}

// TestVoteIDOf reads the vote id of a 202 body as the gateway writes it and,
// through encoding/json, of any other JSON form; a body without a well-formed
// id gives none.
func TestVoteIDOf(t *testing.T) {
	const id = "00112233445566778899aabbccddeeff"
	want, _ := ParseVoteID(id)
	for _, body := range []string{
		`{"vote_id":"` + id + `","contest":"president","status":"pending"}`,
		`{"status":"pending","vote_id":"` + id + `"}`,
		` { "vote_id" : "` + id + `" }`,
	} {
		if got, ok := voteIDOf([]byte(body)); !ok || got != want {
			t.Errorf("voteIDOf(%s) = %s, %v; want %s", body, got, ok, id)
		}
	}
	for _, body := range []string{`{"vote_id":"` + id[:31] + `"}`, `{"vote_id":"` + id + `0"}`, `{"vote_id":"zz` + id[2:] + `"}`, `{}`, `not json`} {
		if got, ok := voteIDOf([]byte(body)); ok {
			t.Errorf("voteIDOf(%s) = %s; want none", body, got)
		}
	}
}

// TestRunnerSendsNoNeedlessHeaders: a vote request carries its JSON body's
// Content-Type and its length but no User-Agent or other header the gateway
// would parse on every request for nothing.
func TestRunnerSendsNoNeedlessHeaders(t *testing.T) {
	var mu sync.Mutex
	var seen []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprint(w, `{"vote_id":"00112233445566778899aabbccddeeff"}`)
	}))
	defer srv.Close()
	g, err := NewGenerator(testRoll(map[string]int{"CA": 100}, "CA"), race, Mix{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{URL: srv.URL + "/api/v1/vote", Gen: g, Rec: NewRecorder(time.Now())}
	p, err := r.Constant(context.Background(), "headers", 50, 200*time.Millisecond)
	if err != nil || p.Accepted == 0 {
		t.Fatalf("phase %+v, %v: no vote accepted", p, err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, h := range seen {
		if h.Get("Content-Type") != "application/json" || len(h) != 2 || h.Get("Content-Length") == "" {
			t.Fatalf("request headers %v: want Content-Type application/json and Content-Length only", h)
		}
	}
}
