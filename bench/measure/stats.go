// The benchmark's arithmetic: latency percentiles and per-second time series.

package measure

import (
	"math"
	"slices"
	"time"
)

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted (ascending) samples, or 0 when there are none.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// Latency summarises a set of latencies in milliseconds.
type Latency struct {
	N     int     `json:"n"`
	P50ms float64 `json:"p50_ms"`
	P95ms float64 `json:"p95_ms"`
	P99ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

// Summarize sorts samples in place and returns their summary.
func Summarize(samples []time.Duration) Latency {
	slices.Sort(samples)
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e4) / 100 }
	return Latency{
		N:     len(samples),
		P50ms: ms(Percentile(samples, 50)), P95ms: ms(Percentile(samples, 95)),
		P99ms: ms(Percentile(samples, 99)), MaxMs: ms(Percentile(samples, 100)),
	}
}

// Series counts events in one-second buckets from a start time. It is not
// safe for concurrent use.
type Series struct {
	Start time.Time
	Count []float64
}

// NewSeries returns an empty series starting at start.
func NewSeries(start time.Time) *Series { return &Series{Start: start} }

// Add adds n at time t; times before Start are dropped.
func (s *Series) Add(t time.Time, n float64) {
	i := int(t.Sub(s.Start) / time.Second)
	if i < 0 {
		return
	}
	for len(s.Count) <= i {
		s.Count = append(s.Count, 0)
	}
	s.Count[i] += n
}

// Rate is the mean per second over [from, to) (whole seconds from Start).
func (s *Series) Rate(from, to time.Time) float64 {
	a, b := int(from.Sub(s.Start)/time.Second), int(to.Sub(s.Start)/time.Second)
	if b <= a {
		return 0
	}
	var sum float64
	for i := max(a, 0); i < b && i < len(s.Count); i++ {
		sum += s.Count[i]
	}
	return sum / float64(b-a)
}

// Quantiles collects per-second latency samples and reduces each second to
// a percentile.
type Quantiles struct {
	Start   time.Time
	samples [][]time.Duration
}

// NewQuantiles returns an empty collection starting at start.
func NewQuantiles(start time.Time) *Quantiles { return &Quantiles{Start: start} }

// Add records latency d observed at time t.
func (q *Quantiles) Add(t time.Time, d time.Duration) {
	i := int(t.Sub(q.Start) / time.Second)
	if i < 0 {
		return
	}
	for len(q.samples) <= i {
		q.samples = append(q.samples, nil)
	}
	q.samples[i] = append(q.samples[i], d)
}

// PerSecond returns the p-th percentile of each second in milliseconds (0
// for a second without samples).
func (q *Quantiles) PerSecond(p float64) []float64 {
	out := make([]float64, len(q.samples))
	for i, s := range q.samples {
		slices.Sort(s)
		out[i] = float64(Percentile(s, p)) / 1e6
	}
	return out
}
