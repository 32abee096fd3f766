package aofrewrite

import "time"

// Failures is one server's run of failed rewrites as its samples show them
// (aof_last_bgrewrite_status) and its refusals of BGREWRITEAOF, which holds
// its quiet-time rewrites back (Policy.Hold): a rewrite that fails, e.g.
// on a full disk, forks and writes the whole dataset again for nothing,
// and would be retried at every quiet window. The zero value is no
// failure. Like Policy it does no I/O: the Rewriter keeps one per server.
type Failures struct {
	// Count is how many rewrites in a row failed; 0 once one succeeded.
	Count int
	// Last is when the latest failure was seen: the sample that showed
	// it, or the refusal.
	Last time.Time
	// rewrites is aof_rewrites when the latest failure was seen, so that
	// one failed rewrite counts once however many samples show it.
	rewrites int64
	// refused: the latest failure is a refusal, which the next sample may
	// show as the status (then it is the same failure) or not.
	refused bool
}

// Observe is f after sample s. A rewrite that ended in failure and is not
// counted yet (status err, no rewrite running, and aof_rewrites not the
// counted failure's, or none counted) adds one. A rewrite that ended well
// since the latest failure (status ok, none running, aof_rewrites moved)
// ends the run. A sample taken while a rewrite runs or the server loads
// changes nothing: the status is still the previous rewrite's.
func (f Failures) Observe(s Sample) Failures {
	if s.Rewriting || s.Loading {
		return f
	}
	refused := f.refused
	f.refused = false
	switch {
	case refused && s.RewriteFailed:
		f.rewrites = s.Rewrites // the status shows the refusal counted
	case s.RewriteFailed && (f.Count == 0 || s.Rewrites != f.rewrites):
		f.Count, f.Last, f.rewrites = f.Count+1, s.At, s.Rewrites
	case !s.RewriteFailed && f.Count > 0 && s.Rewrites != f.rewrites:
		return Failures{}
	}
	return f
}

// Refused is f after the server refused BGREWRITEAOF at at (an error other
// than a rewrite already running: a fork that failed, an AOF directory it
// cannot write); last is the server's latest sample.
func (f Failures) Refused(last Sample, at time.Time) Failures {
	return Failures{Count: f.Count + 1, Last: at, rewrites: last.Rewrites, refused: true}
}

// RetryAt is when a server with failures f may be rewritten again: RetryWait
// after the latest failure, doubled for each failure before it in the run,
// at most MaxRetryWait. Zero (any time) with no failure or no RetryWait.
func (p Policy) RetryAt(f Failures) time.Time {
	if f.Count == 0 || p.RetryWait <= 0 {
		return time.Time{}
	}
	wait := p.RetryWait
	for range f.Count - 1 {
		if wait >= p.MaxRetryWait {
			break
		}
		wait *= 2
	}
	return f.Last.Add(min(wait, max(p.MaxRetryWait, p.RetryWait)))
}

// Hold is d for a server with failures f at now: a rewrite d would start
// before RetryAt waits (ReasonFailed, RetryAt set).
func (p Policy) Hold(d Decision, f Failures, now time.Time) Decision {
	at := p.RetryAt(f)
	if d.Rewrite && now.Before(at) {
		d.Rewrite, d.Reason, d.RetryAt = false, ReasonFailed, at
	}
	return d
}
