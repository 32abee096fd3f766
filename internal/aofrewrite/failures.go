package aofrewrite

import "time"

// Failures is one server's run of failed rewrites as its samples show them
// and its refusals of BGREWRITEAOF, which holds its quiet-time rewrites
// back (Policy.Hold): a rewrite that fails, e.g. on a full disk, forks and
// writes the whole dataset again for nothing, and would be retried at
// every quiet window. The zero value is no failure. Like Policy it does no
// I/O: the Rewriter keeps one per server.
//
// A server that counts its failed rewrites (Sample.FailuresReported,
// Redis 7) is followed by its count: every Rewriter reading it (one per
// batcher) holds the same failures, including one that started after them,
// and the count back at 0 (a rewrite that succeeded, whoever started it,
// or a restart) ends the run. Redis does not count a BGREWRITEAOF it
// refuses outright (measured on 7.0.15: aof_last_bgrewrite_status turns
// err, aof_rewrites and aof_rewrites_consecutive_failures stay), so
// refusals are added as they are seen: the Rewriter's own, and, once, a
// failed status with a count of 0 (another's). With an older server the
// run is read from aof_last_bgrewrite_status and aof_rewrites alone.
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
	// server is the server's count of failed rewrites as last read, and
	// refusals the refusals counted since it last changed (servers that
	// report the count only).
	server   int64
	refusals int
	// hidden: the latest refusal did not show in the status (a refusal
	// such as an ACL's, before the rewrite machinery): only aof_rewrites
	// moving ends it.
	hidden bool
}

// Observe is f after sample s. A sample taken while a rewrite runs or the
// server loads changes nothing: the status is still the previous
// rewrite's. Then, for a server that reports its count of failed
// rewrites, see Failures; for one that does not: a rewrite that ended in
// failure and is not counted yet (status err, and aof_rewrites not the
// counted failure's, or none counted) adds one, and a rewrite that ended
// well since the latest failure (status ok, aof_rewrites moved) ends the
// run.
func (f Failures) Observe(s Sample) Failures {
	if s.Rewriting || s.Loading {
		return f
	}
	if s.FailuresReported {
		return f.observeCounted(s)
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

// observeCounted is Observe for a server that counts its failed rewrites.
func (f Failures) observeCounted(s Sample) Failures {
	if f.refused {
		f.refused, f.hidden = false, !s.RewriteFailed
	}
	switch {
	case s.RewriteFailures != f.server:
		// A failed rewrite counted (anyone's), or the count started
		// again (a success or a restart, then failures).
		f.server, f.refusals, f.hidden, f.Last = s.RewriteFailures, 0, false, s.At
	case !s.RewriteFailed && !(f.hidden && s.Rewrites == f.rewrites):
		// Status ok, and no refusal of ours that it does not show: no
		// failure since the last success or the start.
		f.server, f.refusals, f.hidden = s.RewriteFailures, 0, false
	}
	if s.RewriteFailed && s.RewriteFailures == 0 && f.refusals == 0 {
		// A refusal (another Rewriter's, or one before this one
		// started) since the last success or the start.
		f.refusals, f.Last, f.rewrites = 1, s.At, s.Rewrites
	}
	f.Count = int(f.server) + f.refusals
	if f.Count == 0 {
		return Failures{}
	}
	return f
}

// Refused is f after the server refused BGREWRITEAOF at at (an error other
// than a rewrite already running: a fork that failed, an AOF directory it
// cannot write); last is the server's latest sample.
func (f Failures) Refused(last Sample, at time.Time) Failures {
	f.Count, f.Last, f.rewrites, f.refused = f.Count+1, at, last.Rewrites, true
	f.refusals++
	return f
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
