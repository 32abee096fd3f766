package loadgen

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/votechain/votechain/gateway/roll"
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

func TestGeneratorMixSkewAndExhaustion(t *testing.T) {
	r := testRoll(map[string]int{"CA": 3000, "MI": 3000}, "CA", "MI")
	g, err := NewGenerator(r, []string{"alice", "bob"}, Mix{Duplicate: 0.1, Ineligible: 0.05}, 1)
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
	if _, err := NewGenerator(r, []string{"a"}, Mix{Duplicate: 0.6, Ineligible: 0.5}, 1); err == nil {
		t.Fatal("a mix above 1 accepted")
	}
}

func TestResendTargeterSendsOnlyVotersAlreadySent(t *testing.T) {
	r := testRoll(map[string]int{"CA": 100, "MI": 100}, "CA", "MI")
	g, err := NewGenerator(r, []string{"alice"}, Mix{}, 7)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.ResendTargeter("http://x/api/v1/vote", 1); err == nil {
		t.Fatal("resend before any voter was sent accepted")
	}
	first := sendFresh(t, g, 20)
	mark := g.SentFresh()
	for range 30 { // later voters must not be re-sent
		if _, _, err := g.Next(); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := g.ResendTargeter("http://x/api/v1/vote", mark)
	if err != nil {
		t.Fatal(err)
	}
	_, dupBefore, _ := g.Counts()
	for range 200 {
		var tg vegeta.Target
		if err := tr(&tg); err != nil {
			t.Fatal(err)
		}
		var v voteBody
		if err := json.Unmarshal(tg.Body, &v); err != nil {
			t.Fatal(err)
		}
		if !first[v.VoterID] || tg.Method != "POST" || tg.URL != "http://x/api/v1/vote" {
			t.Fatalf("re-sent %s (%s %s), not one of the first %d voters", v.VoterID, tg.Method, tg.URL, mark)
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
	g, err := NewGenerator(r, []string{"alice"}, Mix{}, 7)
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
