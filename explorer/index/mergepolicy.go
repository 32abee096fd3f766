package index

// mergePolicy decides which of a kind's latest segments a flush's new
// segment is merged with (segments.go). It is pure: it judges the
// segments' sizes, given as arguments, and does no I/O.
//
// A new segment is merged with the latest segments, newest first, while
// the one before holds at most ratio times the rows merged so far (the
// log-structured merge: about log_ratio of a kind's rows over a flush's
// segments, each row rewritten about as many times), and only while the
// merged segment stays within maxRows rows. Without that ceiling a merge
// that reaches the oldest segment rewrites the whole kind in the
// follower's commit; with it, no merge reads back more than maxRows rows
// a kind, and a segment that grew to near maxRows is left as it is: each
// kind holds its rows in about rows/(0.8*maxRows) full segments and a
// tail of at most about log2(maxRows/flush) smaller ones, and a lookup
// reads one chunk of each.
type mergePolicy struct {
	ratio   int64 // merge while the segment before holds at most ratio times the rows merged
	maxRows int64 // most rows of a merged segment (<= 0: no ceiling, as before 2026-12-01 night)
}

// maxSegmentRows is the ceiling on the rows a merge writes, a kind: 16
// bytes a row, 32 MB a kind (the two kinds merge in the same commit).
// With 200,000-row flushes the full segments settle at 1.6 M rows and no
// merge reads back more than 1.4 M (22.4 MB) a kind, whatever the
// index's size. Measured (BenchmarkSegmentMerges, loaded 2-core machine,
// 2026-12-01), at 10 M rows a kind: the longest commit took 568 ms for
// one kind (1.6 M rows written, about 0.35 µs a row), so the largest
// merges of both kinds stall one commit about 1.1 s, once every 1.6 M
// votes, against 2.0 s a kind before (6.6 M rows read back, 106 MB, and
// growing with the index); a ceiling of 1 M rows would halve that and
// double the full segments a lookup reads. A kind then holds 7 segments
// at 10 M votes and 32 at 50 M (TestMergePolicyBounded; 3–4 and 6
// without the ceiling): a lookup by vote id reads one chunk of each.
const maxSegmentRows = 2_000_000

// defaultMergePolicy is the index's merge policy.
var defaultMergePolicy = mergePolicy{ratio: 2, maxRows: maxSegmentRows}

// merges returns how many of the latest of segs (a kind's segments' rows,
// oldest first) a new segment of rows rows is merged with.
func (p mergePolicy) merges(segs []int64, rows int64) int {
	total, n := rows, len(segs)
	for n > 0 && segs[n-1] <= p.ratio*total && p.fits(total+segs[n-1]) {
		total += segs[n-1]
		n--
	}
	return len(segs) - n
}

// fits reports whether a merged segment of rows rows is within maxRows.
func (p mergePolicy) fits(rows int64) bool { return p.maxRows <= 0 || rows <= p.maxRows }

// settled reports whether segs (a kind's segments' rows, oldest first)
// are as the policy's merges leave them: each segment more than ratio
// times as large as the next, or too large to merge with it. A segment
// and the one before it stay as the merge that wrote the later one left
// them; an index written with another ratio or without the ceiling is
// settled too if its segments are each more than ratio times the next.
func (p mergePolicy) settled(segs []int64) bool {
	for i := 1; i < len(segs); i++ {
		if segs[i-1] <= p.ratio*segs[i] && p.fits(segs[i-1]+segs[i]) {
			return false
		}
	}
	return true
}

// mergePolicy is the index's merge policy: its merges field if set, else
// defaultMergePolicy.
func (x *Index) mergePolicy() mergePolicy {
	if x.merges.ratio > 0 {
		return x.merges
	}
	return defaultMergePolicy
}
