package monitor

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/votechain/votechain/config"
	"github.com/votechain/votechain/explorer/audit"
)

// promtool runs Debian's promtool; a missing one fails the test, because
// `make test` installs it (package prometheus).
func promtool(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: install Debian's prometheus package with `make deps-run` (scripts/install-deps.sh)")
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestAlertRulesUnitTests runs the rules' promtool unit tests
// (config/prometheus/alerts_test.yml).
func TestAlertRulesUnitTests(t *testing.T) {
	out := promtool(t, "test", "rules", filepath.Join("..", "..", "config", "prometheus", "alerts_test.yml"))
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules: %s", out)
	}
}

// TestEveryAlertHasARunbookAndATest keeps each rule documented and tested.
func TestEveryAlertHasARunbookAndATest(t *testing.T) {
	rules, err := ParseRules(config.AlertRules())
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(filepath.Join("..", "..", "config", "prometheus", "alerts_test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) < 10 {
		t.Fatalf("%d alert rules; want the operator's set", len(rules))
	}
	for _, r := range rules {
		if r.Annotations["runbook"] == "" || r.Annotations["summary"] == "" || r.Labels["severity"] == "" {
			t.Errorf("alert %s lacks a summary, a runbook line or a severity", r.Alert)
		}
		if !strings.Contains(string(tests), "alertname: "+r.Alert+"\n") {
			t.Errorf("alert %s has no promtool unit test in alerts_test.yml", r.Alert)
		}
		if !strings.Contains(string(doc), "`"+r.Alert+"`") {
			t.Errorf("alert %s is not documented in docs/operations.md", r.Alert)
		}
	}
}

// TestAlertTestsUseAuditKinds: the kind labels the rules' unit tests give
// explorer_verification_failures are kinds the auditor reports
// (audit.Kinds), so that the tests exercise series the explorer exports.
func TestAlertTestsUseAuditKinds(t *testing.T) {
	tests, err := os.ReadFile(filepath.Join("..", "..", "config", "prometheus", "alerts_test.yml"))
	if err != nil {
		t.Fatal(err)
	}
	uses := regexp.MustCompile(`explorer_verification_failures\{[^}]*kind="([^"]*)"`).FindAllSubmatch(tests, -1)
	if len(uses) == 0 {
		t.Fatal("alerts_test.yml gives explorer_verification_failures no kind label")
	}
	kinds := audit.Kinds()
	for _, u := range uses {
		if kind := string(u[1]); !slices.Contains(kinds, kind) {
			t.Errorf("alerts_test.yml uses kind %q, which the auditor never reports (audit.Kinds: %v)", kind, kinds)
		}
	}
}

func testConfig(t *testing.T) Config {
	return Config{
		Dir: t.TempDir(), Port: 20395, ExporterPort: 20396, RedisAddrs: []string{"127.0.0.1:20379"},
		Targets: []Target{
			{"gateway", "gateway0", "", 20380}, {"gateway", "gateway1", "", 20385},
			{"batcher", "batcher0", "", 20381}, {"batcher", "batcher1", "", 20382}, {"batcher", "batcher2", "", 20383},
			{"explorer", "explorer", "", 20390},
			{"orderer", "orderer0", "10.213.9.2", 20070}, {"peer", "peer.Commission", "10.213.9.2", 20102}, // on another host
		},
	}
}

// TestConfigFromTargets writes the configuration for several gateways and
// batchers, has promtool check it (rule file included), and reads every
// target back with its job and instance.
func TestConfigFromTargets(t *testing.T) {
	c := testConfig(t)
	changed, err := c.Write()
	if err != nil || !changed {
		t.Fatalf("first write: changed %v, %v", changed, err)
	}
	pc := checkedConfig(t, c.Dir)
	var got []string
	for _, j := range pc.ScrapeConfigs {
		for _, sc := range j.StaticConfigs {
			got = append(got, j.JobName+" "+sc.Labels["instance"]+" "+strings.Join(sc.Targets, ","))
		}
	}
	want := []string{"redis redis 127.0.0.1:20396", "prometheus prometheus 127.0.0.1:20395"}
	for _, tg := range c.Targets {
		addr := tg.Addr
		if addr == "" {
			addr = "127.0.0.1"
		}
		want = append(want, tg.Job+" "+tg.Instance+" "+addr+":"+itoa(tg.Port))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("scrape targets\n  %v\nwant\n  %v", got, want)
	}
	if pc.Global.ScrapeInterval != "5s" || pc.Global.EvaluationInterval != "5s" {
		t.Errorf("intervals %+v, want the 5 s default", pc.Global)
	}
	rules, err := os.ReadFile(filepath.Join(c.Dir, "alerts.yml"))
	if err != nil || string(rules) != string(config.AlertRules()) {
		t.Errorf("alerts.yml is not the repository's rules without overrides (%v)", err)
	}

	if changed, err := c.Write(); err != nil || changed {
		t.Errorf("rewriting the same config: changed %v, %v", changed, err)
	}
	c.Targets = c.Targets[:3]
	if changed, err := c.Write(); err != nil || !changed {
		t.Errorf("writing fewer targets: changed %v, %v", changed, err)
	}
}

// TestOverrides shortens an alert for a test, and refuses overrides that
// match nothing or are ambiguous.
func TestOverrides(t *testing.T) {
	c := testConfig(t)
	c.Interval = 1500 * time.Millisecond
	c.Overrides = []Override{{Alert: "VotesNotCommitted", For: 2 * time.Second, Old: "> 60", New: "> 5"}}
	if _, err := c.Write(); err != nil {
		t.Fatal(err)
	}
	promtool(t, "check", "config", filepath.Join(c.Dir, "prometheus.yml"))
	data, err := os.ReadFile(filepath.Join(c.Dir, "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	rules, err := ParseRules(data)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := ParseRules(config.AlertRules())
	if len(rules) != len(all) {
		t.Fatalf("%d rules after the override, want %d", len(rules), len(all))
	}
	for _, r := range rules {
		if r.Alert == "VotesNotCommitted" && (r.For != "2s" || !strings.HasSuffix(r.Expr, "> 5")) {
			t.Errorf("overridden rule: for %s, expr %q", r.For, r.Expr)
		}
	}
	for _, bad := range []Override{
		{Alert: "NoSuchAlert", For: time.Second},
		{Alert: "VotesNotCommitted", Old: "> 61", New: "> 1"},
		{Alert: "GatewayErrors503", Old: "sum", New: "max"},
	} {
		if _, err := Rules(config.AlertRules(), []Override{bad}); err == nil {
			t.Errorf("override %+v accepted", bad)
		}
	}
}

// TestDashboardPanels reads the Grafana dashboard's panels and renders
// legends.
func TestDashboardPanels(t *testing.T) {
	panels, err := Panels(config.Dashboard())
	if err != nil {
		t.Fatal(err)
	}
	titles := map[string]bool{}
	for _, p := range panels {
		titles[p.Title] = true
		if len(p.Queries) == 0 || p.Unit == "" {
			t.Errorf("panel %q: %d queries, unit %q", p.Title, len(p.Queries), p.Unit)
		}
	}
	for _, want := range []string{"Votes accepted and committed per second", "Queue lag per state (votes waiting for the ledger)",
		"202 latency quantiles (POST /api/v1/vote)", "Duplicates and refusals per second", "Ledger height per node"} {
		if !titles[want] {
			t.Errorf("dashboard lacks the panel %q", want)
		}
	}
	q := Query{Expr: "up", Legend: "{{job}} {{ instance }}"}
	if got := q.Name(map[string]string{"job": "peer", "instance": "peer.Observers"}); got != "peer peer.Observers" {
		t.Errorf("legend %q", got)
	}
	if _, err := Panels([]byte(`{"panels":[{"type":"timeseries","title":"x","targets":[{"legendFormat":"y"}]}]}`)); err == nil {
		t.Error("a panel target without expr was accepted")
	}
}

// TestClient decodes the API's vector, matrix and alert answers and its
// errors.
func TestClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/query":
			w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"state":"CA"},"value":[1700000000.5,"42"]}]}}`))
		case "/api/v1/query_range":
			if r.URL.Query().Get("step") != "15" {
				http.Error(w, "bad step", 400)
				return
			}
			w.Write([]byte(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1700000000,"1"],[1700000015,"NaN"]]}]}}`))
		case "/api/v1/alerts":
			w.Write([]byte(`{"status":"success","data":{"alerts":[{"labels":{"alertname":"RedisDown"},"annotations":{"runbook":"r"},"state":"firing","activeAt":"2026-01-01T00:00:00Z","value":"0e+00"}]}}`))
		default:
			w.WriteHeader(400)
			w.Write([]byte(`{"status":"error","errorType":"bad_data","error":"parse error"}`))
		}
	}))
	defer srv.Close()
	c := NewClient(srv.URL)
	ctx := context.Background()
	v, err := c.Query(ctx, "x")
	if err != nil || len(v) != 1 || v[0].Labels["state"] != "CA" || v[0].Points[0].V != 42 || v[0].Points[0].T.UnixMilli() != 1700000000500 {
		t.Errorf("vector: %+v, %v", v, err)
	}
	m, err := c.QueryRange(ctx, "x", time.Unix(1700000000, 0), time.Unix(1700000015, 0), 15*time.Second)
	if err != nil || len(m) != 1 || len(m[0].Points) != 2 || m[0].Points[1].V == m[0].Points[1].V {
		t.Errorf("matrix: %+v, %v", m, err)
	}
	a, err := c.Alerts(ctx)
	if err != nil || len(a) != 1 || a[0].State != "firing" || a[0].Labels["alertname"] != "RedisDown" {
		t.Errorf("alerts: %+v, %v", a, err)
	}
	if _, err := c.Targets(ctx); err == nil || !strings.Contains(err.Error(), "parse error") {
		t.Errorf("error answer: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// checkedConfig has promtool check the prometheus.yml written in dir and
// reads it back.
func checkedConfig(t *testing.T, dir string) promConfig {
	t.Helper()
	promtool(t, "check", "config", filepath.Join(dir, "prometheus.yml"))
	data, err := os.ReadFile(filepath.Join(dir, "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var pc promConfig
	if err := yaml.Unmarshal(data, &pc); err != nil {
		t.Fatal(err)
	}
	return pc
}
