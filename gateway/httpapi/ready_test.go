package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/internal/testlog"
)

// hangingLedger is an election source that answers only when its context
// ends, and counts the reads in flight.
type hangingLedger struct{ inFlight, calls atomic.Int64 }

func (h *hangingLedger) Election(ctx context.Context) (*ballot.Election, error) {
	h.calls.Add(1)
	h.inFlight.Add(1)
	defer h.inFlight.Add(-1)
	<-ctx.Done()
	return nil, ctx.Err()
}

// readyAnswer fetches /readyz, which must answer 200, and decodes it.
func (f *fixture) readyAnswer(t *testing.T) readiness {
	t.Helper()
	rec := f.do(http.MethodGet, "/readyz", "")
	var r readiness
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if rec.Code != http.StatusOK || dec.Decode(&r) != nil || r.Status != "ready" {
		t.Fatalf("/readyz: %d %s; want 200 {status: ready, ledger, …}", rec.Code, rec.Body)
	}
	return r
}

// serviceWait is how long a test waits for what the server's goroutines
// will do: generous, as a wait that ends costs nothing, and CI runs two
// test binaries on two cores, where a starved goroutine can take seconds.
const serviceWait = time.Minute

// TestReadyDoesNotWaitForTheLedger: with a ledger that never answers,
// /readyz answers 200 at once (the ledger is probed in the background),
// says the ledger is unknown and then, once a probe timed out,
// unreachable; Run stops its probe when its context ends.
func TestReadyDoesNotWaitForTheLedger(t *testing.T) {
	ledger := &hangingLedger{}
	f := newFixture(t, fixtureOpts{readLedger: ledger,
		cfg: Config{LedgerProbeInterval: 20 * time.Millisecond, LedgerProbeTimeout: time.Second}})
	if r := f.readyAnswer(t); r.Ledger != ledgerUnknown || r.LedgerLastSuccessAge != nil {
		t.Fatalf("before any probe: %+v; want ledger unknown, no age", r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); f.srv.Run(ctx) }()
	defer func() { cancel(); <-ran }()

	for probeDeadline := time.Now().Add(serviceWait); ledger.calls.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(probeDeadline) {
			t.Fatalf("no ledger probe %v after Run started", serviceWait)
		}
	}
	// The first probe hangs for its second meanwhile: an answer that
	// waited for the ledger could not say unknown.
	if r := f.readyAnswer(t); r.Ledger != ledgerUnknown {
		t.Fatalf("while the first probe hangs: %+v; want ledger unknown", r)
	}
	r := f.readyAnswer(t)
	deadline := time.Now().Add(serviceWait)
	for r.Ledger != ledgerUnreachable && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		r = f.readyAnswer(t)
	}
	if r.Ledger != ledgerUnreachable || r.LedgerLastSuccessAge != nil {
		t.Fatalf("after probes timed out: %+v; want ledger unreachable, no age (none succeeded)", r)
	}
	if m := f.do(http.MethodGet, "/metrics", "").Body.String(); !strings.Contains(m, "\nledger_probe_reachable 0\n") {
		t.Errorf("/metrics lacks ledger_probe_reachable 0")
	}

	cancel()
	select {
	case <-ran:
	case <-time.After(serviceWait):
		t.Fatalf("Run did not return %v after its context ended", serviceWait)
	}
	if n := ledger.inFlight.Load(); n != 0 {
		t.Fatalf("%d ledger reads still in flight after Run returned", n)
	}
}

// TestReadyNeedsTheQueue: with Redis down /readyz is 503 not_ready, the
// ledger reachable or not, and names no internal detail.
func TestReadyNeedsTheQueue(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.srv.ledger.probe(context.Background())
	if r := f.readyAnswer(t); r.Ledger != ledgerReachable || r.LedgerLastSuccessAge == nil || *r.LedgerLastSuccessAge < 0 {
		t.Fatalf("after a probe that read the record: %+v; want reachable with an age", r)
	}
	f.redis.Kill()
	e := wantError(t, f.do(http.MethodGet, "/readyz", ""), 503, codeNotReady)
	if _, port, _ := strings.Cut(f.redis.Addr, ":"); strings.Contains(e.Message, port) || strings.Contains(strings.ToLower(e.Message), "redis") {
		t.Errorf("/readyz shows an internal detail: %q", e.Message)
	}
	f.redis.Restart()
	f.readyAnswer(t)
}

// logRecord is one line of a JSON slog handler.
type logRecord struct {
	Level, Msg     string
	LastSuccess    string `json:"last_success"`
	UnreachableFor string `json:"unreachable_for"`
}

// logRecords decodes the JSON log lines of logged since the last call.
func logRecords(t *testing.T, logged *testlog.Buffer) []logRecord {
	t.Helper()
	var out []logRecord
	for _, line := range logged.Take() {
		var r logRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// TestLedgerProbeStates: on an injected clock, the probe's state follows
// its reads (unknown, unreachable, reachable, …), its gauges and the age of
// the last success with it; a change of state is logged once (warn when
// the ledger becomes unreachable, info when it is back), a repeat is not;
// a read cut short by shutdown is not an outcome.
func TestLedgerProbeStates(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	src := &staticElections{e: testElection()}
	reg := prometheus.NewRegistry()
	var logged testlog.Buffer
	p := newLedgerProbe(src, Config{LedgerProbeTimeout: time.Second, Now: func() time.Time { return now }}, newMetrics(reg),
		slog.New(slog.NewJSONHandler(&logged, &slog.HandlerOptions{Level: slog.LevelInfo})))
	ctx := context.Background()
	gauges := func() (reachable, lastOK float64) {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			switch mf.GetName() {
			case "ledger_probe_reachable":
				reachable = mf.GetMetric()[0].GetGauge().GetValue()
			case "ledger_probe_last_success_timestamp_seconds":
				lastOK = mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		return reachable, lastOK
	}
	want := func(step, state string, age float64, reachable, lastOK float64, logs ...logRecord) {
		t.Helper()
		r := p.readiness()
		gotAge := -1.0
		if r.LedgerLastSuccessAge != nil {
			gotAge = *r.LedgerLastSuccessAge
		}
		if r.Ledger != state || gotAge != age {
			t.Errorf("%s: %+v (age %v); want %s, age %v", step, r, gotAge, state, age)
		}
		if gr, gl := gauges(); gr != reachable || gl != lastOK {
			t.Errorf("%s: ledger_probe_reachable %v, last success %v; want %v, %v", step, gr, gl, reachable, lastOK)
		}
		got := logRecords(t, &logged)
		if len(got) != len(logs) {
			t.Fatalf("%s: logged %+v; want %+v", step, got, logs)
		}
		for i, l := range logs {
			if g := got[i]; g.Level != l.Level || !strings.HasPrefix(g.Msg, l.Msg) || g.LastSuccess != l.LastSuccess || g.UnreachableFor != l.UnreachableFor {
				t.Errorf("%s: logged %+v; want %+v", step, g, l)
			}
		}
	}
	want("before any probe", ledgerUnknown, -1, 0, 0)

	src.fail(errTest)
	p.probe(ctx)
	want("first probe failed", ledgerUnreachable, -1, 0, 0,
		logRecord{Level: "WARN", Msg: "ledger unreachable", LastSuccess: "never"})

	now = now.Add(3 * time.Second)
	src.fail(nil)
	p.probe(ctx)
	okAt := float64(now.Unix())
	want("back", ledgerReachable, 0, 1, okAt,
		logRecord{Level: "INFO", Msg: "ledger reachable again", UnreachableFor: "3s"})

	now = now.Add(2500 * time.Millisecond)
	want("2.5 s later", ledgerReachable, 2.5, 1, okAt)

	src.fail(errTest)
	p.probe(ctx)
	want("failed again", ledgerUnreachable, 2.5, 0, okAt,
		logRecord{Level: "WARN", Msg: "ledger unreachable", LastSuccess: "2.5s ago"})
	now = now.Add(5 * time.Second)
	p.probe(ctx)
	want("still failing", ledgerUnreachable, 7.5, 0, okAt) // no new line

	src.fail(nil)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	p.probe(cancelled)
	want("shutting down", ledgerUnreachable, 7.5, 0, okAt)
}

// TestFrontWhileStarting: before SwitchToAPI, the front answers /healthz 200,
// /readyz and every other route, the API's among them, 503 starting with
// Retry-After in the API's error shape, and /metrics with gateway_starting
// 1, logging each request at debug level with its id; after SwitchToAPI it
// answers as the API (/readyz 200, /metrics with gateway_starting 0).
func TestFrontWhileStarting(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	var logs strings.Builder
	front, err := NewFront(Config{RetryAfter: 3 * time.Second}, f.reg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		front.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader("")))
		return rec
	}
	if rec := do(http.MethodGet, "/healthz"); rec.Code != http.StatusOK {
		t.Errorf("GET /healthz while starting: %d %s; want 200", rec.Code, rec.Body)
	}
	for _, r := range []struct{ method, path string }{
		{http.MethodGet, "/readyz"}, {http.MethodPost, "/api/v1/vote"}, {http.MethodGet, "/api/v1/election"},
		{http.MethodGet, "/api/v1/openapi.yaml"}, {http.MethodGet, "/vote"}, {http.MethodDelete, "/healthz"},
	} {
		rec := do(r.method, r.path)
		if e := wantError(t, rec, http.StatusServiceUnavailable, codeStarting); !strings.Contains(e.Message, "election record on the ledger") {
			t.Errorf("%s %s while starting: message %q; want it to say what the gateway waits for", r.method, r.path, e.Message)
		}
		if got := rec.Header().Get("Retry-After"); got != "3" {
			t.Errorf("%s %s while starting: Retry-After %q; want 3", r.method, r.path, got)
		}
		id := rec.Header().Get(headerRequestID)
		if id == "" {
			t.Errorf("%s %s while starting: no X-Request-ID", r.method, r.path)
		}
		if want := "level=DEBUG msg=http request_id=" + id + " method=" + r.method; !strings.Contains(logs.String(), want) ||
			!strings.Contains(logs.String(), "status=503 code=starting") {
			t.Errorf("%s %s while starting: logged\n%s\nwant a debug line %q ... status=503 code=starting", r.method, r.path, logs.String(), want)
		}
	}
	wantMetrics := func(when, starting string) {
		t.Helper()
		rec := do(http.MethodGet, "/metrics")
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "\ngateway_starting "+starting+"\n") {
			t.Errorf("GET /metrics %s: %d %.300s; want 200 with gateway_starting %s", when, rec.Code, rec.Body, starting)
		}
	}
	wantMetrics("while starting", "1")

	front.SwitchToAPI(f.srv)
	if rec := do(http.MethodGet, "/readyz"); rec.Code != http.StatusOK {
		t.Errorf("GET /readyz once serving: %d %s; want 200", rec.Code, rec.Body)
	}
	wantMetrics("once serving", "0")
}

// TestFrontSwapsUnderConcurrentRequests: requests in flight on several
// goroutines while SwitchToAPI hands the front the API each get either the
// starting answer (503 starting) or the API's (GET /api/v1/election 200),
// nothing else; once a client has had the API's answer it has no starting
// one again, and every request begun after SwitchToAPI returned gets the API's.
// SwitchToAPI is called once every client has had a starting answer, and each
// client goes on until it has had apiAnswers of the API's, so both kinds
// are seen and requests are in flight as the front swaps. Run with -race,
// it also shows the swap races with no request.
func TestFrontSwapsUnderConcurrentRequests(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	front, err := NewFront(Config{}, f.reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	const clients, apiAnswers, most = 8, 100, 100_000
	var switched atomic.Bool // set once SwitchToAPI has returned
	var wg, startingSeen sync.WaitGroup
	startingSeen.Add(clients)
	var startingAnswers, okAnswers atomic.Int64
	errs := make(chan string, clients)
	for range clients {
		wg.Go(func() {
			var starting, ok int
			defer func() {
				if starting == 0 { // never signalled: let SwitchToAPI come
					startingSeen.Done()
				}
				startingAnswers.Add(int64(starting))
				okAnswers.Add(int64(ok))
			}()
			for i := 0; ok < apiAnswers; i++ {
				if i == most {
					errs <- fmt.Sprintf("%d requests, %d answered by the API; want %d", i, ok, apiAnswers)
					return
				}
				after := switched.Load()
				rec := httptest.NewRecorder()
				front.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/election", nil))
				switch {
				case rec.Code == http.StatusOK:
					ok++
				case rec.Code == http.StatusServiceUnavailable && strings.Contains(rec.Body.String(), `"code":"starting"`) && !after && ok == 0:
					if starting++; starting == 1 {
						startingSeen.Done()
					}
				default:
					errs <- fmt.Sprintf("request %d (begun after SwitchToAPI: %t, after %d API answers): %d %s; want 200, or 503 starting before SwitchToAPI and before any 200", i, after, ok, rec.Code, rec.Body)
					return
				}
			}
		})
	}
	startingSeen.Wait()
	front.SwitchToAPI(f.srv)
	switched.Store(true)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if startingAnswers.Load() == 0 || okAnswers.Load() == 0 {
		t.Errorf("%d starting answers and %d of the API's; want both kinds", startingAnswers.Load(), okAnswers.Load())
	}
}
