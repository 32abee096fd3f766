// Package promhelp checks the help texts of the project's Prometheus
// metrics, for the tests of the packages that define them: a metric whose
// name ends in a unit or in what it counts says so in its help, so a
// reader of /metrics (or of Grafana's tooltip) need not guess.
package promhelp

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric is a metric's name and help text, as its descriptor holds them.
type Metric struct{ Name, Help string }

// Recorder is a prometheus.Registerer that keeps what is registered with
// it: every metric's descriptor can be read (Metrics), a labelled one's
// before any of its series exists.
type Recorder struct{ collectors []prometheus.Collector }

// Register keeps c; it never fails.
func (r *Recorder) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return nil
}

// MustRegister keeps cs.
func (r *Recorder) MustRegister(cs ...prometheus.Collector) {
	r.collectors = append(r.collectors, cs...)
}

// Unregister forgets nothing (the checks want every metric ever
// registered) and says so.
func (r *Recorder) Unregister(prometheus.Collector) bool { return false }

// Metrics are the metrics of the collectors registered, in order.
func (r *Recorder) Metrics() []Metric { return Describe(r.collectors...) }

// descFields reads a descriptor's name and help from its String(), the
// only way the client library shows them: Desc{fqName: "…", help: "…", …}.
var descFields = regexp.MustCompile(`^Desc\{fqName: ("(?:[^"\\]|\\.)*"), help: ("(?:[^"\\]|\\.)*")`)

// Describe returns the metrics the collectors describe. A descriptor it
// cannot read comes back with its whole String() as the name and no help,
// so the checks fail on it rather than pass it by.
func Describe(cs ...prometheus.Collector) []Metric {
	ch := make(chan *prometheus.Desc)
	go func() {
		for _, c := range cs {
			c.Describe(ch)
		}
		close(ch)
	}()
	var out []Metric
	for d := range ch {
		s := d.String()
		m := descFields.FindStringSubmatch(s)
		if m == nil {
			out = append(out, Metric{Name: s})
			continue
		}
		name, err1 := strconv.Unquote(m[1])
		help, err2 := strconv.Unquote(m[2])
		if err1 != nil || err2 != nil {
			out = append(out, Metric{Name: s})
			continue
		}
		out = append(out, Metric{Name: name, Help: help})
	}
	return out
}

// Rule is what the help of a metric whose name ends in Suffix must say:
// each of Words (case-insensitive).
type Rule struct {
	Suffix string
	Words  []string
}

// Rules are the project's, first match wins: a time in seconds (a Unix
// timestamp's says so), a fraction's range, and what a gauge or histogram
// named after a count counts. Each call returns a new slice, so no caller
// can change the rules for the others.
func Rules() []Rule {
	return []Rule{
		{"_timestamp_seconds", []string{"Unix time", "seconds"}},
		{"_seconds", []string{"seconds"}},
		{"_ratio", []string{"0 to 1"}},
		{"_bytes", []string{"bytes"}},
		{"_entries", []string{"entries"}},
		{"_votes", []string{"votes"}},
		{"_batches", []string{"batches"}},
	}
}

// Problems lists, one line each, the metrics whose help is empty or lacks
// what Rules ask of its name; nil when none does.
func Problems(ms []Metric) []string {
	var out []string
	rules := Rules()
	for _, m := range ms {
		if strings.TrimSpace(m.Help) == "" {
			out = append(out, fmt.Sprintf("%s: no help text", m.Name))
			continue
		}
		for _, r := range rules {
			if !strings.HasSuffix(m.Name, r.Suffix) {
				continue
			}
			for _, w := range r.Words {
				if !strings.Contains(strings.ToLower(m.Help), strings.ToLower(w)) {
					out = append(out, fmt.Sprintf("%s: its help %q does not say %q (its name ends in %s)", m.Name, m.Help, w, r.Suffix))
				}
			}
			break
		}
	}
	return out
}

// Check fails t with the Problems of ms, and if ms has fewer than atLeast
// metrics (a registration the test no longer sees).
func Check(t testing.TB, ms []Metric, atLeast int) {
	t.Helper()
	if len(ms) < atLeast {
		t.Errorf("%d metrics described; want at least %d: %q", len(ms), atLeast, ms)
	}
	for _, p := range Problems(ms) {
		t.Error(p)
	}
}
