package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/votechain/votechain/config"
	"github.com/votechain/votechain/internal/browsertest"
	"github.com/votechain/votechain/internal/monitor"
	"github.com/votechain/votechain/internal/stack"
	"github.com/votechain/votechain/test-network/nettest"
)

// TestMonitoring runs the system with 1 s scrapes and the VotesNotCommitted
// alert shortened to "oldest vote over 5 s for 2 s", casts votes at a steady
// rate, and checks what an operator relies on: every scrape target is up,
// every dashboard expression returns data, the operator page draws them
// (screenshots in .run/test/monitor-browser), and stopping the batcher under
// load fires VotesNotCommitted, which resolves once the batcher is back.
func TestMonitoring(t *testing.T) {
	// The roll keeps the paced load (40 votes/s) going for over four
	// minutes: the alert needs votes still arriving when the batcher stops.
	s := startSystem(t, 1, 10_000, func(c *stack.Config) {
		c.Monitor = monitor.Options{Interval: time.Second, Overrides: []monitor.Override{
			{Alert: "VotesNotCommitted", For: 2 * time.Second, Old: "> 60", New: "> 5"}}}
	})
	prom := monitor.NewClient(s.st.PrometheusURL())
	ctx := context.Background()

	// Some votes, and duplicates of five of them (409), for the refusal series.
	accepted := s.mustCast(t, s.roll[:20], 4)
	for _, v := range s.roll[:5] {
		if status, err := s.post(t.Context(), "/api/v1/vote", s.body(s.voteOf(v, 0)), nil); status != 409 {
			t.Fatalf("re-sent vote of %s: %d, %v; want 409", v.ID, status, err)
		}
	}
	stopLoad := s.castPaced(t, s.roll[20:], 40)
	defer stopLoad()

	// Every target up: 1 batcher, gateway, explorer, the Fabric nodes,
	// Redis's exporter and Prometheus itself.
	var targets []string
	waitUntil(t, time.Minute, "every scrape target up", func() (bool, string) {
		ts, err := prom.Targets(ctx)
		if err != nil {
			return false, err.Error()
		}
		targets = targets[:0]
		up := true
		for _, tg := range ts {
			targets = append(targets, tg.Labels["job"]+"/"+tg.Labels["instance"]+"="+tg.Health)
			up = up && tg.Health == "up"
		}
		return up && len(ts) >= 8, strings.Join(targets, " ")
	})
	slices.Sort(targets)
	t.Logf("targets: %s", strings.Join(targets, " "))
	s.waitReceipts(t, 300)

	// Every expression of the dashboard returns data.
	panels, err := monitor.Panels(config.Dashboard())
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 2*time.Minute, "data for every dashboard expression", func() (bool, string) {
		var empty []string
		for _, p := range panels {
			for _, q := range p.Queries {
				if !hasData(ctx, prom, q.Expr) {
					empty = append(empty, q.Expr)
				}
			}
		}
		return len(empty) == 0, "no data: " + strings.Join(empty, "; ")
	})

	// The operator page's charts (the last minute in 1 s steps) have a
	// quarter of a minute of points to draw.
	waitUntil(t, 2*time.Minute, "15 points in every chart of the operator page", func() (bool, string) {
		var v struct {
			Panels []struct {
				Title  string `json:"title"`
				Series []struct {
					Points []monitor.Point `json:"points"`
				} `json:"series"`
			} `json:"panels"`
		}
		if err := s.explorerJSON("/api/v1/ops?window=1m", &v); err != nil {
			return false, err.Error()
		}
		var short []string
		for _, p := range v.Panels {
			if len(p.Series) == 0 || len(p.Series[0].Points) < 15 {
				short = append(short, p.Title)
			}
		}
		return len(v.Panels) == len(panels) && len(short) == 0, fmt.Sprintf("%d panels, short: %v", len(v.Panels), short)
	})

	browser := browsertest.New(t)
	shots := filepath.Join(nettest.RepoRoot(t), ".run", "test", "monitor-browser")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	page := s.opsPage(t, browser, filepath.Join(shots, "1-under-load.png"))
	// Each chart holds at least one line (a path with a drawn segment).
	if n := strings.Count(page, "<svg"); n != len(panels) || strings.Count(page, `<path class="s0" d="M`) < n || !strings.Contains(page, " L") {
		t.Errorf("the operator page draws %d charts with lines, want the dashboard's %d", n, len(panels))
	}

	// Stop the batcher under load: the alert fires, then resolves after
	// the restart.
	if err := s.st.Kill("batcher0"); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	waitUntil(t, 90*time.Second, "VotesNotCommitted firing", func() (bool, string) {
		return alertState(ctx, prom, "VotesNotCommitted") == "firing", alertState(ctx, prom, "VotesNotCommitted")
	})
	t.Logf("VotesNotCommitted fired %.1f s after the batcher stopped", time.Since(killed).Seconds())
	if page := s.opsPage(t, browser, filepath.Join(shots, "2-batcher-stopped.png")); !strings.Contains(page, "VotesNotCommitted") {
		t.Error("the operator page does not list the firing VotesNotCommitted alert")
	}
	if err := s.st.Up(ctx); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	waitUntil(t, 3*time.Minute, "VotesNotCommitted resolved", func() (bool, string) {
		st := alertState(ctx, prom, "VotesNotCommitted")
		return st == "", st
	})
	t.Logf("VotesNotCommitted resolved %.1f s after the batcher restarted", time.Since(restarted).Seconds())
	s.opsPage(t, browser, filepath.Join(shots, "3-resolved.png"))

	for id, v := range stopLoad() {
		accepted[id] = v
	}
	s.waitQueuesDrained(t, 5*time.Minute)
	s.checkExactlyOnce(t, accepted)
}

// castPaced casts votes of voters at rate per second in the background
// until the returned function is called; that function returns the
// accepted votes (and is safe to call again).
func (s *system) castPaced(t *testing.T, voters []voter, rate int) func() map[string]vote {
	var (
		mu       sync.Mutex
		accepted = map[string]vote{}
		wg       sync.WaitGroup
		stop     = make(chan struct{})
		once     sync.Once
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for i := range voters {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				v := s.voteOf(voters[i], i)
				id, err := s.castOne(context.Background(), v)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				accepted[id] = v
				mu.Unlock()
			}()
		}
	}()
	return func() map[string]vote {
		once.Do(func() { close(stop) })
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(accepted)
	}
}

// opsPage opens the explorer's operator page, saves a screenshot and
// returns the page's HTML.
func (s *system) opsPage(t *testing.T, browser context.Context, file string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(browser, 30*time.Second)
	defer cancel()
	err := chromedp.Do(ctx, chromedp.Navigate(s.st.ExplorerURL()+"/ops?window=1m"), chromedp.WaitVisible(chromedp.ID("ops-firing")))
	var html string
	if err == nil {
		html, err = chromedp.Run(ctx, chromedp.OuterHTML(chromedp.ID("ops")))
	}
	var png []byte
	if err == nil {
		png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
	}
	if err != nil {
		t.Fatalf("operator page: %v", err)
	}
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(strings.TrimSuffix(file, ".png")+".html", []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", file)
	return html
}

// explorerJSON decodes an explorer API answer into out.
func (s *system) explorerJSON(path string, out any) error {
	resp, err := s.http.Get(s.st.ExplorerURL() + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// hasData reports whether expr returns a finite value now.
func hasData(ctx context.Context, prom *monitor.Client, expr string) bool {
	series, err := prom.Query(ctx, expr)
	if err != nil {
		return false
	}
	for _, s := range series {
		for _, p := range s.Points {
			if !math.IsNaN(p.V) && !math.IsInf(p.V, 0) {
				return true
			}
		}
	}
	return false
}

// alertState is "firing" or "pending" if Prometheus holds the alert for
// any label set (firing wins), "" if it holds none.
func alertState(ctx context.Context, prom *monitor.Client, name string) string {
	alerts, err := prom.Alerts(ctx)
	if err != nil {
		return "error: " + err.Error()
	}
	state := ""
	for _, a := range alerts {
		if a.Labels["alertname"] == name && (state == "" || a.State == "firing") {
			state = a.State
		}
	}
	return state
}

// waitUntil polls cond every 500 ms until it holds, failing the test after
// within with cond's last explanation.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (%s)", what, within, why)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
