package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/election"
	"github.com/votechain/votechain/gateway/receipt"
	"github.com/votechain/votechain/gateway/results"
)

// staticLedger is a ledger at rest: fixed results, no events.
type staticLedger struct{ r ballot.Results }

func (l staticLedger) Results(context.Context) (ballot.Results, error) { return l.r, nil }
func (l staticLedger) Height(context.Context) (uint64, error)          { return 7, nil }
func (l staticLedger) BatchEvents(ctx context.Context, _ ballot.Position) (<-chan ballot.BatchCommitted, <-chan error, error) {
	return make(chan ballot.BatchCommitted), make(chan error), nil
}

// loadedResults is a results cache loaded from a static ledger.
func loadedResults(t testing.TB) *results.Cache {
	t.Helper()
	tally := ballot.Tally{"president": {"alice": 3}}
	r := ballot.Results{ElectionID: "e1", Counted: 3, National: tally,
		States: map[string]ballot.StateResult{"CA": {State: "CA", Batches: 1, Counted: 3, Tallies: tally}}}
	e := testElection()
	c := results.New(staticLedger{r}, filepath.Join(t.TempDir(), "results.json"), e.States, e.Contests, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	for !c.Ready() {
		select {
		case <-done:
			t.Fatal("results cache stopped before loading")
		default:
		}
	}
	return c
}

// fakeReceipts knows one committed vote of voter "v1"/"c1" in contest
// "president" and a pending one in contest "L2".
// fakeReceipts answers the receipts below, or fails every look-up with fail.
type fakeReceipts struct{ fail error }

// knownVote and pendingVote are ids the gateway issued (under the
// fixture's secret); only knownVote is on the ledger.
var knownVote, pendingVote = issuedID(), issuedID()

func issuedID() string {
	id, err := ballot.NewIssuedVoteID(testSecret)
	if err != nil {
		panic(err)
	}
	return id
}

func (f fakeReceipts) ByVoteID(_ context.Context, id string) (ballot.Receipt, error) {
	if f.fail != nil {
		return ballot.Receipt{}, f.fail
	}
	if id == knownVote {
		return ballot.Receipt{VoteID: id, State: "CA", Seq: 1, Status: ballot.ReceiptCounted, Proof: []string{},
			Vote: &ballot.Vote{ID: id, State: "CA", Contest: "president", Choice: "alice"}}, nil
	}
	return ballot.Receipt{VoteID: id, Status: ballot.ReceiptPending}, nil
}

func (f fakeReceipts) ByCredentials(ctx context.Context, voter, cred, contest string) (ballot.Receipt, error) {
	switch {
	case voter != "v1" || cred != "c1":
	case contest == "president":
		return f.ByVoteID(ctx, knownVote)
	case contest == "L2":
		return f.ByVoteID(ctx, pendingVote)
	}
	return ballot.Receipt{}, receipt.ErrNoVote
}

// errorCode checks rec is a well-formed error answer and returns its code.
func errorCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	return errorOf(t, rec.Code, rec.Body.Bytes(), rec.Header()).Code
}

func TestResultsEndpoints(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	rec := f.do("GET", "/api/v1/results", "")
	var v results.View
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &v) != nil || v.Counted != 3 || v.AsOfBlock != 7 ||
		!v.National.Equal(ballot.Tally{"president": {"alice": 3}}) {
		t.Fatalf("GET /results: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do("GET", "/api/v1/results", "", "If-None-Match", rec.Header().Get("ETag")); rec.Code != http.StatusNotModified {
		t.Fatalf("If-None-Match with the current ETag: %d", rec.Code)
	}
	rec = f.do("GET", "/api/v1/results/president", "")
	var cv results.ContestView
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &cv) != nil || cv.Contest.ID != "president" || cv.Counted != 3 {
		t.Fatalf("GET /results/president: %d %s", rec.Code, rec.Body)
	}
	if n, ok := cv.National["bob"]; !ok || n != 0 || cv.National["alice"] != 3 || cv.States["NY"].Counted != 0 || cv.States["CA"].Choices["alice"] != 3 {
		t.Fatalf("contest results must list every choice and state: %s", rec.Body)
	}
	if rec := f.do("GET", "/api/v1/results/president", "", "If-None-Match", rec.Header().Get("ETag")); rec.Code != http.StatusNotModified {
		t.Fatalf("contest results, If-None-Match with the current ETag: %d", rec.Code)
	}
	if rec := f.do("GET", "/api/v1/results/president/NY", ""); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"counted":0`) {
		t.Fatalf("state without votes: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do("GET", "/api/v1/results/president/CA", ""); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"counted":3`) {
		t.Fatalf("state with votes: %d %s", rec.Code, rec.Body)
	}
	rec = f.do("GET", "/api/v1/results/president/ZZ", "")
	if rec.Code != 404 || errorCode(t, rec) != codeUnknownState {
		t.Fatalf("unknown state: %d %s", rec.Code, rec.Body)
	}
	for _, path := range []string{"/api/v1/results/L2025-009", "/api/v1/results/L2025-009/CA"} {
		rec = f.do("GET", path, "")
		if rec.Code != 404 || errorCode(t, rec) != codeUnknownContest {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
	}
	e := wantError(t, f.do("GET", "/api/v1/results/"+url.PathEscape(longMultiByte()), ""), 404, codeUnknownContest)
	wantClipped(t, "the message", e.Message, `no contest "`, `..." in this election`)
	wantClipped(t, "the contest", e.Contest, "", "...")
}

func TestReceiptEndpoints(t *testing.T) {
	f := newFixture(t, fixtureOpts{cfg: Config{LookupRate: 0.001, LookupBurst: 4}})
	for _, c := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", ballot.ReceiptPath(knownVote), "", 200, ""},
		{"GET", ballot.ReceiptPath(pendingVote), "", 200, ""},                                // the path verify --vote-id asks for
		{"GET", ballot.ReceiptPath("ffffffffffffffffffffffffffffffff"), "", 404, codeNoVote}, // never issued
		{"GET", ballot.ReceiptPath("not-a-vote-id"), "", 400, codeInvalidVoteID},
		{"GET", ballot.ReceiptPath("0123456789ABCDEF0123456789ABCDEF"), "", 400, codeInvalidVoteID},
		{"POST", "/api/v1/votes/lookup", `{"voter_id":"v1","credential":"c1"}`, 200, ""},
		{"POST", "/api/v1/votes/lookup", `{"voter_id":"v1","credential":"wrong"}`, 404, codeNoVote},
		{"POST", "/api/v1/votes/lookup", `{"voter_id":"v1","credential":"c1","contest":"president"}`, 200, ""},
		{"POST", "/api/v1/votes/lookup", `{"voter_id":"v1"}`, 400, codeInvalidField},
		// The look-up limit (burst 4) is spent: further look-ups wait.
		{"POST", "/api/v1/votes/lookup", `{"voter_id":"v1","credential":"c1"}`, 429, codeRateLimited},
		{"POST", "/api/v1/votes/lookup", `{"voter_id":"v1","credential":"c1","contest":"president","x":1}`, 429, codeRateLimited},
	} {
		rec := f.do(c.method, c.path, c.body)
		if rec.Code != c.status || (c.code != "" && errorCode(t, rec) != c.code) {
			t.Errorf("%s %s %s: %d %s; want %d %s", c.method, c.path, c.body, rec.Code, rec.Body, c.status, c.code)
		}
	}
	var r receiptView
	if rec := f.do("GET", ballot.ReceiptPath(knownVote), ""); json.Unmarshal(rec.Body.Bytes(), &r) != nil || r.Status != ballot.ReceiptCounted || r.Contest != "president" {
		t.Fatalf("committed receipt must name its contest: %s", rec.Body)
	}
}

// TestLookupNamesTheContest: in an election of several contests a look-up
// names one (422 without), and the receipt names it even while pending.
func TestLookupNamesTheContest(t *testing.T) {
	f := newFixture(t, fixtureOpts{cfg: Config{LookupRate: 1000, LookupBurst: 100}})
	f.elections.set(testReferendum())
	for _, c := range []struct {
		body    string
		status  int
		code    string
		contest string
	}{
		{`{"voter_id":"v1","credential":"c1"}`, 422, codeContestRequired, ""},
		{`{"voter_id":"v1","credential":"c1","contest":"L9"}`, 422, codeUnknownContest, ""},
		{`{"voter_id":"v1","credential":"c1","contest":""}`, 400, codeInvalidField, ""},
		{`{"voter_id":"v1","credential":"c1","contest":"L2","contest":"L2"}`, 400, codeInvalidField, ""},
		{`{"voter_id":"v1","credential":"c1","contest":"L1"}`, 404, codeNoVote, "L1"},
		{`{"voter_id":"v1","credential":"c1","contest":"L2"}`, 200, "", "L2"},
	} {
		rec := f.do("POST", "/api/v1/votes/lookup", c.body)
		if rec.Code != c.status || (c.code != "" && errorCode(t, rec) != c.code) {
			t.Errorf("%s: %d %s; want %d %s", c.body, rec.Code, rec.Body, c.status, c.code)
			continue
		}
		if c.code == codeNoVote {
			if e := errorOf(t, rec.Code, rec.Body.Bytes(), rec.Header()); e.Contest != c.contest {
				t.Errorf("%s: no_vote names contest %q; want %q", c.body, e.Contest, c.contest)
			}
		}
		var r receiptView
		if c.status == 200 && (json.Unmarshal(rec.Body.Bytes(), &r) != nil || r.Contest != c.contest || r.Status != ballot.ReceiptPending) {
			t.Errorf("%s: receipt %s; want pending in contest %s", c.body, rec.Body, c.contest)
		}
	}
}

// TestReceiptFailureIs503: a receipt that cannot be built answers 503 with
// Retry-After, by id and by look-up alike, naming what failed: the
// gateway's Redis (receipt.ErrRedis) is unavailable, anything else
// (the ledger) ledger_unavailable.
func TestReceiptFailureIs503(t *testing.T) {
	for _, c := range []struct {
		fail error
		code string
	}{
		{errors.New("peer down"), codeLedgerUnavailable},
		{fmt.Errorf("%w: dial tcp: connection refused", receipt.ErrRedis), codeUnavailable},
	} {
		f := newFixture(t, fixtureOpts{receipts: fakeReceipts{fail: c.fail}})
		for _, rec := range []*httptest.ResponseRecorder{
			f.do("GET", ballot.ReceiptPath(knownVote), ""),
			f.do("POST", "/api/v1/votes/lookup", `{"voter_id":"v1","credential":"c1","contest":"president"}`),
		} {
			if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || errorCode(t, rec) != c.code {
				t.Errorf("receipt failing with %q: %d %s; want 503 %s", c.fail, rec.Code, rec.Body, c.code)
			}
		}
	}
}

// TestLookupWithTheElectionStaleIsElectionUnavailable: a look-up whose roll
// look-up finds the election record stale (it turned stale after the
// handler read it) answers 503 election_unavailable, as every route does
// without the record, not ledger_unavailable: the receipt service and
// store are the production ones, only the record's source fails.
func TestLookupWithTheElectionStaleIsElectionUnavailable(t *testing.T) {
	stale := func(context.Context) ([]string, error) {
		return nil, fmt.Errorf("%w: last read from the ledger 6s ago, bound 5s", election.ErrStale)
	}
	svc := receipt.New(nil, receipt.RedisStore{States: stale}, testSecret, testElection().ID, 1)
	f := newFixture(t, fixtureOpts{receipts: svc})
	rec := f.do("POST", "/api/v1/votes/lookup", `{"voter_id":"v1","credential":"c1","contest":"president"}`)
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || errorCode(t, rec) != codeElectionUnavailable {
		t.Fatalf("look-up with the election record stale: %d %s; want 503 %s", rec.Code, rec.Body, codeElectionUnavailable)
	}
}

// TestAcceptedVoteIDIsKnown: the id a 202 gives is answered (pending), a
// random id of the same form is 404 no_vote.
func TestAcceptedVoteIDIsKnown(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.enroll("v1", "c1", "CA")
	id := f.accept(voteBody("v1", "c1", "CA", "alice"))
	if rec := f.do("GET", ballot.ReceiptPath(id), ""); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"pending"`) {
		t.Fatalf("GET the accepted vote %s: %d %s", id, rec.Code, rec.Body)
	}
	other, _ := ballot.NewVoteID()
	wantError(t, f.do("GET", ballot.ReceiptPath(other), ""), http.StatusNotFound, codeNoVote)
}

// TestResultsAnswersCarryTheirHeadersAndAreTimed: GET /api/v1/results
// answers 200 and 304 with the request id, ETag and Cache-Control (and
// Content-Type on 200), each request counts in api_request_duration_seconds
// by status, and the time it records is the request's (a handler that
// sleeps 30 ms is recorded as taking at least that).
func TestResultsAnswersCarryTheirHeadersAndAreTimed(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.srv.gin.GET("/test/slow", func(c *gin.Context) { time.Sleep(30 * time.Millisecond); c.Status(http.StatusOK) })
	rec := f.do("GET", "/api/v1/results", "")
	h := rec.Header()
	if rec.Code != 200 || h.Get("Content-Type") != "application/json" || h.Get("Cache-Control") != "public, max-age=1" ||
		h.Get("ETag") == "" || h.Get("X-Request-ID") == "" {
		t.Fatalf("GET /results: %d, headers %v", rec.Code, h)
	}
	etag, id := h.Get("ETag"), h.Get("X-Request-ID")
	if rec := f.do("GET", "/api/v1/results", ""); rec.Header().Get("X-Request-ID") == id || rec.Header().Get("ETag") != etag {
		t.Fatalf("second GET: request id %q (the first's %q), ETag %q (the first's %q)", rec.Header().Get("X-Request-ID"), id, rec.Header().Get("ETag"), etag)
	}
	rec = f.do("GET", "/api/v1/results", "", "If-None-Match", etag, "X-Request-ID", "reads-1")
	h = rec.Header()
	if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 || h.Get("ETag") != etag || h.Get("Cache-Control") != "public, max-age=1" ||
		h.Get("X-Request-ID") != "reads-1" || h.Get("Content-Type") != "" {
		t.Fatalf("If-None-Match: %d with %d bytes, headers %v", rec.Code, rec.Body.Len(), h)
	}
	f.do("GET", "/test/slow", "")
	metrics := f.do(http.MethodGet, "/metrics", "").Body.String()
	for _, want := range []string{
		`api_request_duration_seconds_count{code="200",method="GET",route="/api/v1/results"} 2`,
		`api_request_duration_seconds_count{code="304",method="GET",route="/api/v1/results"} 1`,
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	_, rest, ok := strings.Cut(metrics, `api_request_duration_seconds_sum{code="200",method="GET",route="/test/slow"} `)
	line, _, _ := strings.Cut(rest, "\n")
	if sum, err := strconv.ParseFloat(line, 64); !ok || err != nil || sum < 0.03 || sum > 10 {
		t.Fatalf("a 30 ms request recorded as %q s (%v)", line, err)
	}
}
