package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc/status"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/index"
	"github.com/votechain/votechain/explorer/proof"
	"github.com/votechain/votechain/internal/monitor"
)

type fakeLedger struct{ results ballot.Results }

func (f fakeLedger) Results(context.Context) (ballot.Results, error) { return f.results, nil }
func (f fakeLedger) Height(context.Context) (uint64, error)          { return 0, nil }

func newServer(t *testing.T) *Server {
	t.Helper()
	idx, err := index.Open(context.Background(), filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	s, err := New(Config{Index: idx, Ledger: fakeLedger{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOpenAPIMatchesRoutes keeps openapi.yaml in step with the API routes.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                    `yaml:"openapi"`
		Paths   map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	routed := slices.Clone(newServer(t).api)
	slices.Sort(documented)
	slices.Sort(routed)
	if !strings.HasPrefix(doc.OpenAPI, "3.") || !slices.Equal(documented, routed) {
		t.Fatalf("openapi.yaml (version %s) documents\n  %v\nbut the server routes\n  %v", doc.OpenAPI, documented, routed)
	}
}

// TestPagesOnEmptyIndex renders every page and its JSON on an empty index.
func TestPagesOnEmptyIndex(t *testing.T) {
	s := newServer(t)
	for _, c := range []struct {
		path string
		code int
	}{
		{"/", 200}, {"/api/v1/dashboard", 200}, {"/blocks", 200}, {"/api/v1/blocks?page=2", 200},
		{"/blocks/0", 404}, {"/api/v1/blocks/x", 400}, {"/txs/abc", 404}, {"/batches?state=CA", 200},
		{"/api/v1/batches/CA/1", 404}, {"/verify", 200}, {"/api/v1/verify?vote_id=00", 400}, {"/api/v1/verify?vote_id=" + strings.Repeat("0", 32), 404}, {"/audit", 200},
		{"/api/v1/audit", 200}, {"/search?q=nothing", 404}, {"/api/v1/search", 400}, {"/blocks?page=0", 400},
		{"/healthz", 200}, {"/static/app.js", 200}, {"/ops", 200}, {"/api/v1/ops", 200}, {"/static/ops.js", 200}, {"/api/v1/openapi.yaml", 200},
		// numbers the index cannot hold (SQLite's are signed 64-bit)
		{"/api/v1/blocks/18446744073709551615", 400}, {"/api/v1/blocks/9223372036854775808", 400}, {"/blocks/9223372036854775808", 400},
		{"/api/v1/blocks/9223372036854775807", 404}, {"/api/v1/batches/CA/18446744073709551615", 400}, {"/batches/CA/9223372036854775808", 400},
		{"/search?q=18446744073709551615", 404}, {"/search?q=CA/18446744073709551615", 404},
	} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", c.path, nil))
		if rec.Code != c.code {
			t.Errorf("GET %s: %d, want %d: %.300s", c.path, rec.Code, c.code, rec.Body.String())
		}
		if strings.HasPrefix(c.path, "/api/v1/") && !strings.HasSuffix(c.path, ".yaml") && !json.Valid(rec.Body.Bytes()) {
			t.Errorf("GET %s: not JSON: %.200s", c.path, rec.Body.String())
		}
	}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/api/v1/verify", strings.NewReader("{not json"))
	req.Header.Set("Content-Type", "application/json")
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest {
		t.Errorf("POST a broken receipt: %d", rec.Code)
	}
}

// TestVerifyRefusesLargeReceipts: a receipt over 64 KiB, pasted in the
// page's form or posted as JSON, is refused 400 as too large (the form's
// was answered 200 with an empty form).
func TestVerifyRefusesLargeReceipts(t *testing.T) {
	s := newServer(t)
	large := `{"vote_id":"` + strings.Repeat("0", maxReceiptBytes) + `"}`
	for _, c := range []struct{ path, contentType, body string }{
		{"/verify", "application/x-www-form-urlencoded", "receipt=" + url.QueryEscape(large)},
		{"/api/v1/verify", "application/x-www-form-urlencoded", "receipt=" + url.QueryEscape(large)},
		{"/api/v1/verify", "application/json", large},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", c.path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", c.contentType)
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "the receipt is too large") {
			t.Errorf("POST %s (%s) of %d bytes: %d %.300s", c.path, c.contentType, len(c.body), rec.Code, rec.Body.String())
		}
	}
}

// TestPagePastTheLast: a page past the last of a list is its last page,
// labelled so, however large the page number (page 368934881474191035 of
// 2 rows a page overflowed the offset and showed page 1's rows; one past
// int64 was refused as "not a positive number").
func TestPagePastTheLast(t *testing.T) {
	r := newReferendum(t)
	s, err := New(Config{Index: r.Index, Ledger: fakeLedger{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	type page struct {
		Blocks  []index.Block `json:"blocks"`
		Batches []index.Batch `json:"batches"`
		Votes   []index.Vote  `json:"votes"`
		Pager   Pager         `json:"pager"`
	}
	for _, path := range []string{"/api/v1/blocks", "/api/v1/batches", "/api/v1/batches?state=" + r.Election.States[0] + "&",
		fmt.Sprintf("/api/v1/batches/%s/1", r.Batches[0].State)} {
		if !strings.Contains(path, "?") {
			path += "?"
		}
		var first page
		getJSON(t, s, path+"page=1", &first)
		if first.Pager.Pages < 2 {
			t.Fatalf("%s: %d pages; the test wants more than one", path, first.Pager.Pages)
		}
		var last page
		getJSON(t, s, path+fmt.Sprintf("page=%d", first.Pager.Pages), &last)
		for _, n := range []string{fmt.Sprint(first.Pager.Pages + 1), "368934881474191035", "9223372036854775807", "99999999999999999999999"} {
			var past page
			getJSON(t, s, path+"page="+n, &past)
			if !reflect.DeepEqual(past, last) {
				t.Errorf("%spage=%s: %+v; want the last page %+v", path, n, past, last)
			}
		}
	}
}

// failingLedger fails with an error carrying internal details.
type failingLedger struct{}

const internalDetail = "dial tcp 127.0.0.1:27051: peer0.commission.example.com"

func (failingLedger) Results(context.Context) (ballot.Results, error) {
	return ballot.Results{}, errors.New(internalDetail)
}
func (failingLedger) Height(context.Context) (uint64, error) { return 0, errors.New(internalDetail) }

// TestErrorsShowNoInternals: faults of the index or the ledger reach the
// client as generic messages; the details go to the log only.
func TestErrorsShowNoInternals(t *testing.T) {
	dir := t.TempDir()
	idx, err := index.Open(context.Background(), filepath.Join(dir, "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	s, err := New(Config{Index: idx, Ledger: failingLedger{}, Log: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec
	}
	for _, path := range []string{"/api/v1/audit", "/audit", "/api/v1/dashboard", "/"} {
		rec := get(path)
		if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), internalDetail) {
			t.Errorf("GET %s with the ledger down: %d %.300s", path, rec.Code, rec.Body.String())
		}
	}
	if !strings.Contains(log.String(), internalDetail) {
		t.Errorf("the ledger's error is not logged: %s", log.String())
	}
	idx.Close() // every index read now fails with SQLite's own error
	for _, path := range []string{"/api/v1/blocks", "/blocks", "/healthz"} {
		rec := get(path)
		body := rec.Body.String()
		if rec.Code < 500 || strings.Contains(strings.ToLower(body), "sql") || strings.Contains(body, dir) {
			t.Errorf("GET %s with the index closed: %d %.300s", path, rec.Code, body)
		}
		if strings.HasPrefix(path, "/api/") {
			var e struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code != "internal" || e.Error.Message != internalMessage {
				t.Errorf("GET %s: error %+v (%v), want internal / %q", path, e.Error, err, internalMessage)
			}
		}
	}
	if !strings.Contains(strings.ToLower(log.String()), "sql") {
		t.Errorf("the index's error is not logged: %s", log.String())
	}
}

// TestOpenAPISchemasMatchViews keeps the documented properties of the
// schemas in step with the JSON fields of the types the API encodes.
func TestOpenAPISchemasMatchViews(t *testing.T) {
	schemas := openAPISchemas(t)
	for name, typ := range map[string]reflect.Type{
		"Dashboard":      reflect.TypeFor[dashboardView](),
		"ContestResults": reflect.TypeFor[contestResults](),
		"Contest":        reflect.TypeFor[ballot.Contest](),
		"Results":        reflect.TypeFor[ballot.Results](),
		"Totals":         reflect.TypeFor[index.Totals](),
		"Block":          reflect.TypeFor[index.Block](),
		"Transaction":    reflect.TypeFor[index.Tx](),
		"Batch":          reflect.TypeFor[index.Batch](),
		"Vote":           reflect.TypeFor[index.Vote](),
		"Receipt":        reflect.TypeFor[ballot.Receipt](),
		"Verification":   reflect.TypeFor[verifyView](),
		"VerifyResult":   reflect.TypeFor[proof.Result](),
	} {
		s, ok := schemas[name]
		if !ok {
			t.Errorf("openapi.yaml has no schema %s", name)
			continue
		}
		documented, fields := s.properties(schemas), jsonFields(typ)
		if !sameSet(documented, fields) {
			t.Errorf("schema %s documents %v; %s encodes %v", name, documented, typ, fields)
		}
	}
}

// TestOpenAPIVerdicts keeps the documented verdicts of a receipt check in
// step with proof.Verdicts().
func TestOpenAPIVerdicts(t *testing.T) {
	documented := openAPISchemas(t)["VerifyResult"].Properties["verdict"].Enum
	if verdicts := proof.Verdicts(); !sameSet(documented, verdicts) {
		t.Fatalf("openapi.yaml documents the verdicts %v; proof.Check gives %v", documented, verdicts)
	}
}

// schema is the part of an OpenAPI schema object the checks read.
type schema struct {
	Ref        string            `yaml:"$ref"`
	Properties map[string]schema `yaml:"properties"`
	AllOf      []schema          `yaml:"allOf"`
	Enum       []string          `yaml:"enum"`
}

// openAPISchemas returns openapi.yaml's schemas by name.
func openAPISchemas(t *testing.T) map[string]schema {
	t.Helper()
	var doc struct {
		Components struct {
			Schemas map[string]schema `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	return doc.Components.Schemas
}

// sameSet reports whether a and b hold the same strings as many times.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// properties returns the property names of s, following $ref and allOf.
func (s schema) properties(all map[string]schema) []string {
	if s.Ref != "" {
		return all[strings.TrimPrefix(s.Ref, "#/components/schemas/")].properties(all)
	}
	var names []string
	for name := range s.Properties {
		names = append(names, name)
	}
	for _, sub := range s.AllOf {
		names = append(names, sub.properties(all)...)
	}
	return names
}

// jsonFields returns the JSON object keys encoding/json writes for struct
// type t (embedded structs flattened).
func jsonFields(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported() && !f.Anonymous:
		case f.Anonymous && name == "":
			names = append(names, jsonFields(f.Type)...)
		case name == "":
			names = append(names, f.Name)
		default:
			names = append(names, name)
		}
	}
	return names
}

// heightLedger is a peer of a given height, or one that cannot be reached.
type heightLedger struct {
	fakeLedger
	height uint64
	err    error
}

func (h heightLedger) Height(context.Context) (uint64, error) { return h.height, h.err }

// /readyz: 200 while the index is within ReadyBehind blocks of the peer's
// height, 503 (with Retry-After and the reason) behind it or with the
// index unreadable; a peer that cannot be reached leaves it ready, saying
// so in the body.
func TestReadyz(t *testing.T) {
	idx, err := index.Open(context.Background(), filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	ready := func(l Ledger) (int, readiness, http.Header) {
		t.Helper()
		s, err := New(Config{Index: idx, Ledger: l, ReadyBehind: 10, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		var rd readiness
		if err := json.Unmarshal(rec.Body.Bytes(), &rd); err != nil {
			t.Fatalf("/readyz body %q: %v", rec.Body.String(), err)
		}
		return rec.Code, rd, rec.Header()
	}
	// The empty index is at height 0.
	if code, rd, _ := ready(heightLedger{height: 10}); code != 200 || rd != (readiness{Status: "ready", Ledger: "reachable", LedgerHeight: 10, Behind: 10}) {
		t.Errorf("10 blocks behind, 10 allowed: %d %+v; want 200 ready", code, rd)
	}
	code, rd, h := ready(heightLedger{height: 11})
	if code != 503 || rd.Status != "not_ready" || rd.Behind != 11 || !strings.Contains(rd.Reason, "11 blocks behind") || h.Get("Retry-After") == "" {
		t.Errorf("11 blocks behind, 10 allowed: %d %+v (Retry-After %q); want 503 not_ready naming 11 blocks, with Retry-After", code, rd, h.Get("Retry-After"))
	}
	if code, rd, _ := ready(heightLedger{err: errors.New("peer down")}); code != 200 || rd.Ledger != "unreachable" || rd.Status != "ready" {
		t.Errorf("peer unreachable: %d %+v; want 200 ready, ledger unreachable", code, rd)
	}
	idx.Close()
	if code, rd, _ := ready(heightLedger{height: 1}); code != 503 || rd.Reason != "the index cannot be read" {
		t.Errorf("index closed: %d %+v; want 503 saying the index cannot be read", code, rd)
	}
}

// loggingServer is a server of cfg on an empty index, logging into the
// builder it returns.
func loggingServer(t *testing.T, cfg Config) (*Server, *strings.Builder) {
	t.Helper()
	idx, err := index.Open(context.Background(), filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	log := new(strings.Builder)
	cfg.Index, cfg.Log = idx, slog.New(slog.NewTextHandler(log, nil))
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s, log
}

// TestClientGone: a request whose client went away (its context cancelled)
// before the index answered is answered 499, client closed request, and
// not logged: no "request failed" or "index unavailable" line, for pages,
// the API, /healthz and /readyz alike. The same requests, live, are 200.
func TestClientGone(t *testing.T) {
	s, log := loggingServer(t, Config{Ledger: fakeLedger{}})
	gone, cancel := context.WithCancel(t.Context())
	cancel()
	for _, path := range []string{"/blocks", "/api/v1/blocks", "/healthz", "/readyz"} {
		live := httptest.NewRecorder()
		s.ServeHTTP(live, httptest.NewRequest(http.MethodGet, path, nil))
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil).WithContext(gone))
		if live.Code != http.StatusOK || rec.Code != statusClientClosedRequest {
			t.Errorf("GET %s: %d live, %d with the client gone; want 200 and %d", path, live.Code, rec.Code, statusClientClosedRequest)
		}
	}
	if log.Len() > 0 {
		t.Errorf("requests of clients gone were logged:\n%s", log.String())
	}
}

// leavingPeer is a peer and a Prometheus that answer every query but the
// one named at ("height", "results", "alerts" or "query"). That one fails
// as the real clients fail when the request's context ends: a query to
// the peer with gRPC's status of the context's error, one to Prometheus
// with an error wrapping it. With leave set, the client leaves during it
// (leave cancels the request); without, the query times out, the client
// still there.
type leavingPeer struct {
	at    string
	leave context.CancelFunc
}

// fail is the error of query: nil unless it is the one named at.
func (l *leavingPeer) fail(ctx context.Context, query string) error {
	if query != l.at {
		return nil
	}
	if l.leave == nil {
		return context.DeadlineExceeded
	}
	l.leave()
	return ctx.Err()
}

func (l *leavingPeer) peerError(ctx context.Context, query string) error {
	if err := l.fail(ctx, query); err != nil {
		return status.FromContextError(err).Err()
	}
	return nil
}

func (l *leavingPeer) prometheusError(ctx context.Context, query string) error {
	if err := l.fail(ctx, query); err != nil {
		return fmt.Errorf("prometheus: %w", &url.Error{Op: "Get", URL: "http://127.0.0.1:9/api/v1/" + query, Err: err})
	}
	return nil
}

func (l *leavingPeer) Height(ctx context.Context) (uint64, error) {
	return 5, l.peerError(ctx, "height")
}

func (l *leavingPeer) Results(ctx context.Context) (ballot.Results, error) {
	return ballot.Results{}, l.peerError(ctx, "results")
}

func (l *leavingPeer) Alerts(ctx context.Context) ([]monitor.Alert, error) {
	return nil, l.prometheusError(ctx, "alerts")
}

func (l *leavingPeer) QueryRange(ctx context.Context, _ string, _, _ time.Time, _ time.Duration) ([]monitor.Series, error) {
	return nil, l.prometheusError(ctx, "query_range")
}

// TestClientGoneDuringQuery: a client that leaves while the explorer asks
// the peer (the dashboard's and the audit's height, the audit's chaincode
// results, /readyz's height) or Prometheus (the operator page's alerts and
// charts) is answered 499 and nothing is logged: no "ledger height",
// "chaincode results" or "monitoring" warning, no page rendered. The same
// query timing out with the client there is a fault: logged (but /readyz's
// probe), and the page shown without what it could not read.
func TestClientGoneDuringQuery(t *testing.T) {
	peer := &leavingPeer{}
	s, log := loggingServer(t, Config{Ledger: peer, Monitoring: peer,
		Panels: []monitor.Panel{{Title: "Queue lag", Queries: []monitor.Query{{Expr: "vote_queue_depth"}}}}})
	get := func(path, at string, leave context.CancelFunc, ctx context.Context) (int, string) {
		log.Reset()
		peer.at, peer.leave = at, leave
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil).WithContext(ctx))
		return rec.Code, log.String()
	}
	for _, c := range []struct{ path, at string }{
		{"/", "height"}, {"/api/v1/dashboard", "height"},
		{"/audit", "height"}, {"/audit", "results"}, {"/api/v1/audit", "results"},
		{"/ops", "alerts"}, {"/ops", "query_range"}, {"/api/v1/ops", "query_range"},
		{"/readyz", "height"},
	} {
		if code, logged := get(c.path, "", nil, t.Context()); code != http.StatusOK || logged != "" {
			t.Errorf("GET %s, every query answered: %d, logged %q; want 200, nothing logged", c.path, code, logged)
		}
		request, leave := context.WithCancel(t.Context())
		if code, logged := get(c.path, c.at, leave, request); code != statusClientClosedRequest || logged != "" {
			t.Errorf("GET %s, the client leaving during the %s query: %d, logged %q; want %d, nothing logged", c.path, c.at, code, logged, statusClientClosedRequest)
		}
		leave()
		wantLogged := c.path != "/readyz"
		if code, logged := get(c.path, c.at, nil, t.Context()); code != http.StatusOK || (logged != "") != wantLogged {
			t.Errorf("GET %s, the %s query timing out: %d, logged %q; want 200, logged: %t", c.path, c.at, code, logged, wantLogged)
		}
	}
}
