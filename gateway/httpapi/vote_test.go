package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/bloom"
	"github.com/votechain/votechain/gateway/dedup"
	"github.com/votechain/votechain/gateway/election"
	"github.com/votechain/votechain/gateway/votequeue"
)

func TestVoteAcceptedThenDuplicate(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.enroll("v1", "c1", "CA")
	rec := f.vote(voteBody("v1", "c1", "CA", "alice"))
	id := wantAccepted(t, rec.Code, rec.Body.Bytes())
	if rec.Header().Get("Location") != ballot.ReceiptPath(id) || rec.Header().Get("X-Request-ID") == "" {
		t.Fatalf("headers %v lack Location or X-Request-ID", rec.Header())
	}
	if ids := queuedVoteIDs(t, f.rdb, "CA"); !ids[id] || len(ids) != 1 {
		t.Fatalf("queue holds %v; want exactly %s", ids, id)
	}
	for want := int64(1); want <= 2; want++ {
		// Another choice changes nothing: one voter, one vote per contest.
		e := wantError(t, f.vote(voteBody("v1", "c1", "CA", "bob")), http.StatusConflict, codeDuplicate)
		if e.AttemptCount != want {
			t.Fatalf("attempt_count %d; want %d", e.AttemptCount, want)
		}
	}
}

// A committed voter's re-send is refused 409 from Redis alone: the ledger
// is never asked.
func TestCommittedVoterResendNeedsNoLedger(t *testing.T) {
	ledger := &fakeLedger{}
	f := newFixture(t, fixtureOpts{ledger: ledger})
	f.enroll("v1", "c1", "CA")
	f.accept(voteBody("v1", "c1", "CA", "alice"))
	// The batcher reads the vote, commits it and acknowledges it.
	ctx := context.Background()
	streams, err := f.rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{votequeue.StreamKey("CA"), "0"}, Block: -1}).Result()
	if err != nil || len(streams) != 1 || len(streams[0].Messages) != 1 {
		t.Fatalf("read the queue: %v, %v", streams, err)
	}
	msg := streams[0].Messages[0]
	f.rdb.Set(ctx, "lease:{CA}", "me", 0)
	fence := votequeue.Fence{LeaseKey: "lease:{CA}", Lease: "me", JournalKey: "journal:{CA}", JournalField: "1"}
	if err := votequeue.Ack(ctx, f.rdb, "CA", fence, "", []string{msg.ID}); err != nil {
		t.Fatal(err)
	}
	for want := int64(1); want <= 3; want++ {
		e := wantError(t, f.vote(voteBody("v1", "c1", "CA", "alice")), http.StatusConflict, codeDuplicate)
		if e.AttemptCount != want {
			t.Fatalf("attempt_count %d; want %d", e.AttemptCount, want)
		}
	}
	if c := ledger.calls.Load(); c != 0 {
		t.Fatalf("the ledger was asked %d times; want 0", c)
	}
	if m := f.do(http.MethodGet, "/metrics", "").Body.String(); !strings.Contains(m, "ledger_exact_checks_total 0") {
		t.Fatal("/metrics lacks ledger_exact_checks_total 0")
	}
}

// TestVoteErrors walks every refusal of POST /api/v1/vote.
func TestVoteErrors(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.enroll("v1", "c1", "CA")
	long := strings.Repeat("x", 200)
	for _, tc := range []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"not json", "vote for alice", 400, codeInvalidJSON},
		{"array", `["v1","c1","CA","alice"]`, 400, codeInvalidJSON},
		{"null", `null`, 400, codeInvalidJSON},
		{"empty", ``, 400, codeInvalidJSON},
		{"trailing data", voteBody("v1", "c1", "CA", "alice") + `{}`, 400, codeInvalidJSON},
		{"truncated", `{"voter_id":"v1"`, 400, codeInvalidJSON},
		{"missing field", `{"voter_id":"v1","credential":"c1","state":"CA"}`, 400, codeInvalidField},
		{"unknown field", `{"voter_id":"v1","credential":"c1","state":"CA","choice":"alice","extra":1}`, 400, codeInvalidField},
		{"case variant", `{"Voter_ID":"v1","credential":"c1","state":"CA","choice":"alice"}`, 400, codeInvalidField},
		{"repeated key", `{"voter_id":"v1","voter_id":"v2","credential":"c1","state":"CA","choice":"alice"}`, 400, codeInvalidField},
		{"number", `{"voter_id":1,"credential":"c1","state":"CA","choice":"alice"}`, 400, codeInvalidField},
		{"null field", `{"voter_id":null,"credential":"c1","state":"CA","choice":"alice"}`, 400, codeInvalidField},
		{"object field", `{"voter_id":{},"credential":"c1","state":"CA","choice":"alice"}`, 400, codeInvalidField},
		{"empty field", voteBody("", "c1", "CA", "alice"), 400, codeInvalidField},
		{"long field", voteBody(long, "c1", "CA", "alice"), 400, codeInvalidField},
		{"unknown state", voteBody("v1", "c1", "TX", "alice"), 422, codeUnknownState},
		{"unknown choice", voteBody("v1", "c1", "CA", "mallory"), 422, codeUnknownChoice},
		{"unknown contest", voteIn("v1", "c1", "CA", "senate", "alice"), 422, codeUnknownContest},
		{"empty contest", voteIn("v1", "c1", "CA", "", "alice"), 400, codeInvalidField},
		{"long contest", voteIn("v1", "c1", "CA", long, "alice"), 400, codeInvalidField},
		{"null contest", `{"voter_id":"v1","credential":"c1","state":"CA","choice":"alice","contest":null}`, 400, codeInvalidField},
		{"repeated contest", `{"voter_id":"v1","credential":"c1","state":"CA","contest":"president","choice":"alice","contest":"president"}`, 400, codeInvalidField},
		{"not on roll", voteBody("v1", "wrong", "CA", "alice"), 403, codeNotEligible},
		{"other state's roll", voteBody("v1", "c1", "NY", "alice"), 403, codeNotEligible},
		{"too large", `{"voter_id":"` + strings.Repeat("x", 5000) + `"}`, 413, codeBodyTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) { wantError(t, f.vote(tc.body), tc.status, tc.code) })
	}
	t.Run("no content type", func(t *testing.T) {
		rec := f.do(http.MethodPost, "/api/v1/vote", voteBody("v1", "c1", "CA", "alice"), "Content-Type", "text/plain")
		wantError(t, rec, 415, codeUnsupportedMedia)
	})
	t.Run("too large without length", func(t *testing.T) {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/vote", io.MultiReader(strings.NewReader(`{"voter_id":"`), strings.NewReader(strings.Repeat("x", 5000))))
		req.ContentLength = -1
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		f.srv.Handler().ServeHTTP(rec, req)
		wantError(t, rec, 413, codeBodyTooLarge)
	})
	t.Run("not found", func(t *testing.T) { wantError(t, f.do(http.MethodGet, "/api/v1/nothing", ""), 404, codeNotFound) })
	t.Run("method", func(t *testing.T) { wantError(t, f.do(http.MethodGet, "/api/v1/vote", ""), 405, codeMethodNotAllowed) })
	t.Run("long multi-byte unknown field", func(t *testing.T) {
		field := longMultiByte()
		e := wantError(t, f.vote(`{"voter_id":"v1","credential":"c1","state":"CA","choice":"alice","`+field+`":1}`), 400, codeInvalidField)
		wantClipped(t, "the message", e.Message, `unknown field "`, `..."`)
	})
	// The refusal "not on roll" is recorded for review (dedup tests the entry).
	if n := f.rdb.XLen(context.Background(), votequeue.ReviewKey("CA")).Val(); n != 1 {
		t.Fatalf("review stream of CA holds %d entries; want 1", n)
	}
	if ids := queuedVoteIDs(t, f.rdb, "CA", "NY"); len(ids) != 0 {
		t.Fatalf("refused requests queued %d votes", len(ids))
	}
}

// TestVoteContests: one vote per voter and contest. In an election of
// several contests a vote names its contest; the answers name it too.
func TestVoteContests(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.elections.set(testReferendum())
	f.enroll("v1", "c1", "CA")
	wantError(t, f.vote(voteBody("v1", "c1", "CA", "oui")), 422, codeContestRequired)
	if e := wantError(t, f.vote(voteIn("v1", "c1", "CA", "L9", "oui")), 422, codeUnknownContest); e.Contest != "L9" {
		t.Fatalf("unknown_contest names contest %q", e.Contest)
	}
	if e := wantError(t, f.vote(voteIn("v1", "c1", "CA", "L1", "alice")), 422, codeUnknownChoice); e.Contest != "L1" || !strings.Contains(e.Message, "oui, non") {
		t.Fatalf("unknown_choice: %+v", e)
	}
	if e := wantError(t, f.vote(voteIn("v1", "wrong", "CA", "L1", "oui")), 403, codeNotEligible); e.Contest != "L1" {
		t.Fatalf("not_eligible names contest %q", e.Contest)
	}
	ids := map[string]string{} // contest → vote id
	for _, contest := range []string{"L1", "L3"} {
		rec := f.vote(voteIn("v1", "c1", "CA", contest, "non"))
		ids[contest] = wantAccepted(t, rec.Code, rec.Body.Bytes())
		var a voteAccepted
		if json.Unmarshal(rec.Body.Bytes(), &a); a.Contest != contest {
			t.Fatalf("202 %s names contest %q; want %q", rec.Body, a.Contest, contest)
		}
	}
	e := wantError(t, f.vote(voteIn("v1", "c1", "CA", "L1", "oui")), 409, codeDuplicate)
	if e.Contest != "L1" || e.AttemptCount != 1 || !strings.Contains(e.Message, `"L1"`) {
		t.Fatalf("duplicate in L1: %+v", e)
	}
	ids["L2"] = f.accept(voteIn("v1", "c1", "CA", "L2", "oui"))

	// The queue holds one vote per contest, each under its contest's nullifier.
	msgs, err := f.rdb.XRange(context.Background(), votequeue.StreamKey("CA"), "-", "+").Result()
	if err != nil || len(msgs) != 3 {
		t.Fatalf("queue: %d entries, %v; want 3", len(msgs), err)
	}
	key := ballot.VoterKey(testSecret, testElection().ID, "v1", "c1")
	for _, m := range msgs {
		v, err := votequeue.Decode(m.Values)
		if err != nil {
			t.Fatal(err)
		}
		if ids[v.Contest] != v.ID || v.Nullifier != ballot.HashHex(ballot.NullifierOf(key, v.Contest)) {
			t.Fatalf("queued vote %+v: not the one accepted in its contest, or not under its nullifier", v)
		}
	}
}

// In an election of one contest, naming it is the same as leaving it out.
func TestSoleContestMayBeNamed(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.enroll("v1", "c1", "CA")
	f.accept(voteIn("v1", "c1", "CA", "president", "alice"))
	if e := wantError(t, f.vote(voteBody("v1", "c1", "CA", "bob")), 409, codeDuplicate); e.Contest != "president" {
		t.Fatalf("duplicate names contest %q", e.Contest)
	}
}

func TestElectionClosed(t *testing.T) {
	for name, now := range map[string]time.Time{
		"before": time.Now().Add(-2 * time.Hour),
		"after":  time.Now().Add(2 * time.Hour),
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{cfg: Config{Now: func() time.Time { return now }}})
			f.enroll("v1", "c1", "CA")
			wantError(t, f.vote(voteBody("v1", "c1", "CA", "alice")), 403, codeElectionClosed)
		})
	}
}

// TestEarlyCloseWithinBound runs the gateway's election cache (1 s TTL, 5 s
// bound) on a fake clock over a fake ledger: a close on the ledger is
// honoured (403 election_closed) one TTL later, and when the ledger cannot
// be read the gateway refuses votes (503) once its record is 5 s old.
func TestEarlyCloseWithinBound(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	var cache *election.Cache
	f := newFixture(t, fixtureOpts{cache: func(src election.Source) Elections {
		cache = election.NewCache(src, time.Second, 5*time.Second, slog.New(slog.DiscardHandler), clock)
		return cache
	}})
	// refreshed waits until the cache serves a record of the given status: a
	// record past half its TTL is refreshed in the background, votes meanwhile
	// going by the one cached.
	refreshed := func(status string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			e, err := cache.Election(context.Background())
			if err == nil && e.Status == status {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the cache still serves %+v, %v; want status %s", e, err, status)
			}
			time.Sleep(time.Millisecond)
		}
	}
	for _, v := range []string{"v1", "v2", "v3"} {
		f.enroll(v, "c", "CA")
	}
	f.accept(voteBody("v1", "c", "CA", "alice"))

	closed := *testElection()
	closed.Status, closed.ClosedAt = ballot.StatusClosed, time.Now()
	f.elections.set(&closed)
	advance(time.Second)
	refreshed(ballot.StatusClosed)
	wantError(t, f.vote(voteBody("v2", "c", "CA", "alice")), 403, codeElectionClosed)

	f.elections.set(testElection()) // (a ledger cannot reopen; this isolates the bound)
	advance(time.Second)
	refreshed(testElection().Status)
	f.accept(voteBody("v2", "c", "CA", "alice"))
	f.elections.fail(errTest)
	advance(4 * time.Second)
	f.accept(voteBody("v3", "c", "CA", "alice")) // 4 s old: still served
	f.enroll("v4", "c", "CA")
	advance(time.Second)
	wantError(t, f.vote(voteBody("v4", "c", "CA", "alice")), 503, codeElectionUnavailable)
}

func TestUnavailable(t *testing.T) {
	t.Run("redis down", func(t *testing.T) {
		f := newFixture(t, fixtureOpts{})
		f.enroll("v1", "c1", "CA")
		f.redis.Kill()
		wantError(t, f.vote(voteBody("v1", "c1", "CA", "alice")), 503, codeUnavailable) // and /readyz 503: TestReadyNeedsTheQueue
		f.redis.Restart()
		f.accept(voteBody("v1", "c1", "CA", "alice"))
	})
	t.Run("no election", func(t *testing.T) {
		f := newFixture(t, fixtureOpts{})
		f.elections.fail(errTest)
		wantError(t, f.vote(voteBody("v1", "c1", "CA", "alice")), 503, codeElectionUnavailable)
		wantError(t, f.do(http.MethodGet, "/api/v1/election", ""), 503, codeElectionUnavailable)
	})
	t.Run("overloaded", func(t *testing.T) {
		f := pastMaxDepth(t)
		// Another state's queue is not full.
		f.enroll("v3", "c", "NY")
		f.accept(voteBody("v3", "c", "NY", "alice"))
	})
	t.Run("ledger down", func(t *testing.T) {
		f := newFixture(t, fixtureOpts{ledger: &fakeLedger{err: errTest}})
		f.enroll("v1", "c1", "CA")
		saturateBloom(t, f, "CA")
		wantError(t, f.vote(voteBody("v1", "c1", "CA", "alice")), 503, codeLedgerUnavailable)
	})
	t.Run("stopping", func(t *testing.T) {
		f := newFixture(t, fixtureOpts{})
		f.enroll("v1", "c1", "CA")
		f.intake.Close() // as a stopping gateway's intake refuses votes: dedup.ErrClosed
		wantError(t, f.vote(voteBody("v1", "c1", "CA", "alice")), 503, codeStopping)
	})
	// The intake's own refusals are documented 503s, whose message says
	// whether the vote may have been kept (the OpenAPI's 503: retry, and a
	// 409 duplicate means it was): a full queue for Redis (dedup.ErrBusy)
	// and a closed intake (dedup.ErrClosed) stored nothing; a call the stop
	// cut (dedup.ErrAborted) and a replica timeout (dedup.ErrNotReplicated)
	// may have stored the vote.
	const kept = "a 409 duplicate on retry means"
	for name, c := range map[string]struct {
		err   error
		code  string
		maybe bool // the message says the vote may have been kept
	}{
		"intake busy":          {dedup.ErrBusy, codeOverloaded, false},
		"intake closed":        {dedup.ErrClosed, codeStopping, false},
		"call cut by the stop": {dedup.ErrAborted, codeStopping, true},
		"replica timeout":      {dedup.ErrNotReplicated, codeUnavailable, true},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{wrapIntake: func(in Intake) Intake { return failingIntake{in, c.err} }})
			f.enroll("v1", "c1", "CA")
			e := wantError(t, f.vote(voteBody("v1", "c1", "CA", "alice")), 503, c.code)
			if strings.Contains(e.Message, kept) != c.maybe {
				t.Errorf("message %q: says %q %v; want %v", e.Message, kept, !c.maybe, c.maybe)
			}
			if !c.maybe && c.code == codeStopping && !strings.Contains(e.Message, "not stored") {
				t.Errorf("message %q: want it to say the vote was not stored", e.Message)
			}
		})
	}
	// A full queue for Redis refuses votes by the thousand in a surge: its
	// line is at debug (it was at warn, beside the access log's warn line
	// for the same 503).
	t.Run("intake busy logs at debug", func(t *testing.T) {
		var logs bytes.Buffer
		f := newFixture(t, fixtureOpts{log: &logs, wrapIntake: func(in Intake) Intake { return failingIntake{in, dedup.ErrBusy} }})
		f.enroll("v1", "c1", "CA")
		wantError(t, f.vote(voteBody("v1", "c1", "CA", "alice")), 503, codeOverloaded)
		var busy, warns int
		for line := range strings.Lines(logs.String()) {
			if strings.Contains(line, "too many votes waiting for Redis") {
				busy++
				if !strings.Contains(line, "level=DEBUG") {
					t.Errorf("ErrBusy's line not at debug: %s", line)
				}
			}
			if strings.Contains(line, "level=WARN") {
				warns++
			}
		}
		if busy != 1 || warns != 1 {
			t.Errorf("%d ErrBusy lines, %d warn lines; want 1 each (the access log's):\n%s", busy, warns, logs.String())
		}
	})
}

// TestOverloadedRefusalsCountedApart: both limits answer 503 overloaded,
// but votes_validated_total tells them apart: status overloaded for a
// state's queue deeper than MaxQueueDepth (the batchers lag),
// overloaded_intake for the intake's queue for Redis full (dedup.ErrBusy:
// Redis does not keep up). Both counted overloaded, an operator could not
// tell which limit refused.
func TestOverloadedRefusalsCountedApart(t *testing.T) {
	deep := pastMaxDepth(t)
	busy := newFixture(t, fixtureOpts{wrapIntake: func(in Intake) Intake { return failingIntake{in, dedup.ErrBusy} }})
	busy.enroll("v1", "c1", "CA")
	for range 2 {
		wantError(t, busy.vote(voteBody("v1", "c1", "CA", "alice")), 503, codeOverloaded)
	}
	for _, c := range []struct {
		name  string
		f     *fixture
		want  string
		never string
	}{
		{"queue past MaxQueueDepth", deep, `votes_validated_total{status="overloaded"} 1` + "\n", `status="overloaded_intake"`},
		{"intake's queue full", busy, `votes_validated_total{status="overloaded_intake"} 2` + "\n", `status="overloaded"}`},
	} {
		metrics := c.f.do(http.MethodGet, "/metrics", "").Body.String()
		if !strings.Contains(metrics, c.want) || strings.Contains(metrics, c.never) {
			t.Errorf("%s: /metrics lacks %q or has %q:\n%s", c.name, c.want, c.never, grepLines(metrics, "votes_validated_total"))
		}
	}
}

// pastMaxDepth is a fixture whose CA queue is deeper than its
// MaxQueueDepth (1): voter v3 (credential c), on CA's roll, was refused
// 503 overloaded there.
func pastMaxDepth(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t, fixtureOpts{cfg: Config{MaxQueueDepth: 1}})
	for _, v := range []string{"v1", "v2", "v3"} {
		f.enroll(v, "c", "CA")
	}
	f.accept(voteBody("v1", "c", "CA", "alice"))
	f.accept(voteBody("v2", "c", "CA", "alice"))
	f.srv.watch.pollDepths(context.Background())
	wantError(t, f.vote(voteBody("v3", "c", "CA", "alice")), 503, codeOverloaded)
	return f
}

// grepLines is text's lines that contain s.
func grepLines(text, s string) string {
	var b strings.Builder
	for line := range strings.Lines(text) {
		if strings.Contains(line, s) {
			b.WriteString(line)
		}
	}
	return b.String()
}

// failingIntake is an Intake whose every Accept fails with err.
type failingIntake struct {
	Intake
	err error
}

func (i failingIntake) Accept(context.Context, dedup.Attempt) (dedup.Result, error) {
	return dedup.Result{}, fmt.Errorf("intake: %w", i.err)
}

// saturateBloom gives state a tiny filter with every bit set, so every voter
// is "maybe seen" and goes to the ledger.
func saturateBloom(t *testing.T, f *fixture, state string) {
	t.Helper()
	ctx := context.Background()
	if _, err := dedup.EnsureParams(ctx, f.rdb, state, bloom.Params{Bits: 8, Hashes: 1}); err != nil {
		t.Fatal(err)
	}
	if err := f.rdb.Set(ctx, votequeue.BloomKey(state), "\xff", 0).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestBloomFalsePositiveAccepted(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.enroll("v1", "c1", "CA")
	saturateBloom(t, f, "CA")
	f.accept(voteBody("v1", "c1", "CA", "alice"))
	wantError(t, f.vote(voteBody("v1", "c1", "CA", "alice")), 409, codeDuplicate)
	if m := f.do(http.MethodGet, "/metrics", "").Body.String(); !strings.Contains(m, "ledger_exact_checks_total 1") {
		t.Fatal("/metrics lacks ledger_exact_checks_total 1: the false positive was checked on the ledger once")
	}
}

func TestRateLimited(t *testing.T) {
	f := newFixture(t, fixtureOpts{cfg: Config{ClientRate: 0.001, ClientBurst: 2}})
	for range 2 {
		if rec := f.do(http.MethodGet, "/api/v1/election", ""); rec.Code != 200 {
			t.Fatalf("status %d within the burst", rec.Code)
		}
	}
	wantError(t, f.do(http.MethodGet, "/api/v1/election", ""), 429, codeRateLimited)
	wantError(t, f.vote(voteBody("v1", "c1", "CA", "alice")), 429, codeRateLimited)
	// Health, metrics and the results routes (openapi.yaml) are not limited.
	if rec := f.do(http.MethodGet, "/healthz", ""); rec.Code != 200 {
		t.Fatalf("/healthz %d under rate limit", rec.Code)
	}
	for _, path := range []string{"/api/v1/results", "/api/v1/results/president", "/api/v1/results/president/CA"} {
		if rec := f.do(http.MethodGet, path, ""); rec.Code == http.StatusTooManyRequests {
			t.Errorf("GET %s %d under rate limit; the results routes are not limited", path, rec.Code)
		}
	}
}

func TestReadOnlyRoutes(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.enroll("v1", "c1", "CA")
	f.vote(voteBody("v1", "c1", "CA", "alice"))
	f.vote(voteBody("v1", "c1", "CA", "alice"))
	f.srv.watch.pollDepths(context.Background())
	f.srv.watch.pollBloom(context.Background())
	for path, want := range map[string]string{
		"/healthz":             `"ok"`,
		"/readyz":              `"ready"`,
		"/api/v1/election":     `"test-2026"`,
		"/api/v1/openapi.yaml": "openapi: 3",
		"/metrics":             `votes_validated_total{status="duplicate"} 1`,
	} {
		rec := f.do(http.MethodGet, path, "", "X-Request-ID", "abc-123")
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), want) || rec.Header().Get("X-Request-ID") != "abc-123" {
			t.Errorf("GET %s: %d %q; want 200 containing %q and the request id", path, rec.Code, rec.Body.String(), want)
		}
	}
	f.do(http.MethodGet, "/no/such/path", "")
	f.do("SCAN1", "/no/such/path", "")
	f.do("SCAN2", "/another/path", "")
	metrics := f.do(http.MethodGet, "/metrics", "").Body.String()
	if strings.Contains(metrics, `method="SCAN`) {
		t.Errorf("an unknown method became a label of its own")
	}
	for _, name := range []string{"votes_submitted_total 2", `votes_validated_total{status="accepted"} 1`,
		"vote_validation_duration_seconds_count 2", `vote_queue_depth{state="CA"} 1`, "duplicate_attempts_total 1",
		`bloom_fill_ratio{state="CA"}`, `bloom_estimated_false_positive_rate{state="CA"}`,
		`api_request_duration_seconds_count{code="202",method="POST",route="/api/v1/vote"} 1`,
		`api_request_duration_seconds_count{code="409",method="POST",route="/api/v1/vote"} 1`,
		`api_request_duration_seconds_count{code="404",method="GET",route="unmatched"} 1`,
		`api_request_duration_seconds_count{code="404",method="other",route="unmatched"} 2`,
		`api_request_duration_seconds_count{code="200",method="GET",route="/healthz"} 1`,
		`vote_queue_oldest_age_seconds{state="CA"} `} {
		if !strings.Contains(metrics, name) {
			t.Errorf("/metrics lacks %q", name)
		}
	}
	// One vote waits in CA: its age is above zero.
	if strings.Contains(metrics, `vote_queue_oldest_age_seconds{state="CA"} 0`+"\n") {
		t.Errorf("the oldest queued vote of CA has age 0 while one vote waits")
	}
}

// TestConcurrentSameVoter sends 1,000 concurrent requests for one voter over
// real HTTP: exactly one 202, the rest 409, one vote queued.
func TestConcurrentSameVoter(t *testing.T) {
	// The fixture's generous Redis call timeout matters here: a call that
	// timed out on the client after its script ran in Redis would leave the
	// winner with a 503 and everyone else with a 409 (the contract allows
	// it; this test checks the race).
	f := newFixture(t, fixtureOpts{})
	f.enroll("v1", "c1", "CA")
	ts := httptest.NewServer(f.srv.Handler())
	defer ts.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 200}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	const n = 1000
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			// A 503 says retry: a client does.
			for attempt := 0; ; attempt++ {
				resp, err := client.Post(ts.URL+"/api/v1/vote", "application/json", strings.NewReader(voteBody("v1", "c1", "CA", "alice")))
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusServiceUnavailable || attempt == 50 {
					statuses <- resp.StatusCode
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[202] != 1 || count[409] != n-1 {
		t.Fatalf("statuses %v; want one 202 and %d 409", count, n-1)
	}
	if ids := queuedVoteIDs(t, f.rdb, "CA"); len(ids) != 1 {
		t.Fatalf("%d votes queued; want 1", len(ids))
	}
}

// TestKillRedisLosesNoAcceptedVote kills redis-server with SIGKILL while
// votes stream in, restarts it on the same AOF and checks that every vote
// answered 202 is in the queue.
func TestKillRedisLosesNoAcceptedVote(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	const voters = 2000
	f.enrollMany("CA", "c", voters, voterName)
	var mu sync.Mutex
	accepted := map[string]bool{}
	statuses := map[int]int{}
	next := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range next {
				rec := f.vote(voteBody(voterName(i), "c", "CA", "alice"))
				mu.Lock()
				statuses[rec.Code]++
				if rec.Code == http.StatusAccepted {
					accepted[wantAccepted(t, rec.Code, rec.Body.Bytes())] = true
				} else if rec.Code != http.StatusServiceUnavailable {
					t.Errorf("status %d %s; want 202 or 503", rec.Code, rec.Body)
				}
				mu.Unlock()
			}
		})
	}
	for i := range voters {
		if i == voters/2 {
			f.redis.Kill()
		}
		next <- i
	}
	close(next)
	wg.Wait()
	f.redis.Restart()
	queued := queuedVoteIDs(t, f.rdb, "CA")
	for id := range accepted {
		if !queued[id] {
			t.Errorf("vote %s answered 202 but lost after kill -9", id)
		}
	}
	t.Logf("statuses %v; %d accepted, %d queued after restart", statuses, len(accepted), len(queued))
	if len(accepted) < voters/4 || statuses[503] == 0 {
		t.Fatalf("statuses %v: the kill did not land mid-stream", statuses)
	}
}

func voterName(i int) string { return fmt.Sprintf("voter-%06d", i) }

func TestAcceptedBodyIsTheJSONEncoding(t *testing.T) {
	id, _ := ballot.NewVoteID()
	want, _ := json.Marshal(voteAccepted{VoteID: id, Contest: "L2025-001", Status: "pending", ReceiptURL: ballot.ReceiptPath(id)})
	if got := appendAccepted(nil, id, "L2025-001", "CA", -1); string(got) != string(want) {
		t.Fatalf("appendAccepted without the log = %s; want %s", got, want)
	}
	index := int64(1234567)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // the "&" of the URL stays as it is
	_ = enc.Encode(voteAccepted{VoteID: id, Contest: "L2025-001", Status: "pending", ReceiptURL: ballot.ReceiptPath(id),
		LogIndex: &index, AcceptanceURL: acceptancePath(id, "state=CA&index=1234567")})
	want = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if got := appendAccepted(nil, id, "L2025-001", "CA", index); string(got) != string(want) {
		t.Fatalf("appendAccepted with the log = %s; want %s", got, want)
	}
}

// longMultiByte is 301 bytes of client text, an ASCII byte then two-byte
// characters: a cut at an even byte count, 80 among them, splits one.
func longMultiByte() string { return "x" + strings.Repeat("é", 150) }

// wantClipped checks that echoed, which quotes longMultiByte between prefix
// and suffix, quotes it clipped at a character's start (valid UTF-8, so
// JSON put no U+FFFD in its place) to at most 80 bytes.
func wantClipped(t *testing.T, what, echoed, prefix, suffix string) {
	t.Helper()
	quoted, ok := strings.CutPrefix(echoed, prefix)
	if ok {
		quoted, ok = strings.CutSuffix(quoted, suffix)
	}
	if !ok || !strings.HasPrefix(longMultiByte(), quoted) || len(quoted) > 80 || !utf8.ValidString(quoted) || strings.ContainsRune(echoed, utf8.RuneError) {
		t.Errorf("%s %q (%d bytes quoted); want %s, the text's first 80 bytes at most cut at a character's start, %s", what, echoed, len(quoted), prefix, suffix)
	}
}
