package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/election"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
	"github.com/votechain/votechain/internal/testlog"
	"github.com/votechain/votechain/internal/testport"
)

// testSecretHex is the election secret of the tests (hex, as --secret-file
// holds it).
const testSecretHex = "00112233445566778899aabbccddeeff"

// testElection is the election `make up` creates from its template
// (config/election.json: ten states, one race), open from an hour ago to an
// hour from now.
func testElection() (*ballot.Election, error) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "election.json"))
	if err != nil {
		return nil, err
	}
	var e ballot.Election
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("config/election.json: %w", err)
	}
	e.OpensAt, e.ClosesAt = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	e.RollRoot, e.Status = strings.Repeat("0", 64), ballot.StatusConfigured
	return &e, nil
}

// fakeLedger stands in for the Fabric network in tests that need none: it
// holds one election record and nothing else (no votes counted, no batch,
// no anchored head; anchoring is refused).
type fakeLedger struct{ e *ballot.Election }

func (f fakeLedger) Election(context.Context) (*ballot.Election, error) { return f.e, nil }
func (f fakeLedger) Results(context.Context) (ballot.Results, error) {
	return ballot.Results{ElectionID: f.e.ID}, nil
}
func (fakeLedger) Height(context.Context) (uint64, error) { return 1, nil }

// BatchEvents sends no event: the stream stays open until ctx ends.
func (fakeLedger) BatchEvents(context.Context, ballot.Position) (<-chan ballot.BatchCommitted, <-chan error, error) {
	return make(chan ballot.BatchCommitted), make(chan error), nil
}
func (fakeLedger) AnchorLogHeads(context.Context, []ballot.LogAnchor) error {
	return errors.New("fake ledger: anchoring refused")
}
func (fakeLedger) LogHead(_ context.Context, state string) (ballot.AnchoredHead, error) {
	return ballot.AnchoredHead{}, fmt.Errorf("log head of %s: %w", state, ballot.ErrNotFound)
}
func (fakeLedger) CommittedBatch(context.Context, string, string, uint64) (ballot.Batch, error) {
	return ballot.Batch{}, ballot.ErrNotFound
}
func (fakeLedger) Batch(context.Context, string, uint64) (ballot.BatchRecord, error) {
	return ballot.BatchRecord{}, ballot.ErrNotFound
}
func (fakeLedger) LocateNullifier(context.Context, string, string) (ballot.NullifierRecord, error) {
	return ballot.NullifierRecord{}, ballot.ErrNotFound
}
func (fakeLedger) NullifierUsed(context.Context, string, string) (bool, error) { return false, nil }

// TestOpenAPIListsEveryMetric wires the gateway as run does (on a real
// redis-server and a fake ledger) and checks the /metrics operation of the
// OpenAPI document it serves against the registry its /metrics serves:
// every registered metric is listed, with its labels, and every listed one
// is registered. go_* and process_* lines cover their collectors' series.
func TestOpenAPIListsEveryMetric(t *testing.T) {
	w := newWireTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	g, err := w.wire(ctx, fakeLedger{w.e})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); g.loops.Wait(); g.intake.Close() })

	registered := registeredMetrics(t, w.reg)
	if len(registered) < 20 {
		t.Fatalf("%d metrics registered; want the gateway's own and the Go and process collectors'", len(registered))
	}
	listed, prefixes := documentedMetrics(t, g.api.Handler())
	for name, labels := range registered {
		if doc, ok := listed[name]; ok {
			if !slices.Equal(doc, labels) {
				t.Errorf("%s: labels %v documented, %v registered", name, doc, labels)
			}
			continue
		}
		if !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
			t.Errorf("metric %s%v is registered but missing from openapi.yaml's /metrics", name, labels)
		}
	}
	for name := range listed {
		if _, ok := registered[name]; !ok {
			t.Errorf("openapi.yaml's /metrics lists %s, which the gateway does not register", name)
		}
	}
	for _, p := range prefixes {
		if !slices.ContainsFunc(slices.Collect(maps.Keys(registered)), func(n string) bool { return strings.HasPrefix(n, p) }) {
			t.Errorf("openapi.yaml's /metrics lists %s*, and no registered metric starts so", p)
		}
	}
}

// TestWireFailingStartsNoLoop: wire that fails (here building the API,
// given trusted proxies checkFlags would refuse) has started no background
// loop, which would outlive it reading the ledger, and Redis and the
// ledger once the caller has closed them: the ledger is not read (the
// results cache reads it as soon as it starts) within a second.
func TestWireFailingStartsNoLoop(t *testing.T) {
	w := newWireTest(t)
	w.o.http.TrustedProxies = []string{"not an address"}
	l := readNoting{fakeLedger{w.e}, make(chan string, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := w.wire(ctx, l); err == nil {
		t.Fatal("wire with trusted proxies that are no address: no error")
	}
	select {
	case read := <-l.reads:
		t.Errorf("the ledger's %s read after wire failed: a background loop runs", read)
	case <-time.After(time.Second):
	}
}

// wireTest is what run gives wire, for a test: a real redis-server,
// options with no log key, errors alone logged and a results checkpoint in
// a temporary folder, the test election and secret, and newFront's
// registry.
type wireTest struct {
	rs     *redistest.Server
	o      *options
	e      *ballot.Election
	secret []byte
	reg    *prometheus.Registry
}

func newWireTest(t *testing.T) wireTest {
	t.Helper()
	w := wireTest{rs: redistest.Start(t)}
	var err error
	w.o, err = parseFlags([]string{"--log-key=", "--log-level=error",
		"--results-checkpoint", filepath.Join(t.TempDir(), "results.json")}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if w.e, err = testElection(); err != nil {
		t.Fatal(err)
	}
	w.secret, _ = hex.DecodeString(testSecretHex)
	if w.reg, _, err = newFront(w.o); err != nil {
		t.Fatal(err)
	}
	return w
}

// wire wires the gateway over ledger l, its loops on ctx.
func (w wireTest) wire(ctx context.Context, l ledger) (*gateway, error) {
	return wire(ctx, w.o, w.secret, w.rs.ClientAs(redisserver.UserGateway), l,
		election.NewCache(l, time.Second, 5*time.Second, w.o.log, nil), w.e, w.reg)
}

// readNoting is fakeLedger sending the name of each read the results
// cache or the API's ledger probe makes to reads, if it has room.
type readNoting struct {
	fakeLedger
	reads chan string
}

func (l readNoting) note(read string) {
	select {
	case l.reads <- read:
	default:
	}
}

func (l readNoting) Election(ctx context.Context) (*ballot.Election, error) {
	l.note("Election")
	return l.fakeLedger.Election(ctx)
}

func (l readNoting) Results(ctx context.Context) (ballot.Results, error) {
	l.note("Results")
	return l.fakeLedger.Results(ctx)
}

func (l readNoting) Height(ctx context.Context) (uint64, error) {
	l.note("Height")
	return l.fakeLedger.Height(ctx)
}

// registeredMetrics lists the metrics of reg by name, with their variable
// labels sorted, from the descriptors its collectors describe (vectors
// without children included, which a scrape would not show). Desc has no
// accessor for its name and labels: they are read from its String form,
// Desc{fqName: "…", help: "…", constLabels: {…}, variableLabels: {…}}.
func registeredMetrics(t *testing.T, reg *prometheus.Registry) map[string][]string {
	t.Helper()
	ch := make(chan *prometheus.Desc)
	go func() { reg.Describe(ch); close(ch) }()
	out := map[string][]string{}
	for d := range ch {
		s := d.String()
		_, rest, ok := strings.Cut(s, "fqName: ")
		if !ok {
			t.Fatalf("descriptor %s: no fqName", s)
		}
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			t.Fatalf("descriptor %s: %v", s, err)
		}
		name, _ := strconv.Unquote(q)
		i := strings.LastIndex(s, "variableLabels: {")
		if i < 0 {
			t.Fatalf("descriptor %s: no variableLabels", s)
		}
		vl, _, _ := strings.Cut(s[i+len("variableLabels: {"):], "}")
		labels := []string{}
		for _, l := range strings.Fields(strings.ReplaceAll(vl, ",", " ")) {
			labels = append(labels, strings.TrimSuffix(strings.TrimPrefix(l, "c("), ")"))
		}
		slices.Sort(labels)
		out[name] = labels
	}
	return out
}

// metricLine is one "- name{labels}: meaning" line of the /metrics
// operation's description; a name ending in _* covers a prefix.
var metricLine = regexp.MustCompile(`(?m)^- ([a-z_][a-z0-9_]*)(\*|\{([a-z_,]*)\})?: `)

// documentedMetrics reads the /metrics operation of the OpenAPI document h
// serves: the metrics listed, with their labels sorted, and the prefixes
// listed as name_*.
func documentedMetrics(t *testing.T, h http.Handler) (map[string][]string, []string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/openapi.yaml", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /api/v1/openapi.yaml: %d", rec.Code)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Description string `yaml:"description"`
		} `yaml:"paths"`
	}
	if err := yaml.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	desc := doc.Paths["/metrics"]["get"].Description
	listed := map[string][]string{}
	var prefixes []string
	for _, m := range metricLine.FindAllStringSubmatch(desc, -1) {
		if m[2] == "*" {
			prefixes = append(prefixes, m[1])
			continue
		}
		labels := []string{}
		if m[3] != "" {
			labels = strings.Split(m[3], ",")
		}
		slices.Sort(labels)
		if _, dup := listed[m[1]]; dup {
			t.Errorf("openapi.yaml's /metrics lists %s twice", m[1])
		}
		listed[m[1]] = labels
	}
	if len(listed) == 0 {
		t.Fatalf("openapi.yaml's /metrics lists no metric:\n%s", desc)
	}
	return listed, prefixes
}

// TestIntervalsBelowAMillisecondAreUsageErrors: a period that would stop a
// background ticker (a panic after start-up) is refused at the command line,
// naming the flag.
func TestIntervalsBelowAMillisecondAreUsageErrors(t *testing.T) {
	for _, name := range []string{"depth-interval", "bloom-interval", "ledger-probe-interval", "ledger-probe-timeout", "log-interval"} {
		for _, v := range []string{"-1s", "0s"} {
			_, err := parseFlags([]string{"--" + name + "=" + v}, io.Discard)
			if err == nil || !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), "--"+name+" is "+v) {
				t.Errorf("--%s=%s: %v; want a usage error naming it", name, v, err)
			}
		}
	}
	if _, err := parseFlags([]string{"--log-interval=250ms"}, io.Discard); err != nil {
		t.Errorf("--log-interval=250ms: %v", err)
	}
}

// TestExplorerURLFlag: --explorer-url, or GATEWAY_EXPLORER_URL, gives the
// voter page the explorer's base URL (none by default). One that is not an
// absolute http or https URL, or has a query, a fragment or a user, is a
// usage error (exit 2) naming the flag and saying what is wrong.
func TestExplorerURLFlag(t *testing.T) {
	t.Setenv("GATEWAY_EXPLORER_URL", "https://observers.example.org/explorer/")
	for args, want := range map[string]string{
		"":                                      "https://observers.example.org/explorer/",
		"--explorer-url=http://127.0.0.1:27390": "http://127.0.0.1:27390",
	} {
		if got := explorerURLOf(t, strings.Fields(args)); got != want {
			t.Errorf("%q: explorer %q; want %s", args, got, want)
		}
	}
	os.Unsetenv("GATEWAY_EXPLORER_URL")
	if got := explorerURLOf(t, nil); got != "" {
		t.Errorf("default: explorer %q; want none", got)
	}
	for value, says := range map[string]string{
		"127.0.0.1:27390":                        "is not a URL: give the explorer's base URL with its scheme, such as http://",
		"observers.example.org/explorer":         "is not a URL",
		"ftp://observers.example.org":            "is not a URL",
		"https://observers.example.org/?":        "has a query or a fragment",
		"https://observers.example.org/?lang=fr": "has a query or a fragment",
		"https://observers.example.org/#results": "has a query or a fragment",
		"https://observers.example.org/#":        "has a query or a fragment",
		"https://voter:pw@observers.example.org": "names a user",
	} {
		wantUsageError(t, []string{"--explorer-url", value}, fmt.Sprintf("--explorer-url %q %s", value, says))
	}
}

// wantUsageError fails t unless gateway args is a usage error (exit 2)
// whose message holds want.
func wantUsageError(t *testing.T, args []string, want string) {
	t.Helper()
	if _, err := parseFlags(args, io.Discard); !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), want) {
		t.Errorf("%q: %v; want a usage error saying %s", args, err, want)
	}
}

// TestPagePollIntervalFlag: --page-poll-interval, or
// GATEWAY_PAGE_POLL_INTERVAL, gives the voter page its interval between
// reads of the election record, 45 s by default; 5 s and an hour are
// taken, a value under 5 s or over an hour is a usage error (exit 2)
// naming the flag, the value and the bound.
func TestPagePollIntervalFlag(t *testing.T) {
	for args, want := range map[string]time.Duration{
		"":                         45 * time.Second,
		"--page-poll-interval=10s": 10 * time.Second,
		"--page-poll-interval 5s":  5 * time.Second,
		"--page-poll-interval=1h":  time.Hour,
	} {
		if o, err := parseFlags(strings.Fields(args), io.Discard); err != nil || o.page.PollInterval != want {
			t.Errorf("%q: %v; want a page poll interval of %s", args, err, want)
		}
	}
	for _, value := range []string{"4.999s", "0s", "-45s"} {
		wantUsageError(t, []string{"--page-poll-interval=" + value}, "--page-poll-interval is "+value+": it must be at least 5s")
	}
	wantUsageError(t, []string{"--page-poll-interval=1h0m1s"}, "--page-poll-interval is 1h0m1s: it must be at most 1h0m0s")
	t.Setenv("GATEWAY_PAGE_POLL_INTERVAL", "2m")
	if o, err := parseFlags(nil, io.Discard); err != nil || o.page.PollInterval != 2*time.Minute {
		t.Errorf("GATEWAY_PAGE_POLL_INTERVAL=2m: %v; want a page poll interval of 2m", err)
	}
}

// TestRetryAfterFlag: --retry-after, or GATEWAY_RETRY_AFTER, is the wait
// the voter page's 503 advises as well as the API's, 2 s by default.
func TestRetryAfterFlag(t *testing.T) {
	for args, want := range map[string]time.Duration{
		"":                 2 * time.Second,
		"--retry-after=7s": 7 * time.Second,
		"--retry-after 1m": time.Minute,
	} {
		o, err := parseFlags(strings.Fields(args), io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		if o.http.RetryAfter != want || o.page.RetryAfter != want {
			t.Errorf("%q: the API advises %s and the voter page %s; want %s for both", args, o.http.RetryAfter, o.page.RetryAfter, want)
		}
	}
	t.Setenv("GATEWAY_RETRY_AFTER", "9s")
	if o, err := parseFlags(nil, io.Discard); err != nil || o.page.RetryAfter != 9*time.Second {
		t.Errorf("GATEWAY_RETRY_AFTER=9s: %v; want the voter page to advise 9s", err)
	}
}

// explorerURLOf is the voter page's explorer URL that args give.
func explorerURLOf(t *testing.T, args []string) string {
	t.Helper()
	o, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return o.page.ExplorerURL
}

// noElection is a ledger without an election record yet.
type noElection struct{ fakeLedger }

func (noElection) Election(context.Context) (*ballot.Election, error) {
	return nil, fmt.Errorf("election record: %w", ballot.ErrNotFound)
}

// TestStopWhileWaitingForTheElectionIsNoFailure: a gateway asked to stop
// (SIGTERM ends its context) while it waits for the election record exits
// 0: a supervisor must not count that stop as a failure.
func TestStopWhileWaitingForTheElectionIsNoFailure(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	dial := func(context.Context, *options) (ledger, func() error, error) {
		cancel() // the signal comes while the gateway waits
		return noElection{}, func() error { return nil }, nil
	}
	if err := run(ctx, runArgs(t), io.Discard, dial); err != nil {
		t.Errorf("stopped while waiting for the election record: %v; want no error", err)
	}
}

// TestStopWhileDiallingIsNoFailure: a stop that ends the ledger's dial
// (the dial fails with the signal's context) exits 0 as a stop during the
// wait does; a dial failing on its own is still an error, even when a
// stop comes meanwhile.
func TestStopWhileDiallingIsNoFailure(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	dial := func(ctx context.Context, _ *options) (ledger, func() error, error) {
		cancel() // the signal comes while the gateway dials
		return nil, nil, fmt.Errorf("dial Commission peer: %w", ctx.Err())
	}
	if err := run(ctx, runArgs(t), io.Discard, dial); err != nil {
		t.Errorf("stopped while dialling the ledger: %v; want no error", err)
	}
	failing := func(context.Context, *options) (ledger, func() error, error) {
		return nil, nil, errors.New("read identity: no such file")
	}
	if err := run(context.Background(), runArgs(t), io.Discard, failing); err == nil || !strings.Contains(err.Error(), "read identity") {
		t.Errorf("a dial failing on its own: %v; want its error", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	failingAtTheStop := func(context.Context, *options) (ledger, func() error, error) {
		cancel() // the signal comes as the dial fails on its own
		return nil, nil, errors.New("read identity: no such file")
	}
	if err := run(ctx, runArgs(t), io.Discard, failingAtTheStop); err == nil || !strings.Contains(err.Error(), "read identity") {
		t.Errorf("a dial failing on its own as the stop comes: %v; want its error", err)
	}
}

// TestStopWhileWaitingCutsSlowRequestsAndIsNoFailure: a stop during the
// wait for the election record whose graceful shutdown runs out of time,
// a client still sending a request's body, still exits 0: only 503s were
// answered, so no vote was cut. The log's warning that requests were cut
// shows the shutdown ran out of time.
func TestStopWhileWaitingCutsSlowRequestsAndIsNoFailure(t *testing.T) {
	logs := &testlog.Buffer{}
	ln, stop := runUntilDialled(t, runArgs(t, "--shutdown-timeout", "100ms", "--log-level", "debug"), logs, silentLedger{})
	addr := ln.Addr().String()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A GET /healthz, then a vote with half its body: the server, which
	// answers the vote 503 starting without reading the body, reads the
	// rest before it sends the answer and counts the connection idle. Its
	// access log's line for the vote (debug) says the handler has run.
	if _, err := fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: %[1]s\r\n\r\n"+
		"POST /api/v1/vote HTTP/1.1\r\nHost: %[1]s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", addr); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz while starting: %d; want 200", resp.StatusCode)
	}
	waitForLine(t, logs, "msg=http ", "method=POST", "status=503") // the vote's answer
	if err := stop(); err != nil {
		t.Errorf("stopped while waiting, a request's body still coming: %v; want no error", err)
	}
	const cut = `level=WARN msg="stopped before the election record was read: requests still open after the grace period were cut"`
	if !hasLine(logs, cut) {
		t.Errorf("logged:\n%s\nwant a line with %s: the grace period ran out, the vote cut", strings.Join(logs.Lines(), "\n"), cut)
	}
}

// silentLedger is a ledger that never answers a read of the election
// record: the read lasts until its context ends.
type silentLedger struct{ fakeLedger }

func (silentLedger) Election(ctx context.Context) (*ballot.Election, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestListenBoundBeforeTheElection: the gateway holds its --listen port
// while it waits for the election record, so the port is taken (a
// connection to it is accepted) before the ledger has answered, and
// another process cannot bind it meanwhile. Its --listen is port 0, the
// kernel's choice, which the dialler reads from the options: no other
// process can take the port between its choice and the bind.
func TestListenBoundBeforeTheElection(t *testing.T) {
	ln, stop := runUntilDialled(t, runArgs(t), io.Discard, silentLedger{})
	addr := ln.Addr().String()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Errorf("connect to --listen %s while the election record is awaited: %v; want the port bound", addr, err)
	} else {
		conn.Close()
	}
	if ln, err := net.Listen("tcp", addr); err == nil {
		ln.Close()
		t.Errorf("another listener bound --listen %s while the gateway waited; want it taken", addr)
	}
	if err := stop(); err != nil {
		t.Errorf("stopped while waiting: %v; want no error", err)
	}
}

// runUntilDialled runs the gateway with args in the background over ledger
// l, logging to stderr, and returns once it has dialled the ledger: its
// --listen listener, and stop, which stops it (as SIGTERM does) and returns
// run's error (once run has returned: it may be called again). It fails t
// if run ends first or does not dial within 5 s; t's end stops it and waits
// for run to return if the test has not, so no gateway outlives its test.
func runUntilDialled(t *testing.T, args []string, stderr io.Writer, l ledger) (ln net.Listener, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	listeners, ended := make(chan net.Listener, 1), make(chan struct{})
	var runErr error // set before ended is closed
	go func() {
		defer close(ended)
		runErr = run(ctx, args, stderr, func(_ context.Context, o *options) (ledger, func() error, error) {
			listeners <- o.listener
			return l, func() error { return nil }, nil
		})
	}()
	stop = func() error { cancel(); <-ended; return runErr }
	t.Cleanup(func() { _ = stop() })
	select {
	case ln = <-listeners:
	case <-ended:
		t.Fatalf("run ended before it dialled the ledger: %v", runErr)
	case <-time.After(serviceWait):
		t.Fatalf("ledger not dialled within %v", serviceWait)
	}
	return ln, stop
}

// lateElection is a ledger whose read of the election record answers once
// set is closed, with the record: the gateway's wait then ends at once,
// not at its next read (electionWait reads every 2 s).
type lateElection struct {
	fakeLedger
	set <-chan struct{}
}

func (l lateElection) Election(ctx context.Context) (*ballot.Election, error) {
	select {
	case <-l.set:
		return l.fakeLedger.Election(ctx)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestAnswersWhileWaitingForTheElection: while the gateway waits for the
// election record its --listen answers, as a load balancer and Prometheus
// expect: /healthz 200, /readyz and the API's routes 503 starting with
// Retry-After in the API's error shape, /metrics with gateway_starting 1.
// Once the record is on the ledger the same listener, over the same
// keep-alive connection, answers as the API: /readyz 200 (on a real
// redis-server), gateway_starting 0.
func TestAnswersWhileWaitingForTheElection(t *testing.T) {
	rs := redistest.Start(t)
	e, err := testElection()
	if err != nil {
		t.Fatal(err)
	}
	set := make(chan struct{})
	ln, stop := runUntilDialled(t, runArgs(t, "--redis-addr", rs.Addr, "--redis-user", redisserver.UserGateway,
		"--redis-password-file", rs.ACL.PasswordFile(redisserver.UserGateway), "--retry-after", "3s"), io.Discard, lateElection{fakeLedger{e}, set})
	addr := ln.Addr().String()

	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: serviceWait}
	var reused bool // whether the last request went over a connection already open
	do := func(method, path string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(c httptrace.GotConnInfo) { reused = c.Reused },
		}))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s while the election record is awaited: %v", method, path, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(body)
	}
	if resp, body := do(http.MethodGet, "/healthz"); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz while starting: %d %s; want 200", resp.StatusCode, body)
	}
	for _, r := range []struct{ method, path string }{{http.MethodGet, "/readyz"}, {http.MethodPost, "/api/v1/vote"}, {http.MethodGet, "/api/v1/election"}} {
		resp, body := do(r.method, r.path)
		var answer struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal([]byte(body), &answer); err != nil || resp.StatusCode != http.StatusServiceUnavailable ||
			answer.Error.Code != "starting" || !strings.Contains(answer.Error.Message, "election record on the ledger") {
			t.Errorf("%s %s while starting: %d %s; want 503 starting saying it waits for the election record on the ledger", r.method, r.path, resp.StatusCode, body)
		}
		if got := resp.Header.Get("Retry-After"); got != "3" {
			t.Errorf("%s %s while starting: Retry-After %q; want 3 (--retry-after)", r.method, r.path, got)
		}
	}
	if resp, body := do(http.MethodGet, "/metrics"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "\ngateway_starting 1\n") {
		t.Errorf("GET /metrics while starting: %d; want 200 with gateway_starting 1:\n%.500s", resp.StatusCode, body)
	}

	close(set)
	deadline := time.Now().Add(serviceWait)
	for {
		resp, body := do(http.MethodGet, "/readyz")
		if resp.StatusCode == http.StatusOK {
			if !reused {
				t.Errorf("/readyz 200 came over a new connection; want the one open while starting kept")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /readyz %v after the election record was set: %d %s; want 200", serviceWait, resp.StatusCode, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if resp, body := do(http.MethodGet, "/metrics"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "\ngateway_starting 0\n") {
		t.Errorf("GET /metrics once serving: %d; want 200 with gateway_starting 0", resp.StatusCode)
	}
	if err := stop(); err != nil {
		t.Errorf("stopped: %v; want no error", err)
	}
}

// TestElectionWaitWarnsOnOtherFailures: while it waits for the election
// record the gateway logs a record not there yet at info and any other
// failure, such as access denied, which may never clear, at warn.
func TestElectionWaitWarnsOnOtherFailures(t *testing.T) {
	e, err := testElection()
	if err != nil {
		t.Fatal(err)
	}
	answers := []error{fmt.Errorf("election record: %w", ballot.ErrNotFound), errors.New("access denied"), nil}
	src := electionFunc(func(context.Context) (*ballot.Election, error) {
		err := answers[0]
		answers = answers[1:]
		if err != nil {
			return nil, err
		}
		return e, nil
	})
	var logged strings.Builder
	w := electionWait
	w.Every = time.Millisecond
	if _, err := election.Await(context.Background(), src, w, slog.New(slog.NewTextHandler(&logged, nil))); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`level=INFO msg="` + electionWait.NotSetUp + `" err="election record: not on the ledger"`,
		`level=WARN msg="` + electionWait.Failed + `" err="access denied"`,
	} {
		if !strings.Contains(logged.String(), want) {
			t.Errorf("logged:\n%s\nwant a line with %s", logged.String(), want)
		}
	}
}

// electionFunc is an election.Source made of a function.
type electionFunc func(context.Context) (*ballot.Election, error)

func (f electionFunc) Election(ctx context.Context) (*ballot.Election, error) { return f(ctx) }

// runArgs are arguments run starts with up to dialling the ledger: an
// election secret and a Redis password in files of their own, no log key,
// a results checkpoint in a temporary folder, a port reserved for t to
// listen on (testport.Ports: below the ephemeral range), errors alone
// logged; then args, which win.
func runArgs(t *testing.T, args ...string) []string {
	t.Helper()
	dir, listen := t.TempDir(), fmt.Sprintf("127.0.0.1:%d", testport.Ports(t, 1)[0])
	secret, password := filepath.Join(dir, "secret"), filepath.Join(dir, "password")
	for _, f := range []string{secret, password} {
		if err := os.WriteFile(f, []byte(testSecretHex), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return append([]string{"--secret-file", secret, "--redis-password-file", password, "--log-key=",
		"--results-checkpoint", filepath.Join(dir, "results.json"), "--listen", listen, "--log-level", "error"}, args...)
}

// errNoLedger is the dialler's of TestCheckedBeforeTheLedger.
var errNoLedger = errors.New("no ledger in this test")

// TestCheckedBeforeTheLedger: what the gateway can tell wrong without Redis
// and the ledger it refuses before it dials the ledger, whose election
// record it would then wait for as long as it takes: a flag's value as a
// usage error (exit 2), a file or a --pprof, --listen or --metrics-listen
// port in use as an error (exit 1), each naming its flag (the metrics
// listener's, its address). A --pprof, --listen or --metrics-listen port
// in use is internal/cli's whole message, its fix included (cli.ServePprof's,
// cli.Listen's and cli.ServeMetrics's own error on that port), one wording
// for the three, --metrics-listen's followed by the gateway's other way
// out: leave it empty.
// Good values of the same flags get as far as the ledger.
func TestCheckedBeforeTheLedger(t *testing.T) {
	dir := t.TempDir()
	notAFolder, badKey := filepath.Join(dir, "file"), filepath.Join(dir, "bad.key")
	for _, f := range []string{notAFolder, badKey} {
		if err := os.WriteFile(f, []byte("not hex"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	taken, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", testport.Ports(t, 1)[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, c := range []struct {
		args  []string
		usage bool
		says  string
	}{
		{[]string{"--listen", "127.0.0.1:99999"}, true, `--listen "127.0.0.1:99999": port "99999": want a number from 0 to 65535`},
		{[]string{"--listen", "localhost"}, true, `--listen "localhost": want host:port`},
		{[]string{"--metrics-listen", ":70000"}, true, `--metrics-listen ":70000": port "70000"`},
		{[]string{"--pprof", "localhost"}, true, `--pprof "localhost": want host:port`},
		{[]string{"--trusted-proxies", "not/a/cidr"}, true, `--trusted-proxies "not/a/cidr": "not/a/cidr" is not an IP address or a CIDR (such as 127.0.0.1 or 10.0.0.0/8)`},
		{[]string{"--trusted-proxies", "10.0.0.0/8,"}, true, `--trusted-proxies "10.0.0.0/8,": an empty entry: want an IP address or a CIDR`},
		{[]string{"--trusted-proxies", "127.0.0.1,,::1"}, true, `--trusted-proxies "127.0.0.1,,::1": an empty entry`},
		{[]string{"--trusted-proxies", " "}, true, `--trusted-proxies " ": an empty entry`},
		{[]string{"--trusted-proxies", "10.0.0.0/8, 127.0.0.1,10.0.0.0/8"}, true, `--trusted-proxies "10.0.0.0/8, 127.0.0.1,10.0.0.0/8": 10.0.0.0/8 is named twice: name each once`},
		{[]string{"--redis-addr", "127.0.0.1:99999"}, true, `--redis-addr: redis address "127.0.0.1:99999": port "99999"`},
		{[]string{"--org", "Nobody"}, true, `--org "Nobody" is not an organisation of the consortium: want Commission or Observers`},
		{[]string{"--workers", "0"}, true, "--workers is 0: want at least 1"},
		{[]string{"--workers", "-3"}, true, "--workers is -3: want at least 1"},
		{[]string{"--max-batch", "0"}, true, "--max-batch is 0: want at least 1"},
		{[]string{"--receipt-cache", "-1"}, true, "--receipt-cache is -1: want at least 1"},
		{[]string{"--global-burst", "0"}, true, "--global-burst is 0: want at least 1"},
		{[]string{"--procs", "-3"}, true, "--procs is -3: want at least 0"},
		{[]string{"--redis-replicas", "-2"}, true, "--redis-replicas is -2: want at least -1"},
		{[]string{"--log-key", filepath.Join(dir, "nonexist")}, false, "--log-key " + filepath.Join(dir, "nonexist") + ": log key: stat"},
		{[]string{"--log-key", badKey}, false, "--log-key " + badKey + ": log key " + badKey + ": want 64 hex characters"},
		{[]string{"--results-checkpoint", filepath.Join(notAFolder, "x.json")}, false, "--results-checkpoint " + filepath.Join(notAFolder, "x.json") + ": mkdir " + notAFolder + ": not a directory"},
	} {
		dialled, err := runToTheLedger(t, io.Discard, c.args...)
		if dialled || err == nil || errors.Is(err, cli.ErrUsage) != c.usage || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%q: dialled the ledger: %t, %v; want an error (a usage error: %t) saying %s, the ledger not dialled", c.args, dialled, err, c.usage, c.says)
		}
	}
	discard := slog.New(slog.DiscardHandler)
	pprofSrv, pprofInUse := cli.ServePprof(taken.Addr().String(), discard)
	listenLn, listenInUse := cli.Listen("--listen", taken.Addr().String())
	metricsSrv, metricsInUse := cli.ServeMetrics("--metrics-listen", taken.Addr().String(), prometheus.NewRegistry(), discard)
	for _, srv := range []*http.Server{pprofSrv, metricsSrv} {
		if srv != nil {
			srv.Close()
		}
	}
	if listenLn != nil {
		listenLn.Close()
	}
	if pprofInUse == nil || listenInUse == nil || metricsInUse == nil {
		t.Fatalf("cli.ServePprof, cli.Listen and cli.ServeMetrics on %s, a port in use: %v, %v, %v; want errors", taken.Addr(), pprofInUse, listenInUse, metricsInUse)
	}
	for flag, want := range map[string]string{
		"--pprof":          pprofInUse.Error(),
		"--listen":         listenInUse.Error(),
		"--metrics-listen": metricsInUse.Error() + ", or leave it empty to serve /metrics on --listen",
	} {
		dialled, err := runToTheLedger(t, io.Discard, flag, taken.Addr().String())
		if dialled || err == nil || errors.Is(err, cli.ErrUsage) || err.Error() != want {
			t.Errorf("%s %s, a port in use: dialled the ledger: %t, %v; want the error (not a usage error)\n%s", flag, taken.Addr(), dialled, err, want)
		}
	}
	// Port 0 is among the good values: the kernel picks a free port.
	good := []string{"--listen", "[::1]:0", "--pprof", "127.0.0.1:0", "--trusted-proxies", " 10.0.0.0/8, 127.0.0.1,::1 ,fd00::/8", "--org", "Observers",
		"--workers", "1", "--procs", "0", "--redis-replicas", "-1", "--redis-addr", "127.0.0.1:6379,127.0.0.1:6380"}
	if dialled, err := runToTheLedger(t, io.Discard, good...); !dialled || !errors.Is(err, errNoLedger) {
		t.Errorf("%q: dialled the ledger: %t, %v; want the gateway to get as far as the ledger", good, dialled, err)
	}
	if o, err := parseFlags(good, io.Discard); err != nil || !slices.Equal(o.http.TrustedProxies, []string{"10.0.0.0/8", "127.0.0.1/32", "::1/128", "fd00::/8"}) {
		t.Errorf("%q: %v; want the trusted proxies 10.0.0.0/8, 127.0.0.1/32, ::1/128 and fd00::/8", good, err)
	}
}

// runToTheLedger runs the gateway with runArgs and args, logging to
// stderr, over a dialler that fails (errNoLedger), and returns whether it
// dialled and run's error.
func runToTheLedger(t *testing.T, stderr io.Writer, args ...string) (dialled bool, err error) {
	t.Helper()
	err = run(context.Background(), runArgs(t, args...), stderr, func(context.Context, *options) (ledger, func() error, error) {
		dialled = true
		return nil, nil, errNoLedger
	})
	return dialled, err
}

// TestListenClosesWhatItOpenedOnAFailure: when a listener opened after
// others fails (--metrics-listen on a port in use, opened last), run
// returns its error without dialling the ledger, having closed the --pprof
// server and the --listen listener it had opened: both ports, fixed ones,
// can be listened on again once run has returned (--listen's at once;
// --pprof's once its server's goroutine has seen the close, which
// http.Server.Close leaves to it if it had not started serving yet).
func TestListenClosesWhatItOpenedOnAFailure(t *testing.T) {
	ports := testport.Ports(t, 3)
	pprofAddr, listenAddr, takenAddr := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1]), fmt.Sprintf("127.0.0.1:%d", ports[2])
	taken, err := net.Listen("tcp", takenAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	var logs testlog.Buffer
	dialled, err := runToTheLedger(t, &logs, "--log-level", "info", "--pprof", pprofAddr, "--listen", listenAddr, "--metrics-listen", takenAddr)
	if dialled || err == nil || !strings.HasPrefix(err.Error(), "--metrics-listen "+takenAddr+": ") {
		t.Fatalf("--metrics-listen %s, a port in use: dialled the ledger: %t, %v; want its error, the ledger not dialled", takenAddr, dialled, err)
	}
	if !hasLine(&logs, `msg="profiling endpoints listening"`, "addr="+pprofAddr) {
		t.Fatalf("no --pprof server logged listening on %s before the failure; want it opened first:\n%s", pprofAddr, strings.Join(logs.Lines(), "\n"))
	}
	free := func(addr string) bool {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			ln.Close()
		}
		return err == nil
	}
	if !free(listenAddr) {
		t.Errorf("--listen %s still in use after run returned; want its listener closed", listenAddr)
	}
	waitFor(t, "--pprof port "+pprofAddr+" free after run returned", func() bool { return free(pprofAddr) },
		func() string { return strings.Join(logs.Lines(), "\n") })
}

// TestTrustedProxiesFlag: --trusted-proxies, or GATEWAY_TRUSTED_PROXIES,
// gives the proxies in canonical form (an address its /32 or /128, an
// IPv4-mapped one its IPv4 one), none by default. Two spellings of one
// proxy, and a CIDR with bits set after its prefix length, are usage
// errors naming the flag and both spellings, or the network and the
// address; they are reported in one error with every other bad flag.
func TestTrustedProxiesFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string // the proxies, or nil and says
		says string
	}{
		{nil, nil, ""},
		{[]string{"--trusted-proxies", "10.1.2.3,::ffff:10.9.0.0/112"}, []string{"10.1.2.3/32", "10.9.0.0/16"}, ""},
		{[]string{"--trusted-proxies", "10.0.0.1,10.0.0.1/32"}, nil,
			`--trusted-proxies "10.0.0.1,10.0.0.1/32": 10.0.0.1 and 10.0.0.1/32 are the same entry, 10.0.0.1/32: name each once`},
		{[]string{"--trusted-proxies", "fd00::/8, FD00::/8"}, nil,
			`--trusted-proxies "fd00::/8, FD00::/8": fd00::/8 and FD00::/8 are the same entry, fd00::/8: name each once`},
		{[]string{"--trusted-proxies", "10.0.0.1/8"}, nil,
			`--trusted-proxies "10.0.0.1/8": 10.0.0.1/8 sets bits beyond its /8: give 10.0.0.0/8 for its network, or 10.0.0.1 for the one address`},
		{[]string{"--workers", "0", "--trusted-proxies", "10.0.0.1,10.0.0.1/32", "--max-batch", "0", "--log-level", "loud"}, nil,
			`--trusted-proxies "10.0.0.1,10.0.0.1/32": 10.0.0.1 and 10.0.0.1/32 are the same entry, 10.0.0.1/32: name each once
--workers is 0: want at least 1
--max-batch is 0: want at least 1
--log-level "loud": want debug, info, warn or error`},
	} {
		o, err := parseFlags(c.args, io.Discard)
		switch {
		case c.says == "" && (err != nil || !slices.Equal(o.http.TrustedProxies, c.want)):
			t.Errorf("%q: %v; want the trusted proxies %q", c.args, err, c.want)
		case c.says != "" && (!errors.Is(err, cli.ErrUsage) || err.Error() != c.says):
			t.Errorf("%q: %v; want a usage error saying\n%s", c.args, err, c.says)
		}
	}
	t.Setenv("GATEWAY_TRUSTED_PROXIES", "::1")
	if o, err := parseFlags(nil, io.Discard); err != nil || !slices.Equal(o.http.TrustedProxies, []string{"::1/128"}) {
		t.Errorf("GATEWAY_TRUSTED_PROXIES=::1: %v; want the trusted proxy ::1/128", err)
	}
}

// TestGCFlags: the collector's target is 400 unless --gc-percent or
// GATEWAY_GC_PERCENT says otherwise; --gc-percent -1 needs a memory limit.
func TestGCFlags(t *testing.T) {
	if o, err := parseFlags(nil, io.Discard); err != nil || *o.gc != (cli.GC{Percent: 400}) {
		t.Fatalf("default: %v; want percent 400, no limit", err)
	}
	t.Setenv("GATEWAY_GC_PERCENT", "-1")
	if _, err := parseFlags(nil, io.Discard); !errors.Is(err, cli.ErrUsage) || !strings.Contains(err.Error(), "--gc-percent -1") {
		t.Errorf("GATEWAY_GC_PERCENT=-1 alone: %v; want a usage error naming --gc-percent", err)
	}
	if o, err := parseFlags([]string{"--memory-limit-mib", "512"}, io.Discard); err != nil || *o.gc != (cli.GC{Percent: -1, MemoryLimitMiB: 512}) {
		t.Errorf("GATEWAY_GC_PERCENT=-1 --memory-limit-mib 512: %v", err)
	}
}

// TestNumberFlagRanges: a duration, size or rate out of its range is a
// usage error naming the flag and the range, where it used to become the
// default (0) or pass unchecked (a negative); the ends of each range pass.
func TestNumberFlagRanges(t *testing.T) {
	for _, c := range []struct {
		flag, value string
		says        string // "": accepted
	}{
		{"election-ttl", "0s", "--election-ttl is 0s: it must be at least 1ms"},
		{"election-ttl", "1ms", ""},
		{"election-max-age", "-1s", "--election-max-age is -1s: it must be at least 1ms"},
		{"retry-after", "0s", "--retry-after is 0s: it must be at least 1ms"},
		{"redis-timeout", "0s", "--redis-timeout is 0s: it must be at least 1ms"},
		{"redis-timeout", "-2s", "--redis-timeout is -2s: it must be at least 1ms"},
		{"redis-replica-timeout", "0s", "--redis-replica-timeout is 0s: it must be at least 1ms"},
		{"redis-failover-wait", "-1ms", "--redis-failover-wait is -1ms: it must be at least 1ms"},
		{"shutdown-timeout", "-1s", "--shutdown-timeout is -1s: it must be at least 0s"},
		{"shutdown-timeout", "0s", ""},
		{"max-body-bytes", "0", "--max-body-bytes is 0: want at least 1"},
		{"max-body-bytes", "-1", "--max-body-bytes is -1: want at least 1"},
		{"max-body-bytes", "1", ""},
		{"max-queue-depth", "0", "--max-queue-depth is 0: want -1 (no limit) or at least 1"},
		{"max-queue-depth", "-2", "--max-queue-depth is -2: want at least -1"},
		{"max-queue-depth", "-1", ""},
		{"max-queue-depth", "1", ""},
		{"bloom-expected-voters", "0", "--bloom-expected-voters is 0: want at least 1"},
		{"bloom-fp-rate", "0", "--bloom-fp-rate is 0: want more than 0 and less than 1"},
		{"bloom-fp-rate", "1", "--bloom-fp-rate is 1: want more than 0 and less than 1"},
		{"bloom-fp-rate", "0.5", ""},
		{"client-rate", "-1", "--client-rate is -1: want at least 0"},
		{"global-rate", "-0.5", "--global-rate is -0.5: want at least 0"},
		{"global-rate", "0", ""},
		{"log-interval", "6s", ""},
		{"log-interval", "7s", "--log-interval: interval 7s is longer than 6s: give 6s or less; with a longer one, a gateway's take-over of the heads another gateway stopped before anchoring may anchor them only after the IntakeLogUnanchored alert has fired (3m0s after the oldest of them was published)"},
	} {
		_, err := parseFlags([]string{"--" + c.flag, c.value}, io.Discard)
		switch {
		case c.says == "" && err != nil:
			t.Errorf("--%s %s: %v; want it accepted", c.flag, c.value, err)
		case c.says != "" && (!errors.Is(err, cli.ErrUsage) || err.Error() != c.says):
			t.Errorf("--%s %s: %v; want a usage error saying %s", c.flag, c.value, err, c.says)
		}
	}
}

// TestWaitReplicas: --redis-replicas' -1 waits for one replica on a Redis
// Cluster and none on a single server; a value given is kept on both.
func TestWaitReplicas(t *testing.T) {
	for _, c := range []struct {
		flag            int
		cluster, single int
	}{{-1, 1, 0}, {0, 0, 0}, {1, 1, 1}, {2, 2, 2}} {
		o := &options{replicas: c.flag}
		if got := o.waitReplicas(true); got != c.cluster {
			t.Errorf("--redis-replicas %d on a Cluster: %d; want %d", c.flag, got, c.cluster)
		}
		if got := o.waitReplicas(false); got != c.single {
			t.Errorf("--redis-replicas %d on a single server: %d; want %d", c.flag, got, c.single)
		}
	}
}

// TestLingerZeroIsNever: --linger 0, like a negative one, means never
// linger, not the default dedup would put in its place.
func TestLingerZeroIsNever(t *testing.T) {
	for _, v := range []string{"0s", "-1ms"} {
		o, err := parseFlags([]string{"--linger", v}, io.Discard)
		if err != nil {
			t.Fatalf("--linger %s: %v", v, err)
		}
		if o.dedup.Linger >= 0 {
			t.Errorf("--linger %s: linger %s; want a negative linger (never)", v, o.dedup.Linger)
		}
	}
}
