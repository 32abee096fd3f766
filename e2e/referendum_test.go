package e2e

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/votechain/votechain/gateway/results"
	"github.com/votechain/votechain/internal/stack"
	"github.com/votechain/votechain/test-network/nettest"
)

// TestReferendumOneVotePerVoterAndQuestion runs config/referendum.json, a
// referendum of three questions: 5,000 voters each vote on one to three of
// them. Per question, the votes answered 202 are exactly the votes the
// ledger counts: every accepted vote's nullifier (per voter and question)
// locates that vote on the ledger, and the ledger's count per question,
// state and choice equals the accepted votes'. A second vote by a voter on a
// question already voted on is refused 409; on another question it is
// accepted 202. The gateway's results per question follow the ledger.
func TestReferendumOneVotePerVoterAndQuestion(t *testing.T) {
	s := startSystem(t, 1, 5_000, func(c *stack.Config) {
		c.Election = filepath.Join(nettest.RepoRoot(t), "config", "referendum.json")
	})
	if len(s.contests) != 3 {
		t.Fatalf("the referendum has %d contests; want 3", len(s.contests))
	}

	// Voter i votes on the questions of the bits of 1 + i%7: every
	// non-empty subset of the three, so 1 to 3 questions each.
	var votes, later []vote
	for i, v := range s.roll {
		mask := 1 + i%7
		for q, c := range s.contests {
			ballotVote := vote{voter: v, Contest: c.ID, Choice: c.Choices[(i+q)%len(c.Choices)]}
			switch {
			case mask&(1<<q) != 0:
				votes = append(votes, ballotVote)
			case len(later) < 300:
				later = append(later, ballotVote) // a question this voter has not voted on yet
			}
		}
	}
	began := time.Now()
	accepted, err := s.castVotes(t.Context(), votes, 32)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d votes of %d voters accepted in %.1f s", len(accepted), len(s.roll), time.Since(began).Seconds())

	// A vote that names no question is refused: the referendum has three.
	var refusal struct {
		Error struct{ Code, Contest string } `json:"error"`
	}
	first := votes[0]
	noContest := map[string]string{"voter_id": first.ID, "credential": first.Credential, "state": first.State, "choice": first.Choice}
	if status, err := s.post(t.Context(), "/api/v1/vote", noContest, &refusal); status != http.StatusUnprocessableEntity || err != nil || refusal.Error.Code != "contest_required" {
		t.Fatalf("a vote without a contest: %d %q, %v; want 422 contest_required", status, refusal.Error.Code, err)
	}
	// Voting again on the same question: 409, whatever the choice.
	for _, v := range votes[:300] {
		again := v
		again.Choice = otherChoice(s, v)
		refusal.Error.Code, refusal.Error.Contest = "", ""
		if status, err := s.post(t.Context(), "/api/v1/vote", s.body(again), &refusal); status != http.StatusConflict || err != nil ||
			refusal.Error.Code != "duplicate" || refusal.Error.Contest != v.Contest {
			t.Fatalf("voter %s again on %s: %d %+v, %v; want 409 duplicate naming the contest", v.ID, v.Contest, status, refusal.Error, err)
		}
	}
	// Voting on another question: 202.
	more, err := s.castVotes(t.Context(), later, 8)
	if err != nil {
		t.Fatal(err)
	}
	for id, v := range more {
		accepted[id] = v
	}

	s.waitQueuesDrained(t, 3*time.Minute)
	s.checkExactlyOnce(t, accepted)

	// Per question: the ledger's count and the gateway's results (from
	// its read cache) equal the accepted votes in the question.
	want := map[string]uint64{}
	for _, v := range accepted {
		want[v.Contest]++
	}
	ledger, err := s.ledger.Results(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range s.contests {
		if got := ledger.National[c.ID].Total(); got != want[c.ID] || got == 0 {
			t.Errorf("question %s: the ledger counts %d votes; %d were accepted", c.ID, got, want[c.ID])
		}
		var view results.ContestView
		deadline := time.Now().Add(30 * time.Second)
		for {
			status, err := s.get("/api/v1/results/"+c.ID, &view)
			if status == http.StatusOK && err == nil && view.Counted == want[c.ID] {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("question %s: the gateway shows %d votes (%d, %v); want %d", c.ID, view.Counted, status, err, want[c.ID])
			}
			time.Sleep(200 * time.Millisecond)
		}
		for _, choice := range c.Choices {
			if view.National[choice] != ledger.National[c.ID][choice] {
				t.Errorf("question %s, %s: the gateway shows %d, the ledger %d", c.ID, choice, view.National[choice], ledger.National[c.ID][choice])
			}
		}
		t.Logf("question %s: %d votes counted, as accepted (%v)", c.ID, view.Counted, view.National)
	}
	if status, _ := s.get("/api/v1/results/L2099-999", nil); status != http.StatusNotFound {
		t.Errorf("results of an unknown question: %d; want 404", status)
	}
}

// otherChoice is a choice of v's contest other than v's.
func otherChoice(s *system, v vote) string {
	for _, c := range s.contests {
		if c.ID != v.Contest {
			continue
		}
		for _, choice := range c.Choices {
			if choice != v.Choice {
				return choice
			}
		}
	}
	return v.Choice
}
