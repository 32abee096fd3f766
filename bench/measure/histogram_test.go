package measure

import (
	"errors"
	"math"
	"os"
	"strings"
	"testing"
)

// readFixture parses a batcher's /metrics scrape in testdata (see
// batcherstages_test.go): batcher-metrics-{before,after}.txt are what the
// batcher's own metrics (newMetrics) serve through promhttp around a
// window of known observations, kept in step with them by the batcher's
// TestBenchFixtures; batcher-bench-*.txt a running batcher's, captured on
// 2026-12-02 with the help texts and buckets of then.
func readFixture(t *testing.T, name string) []Sample {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := ParseMetrics(f)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseMetricsReadsLabelsValuesAndTimestamps(t *testing.T) {
	in := `# HELP x_total A counter.
# TYPE x_total counter
x_total{a="1",b="q\"}, \\n\n"} 3 1700000000000
x_total{a="2",} +Inf

y 2.5e-3
`
	got, err := ParseMetrics(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d samples, want 3: %+v", len(got), got)
	}
	if s := got[0]; s.Name != "x_total" || s.Value != 3 || s.Labels["a"] != "1" || s.Labels["b"] != "q\"}, \\n\n" {
		t.Errorf("first sample %+v %q", s, s.Labels["b"])
	}
	if s := got[1]; s.Labels["a"] != "2" || len(s.Labels) != 1 || !math.IsInf(s.Value, 1) {
		t.Errorf("second sample %+v", s)
	}
	if s := got[2]; s.Name != "y" || s.Value != 0.0025 || s.Labels != nil {
		t.Errorf("third sample %+v", s)
	}
	for _, bad := range []string{"x_total{a=\"1\" 3\n", "x_total{a=1} 3\n", "x_total\n", "x_total{a=\"1\"} three\n", "x 1 2 3\n"} {
		if _, err := ParseMetrics(strings.NewReader(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestHistogramsFromAScrape(t *testing.T) {
	after := readFixture(t, "batcher-metrics-after.txt")
	stages, err := Histograms(after, "batcher_stage_seconds", "stage")
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) != 7 {
		t.Fatalf("%d stages, want 7: %v", len(stages), stages)
	}
	c := stages["commit"]
	// The batcher's 39 bounds from 1 ms and +Inf.
	if c.Count != 21 || math.Abs(c.Sum-5.7) > 1e-9 || len(c.Buckets) != 40 || !math.IsInf(c.Buckets[39].UpperBound, 1) || c.Buckets[39].Count != 21 {
		t.Fatalf("commit stage %+v", c)
	}
	for i := 1; i < len(c.Buckets); i++ {
		if c.Buckets[i].UpperBound <= c.Buckets[i-1].UpperBound || c.Buckets[i].Count < c.Buckets[i-1].Count {
			t.Fatalf("buckets out of order at %d: %+v", i, c.Buckets)
		}
	}
	all, err := Histograms(after, "batcher_stage_seconds", "")
	if err != nil {
		t.Fatal(err)
	}
	if n := all[""].Count; n != 1002+1002+21+11+21+20+21 {
		t.Errorf("every stage together: %v observations", n)
	}
	// Series added up must share their bounds.
	mixed := append(after, Sample{Name: "batcher_stage_seconds_bucket", Labels: map[string]string{"stage": "commit", "le": "0.123"}, Value: 1})
	if _, err := Histograms(mixed, "batcher_stage_seconds", ""); err == nil {
		t.Error("a bucket bound of one series only was added to the others")
	}
}

// hist is a histogram of the given finite bounds and cumulative counts, and
// a +Inf bucket of total.
func hist(bounds, counts []float64, total, sum float64) Histogram {
	h := Histogram{Count: total, Sum: sum}
	for i, b := range bounds {
		h.Buckets = append(h.Buckets, Bucket{UpperBound: b, Count: counts[i]})
	}
	h.Buckets = append(h.Buckets, Bucket{UpperBound: math.Inf(1), Count: total})
	return h
}

func TestQuantileInterpolatesWithinTheBucketAsPrometheusDoes(t *testing.T) {
	h := hist([]float64{0.1, 0.2, 0.4}, []float64{10, 30, 40}, 40, 7)
	for _, c := range []struct{ q, want float64 }{
		{0.1, 0.04},  // rank 4 of the first bucket's 10, from 0
		{0.5, 0.15},  // rank 20: 10 into the second bucket's 20
		{0.95, 0.36}, // rank 38: 8 into the third bucket's 10
		{1, 0.4},
	} {
		if got := h.Quantile(c.q); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("q %v: %v, want %v", c.q, got, c.want)
		}
	}
	if got := h.Mean(); got != 7.0/40 {
		t.Errorf("mean %v", got)
	}
	// A rank beyond the last finite bound gives that bound.
	tail := hist([]float64{0.1, 0.2, 0.4}, []float64{10, 30, 40}, 50, 30)
	if got := tail.Quantile(0.95); got != 0.4 {
		t.Errorf("q 0.95 in the +Inf bucket: %v, want 0.4", got)
	}
	if got := (Histogram{}).Quantile(0.5); got != 0 {
		t.Errorf("empty: %v", got)
	}
	if got := hist([]float64{0.1}, []float64{0}, 0, 0).Quantile(0.5); got != 0 {
		t.Errorf("no observation: %v", got)
	}
}

func TestSubAndAdd(t *testing.T) {
	bounds := []float64{0.1, 0.2}
	before := hist(bounds, []float64{1, 2}, 3, 0.5)
	after := hist(bounds, []float64{4, 10}, 12, 2)
	d, err := after.Sub(before)
	if err != nil {
		t.Fatal(err)
	}
	if want := hist(bounds, []float64{3, 8}, 9, 1.5); !equalHist(d, want) {
		t.Fatalf("after − before = %+v, want %+v", d, want)
	}
	if d, err := after.Sub(Histogram{}); err != nil || !equalHist(d, after) {
		t.Errorf("after − nothing = %+v, %v", d, err)
	}
	if _, err := before.Sub(after); !errors.Is(err, ErrReset) {
		t.Errorf("a count that went down: %v, want ErrReset", err)
	}
	sum, err := Histogram{}.Add(d)
	if err == nil {
		sum, err = sum.Add(d)
	}
	if want := hist(bounds, []float64{6, 16}, 18, 3); err != nil || !equalHist(sum, want) {
		t.Errorf("d + d = %+v, %v", sum, err)
	}
	if _, err := d.Add(hist([]float64{0.1, 0.3}, []float64{1, 1}, 1, 0)); err == nil {
		t.Error("histograms of other bounds added")
	}
}

func equalHist(a, b Histogram) bool {
	if a.Count != b.Count || math.Abs(a.Sum-b.Sum) > 1e-12 || len(a.Buckets) != len(b.Buckets) {
		return false
	}
	for i := range a.Buckets {
		if a.Buckets[i] != b.Buckets[i] {
			return false
		}
	}
	return true
}

// TestSelectOneSeriesAndEstimateIt: one series of a histogram vector (the
// gateway's 202s of POST /api/v1/vote) is picked out of a scrape by its
// labels, and summarised in milliseconds from its buckets.
func TestSelectOneSeriesAndEstimateIt(t *testing.T) {
	scrape := `api_request_duration_seconds_bucket{code="202",method="POST",route="/api/v1/vote",le="0.001"} 50
api_request_duration_seconds_bucket{code="202",method="POST",route="/api/v1/vote",le="0.002"} 90
api_request_duration_seconds_bucket{code="202",method="POST",route="/api/v1/vote",le="0.004"} 100
api_request_duration_seconds_bucket{code="202",method="POST",route="/api/v1/vote",le="+Inf"} 100
api_request_duration_seconds_sum{code="202",method="POST",route="/api/v1/vote"} 0.125
api_request_duration_seconds_count{code="202",method="POST",route="/api/v1/vote"} 100
api_request_duration_seconds_bucket{code="409",method="POST",route="/api/v1/vote",le="0.001"} 0
api_request_duration_seconds_bucket{code="409",method="POST",route="/api/v1/vote",le="0.002"} 0
api_request_duration_seconds_bucket{code="409",method="POST",route="/api/v1/vote",le="0.004"} 0
api_request_duration_seconds_bucket{code="409",method="POST",route="/api/v1/vote",le="+Inf"} 7
api_request_duration_seconds_sum{code="409",method="POST",route="/api/v1/vote"} 70
api_request_duration_seconds_count{code="409",method="POST",route="/api/v1/vote"} 7
`
	samples, err := ParseMetrics(strings.NewReader(scrape))
	if err != nil {
		t.Fatal(err)
	}
	picked := Select(samples, map[string]string{"method": "POST", "route": "/api/v1/vote", "code": "202"})
	if len(picked) != 6 {
		t.Fatalf("%d samples picked, want the 202 series' 6", len(picked))
	}
	hs, err := Histograms(picked, "api_request_duration_seconds", "")
	if err != nil {
		t.Fatal(err)
	}
	got := hs[""].Estimate()
	// p50: rank 50 ends the first bucket (1 ms); p95: 5 of the third
	// bucket's 10, halfway from 2 to 4 ms; p99: 9 of 10, 3.8 ms.
	if want := (Estimate{N: 100, MeanMs: 1.25, P50ms: 1, P95ms: 3, P99ms: 3.8}); got != want {
		t.Errorf("estimate %+v, want %+v", got, want)
	}
	if got := (Histogram{}).Estimate(); got != (Estimate{}) {
		t.Errorf("no observation: %+v", got)
	}
}
