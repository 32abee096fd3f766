package intakelog

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/config"
	"github.com/votechain/votechain/internal/monitor"
)

// TestUnanchoredAlertAfterIsTheRules: UnanchoredAlertAfter is
// IntakeLogUnanchored's offset plus its for, as config/prometheus/alerts.yml
// has them, in a rule that compares instant values only: one offset (the
// published heads') and no range, either of which would move when it
// fires.
func TestUnanchoredAlertAfterIsTheRules(t *testing.T) {
	rules, err := monitor.ParseRules(config.AlertRules())
	if err != nil {
		t.Fatal(err)
	}
	var found []monitor.Rule
	for _, r := range rules {
		if r.Alert == "IntakeLogUnanchored" {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("alerts.yml has %d rules IntakeLogUnanchored; want one", len(found))
	}
	r := found[0]
	m := regexp.MustCompile(`intake_log_published_entries offset (\w+)\)`).FindStringSubmatch(r.Expr)
	if m == nil || strings.Count(r.Expr, "offset") != 1 || strings.Contains(r.Expr, "[") {
		t.Fatalf("IntakeLogUnanchored's expression has not exactly one offset, the published heads', and no range:\n%s", r.Expr)
	}
	offset, err1 := time.ParseDuration(m[1])
	lasting, err2 := time.ParseDuration(r.For)
	if err1 != nil || err2 != nil {
		t.Fatalf("IntakeLogUnanchored's offset %q, for %q: %v, %v", m[1], r.For, err1, err2)
	}
	if window := offset + lasting; window != UnanchoredAlertAfter {
		t.Errorf("IntakeLogUnanchored fires %s after a head's publication (its offset and for); UnanchoredAlertAfter is %s", window, UnanchoredAlertAfter)
	}
}

// TestAlertMarginCoversMakeUpsScrapes: make up's Prometheus
// (internal/monitor) scrapes no less often than alertMargin assumes.
func TestAlertMarginCoversMakeUpsScrapes(t *testing.T) {
	dir := t.TempDir()
	if _, err := (monitor.Config{Dir: dir}).Write(); err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(filepath.Join(dir, "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*scrape_interval: (\S+)$`).FindSubmatch(conf)
	if m == nil {
		t.Fatalf("no scrape_interval in the monitor's prometheus.yml:\n%s", conf)
	}
	scrape, err := time.ParseDuration(string(m[1]))
	if err != nil || scrape > maxScrapeInterval || alertMargin < 2*scrape {
		t.Errorf("the monitor scrapes every %s (%v); alertMargin %s assumes every %s at most", m[1], err, alertMargin, maxScrapeInterval)
	}
}

// TestIntervalIsBoundByTheUnanchoredAlert: MaxInterval (6 s by default)
// is the longest Interval whose take-over of heads left unanchored by a
// stopped gateway anchors them, counted from the oldest, before
// IntakeLogUnanchored fires (alertMargin before), and Check refuses a
// longer one, a negative one, and a CallTimeout with which even the
// default Interval is too long, saying the fix; the closing round's
// warning (waitNote) gives the model's times.
func TestIntervalIsBoundByTheUnanchoredAlert(t *testing.T) {
	budget := UnanchoredAlertAfter - alertMargin
	if by := unanchoredBy(time.Second, 5*time.Second); by != 125*time.Second {
		t.Errorf("default Interval and CallTimeout: the heads a stopped gateway left are anchored %s after the oldest's publication; want 5 intervals and 24 call timeouts, 125s", by)
	}
	for _, c := range []struct {
		call, want time.Duration
	}{{0, 6 * time.Second}, {time.Second, 25200 * time.Millisecond}, {6 * time.Second, 1200 * time.Millisecond}} {
		cfg := Config{CallTimeout: c.call}
		longest := cfg.MaxInterval()
		if longest != c.want {
			t.Errorf("CallTimeout %s: MaxInterval %s; want %s", c.call, longest, c.want)
		}
		call := cfg.withDefaults().CallTimeout
		if by := unanchoredBy(longest, call); by > budget {
			t.Errorf("CallTimeout %s, Interval %s (MaxInterval): a take-over anchors %s after the oldest head's publication, past the alert's %s less %s", c.call, longest, by, UnanchoredAlertAfter, alertMargin)
		}
		if by := unanchoredBy(longest+time.Millisecond, call); by <= budget {
			t.Errorf("CallTimeout %s, Interval %s: a take-over anchors %s after the oldest head's publication, within the alert's %s less %s: MaxInterval could be longer", c.call, longest+time.Millisecond, by, UnanchoredAlertAfter, alertMargin)
		}
		for _, ok := range []time.Duration{0, time.Millisecond, longest} {
			cfg.Interval = ok
			if err := cfg.Check(); err != nil {
				t.Errorf("CallTimeout %s, Interval %s: %v", c.call, ok, err)
			}
		}
	}
	longestCall := maxCallTimeout()
	if longestCall != 6041*time.Millisecond || unanchoredBy(time.Second, longestCall) > budget || unanchoredBy(time.Second, longestCall+time.Millisecond) <= budget {
		t.Errorf("maxCallTimeout %s; want 6.041s, the longest with which the default Interval is within MaxInterval", longestCall)
	}

	for _, c := range []struct {
		cfg  Config
		says string
	}{
		{Config{Interval: 7 * time.Second}, "interval 7s is longer than 6s: give 6s or less; with a longer one, a gateway's take-over"},
		{Config{Interval: time.Hour}, "interval 1h0m0s is longer than 6s: give 6s or less"},
		{Config{Interval: -time.Second}, "interval -1s is negative: give a positive duration, at most 6s"},
		{Config{Interval: 2 * time.Second, CallTimeout: 6100 * time.Millisecond}, "CallTimeout 6.1s is out of range: give a positive one, at most 6.041s; with a longer one, even the default Interval, 1s,"},
		{Config{CallTimeout: 10 * time.Second}, "CallTimeout 10s is out of range: give a positive one, at most 6.041s"},
		{Config{CallTimeout: -time.Second}, "CallTimeout -1s is out of range"},
	} {
		err := c.cfg.Check()
		if err == nil || !strings.HasPrefix(err.Error(), c.says) {
			t.Errorf("Interval %s, CallTimeout %s: %v; want an error saying %q", c.cfg.Interval, c.cfg.CallTimeout, err, c.says)
		}
	}
	d := DefaultConfig()
	for _, says := range []string{
		"another gateway with a registered signing key still running",
		fmt.Sprintf("fires, %.0f min after the oldest head left unanchored", UnanchoredAlertAfter.Minutes()),
		fmt.Sprintf("within %.0f s of it at the default interval", unanchoredBy(d.Interval, d.CallTimeout).Seconds()),
		fmt.Sprintf("%.0f s at the longest", budget.Seconds()),
	} {
		if !strings.Contains(waitNote, says) {
			t.Errorf("waitNote does not say %q:\n%s", says, waitNote)
		}
	}
	// The default Interval is checked against the CallTimeout given: 6 s
	// leaves 1.2 s, 6.041 s leaves 1.0032 s.
	if err := (Config{CallTimeout: longestCall}).Check(); err != nil {
		t.Errorf("CallTimeout %s, the default Interval: %v", longestCall, err)
	}
}
