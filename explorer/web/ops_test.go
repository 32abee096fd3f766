package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/votechain/votechain/explorer/index"
	"github.com/votechain/votechain/internal/monitor"
)

// fakeMonitoring answers every range query with one series per state (one
// NaN point among them) and holds the given alerts.
type fakeMonitoring struct {
	alerts []monitor.Alert
	err    error
	mu     sync.Mutex
	exprs  []string
}

func (f *fakeMonitoring) QueryRange(_ context.Context, expr string, start, end time.Time, step time.Duration) ([]monitor.Series, error) {
	f.mu.Lock()
	f.exprs = append(f.exprs, expr)
	f.mu.Unlock()
	var out []monitor.Series
	for i, st := range []string{"CA", "TX"} {
		s := monitor.Series{Labels: map[string]string{"state": st, "instance": "gateway"}}
		for t := start; !t.After(end); t = t.Add(step) {
			s.Points = append(s.Points, monitor.Point{T: t, V: float64(i+1) * 10})
		}
		s.Points[1].V = math.NaN()
		out = append(out, s)
	}
	return out, nil
}

func (f *fakeMonitoring) Alerts(context.Context) ([]monitor.Alert, error) { return f.alerts, f.err }

func opsServer(t *testing.T, m Monitoring) *Server {
	idx, err := index.Open(context.Background(), filepath.Join(t.TempDir(), "index.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	panels := []monitor.Panel{
		{Title: "Queue lag", Unit: "short", Queries: []monitor.Query{{Expr: "max by (state) (vote_queue_depth)", Legend: "{{state}}"}}},
		{Title: "Oldest vote", Unit: "s", Queries: []monitor.Query{{Expr: "max by (state) (vote_queue_oldest_age_seconds)", Legend: "{{state}}"}}},
	}
	s, err := New(Config{Index: idx, Ledger: fakeLedger{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Monitoring: m, PrometheusURL: "http://127.0.0.1:9", Panels: panels})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestOpsPage draws every panel's series (NaN points dropped) and lists
// firing alerts before pending ones, with their runbook lines.
func TestOpsPage(t *testing.T) {
	m := &fakeMonitoring{alerts: []monitor.Alert{
		{Labels: map[string]string{"alertname": "BloomFillPastDesign", "severity": "warning", "state": "TX"}, State: "pending",
			Annotations: map[string]string{"summary": "TX filter full", "runbook": "resize it"}},
		{Labels: map[string]string{"alertname": "VotesNotCommitted", "severity": "critical", "state": "CA"}, State: "firing",
			Annotations: map[string]string{"summary": "CA waits", "runbook": "start a batcher"}},
	}}
	s := opsServer(t, m)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/ops", nil))
	page := rec.Body.String()
	if rec.Code != 200 {
		t.Fatalf("GET /ops: %d %.300s", rec.Code, page)
	}
	for _, want := range []string{`id="ops-firing">1 firing`, "start a batcher", "resize it", "state=CA", `<path class="s0" d="M0.0,`,
		`<path class="s1" d="M0.0,`, " M13.3,", "L20.0,", "Queue lag", "Oldest vote", "20.00 s", `href="http://127.0.0.1:9/alerts"`} {
		if !strings.Contains(page, want) {
			t.Errorf("/ops lacks %q", want)
		}
	}
	if strings.Index(page, "VotesNotCommitted") > strings.Index(page, "BloomFillPastDesign") {
		t.Error("the pending alert is listed before the firing one")
	}
	if len(m.exprs) != 2 {
		t.Errorf("queried %v; want each panel's expression once", m.exprs)
	}
	for q, code := range map[string]int{"?window=1h": 200, "?window=10s": 400, "?window=x": 400} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/ops"+q, nil))
		if rec.Code != code {
			t.Errorf("GET /api/v1/ops%s: %d, want %d", q, rec.Code, code)
		}
	}

	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/ops", nil))
	var v struct {
		Firing int `json:"firing"`
		Panels []struct {
			Series []struct {
				Name   string          `json:"name"`
				Points []monitor.Point `json:"points"`
			} `json:"series"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("/api/v1/ops: %v: %.300s", err, rec.Body.String())
	}
	if v.Firing != 1 || len(v.Panels) != 2 || len(v.Panels[0].Series) != 2 || v.Panels[0].Series[0].Name != "CA" {
		t.Fatalf("/api/v1/ops: %+v", v)
	}
	want := opsPoints + 1 - 1 // every step of the window but the NaN one
	if n := len(v.Panels[0].Series[0].Points); n != want {
		t.Errorf("%d points, want %d (the NaN one dropped)", n, want)
	}
}

// TestOpsPageWithoutPrometheus says what is missing instead of failing,
// without the error's details (they go to the log).
func TestOpsPageWithoutPrometheus(t *testing.T) {
	for name, c := range map[string]struct {
		m    Monitoring
		want string
	}{
		"unconfigured": {nil, `id="ops-unconfigured"`},
		"unreachable":  {&fakeMonitoring{err: errors.New("dial tcp 10.1.2.3:9090: connection refused")}, monitoringUnavailable},
	} {
		rec := httptest.NewRecorder()
		opsServer(t, c.m).ServeHTTP(rec, httptest.NewRequest("GET", "/ops", nil))
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), c.want) {
			t.Errorf("%s: %d, page lacks %q", name, rec.Code, c.want)
		}
		if strings.Contains(rec.Body.String(), "10.1.2.3") {
			t.Errorf("%s: the page shows the error's details", name)
		}
	}
}

func TestFormatValue(t *testing.T) {
	for _, c := range []struct {
		v    float64
		unit string
		want string
	}{
		{0.0123, "s", "12.3 ms"}, {2.5, "s", "2.50 s"}, {0, "s", "0 s"}, {0.456, "percentunit", "45.6%"},
		{3 << 20, "bytes", "3.0 MiB"}, {512, "bytes", "512.0 B"}, {12, "short", "12"}, {2.345, "short", "2.35"},
		{25_000, "short", "25.0k"}, {3_200_000, "short", "3.20M"},
	} {
		if got := formatValue(c.v, c.unit); got != c.want {
			t.Errorf("formatValue(%v, %q) = %q, want %q", c.v, c.unit, got, c.want)
		}
	}
}
