package measure

import (
	"errors"
	"math"
	"slices"
	"testing"
)

// The fixture's window (testdata/batcher-metrics-{before,after}.txt, one
// batcher, written by the batcher's TestBenchFixtures from its metrics):
// 1,000 votes queued 2–10 ms, buffered 50–150 ms and 300–500 ms from 202
// to acknowledgement, evenly; 20 batches of 50 votes, each 6 ms in the
// journal, 0.5 ms sharing, 180–370 ms committing (10 ms apart) and 8 ms
// settling; 10 transactions of 2 batches endorsed in 40 ms each; one retry.
// Before it, two votes in one batch had gone through.

// bucketOf is the bucket (lo, hi] of h, in ms, that holds v ms.
func bucketOf(t *testing.T, h Histogram, v float64) (lo, hi float64) {
	t.Helper()
	for _, b := range h.Buckets {
		if hi = b.UpperBound * 1000; v <= hi {
			return lo, hi
		}
		lo = hi
	}
	t.Fatalf("%v ms is in no bucket of %+v", v, h.Buckets)
	return 0, 0
}

func TestBatcherWindowIsTheIncreaseOverTheWindow(t *testing.T) {
	before, after := readFixture(t, "batcher-metrics-before.txt"), readFixture(t, "batcher-metrics-after.txt")
	s, err := BatcherWindow(map[string][]Sample{"batcher0": before}, map[string][]Sample{"batcher0": after})
	if err != nil {
		t.Fatal(err)
	}
	if s.Batchers != 1 || s.Votes != 1000 || s.Batches != 20 || s.Transactions != 10 || s.BatchesSubmitted != 20 || s.VotesPerTx != 100 || s.BatchesPerTx != 2 || s.Retries != 1 {
		t.Fatalf("window %+v", s)
	}
	var order []string
	for _, st := range s.Stages {
		order = append(order, st.Stage)
	}
	if got, want := order, []string{"queue", "buffer", "journal", "share", "endorse", "commit", "settle"}; !slices.Equal(got, want) {
		t.Fatalf("stages %v, want the path's order %v", got, want)
	}
	// Each estimated p50 and p95 falls in the fixture's bucket that holds
	// the true one (whatever the batcher's buckets are now).
	buckets, err := Histograms(after, "batcher_stage_seconds", "stage")
	if err != nil {
		t.Fatal(err)
	}
	votes, err := Histograms(after, "batcher_vote_latency_seconds", "")
	if err != nil {
		t.Fatal(err)
	}
	buckets["vote"] = votes[""]
	for _, c := range []struct {
		stage, per  string
		count, mean float64
		p50, p95    float64 // the true ones, ms
	}{
		{"queue", "vote", 1000, 5.996, 5.998, 9.592},
		{"buffer", "vote", 1000, 99.95, 99.95, 144.9},
		{"journal", "batch", 20, 6, 6, 6},
		{"share", "batch", 20, 0.5, 0.5, 0.5},
		{"endorse", "transaction", 10, 40, 40, 40},
		{"commit", "batch", 20, 275, 275, 360},
		{"settle", "batch", 20, 8, 8, 8},
		{"vote", "vote", 1000, 399.9, 399.9, 489.8},
	} {
		st, ok := s.Stage(c.stage)
		if c.stage == "vote" {
			st, ok = s.Vote, true
		}
		if !ok {
			t.Fatalf("no %s stage", c.stage)
		}
		if st.Per != c.per || st.Count != c.count || math.Abs(st.MeanMs-c.mean) > 1e-6 {
			t.Errorf("%s: %+v, want per %s, %v observations, mean %v ms", c.stage, st, c.per, c.count, c.mean)
		}
		p50lo, p50hi := bucketOf(t, buckets[c.stage], c.p50)
		p95lo, p95hi := bucketOf(t, buckets[c.stage], c.p95)
		if st.P50ms < p50lo || st.P50ms > p50hi || st.P95ms < p95lo || st.P95ms > p95hi || st.P95ms < st.P50ms {
			t.Errorf("%s: p50 %.3f ms (want %.3f–%.3f), p95 %.3f ms (want %.3f–%.3f)", c.stage, st.P50ms, p50lo, p50hi, st.P95ms, p95lo, p95hi)
		}
	}
}

func TestBatcherWindowAddsUpTheBatchers(t *testing.T) {
	before, after := readFixture(t, "batcher-metrics-before.txt"), readFixture(t, "batcher-metrics-after.txt")
	one, err := BatcherWindow(map[string][]Sample{"batcher0": before}, map[string][]Sample{"batcher0": after})
	if err != nil {
		t.Fatal(err)
	}
	two, err := BatcherWindow(map[string][]Sample{"batcher0": before, "batcher1": before},
		map[string][]Sample{"batcher0": after, "batcher1": after, "batcher2": after}) // batcher2 came up in the window: left out
	if err != nil {
		t.Fatal(err)
	}
	if two.Batchers != 2 || two.Votes != 2000 || two.Transactions != 20 || two.VotesPerTx != 100 || two.Retries != 2 {
		t.Fatalf("two batchers %+v", two)
	}
	for i, st := range two.Stages {
		o := one.Stages[i]
		if st.Count != 2*o.Count || math.Abs(st.MeanMs-o.MeanMs) > 1e-9 || math.Abs(st.P50ms-o.P50ms) > 1e-9 || math.Abs(st.P95ms-o.P95ms) > 1e-9 {
			t.Errorf("%s: two alike batchers %+v, one %+v", st.Stage, st, o)
		}
	}
	// A batcher that restarted in the window.
	if _, err := BatcherWindow(map[string][]Sample{"batcher0": after}, map[string][]Sample{"batcher0": before}); !errors.Is(err, ErrReset) {
		t.Errorf("restarted batcher: %v, want ErrReset", err)
	}
}

// testdata/batcher-bench-{1,2}.txt are a real batcher's /metrics, make
// bench's (ten lanes sharing transactions), scraped 5 s apart during the
// ramp on 2026-12-02: a capture, so they keep that batcher's help texts
// and buckets (24 exponential bounds for each stage, before cc2ee18 and
// e9b152b), as a report's scrapes of an older batcher would. What its series count ties them together: each batch
// settled observes its votes once, its commit and its settle once; each
// submission its endorsement and its batches.
func TestBatcherWindowOnARealBatcher(t *testing.T) {
	s, err := BatcherWindow(map[string][]Sample{"batcher0": readFixture(t, "batcher-bench-1.txt")},
		map[string][]Sample{"batcher0": readFixture(t, "batcher-bench-2.txt")})
	if err != nil {
		t.Fatal(err)
	}
	commit, _ := s.Stage("commit")
	settle, _ := s.Stage("settle")
	endorse, _ := s.Stage("endorse")
	if s.Votes != 686555-677742 || s.Vote.Count != s.Votes || s.Batches != 10319-10271 || commit.Count != s.Batches || settle.Count != s.Batches {
		t.Errorf("votes %v (per vote %v), batches %v (commit %v, settle %v)", s.Votes, s.Vote.Count, s.Batches, commit.Count, settle.Count)
	}
	if s.Transactions != 1196-1186 || endorse.Count != s.Transactions || s.BatchesSubmitted != 10445-10349 || s.Retries != 0 {
		t.Errorf("transactions %v (endorse %v) of %v batches, retries %v", s.Transactions, endorse.Count, s.BatchesSubmitted, s.Retries)
	}
	if math.Abs(s.VotesPerTx-s.Votes/s.Transactions) > 1e-9 || math.Abs(s.BatchesPerTx-9.6) > 1e-9 {
		t.Errorf("votes/tx %v, batches/tx %v", s.VotesPerTx, s.BatchesPerTx)
	}
	if len(s.Stages) != 7 {
		t.Fatalf("stages %+v", s.Stages)
	}
	for _, st := range append(s.Stages, s.Vote) {
		if st.Count <= 0 || st.P50ms <= 0 || st.P95ms < st.P50ms || st.MeanMs <= 0 {
			t.Errorf("%s: %+v", st.Stage, st)
		}
	}
}
