package measure

import (
	"cmp"
	"slices"
	"sort"
	"time"
)

// TxWait is a commit-status wait (StatusWait) split along the path of the
// block it waited for: the last block the peer committed at or before the
// answer. Its parts add up to the wait: the request pool (from the call
// to the block's proposal), consensus, the peer's backlog and the transit
// to it (from the decision to the peer's taking the block), validation,
// commit, and the gateway's notice (from the commit to the answer).
type TxWait struct {
	StatusWait
	Block BlockPath
}

// Wait is the call's duration.
func (w TxWait) Wait() time.Duration { return w.Answered.Sub(w.Began) }

// Pool is the time from the call to the block's proposal: the wait for
// the leader to cut a block holding the transaction (and to verify it:
// the leader logs its proposal once verified). It can be slightly
// negative when the client asked after the block was cut.
func (w TxWait) Pool() time.Duration { return w.Block.Proposed.Sub(w.Began) }

// Notify is the time from the peer's commit to the gateway's answer.
func (w TxWait) Notify() time.Duration { return w.Answered.Sub(w.Block.Peer.Committed) }

// complete reports whether every time of the block's path is known, so
// that the parts add up to the wait.
func (p BlockPath) complete() bool {
	return !p.Proposed.IsZero() && !p.Decided.IsZero() && !p.Peer.Received.IsZero() &&
		!p.Peer.Validated.IsZero() && !p.Peer.Committed.IsZero()
}

// TxWaits joins each wait with the block it waited for (paths: the same
// peer's, BlockPaths) and returns those whose block's path is complete,
// in the order of waits. A wait answered before the first block of paths,
// or for a block whose path a log leaves incomplete, is left out.
func TxWaits(waits []StatusWait, paths []BlockPath) []TxWait {
	byCommit := slices.Clone(paths)
	slices.SortStableFunc(byCommit, func(a, b BlockPath) int { return a.Peer.Committed.Compare(b.Peer.Committed) })
	var out []TxWait
	for _, w := range waits {
		i := sort.Search(len(byCommit), func(i int) bool { return byCommit[i].Peer.Committed.After(w.Answered) })
		if i == 0 || !byCommit[i-1].complete() {
			continue
		}
		out = append(out, TxWait{StatusWait: w, Block: byCommit[i-1]})
	}
	return out
}

// WaitParts is one statistic of the waits' parts, in milliseconds.
type WaitParts struct {
	Wait      float64 `json:"wait_ms"`
	Pool      float64 `json:"pool_ms"`
	Consensus float64 `json:"consensus_ms"`
	Backlog   float64 `json:"backlog_ms"`
	Transit   float64 `json:"transit_ms"`
	Validate  float64 `json:"validate_ms"`
	Commit    float64 `json:"commit_ms"`
	Notify    float64 `json:"notify_ms"`
}

// TxWaitSummary is a window's commit-status waits (those answered in it)
// split into parts: the median and 95th percentile of each part over the
// waits (nearest rank, each part on its own, so they do not add up), and
// the mean of each part over all the waits and over the slowest tenth
// (the waits at or above the 90th percentile of the wait), which do add
// up to the mean wait: where the tail's time went.
type TxWaitSummary struct {
	Waits   int       `json:"waits"`
	P50     WaitParts `json:"p50"`
	P95     WaitParts `json:"p95"`
	Mean    WaitParts `json:"mean"`
	Slowest WaitParts `json:"slowest_tenth_mean"`
}

// parts lists a wait's parts in the order of WaitParts.
func (w TxWait) parts() [8]time.Duration {
	p := w.Block
	return [8]time.Duration{w.Wait(), w.Pool(), p.Consensus(), p.Backlog(), p.Transit(), p.Validate(), p.Commit(), w.Notify()}
}

func waitParts(v [8]float64) WaitParts {
	return WaitParts{Wait: v[0], Pool: v[1], Consensus: v[2], Backlog: v[3], Transit: v[4], Validate: v[5], Commit: v[6], Notify: v[7]}
}

// SummarizeTxWaits summarises the waits answered in [from, to) whose
// client is client (every client when empty).
func SummarizeTxWaits(waits []TxWait, client string, from, to time.Time) TxWaitSummary {
	var in []TxWait
	for _, w := range waits {
		if (client == "" || w.Client == client) && !w.Answered.Before(from) && w.Answered.Before(to) {
			in = append(in, w)
		}
	}
	s := TxWaitSummary{Waits: len(in)}
	if len(in) == 0 {
		return s
	}
	slices.SortStableFunc(in, func(a, b TxWait) int { return cmp.Compare(a.Wait(), b.Wait()) })
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	var p50, p95 [8]float64
	for k := range p50 {
		col := make([]time.Duration, len(in))
		for i, w := range in {
			col[i] = w.parts()[k]
		}
		slices.Sort(col)
		p50[k], p95[k] = ms(Percentile(col, 50)), ms(Percentile(col, 95))
	}
	mean := func(ws []TxWait) WaitParts {
		var sum [8]float64
		for _, w := range ws {
			for k, d := range w.parts() {
				sum[k] += ms(d)
			}
		}
		for k := range sum {
			sum[k] /= float64(len(ws))
		}
		return waitParts(sum)
	}
	// The slowest tenth: from the 90th percentile's rank on (at least one).
	p90 := Percentile(durations(in), 90)
	cut := sort.Search(len(in), func(i int) bool { return in[i].Wait() >= p90 })
	s.P50, s.P95 = waitParts(p50), waitParts(p95)
	s.Mean, s.Slowest = mean(in), mean(in[cut:])
	return s
}

// durations is the waits' durations, in the order of ws.
func durations(ws []TxWait) []time.Duration {
	out := make([]time.Duration, len(ws))
	for i, w := range ws {
		out[i] = w.Wait()
	}
	return out
}
