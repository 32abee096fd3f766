package intakelog

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/config"
	"github.com/votechain/votechain/internal/monitor"
)

// UnanchoredAlertAfter is IntakeLogUnanchored's offset plus its for, as
// config/prometheus/alerts.yml has them; MaxInterval (17.5 s by default) is
// the longest Interval whose take-over of a head left unanchored by a
// stopped gateway comes before that alert (a scrape and an evaluation
// before), and Check refuses a longer one, or a negative one, saying the
// fix.
func TestIntervalIsBoundByTheUnanchoredAlert(t *testing.T) {
	rules, err := monitor.ParseRules(config.AlertRules())
	if err != nil {
		t.Fatal(err)
	}
	var window time.Duration
	for _, r := range rules {
		if r.Alert != "IntakeLogUnanchored" {
			continue
		}
		m := regexp.MustCompile(`intake_log_published_entries offset (\w+)\)`).FindStringSubmatch(r.Expr)
		if m == nil {
			t.Fatalf("IntakeLogUnanchored's expression has no offset of the published heads:\n%s", r.Expr)
		}
		offset, err1 := time.ParseDuration(m[1])
		lasting, err2 := time.ParseDuration(r.For)
		if err1 != nil || err2 != nil {
			t.Fatalf("IntakeLogUnanchored's offset %q, for %q: %v, %v", m[1], r.For, err1, err2)
		}
		window = offset + lasting
	}
	if window != UnanchoredAlertAfter {
		t.Errorf("IntakeLogUnanchored fires %s after a head's publication (its offset and for, 0: no such rule); UnanchoredAlertAfter is %s", window, UnanchoredAlertAfter)
	}

	for _, c := range []struct {
		call, want time.Duration
	}{{0, 17500 * time.Millisecond}, {time.Second, 33500 * time.Millisecond}} {
		cfg := Config{CallTimeout: c.call}
		longest := cfg.MaxInterval()
		if longest != c.want {
			t.Errorf("CallTimeout %s: MaxInterval %s; want %s", c.call, longest, c.want)
		}
		call := cfg.withDefaults().CallTimeout
		if by := takeOverBy(longest, call); by > UnanchoredAlertAfter-alertMargin {
			t.Errorf("CallTimeout %s, Interval %s (MaxInterval): a take-over anchors %s after the publication, past the alert's %s less %s", c.call, longest, by, UnanchoredAlertAfter, alertMargin)
		}
		if by := takeOverBy(longest+time.Millisecond, call); by <= UnanchoredAlertAfter-alertMargin {
			t.Errorf("CallTimeout %s, Interval %s: a take-over anchors %s after the publication, within the alert's %s less %s: MaxInterval could be longer", c.call, longest+time.Millisecond, by, UnanchoredAlertAfter, alertMargin)
		}
		for _, ok := range []time.Duration{0, time.Millisecond, longest} {
			cfg.Interval = ok
			if err := cfg.Check(); err != nil {
				t.Errorf("CallTimeout %s, Interval %s: %v", c.call, ok, err)
			}
		}
	}

	for _, c := range []struct {
		interval time.Duration
		says     string
	}{
		{18 * time.Second, "intake log interval (--log-interval) is 18s: give 17.5s or less; with a longer one, a gateway takes over"},
		{time.Hour, "intake log interval (--log-interval) is 1h0m0s: give 17.5s or less"},
		{-time.Second, "intake log interval (--log-interval) is -1s: give a positive duration, at most 17.5s"},
	} {
		err := Config{Interval: c.interval}.Check()
		if err == nil || !strings.HasPrefix(err.Error(), c.says) {
			t.Errorf("Interval %s: %v; want an error saying %q", c.interval, err, c.says)
		}
	}
}
