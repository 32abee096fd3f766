package batcher

import (
	"time"

	"github.com/votechain/votechain/ballot"
)

// Entry is one accepted vote read from a partition's stream.
type Entry struct {
	StreamID string // Redis stream entry id, acknowledged after commit
	Vote     ballot.Vote
}

// cutter accumulates entries and says when a batch is due: when it holds
// size entries, or when its oldest entry has waited timeout. It is pure state
// (the caller passes the time), so the policy is tested without Redis.
type cutter struct {
	size    int
	timeout time.Duration
	pending []Entry
	oldest  time.Time
}

func newCutter(size int, timeout time.Duration) *cutter {
	return &cutter{size: size, timeout: timeout, pending: make([]Entry, 0, size)}
}

// add appends entries that arrived at now.
func (c *cutter) add(now time.Time, entries ...Entry) {
	if len(c.pending) == 0 && len(entries) > 0 {
		c.oldest = now
	}
	c.pending = append(c.pending, entries...)
}

// full reports whether the pending entries fill a batch.
func (c *cutter) full() bool { return len(c.pending) >= c.size }

// room is how many more entries fit before the batch is full.
func (c *cutter) room() int { return max(0, c.size-len(c.pending)) }

// due reports whether a batch should be cut at now.
func (c *cutter) due(now time.Time) bool {
	return len(c.pending) >= c.size || (len(c.pending) > 0 && now.Sub(c.oldest) >= c.timeout)
}

// wait is how long a reader may block for more entries before a batch is due
// (at most idle when nothing is pending).
func (c *cutter) wait(now time.Time, idle time.Duration) time.Duration {
	if len(c.pending) == 0 {
		return idle
	}
	return max(time.Millisecond, c.oldest.Add(c.timeout).Sub(now))
}

// cut removes and returns up to size pending entries (the oldest first).
func (c *cutter) cut(now time.Time) []Entry {
	n := min(len(c.pending), c.size)
	out := make([]Entry, n)
	copy(out, c.pending[:n])
	rest := copy(c.pending, c.pending[n:])
	c.pending = c.pending[:rest]
	if rest > 0 {
		c.oldest = now
	}
	return out
}

// backoff is the delay before retry attempt n (1-based): doubling from base,
// capped at limit.
func backoff(n int, base, limit time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}
