package measure

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Bucket is a histogram bucket as Prometheus exposes it: the observations
// at most UpperBound, cumulative.
type Bucket struct {
	UpperBound float64
	Count      float64
}

// Histogram is a Prometheus histogram: one series, several added up (Add),
// or the observations between two scrapes (Sub).
type Histogram struct {
	Buckets []Bucket // by ascending UpperBound, the last +Inf
	Count   float64  // observations (the +Inf bucket's count)
	Sum     float64  // of the observed values
}

// ErrReset says a histogram or counter went down between two scrapes: the
// process that exposes it restarted.
var ErrReset = errors.New("measure: a counter went down between the scrapes (the process restarted)")

// Histograms gathers the histogram name (its _bucket, _sum and _count
// series) from samples, one per value of the label by, adding up the
// series that share it; by "" adds up every series into the one keyed "".
// A histogram whose series do not share their bucket bounds is an error.
func Histograms(samples []Sample, name, by string) (map[string]Histogram, error) {
	type parts struct {
		buckets    map[float64]float64
		seen       map[float64]int // series with the bound
		series     int             // series (their _count)
		sum, count float64
	}
	got := map[string]*parts{}
	of := func(s Sample) *parts {
		key := ""
		if by != "" {
			key = s.Labels[by]
		}
		p := got[key]
		if p == nil {
			p = &parts{buckets: map[float64]float64{}, seen: map[float64]int{}}
			got[key] = p
		}
		return p
	}
	for _, s := range samples {
		switch s.Name {
		case name + "_bucket":
			le, err := strconv.ParseFloat(s.Labels["le"], 64)
			if err != nil {
				return nil, fmt.Errorf("measure: %s bucket le=%q: %w", name, s.Labels["le"], err)
			}
			p := of(s)
			p.buckets[le] += s.Value
			p.seen[le]++
		case name + "_sum":
			of(s).sum += s.Value
		case name + "_count":
			p := of(s)
			p.count += s.Value
			p.series++
		}
	}
	out := make(map[string]Histogram, len(got))
	for key, p := range got {
		h := Histogram{Sum: p.sum, Count: p.count}
		for le, n := range p.buckets {
			if p.seen[le] != p.series {
				return nil, fmt.Errorf("measure: %s %s: series with different bucket bounds", name, key)
			}
			h.Buckets = append(h.Buckets, Bucket{UpperBound: le, Count: n})
		}
		slices.SortFunc(h.Buckets, func(a, b Bucket) int { return compareFloat(a.UpperBound, b.UpperBound) })
		out[key] = h
	}
	return out, nil
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Add returns the observations of h and o together; either may be the
// zero Histogram. Their buckets must have the same bounds.
func (h Histogram) Add(o Histogram) (Histogram, error) {
	return h.combine(o, 1)
}

// Sub returns the observations of h not in before: h scraped at the end of
// a window, before at its start (a zero before: h itself). ErrReset if any
// count went down.
func (h Histogram) Sub(before Histogram) (Histogram, error) {
	d, err := h.combine(before, -1)
	if err != nil {
		return d, err
	}
	if d.Count < 0 {
		return Histogram{}, ErrReset
	}
	for _, b := range d.Buckets {
		if b.Count < 0 {
			return Histogram{}, ErrReset
		}
	}
	return d, nil
}

// combine returns h + sign × o, bucket by bucket.
func (h Histogram) combine(o Histogram, sign float64) (Histogram, error) {
	switch {
	case len(o.Buckets) == 0 && o.Count == 0:
		return h.clone(), nil
	case len(h.Buckets) == 0 && h.Count == 0:
		h.Buckets = make([]Bucket, len(o.Buckets)) // the zero histogram takes o's bounds
		for i, b := range o.Buckets {
			h.Buckets[i].UpperBound = b.UpperBound
		}
	case !slices.EqualFunc(h.Buckets, o.Buckets, func(a, b Bucket) bool { return a.UpperBound == b.UpperBound }):
		return Histogram{}, errors.New("measure: histograms with different bucket bounds")
	}
	out := Histogram{Buckets: make([]Bucket, len(h.Buckets)), Count: h.Count + sign*o.Count, Sum: h.Sum + sign*o.Sum}
	for i, b := range h.Buckets {
		out.Buckets[i] = Bucket{UpperBound: b.UpperBound, Count: b.Count + sign*o.Buckets[i].Count}
	}
	return out, nil
}

func (h Histogram) clone() Histogram {
	h.Buckets = slices.Clone(h.Buckets)
	return h
}

// Mean is the mean observation (0 when there is none).
func (h Histogram) Mean() float64 {
	if h.Count <= 0 {
		return 0
	}
	return h.Sum / h.Count
}

// Quantile estimates the q-quantile (0 ≤ q ≤ 1) of the observations as
// Prometheus's histogram_quantile does: it finds the bucket that holds the
// observation of rank q × Count and interpolates linearly between the
// bucket's bounds (the first bucket's lower bound 0), as if the
// observations were spread evenly in it; a rank in the +Inf bucket gives
// the highest finite bound. So the estimate is only as fine as the
// buckets: its error is up to the width of the bucket it falls in. 0 when
// there is no observation, or no +Inf bucket and a finite one (not a
// histogram as Prometheus exposes one).
func (h Histogram) Quantile(q float64) float64 {
	n := len(h.Buckets)
	if n < 2 || h.Buckets[n-1].Count <= 0 || !math.IsInf(h.Buckets[n-1].UpperBound, 1) {
		return 0
	}
	rank := q * h.Buckets[n-1].Count
	b, _ := slices.BinarySearchFunc(h.Buckets, rank, func(b Bucket, rank float64) int { return compareFloat(b.Count, rank) })
	switch {
	case b >= n-1:
		return h.Buckets[n-2].UpperBound
	case b == 0 && h.Buckets[0].UpperBound <= 0:
		return h.Buckets[0].UpperBound
	}
	start, end, count := 0.0, h.Buckets[b].UpperBound, h.Buckets[b].Count
	if b > 0 {
		start = h.Buckets[b-1].UpperBound
		count -= h.Buckets[b-1].Count
		rank -= h.Buckets[b-1].Count
	}
	if count <= 0 {
		return start // q = 0 and an empty first bucket
	}
	return start + (end-start)*(rank/count)
}

// Select keeps the samples whose labels hold every pair of want (one
// series of a histogram vector, say).
func Select(samples []Sample, want map[string]string) []Sample {
	var out []Sample
	for _, s := range samples {
		ok := true
		for k, v := range want {
			ok = ok && s.Labels[k] == v
		}
		if ok {
			out = append(out, s)
		}
	}
	return out
}

// Estimate summarises a histogram of seconds in milliseconds: unlike
// Latency's exact order statistics, its quantiles are Quantile's estimates,
// each only as fine as the bucket it falls in.
type Estimate struct {
	N      int     `json:"n"`
	MeanMs float64 `json:"mean_ms"`
	P50ms  float64 `json:"p50_ms"`
	P95ms  float64 `json:"p95_ms"`
	P99ms  float64 `json:"p99_ms"`
}

// Estimate summarises h, a histogram of seconds.
func (h Histogram) Estimate() Estimate {
	ms := func(s float64) float64 { return math.Round(s*1e5) / 100 }
	return Estimate{N: int(h.Count), MeanMs: ms(h.Mean()), P50ms: ms(h.Quantile(0.5)), P95ms: ms(h.Quantile(0.95)), P99ms: ms(h.Quantile(0.99))}
}
