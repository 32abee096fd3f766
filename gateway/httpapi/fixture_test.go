package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/dedup"
	"github.com/votechain/votechain/gateway/election"
	"github.com/votechain/votechain/gateway/intakelog"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(loopbackClientEnv); spec != "" {
		if err := runLoopbackClient(spec); err != nil {
			fmt.Fprintln(os.Stderr, "loopback client:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if kind := os.Getenv(readsServerEnv); kind != "" {
		if err := runReadsServer(kind); err != nil {
			fmt.Fprintln(os.Stderr, "reads server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	gin.SetMode(gin.TestMode)
	// Tests kill Redis on purpose; its client's dial errors are expected.
	redis.SetLogger(quietRedis{})
	os.Exit(m.Run())
}

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

var testSecret = []byte("test election secret")

// staticElections is a fake Elections serving a fixed record or error.
type staticElections struct {
	mu  sync.Mutex
	e   *ballot.Election
	err error
}

func (s *staticElections) Election(context.Context) (*ballot.Election, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.e, s.err
}

// set replaces the record served.
func (s *staticElections) set(e *ballot.Election) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.e = e
}

func (s *staticElections) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// fakeLedger is a dedup.NullifierLedger that knows no nullifier, or fails,
// and counts the calls.
type fakeLedger struct {
	err   error
	calls atomic.Int64
}

func (f *fakeLedger) NullifierUsed(context.Context, string, string) (bool, error) {
	f.calls.Add(1)
	return false, f.err
}

// testElection has one contest, a race between alice and bob.
func testElection() *ballot.Election {
	return &ballot.Election{
		ID: "test-2026", Name: "Test election",
		States:   []string{"CA", "NY"},
		Contests: []ballot.Contest{{ID: "president", Title: "President", Kind: ballot.ContestRace, Choices: []string{"alice", "bob"}}},
		OpensAt:  time.Now().Add(-time.Hour),
		ClosesAt: time.Now().Add(time.Hour),
		RollRoot: strings.Repeat("0", 64),
		Status:   ballot.StatusConfigured,
		Batchers: []string{"User1@commission.votechain.test"},
	}
}

// testReferendum is testElection with three yes/no questions instead.
func testReferendum() *ballot.Election {
	e := testElection()
	e.Contests = nil
	for _, id := range []string{"L1", "L2", "L3"} {
		e.Contests = append(e.Contests, ballot.Contest{ID: id, Title: "Law " + id, Kind: ballot.ContestQuestion, Choices: []string{"oui", "non"}})
	}
	return e
}

type fixture struct {
	t         testing.TB
	redis     *redistest.Server
	rdb       *redis.Client
	elections *staticElections
	intake    *dedup.Deduper
	srv       *Server
	reg       *prometheus.Registry
}

type fixtureOpts struct {
	cfg    Config
	cache  func(src election.Source) Elections // the server's Elections over the fixture's record (default: the record itself)
	ledger dedup.NullifierLedger
	// readLedger is Deps.Ledger, what the ledger probe reads (default: the
	// fixture's record).
	readLedger Elections
	dedup      dedup.Config
	receipts   Receipts
	// logKey turns the intake log on, signing with this key every
	// logInterval (50 ms if zero); nil: off.
	logKey      ed25519.PrivateKey
	logInterval time.Duration
	// wrapIntake, if set, wraps the Deduper the server is given.
	wrapIntake func(Intake) Intake
	// log, if set, gets the server's log at debug level (default: none).
	log io.Writer
}

func newFixture(t testing.TB, o fixtureOpts) *fixture {
	t.Helper()
	rs := redistest.Start(t)
	f := &fixture{t: t, redis: rs, rdb: rs.Client(), elections: &staticElections{e: testElection()}, reg: prometheus.NewRegistry()}
	if o.ledger == nil {
		o.ledger = &fakeLedger{}
	}
	if o.dedup.CallTimeout == 0 {
		// Generous: under a loaded machine one intake call (a script and
		// its fsync) took over half a second, and a test expecting 202 got
		// 503. A dead Redis fails its calls at once anyway.
		o.dedup.CallTimeout = 10 * time.Second
	}
	o.dedup.NoLog = o.logKey == nil
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	gw := rs.Options(redisserver.UserGateway) // the gateway's own Redis user, as in production
	gw.MaxRetries = -1
	var il *intakelog.Log
	if o.logKey != nil {
		il = intakelog.New(redis.NewClient(rs.Options(redisserver.UserGateway)), nil,
			intakelog.Config{Key: o.logKey, Interval: cmp.Or(o.logInterval, 50*time.Millisecond)}, log)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); il.Run(ctx, f.elections) }()
		t.Cleanup(func() { cancel(); <-done })
		o.dedup.Logged = il.Observe
	}
	f.intake = dedup.New(redis.NewClient(gw), o.ledger, o.dedup, log)
	t.Cleanup(f.intake.Close)
	o.cfg.Secret = testSecret
	if o.receipts == nil {
		o.receipts = fakeReceipts{}
	}
	var elections Elections = f.elections
	if o.cache != nil {
		elections = o.cache(f.elections)
	}
	var intake Intake = f.intake
	if o.wrapIntake != nil {
		intake = o.wrapIntake(intake)
	}
	var readLedger Elections = f.elections
	if o.readLedger != nil {
		readLedger = o.readLedger
	}
	srvLog := log
	if o.log != nil {
		srvLog = slog.New(slog.NewTextHandler(o.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	deps := Deps{Elections: elections, Ledger: readLedger, Intake: intake,
		Results: loadedResults(t), Receipts: o.receipts, Registry: f.reg, Log: srvLog}
	if il != nil {
		deps.IntakeLog = il
	}
	srv, err := New(o.cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	return f
}

// enroll puts a voter on a state's roll.
func (f *fixture) enroll(voterID, credential, state string) {
	f.t.Helper()
	f.enrollMany(state, credential, 1, func(int) string { return voterID })
}

// enrollMany puts n voters, named by name(i), with one credential on a
// state's roll in one pipeline: one nullifier per contest of the election
// the fixture serves.
func (f *fixture) enrollMany(state, credential string, n int, name func(int) string) {
	f.t.Helper()
	ctx := context.Background()
	e, _ := f.elections.Election(ctx)
	roll, err := votequeue.EnsureRoll(ctx, f.rdb, state, votequeue.RollBits(uint64(n*len(e.ContestIDs()))))
	if err != nil {
		f.t.Fatal(err)
	}
	pipe := f.rdb.Pipeline()
	for i := range n {
		key := ballot.VoterKey(testSecret, e.ID, name(i), credential)
		for _, contest := range e.ContestIDs() {
			null := ballot.NullifierOf(key, contest)
			votequeue.Enroll(ctx, pipe, roll, [][]byte{null[:]})
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		f.t.Fatal(err)
	}
}

// voteBody is a vote that names no contest (the election's sole one).
func voteBody(voterID, credential, state, choice string) string {
	b, _ := json.Marshal(map[string]string{"voter_id": voterID, "credential": credential, "state": state, "choice": choice})
	return string(b)
}

// voteIn is a vote in a named contest.
func voteIn(voterID, credential, state, contest, choice string) string {
	b, _ := json.Marshal(map[string]string{"voter_id": voterID, "credential": credential, "state": state, "contest": contest, "choice": choice})
	return string(b)
}

// do serves one request in process.
func (f *fixture) do(method, path, body string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(rec, req)
	return rec
}

func (f *fixture) vote(body string) *httptest.ResponseRecorder {
	return f.do(http.MethodPost, "/api/v1/vote", body)
}

// accept casts a vote that must be accepted and returns its id.
func (f *fixture) accept(body string) string {
	f.t.Helper()
	rec := f.vote(body)
	return wantAccepted(f.t, rec.Code, rec.Body.Bytes())
}

// errorOf decodes an error answer, failing unless it has the documented shape.
func errorOf(t *testing.T, status int, body []byte, header http.Header) errorBody {
	t.Helper()
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("status %d with Content-Type %q; want JSON", status, ct)
	}
	var e apiError
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("status %d body %s: not {\"error\":{\"code\",\"message\"}} (%v)", status, body, err)
	}
	if status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests {
		if header.Get("Retry-After") == "" {
			t.Fatalf("status %d without Retry-After", status)
		}
	}
	return e.Error
}

// wantError checks an answer's status and error code.
func wantError(t *testing.T, rec *httptest.ResponseRecorder, status int, code string) errorBody {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d body %s; want %d %s", rec.Code, rec.Body, status, code)
	}
	e := errorOf(t, rec.Code, rec.Body.Bytes(), rec.Header())
	if e.Code != code {
		t.Fatalf("error code %q (%s); want %q", e.Code, e.Message, code)
	}
	return e
}

// wantAccepted checks a 202 answer and returns the vote id.
func wantAccepted(t testing.TB, status int, body []byte) string {
	t.Helper()
	if status != http.StatusAccepted {
		t.Fatalf("status %d body %s; want 202", status, body)
	}
	var a voteAccepted
	if err := json.Unmarshal(body, &a); err != nil || !ballot.ValidVoteID(a.VoteID) || a.Status != "pending" || a.ReceiptURL != ballot.ReceiptPath(a.VoteID) {
		t.Fatalf("202 body %s (%v) is not {vote_id, status pending, receipt_url}", body, err)
	}
	return a.VoteID
}

// queuedVoteIDs reads every vote id in the states' streams.
func queuedVoteIDs(t *testing.T, rdb *redis.Client, states ...string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for _, st := range states {
		msgs, err := rdb.XRange(context.Background(), votequeue.StreamKey(st), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			v, err := votequeue.Decode(m.Values)
			if err != nil {
				t.Fatal(err)
			}
			if ids[v.ID] {
				t.Fatalf("vote %s queued twice", v.ID)
			}
			ids[v.ID] = true
		}
	}
	return ids
}

var errTest = errors.New("test failure")
