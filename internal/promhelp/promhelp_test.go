package promhelp

import (
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestRecorderReadsEveryDescriptor: a labelled metric with no series yet,
// a plain one and a help text with quotes come back as registered.
func TestRecorderReadsEveryDescriptor(t *testing.T) {
	var r Recorder
	r.MustRegister(prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "a_lag_seconds", Help: `Age in "seconds".`}, []string{"state"}))
	if err := r.Register(prometheus.NewCounter(prometheus.CounterOpts{Name: "b_total", Help: "Bs."})); err != nil {
		t.Fatal(err)
	}
	want := []Metric{{"a_lag_seconds", `Age in "seconds".`}, {"b_total", "Bs."}}
	if got := r.Metrics(); !slices.Equal(got, want) {
		t.Fatalf("Metrics() = %q; want %q", got, want)
	}
}

// TestProblems: each rule's unit missing from a help is one problem, an
// empty help is one, and help texts that say their units are none.
func TestProblems(t *testing.T) {
	bad := []Metric{
		{"x_latency_seconds", "Time to commit."},
		{"x_last_timestamp_seconds", "Time of the last block in seconds."},
		{"x_fill_ratio", "Fraction of bits set."},
		{"x_signed_entries", "Size of the last tree head."},
		{"x_nothing", ""},
	}
	got := Problems(bad)
	if len(got) != len(bad) {
		t.Fatalf("%d problems; want %d:\n%s", len(got), len(bad), strings.Join(got, "\n"))
	}
	good := []Metric{
		{"x_latency_seconds", "Time to commit, in seconds."},
		{"x_last_timestamp_seconds", "Unix time in seconds of the last block."},
		{"x_fill_ratio", "Fraction of bits set, 0 to 1."},
		{"x_signed_entries", "Entries covered by the last tree head."},
		{"x_things_total", "Things done."},
	}
	if got := Problems(good); got != nil {
		t.Fatalf("problems in good help texts:\n%s", strings.Join(got, "\n"))
	}
}

// TestRulesIsANewSliceEachCall changes a rule and the words of another
// (a slice of its own) in one call's result; the next call has neither.
func TestRulesIsANewSliceEachCall(t *testing.T) {
	rules := Rules()
	want := slices.Clone(rules)
	for i := range want {
		want[i].Words = slices.Clone(want[i].Words)
	}
	rules[0].Suffix = "_changed"
	rules[1].Words[0] = "changed"
	again := Rules()
	if !slices.EqualFunc(again, want, func(a, b Rule) bool { return a.Suffix == b.Suffix && slices.Equal(a.Words, b.Words) }) {
		t.Errorf("a caller's change to Rules' slice shows in the next call: %q", again)
	}
}
