package batcher

import (
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestLatencyBuckets: the latency histograms' bounds have edges at the
// targets (0.5 s, 2 s), are at most 1.2x apart from 0.25 to 0.6 s and
// 1.5x from 50 ms to 5 s, reach 60 s, and the registered histograms
// expose them (the stages from 1 ms, the vote from 10 ms, a batch's commit
// from 50 ms).
func TestLatencyBuckets(t *testing.T) {
	for _, edge := range []float64{0.5, 2, 60} {
		if !slices.Contains(latencyBuckets, edge) {
			t.Errorf("no bound at %v s", edge)
		}
	}
	for i := 1; i < len(latencyBuckets); i++ {
		lo, hi := latencyBuckets[i-1], latencyBuckets[i]
		if hi <= lo {
			t.Fatalf("bounds not ascending: %v then %v", lo, hi)
		}
		if lo >= 0.25 && hi <= 0.6 && hi/lo > 1.2 {
			t.Errorf("(%v, %v] is x%.2f wide near the 500 ms target; want at most x1.2", lo, hi, hi/lo)
		}
		if lo >= 0.05 && hi <= 5 && hi/lo > 1.5 {
			t.Errorf("(%v, %v] is x%.2f wide; want at most x1.5 from 50 ms to 5 s", lo, hi, hi/lo)
		}
	}

	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	m.stage.commit.Observe(0.52)
	m.voteLatency.Observe(0.52)
	m.latency.Observe(0.52)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"batcher_stage_seconds": 39, "batcher_vote_latency_seconds": 34, "batcher_commit_latency_seconds": 30}
	for _, mf := range mfs {
		n, ok := want[mf.GetName()]
		if !ok {
			continue
		}
		delete(want, mf.GetName())
		var bs []*dto.Bucket // of the one series observed (stage commit)
		for _, s := range mf.GetMetric() {
			if s.GetHistogram().GetSampleCount() == 1 {
				bs = s.GetHistogram().GetBucket()
			}
		}
		if len(bs) != n {
			t.Errorf("%s: %d buckets; want %d", mf.GetName(), len(bs), n)
		}
		for _, b := range bs { // 0.52 falls in (0.5, 0.55]
			wantCount := uint64(0)
			if b.GetUpperBound() >= 0.55 {
				wantCount = 1
			}
			if got := b.GetCumulativeCount(); got != wantCount {
				t.Errorf("%s le=%v: %d; want %d", mf.GetName(), b.GetUpperBound(), got, wantCount)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("not registered: %v", want)
	}
}
