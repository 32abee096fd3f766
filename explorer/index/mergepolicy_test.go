package index

import (
	"math"
	"slices"
	"testing"
)

// TestMergePolicy: a new segment merges with the latest segments while
// the one before is at most ratio times the rows merged so far and the
// merged segment stays within maxRows; without a ceiling, as before.
func TestMergePolicy(t *testing.T) {
	p := mergePolicy{ratio: 2, maxRows: 1000}
	for _, c := range []struct {
		segs []int64
		rows int64
		want int
	}{
		{nil, 100, 0},
		{[]int64{200}, 100, 1},           // 200 <= 2*100
		{[]int64{201}, 100, 0},           // 201 > 2*100
		{[]int64{400, 200}, 100, 2},      // 200 <= 200, then 400 <= 600
		{[]int64{900, 200, 100}, 100, 2}, // 900 <= 800 no
		{[]int64{600, 300}, 100, 0},      // 300 > 2*100
		{[]int64{700, 200}, 100, 1},      // 700 <= 600 no
		{[]int64{600, 200}, 200, 2},      // 600 <= 800, and 1000 fits
		{[]int64{700, 200}, 200, 1},      // 700 <= 800, but 1100 > 1000
		{[]int64{400}, 600, 1},           // exactly 1000
		{[]int64{500}, 600, 0},           // 1100 > 1000
		{[]int64{900}, 500, 0},           // 1400 > 1000
		{[]int64{100}, 2000, 0},          // a flush above the ceiling merges with nothing
	} {
		if got := p.merges(c.segs, c.rows); got != c.want {
			t.Errorf("merges(%v, %d) = %d; want %d", c.segs, c.rows, got, c.want)
		}
	}
	unbounded := mergePolicy{ratio: 2}
	if got := unbounded.merges([]int64{1 << 40, 1 << 39}, 1<<39); got != 2 {
		t.Errorf("without a ceiling: merges %d; want 2", got)
	}
	if !p.settled([]int64{3000, 900, 200, 50}) || p.settled([]int64{400, 200}) || !p.settled([]int64{700, 400}) {
		t.Error("settled wrong")
	}
}

// simulateMerges flushes segments of flush rows under p until the kind
// holds total rows, and returns the most rows one merge read back from the
// segments, the most segments at any time, and the segments at the end;
// it fails t if the segments are ever not settled.
func simulateMerges(t *testing.T, p mergePolicy, flush, total int64) (maxRead int64, maxSegs int, segs []int64) {
	t.Helper()
	for rows := int64(0); rows < total; rows += flush {
		n := len(segs) - p.merges(segs, flush)
		merged := flush
		for _, s := range segs[n:] {
			merged += s
		}
		maxRead = max(maxRead, merged-flush)
		segs = append(segs[:n], merged)
		maxSegs = max(maxSegs, len(segs))
		if !p.settled(segs) {
			t.Fatalf("%+v after %d rows: segments %v not settled", p, rows+flush, segs)
		}
	}
	return maxRead, maxSegs, segs
}

// TestMergePolicyBounded: flushes of 200,000 rows (pendingFlushRows) up to
// 10 M and 50 M rows a kind: under the default policy no merge reads back
// more than maxSegmentRows rows, and a kind holds at most total/full +
// log2(maxSegmentRows/flush) + 1 segments, full being the largest
// flush<<k within the ceiling (the segments a lookup reads: 7 and 32 here,
// bounds 10 and 35); without the ceiling a merge reads back nearly the
// whole kind.
func TestMergePolicyBounded(t *testing.T) {
	const flush = pendingFlushRows
	for _, total := range []int64{10_000_000, 50_000_000} {
		maxRead, maxSegs, segs := simulateMerges(t, defaultMergePolicy, flush, total)
		// Flushes of equal size merge in powers of two: a full segment is
		// the largest flush<<k within the ceiling (1.6 M rows here), and
		// below the full ones at most one segment of each smaller size.
		tiers := int(math.Log2(maxSegmentRows / flush))
		full := int64(flush) << tiers
		bound := int(total/full) + tiers + 1
		t.Logf("%d rows, bounded: the largest merge read back %d rows; at most %d segments (%d at the end: %v)", total, maxRead, maxSegs, len(segs), segs)
		if maxRead > maxSegmentRows || maxSegs > bound {
			t.Errorf("%d rows: a merge read back %d rows (ceiling %d), %d segments (bound %d)", total, maxRead, maxSegmentRows, maxSegs, bound)
		}
		if slices.Max(segs) > maxSegmentRows {
			t.Errorf("%d rows: a segment of %d rows", total, slices.Max(segs))
		}
		before, beforeSegs, _ := simulateMerges(t, mergePolicy{ratio: 2}, flush, total)
		t.Logf("%d rows, unbounded: the largest merge read back %d rows; at most %d segments", total, before, beforeSegs)
		if before < total/2 {
			t.Errorf("%d rows without a ceiling: the largest merge read back only %d rows", total, before)
		}
	}
}
