package measure

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

const exposition = `# HELP bloom_maybe_seen_total Bloom 'maybe seen' answers.
# TYPE bloom_maybe_seen_total counter
bloom_maybe_seen_total{result="duplicate"} 7
bloom_maybe_seen_total{result="false_positive",state="a}b"} 2.5
bloom_maybe_seen_total_created 1.7e9
votes_submitted_total 100
`

func TestCounterSumAddsEverySeriesOfOneMetric(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(exposition)) }))
	defer srv.Close()
	ctx := context.Background()
	if v, found, err := CounterSum(ctx, srv.URL, "bloom_maybe_seen_total"); err != nil || !found || v != 9.5 {
		t.Fatalf("bloom_maybe_seen_total = %v %v %v, want 9.5", v, found, err)
	}
	if v, found, err := CounterSum(ctx, srv.URL, "votes_submitted_total"); err != nil || !found || v != 100 {
		t.Fatalf("votes_submitted_total = %v %v %v", v, found, err)
	}
	if _, found, err := CounterSum(ctx, srv.URL, "exact_checks_total"); err != nil || found {
		t.Fatalf("absent metric found=%v err=%v", found, err)
	}
}

func TestCounterSumWithOneLabel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(exposition)) }))
	defer srv.Close()
	ctx := context.Background()
	if v, found, err := CounterSumWith(ctx, srv.URL, "bloom_maybe_seen_total", `state="a}b"`); err != nil || !found || v != 2.5 {
		t.Fatalf(`state="a}b": %v %v %v, want 2.5`, v, found, err)
	}
	if v, found, err := CounterSumWith(ctx, srv.URL, "bloom_maybe_seen_total", `result="duplicate"`); err != nil || !found || v != 7 {
		t.Fatalf(`result="duplicate": %v %v %v, want 7`, v, found, err)
	}
	// A series without labels has none to match.
	if _, found, err := CounterSumWith(ctx, srv.URL, "votes_submitted_total", `status="accepted"`); err != nil || found {
		t.Fatalf("unlabelled series matched: found=%v err=%v", found, err)
	}
}
