package aofrewrite_test

import (
	"testing"
	"time"

	"github.com/votechain/votechain/internal/aofrewrite"
)

// reading is a sample of a server's rewrite state only, at t0 plus at.
func reading(at time.Duration, rewrites int64, failed, rewriting bool) aofrewrite.Sample {
	return aofrewrite.Sample{At: t0.Add(at), Enabled: true, Rewrites: rewrites, RewriteFailed: failed, Rewriting: rewriting}
}

// TestFailuresObserve: each failed rewrite counts once, however many
// samples show it, whoever started it; a rewrite running changes nothing
// (its status is the previous one's); a refusal counts once whether or
// not the status shows it; a rewrite that ends well, or a restart, ends
// the run.
func TestFailuresObserve(t *testing.T) {
	type step struct {
		name    string
		sample  aofrewrite.Sample
		refused bool // BGREWRITEAOF refused after the sample
		count   int
		last    time.Duration // when the latest failure was seen
	}
	steps := []step{
		{"rewrites ending well", reading(0, 3, false, false), false, 0, 0},
		{"a rewrite failed", reading(5*time.Second, 4, true, false), false, 1, 5 * time.Second},
		{"the same failure read again", reading(10*time.Second, 4, true, false), false, 1, 5 * time.Second},
		{"a retry running, the status still the last one's", reading(15*time.Second, 5, true, true), false, 1, 5 * time.Second},
		{"the retry failed", reading(20*time.Second, 5, true, false), false, 2, 20 * time.Second},
		{"a fork refused", reading(25*time.Second, 5, true, false), true, 3, 25 * time.Second},
		{"the refusal in the status, the count moved", reading(30*time.Second, 6, true, false), false, 3, 25 * time.Second},
		{"and read again", reading(35*time.Second, 6, true, false), false, 3, 25 * time.Second},
		{"a rewrite running", reading(40*time.Second, 7, true, true), false, 3, 25 * time.Second},
		{"it ended well", reading(45*time.Second, 7, false, false), false, 0, 0},
		{"a refusal the status does not show", reading(50*time.Second, 7, false, false), true, 1, 50 * time.Second},
		{"the status still ok, no rewrite since", reading(55*time.Second, 7, false, false), false, 1, 50 * time.Second},
		{"a failure", reading(60*time.Second, 8, true, false), false, 2, 60 * time.Second},
		{"a restart: no rewrite yet, status ok", reading(65*time.Second, 0, false, false), false, 0, 0},
		{"a restart on a full disk: the first rewrite failed", reading(70*time.Second, 1, true, false), false, 1, 70 * time.Second},
	}
	var f aofrewrite.Failures
	for _, s := range steps {
		f = f.Observe(s.sample)
		if s.refused {
			f = f.Refused(s.sample, s.sample.At)
		}
		var last time.Time
		if s.count > 0 {
			last = t0.Add(s.last)
		}
		if f.Count != s.count || !f.Last.Equal(last) {
			t.Fatalf("%s: %d failures, the latest at %v; want %d at %v", s.name, f.Count, f.Last.Sub(t0), s.count, s.last)
		}
	}
	// A batcher starting on a server whose last rewrite failed counts it.
	if f := (aofrewrite.Failures{}).Observe(reading(0, 9, true, false)); f.Count != 1 {
		t.Errorf("first sight of a failed status: %d failures; want 1", f.Count)
	}
	if f := (aofrewrite.Failures{}).Observe(reading(0, 9, true, true)); f.Count != 0 {
		t.Errorf("a failed status while a rewrite runs: %d failures; want 0 until it ends", f.Count)
	}
}

// counted is reading with the server's count of failed rewrites (Redis 7).
func counted(at time.Duration, rewrites int64, failed, rewriting bool, failures int64) aofrewrite.Sample {
	s := reading(at, rewrites, failed, rewriting)
	s.RewriteFailures, s.FailuresReported = failures, true
	return s
}

// TestFailuresObserveCounted: on a server that counts its failed rewrites
// the run is the server's count, whoever's rewrites failed; a refusal,
// which Redis does not count, adds one (the Rewriter's own, or once, a
// failed status with a count of 0: another's); the count back at 0 with
// the status ok (a success by anyone, a restart) ends the run, even when
// aof_rewrites is back at the value it had at the failure.
func TestFailuresObserveCounted(t *testing.T) {
	type step struct {
		name    string
		sample  aofrewrite.Sample
		refused bool // BGREWRITEAOF refused after the sample
		count   int
		last    time.Duration // when the latest failure was seen
	}
	steps := []step{
		{"rewrites ending well", counted(0, 3, false, false, 0), false, 0, 0},
		{"a rewrite failed", counted(5*time.Second, 4, true, false, 1), false, 1, 5 * time.Second},
		{"the same failure read again", counted(10*time.Second, 4, true, false, 1), false, 1, 5 * time.Second},
		{"another's retry running", counted(15*time.Second, 5, true, true, 1), false, 1, 5 * time.Second},
		{"it failed", counted(20*time.Second, 5, true, false, 2), false, 2, 20 * time.Second},
		{"our retry refused (a fork that failed)", counted(25*time.Second, 5, true, false, 2), true, 3, 25 * time.Second},
		{"the count unmoved by the refusal", counted(30*time.Second, 5, true, false, 2), false, 3, 25 * time.Second},
		{"a restart, then Redis's own rewrite went well", counted(35*time.Second, 1, false, false, 0), false, 0, 0},
		{"a refusal the status shows", counted(40*time.Second, 1, false, false, 0), true, 1, 40 * time.Second},
		{"shown", counted(45*time.Second, 1, true, false, 0), false, 1, 40 * time.Second},
		{"a restart: status ok, count 0", counted(50*time.Second, 1, false, false, 0), false, 0, 0},
		{"a refusal the status does not show (an ACL's)", counted(55*time.Second, 1, false, false, 0), true, 1, 55 * time.Second},
		{"the status still ok, no rewrite since", counted(60*time.Second, 1, false, false, 0), false, 1, 55 * time.Second},
		{"a rewrite by another went well", counted(65*time.Second, 2, false, false, 0), false, 0, 0},
		{"another's refusal seen", counted(70*time.Second, 2, true, false, 0), false, 1, 70 * time.Second},
		{"and read again", counted(75*time.Second, 2, true, false, 0), false, 1, 70 * time.Second},
		{"then a failed rewrite", counted(80*time.Second, 3, true, false, 1), false, 1, 80 * time.Second},
	}
	var f aofrewrite.Failures
	for _, s := range steps {
		f = f.Observe(s.sample)
		if s.refused {
			f = f.Refused(s.sample, s.sample.At)
		}
		var last time.Time
		if s.count > 0 {
			last = t0.Add(s.last)
		}
		if f.Count != s.count || !f.Last.Equal(last) {
			t.Fatalf("%s: %d failures, the latest at %v; want %d at %v", s.name, f.Count, f.Last.Sub(t0), s.count, s.last)
		}
	}
}

// TestBatchersAgreeOnTheServersCount: a batcher that starts (or restarts)
// after four failed rewrites in a row holds the server back as long as
// the batchers that saw them, 40 minutes by DefaultPolicy, not the 5 of a
// first failure; a success by another batcher, or a restart, ends every
// batcher's wait at its next reading.
func TestBatchersAgreeOnTheServersCount(t *testing.T) {
	p := aofrewrite.DefaultPolicy()
	var seen aofrewrite.Failures // a batcher that saw each failure
	for i := range int64(4) {
		seen = seen.Observe(counted(time.Duration(i)*time.Minute, i+1, true, false, i+1))
	}
	late := (aofrewrite.Failures{}).Observe(counted(3*time.Minute, 4, true, false, 4))
	if late.Count != seen.Count || !p.RetryAt(late).Equal(p.RetryAt(seen)) {
		t.Errorf("started after 4 failures: %d failures, retry %v after the last; the batcher that saw them: %d, %v", late.Count, p.RetryAt(late).Sub(late.Last), seen.Count, p.RetryAt(seen).Sub(seen.Last))
	}
	if wait := p.RetryAt(late).Sub(late.Last); wait != 40*time.Minute {
		t.Errorf("after 4 failures: wait %v; want 40m", wait)
	}
	for name, s := range map[string]aofrewrite.Sample{
		"a success by another": counted(10*time.Minute, 5, false, false, 0),
		"a restart":            counted(10*time.Minute, 0, false, false, 0),
		// aof_rewrites as at the last failure: only the count tells
		"a restart, then four rewrites that went well": counted(10*time.Minute, 4, false, false, 0),
	} {
		for _, f := range []aofrewrite.Failures{seen, late} {
			if f = f.Observe(s); f.Count != 0 || !p.RetryAt(f).IsZero() {
				t.Errorf("%s: %d failures, retry at %v; want none", name, f.Count, p.RetryAt(f))
			}
		}
	}
}

// TestRetryAt: the wait after failed rewrites doubles for each one in a
// row, up to the cap; none without a failure or a RetryWait.
func TestRetryAt(t *testing.T) {
	p := aofrewrite.DefaultPolicy()
	var f aofrewrite.Failures
	var waits []time.Duration
	for i := range 8 {
		s := reading(time.Duration(i)*time.Minute, int64(i), true, false)
		f = f.Observe(s)
		waits = append(waits, p.RetryAt(f).Sub(s.At))
	}
	want := []time.Duration{5 * time.Minute, 10 * time.Minute, 20 * time.Minute, 40 * time.Minute, time.Hour, time.Hour, time.Hour, time.Hour}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits after 1..8 failures %v; want %v", waits, want)
		}
	}
	if at := p.RetryAt(aofrewrite.Failures{}); !at.IsZero() {
		t.Errorf("no failure: retry at %v; want any time", at)
	}
	off := p
	off.RetryWait = 0
	if at := off.RetryAt(f); !at.IsZero() {
		t.Errorf("RetryWait 0: retry at %v; want any time", at)
	}
	long := p
	long.MaxRetryWait = 0 // below RetryWait: the wait is RetryWait
	if at := long.RetryAt(f); !at.Equal(f.Last.Add(p.RetryWait)) {
		t.Errorf("MaxRetryWait 0: retry %v after the failure; want RetryWait %v", at.Sub(f.Last), p.RetryWait)
	}
}

// TestHold: a rewrite due waits until RetryAt (ReasonFailed, saying
// when); after it, or with no failure, it goes ahead; a decision that is
// not a rewrite keeps its own reason.
func TestHold(t *testing.T) {
	p := aofrewrite.DefaultPolicy()
	f := (aofrewrite.Failures{}).Observe(reading(0, 4, true, false))
	due := aofrewrite.Decision{Rewrite: true, Reason: aofrewrite.ReasonQuiet}
	if d := p.Hold(due, f, t0.Add(4*time.Minute)); d.Rewrite || d.Reason != aofrewrite.ReasonFailed || !d.RetryAt.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("4 min after a failure: %v; want a wait until 5 min", d)
	}
	if d := p.Hold(due, f, t0.Add(5*time.Minute)); !d.Rewrite || d.Reason != aofrewrite.ReasonQuiet {
		t.Errorf("5 min after a failure: %v; want the rewrite", d)
	}
	if d := p.Hold(due, aofrewrite.Failures{}, t0); !d.Rewrite {
		t.Errorf("no failure: %v; want the rewrite", d)
	}
	busy := aofrewrite.Decision{Reason: aofrewrite.ReasonIntake}
	if d := p.Hold(busy, f, t0.Add(time.Minute)); d.Reason != aofrewrite.ReasonIntake || !d.RetryAt.IsZero() {
		t.Errorf("intake above quiet after a failure: %v; want its own reason", d)
	}
}

// TestFailingDiskNight: a quiet night of 6 hours on a server whose disk
// is full, every rewrite failing 10 s after it starts, read every 5 s as
// the Rewriter reads it. Held back, the policy forks 9 times (after 5, 10,
// 20, 40 minutes, then hourly); without the wait (RetryWait 0, as before
// Failures) it forked at every quiet minute. Once the disk has room, the
// next try succeeds and the run ends.
func TestFailingDiskNight(t *testing.T) {
	night := func(p aofrewrite.Policy, full time.Duration) (tries int, f aofrewrite.Failures) {
		const base = 100 * mib
		rewrites, endsAt := int64(0), time.Duration(-1)
		failed := false
		var samples []aofrewrite.Sample
		for at := time.Duration(0); at <= 6*time.Hour; at += 5 * time.Second {
			if endsAt >= 0 && at >= endsAt { // the child ends
				endsAt, failed = -1, at < full
			}
			s := aofrewrite.Sample{At: t0.Add(at), Enabled: true, BaseBytes: base, CurrentBytes: base + 80*mib + int64(at.Seconds()),
				Rewrites: rewrites, Rewriting: endsAt >= 0, RewriteFailed: failed}
			if !failed && endsAt < 0 && rewrites > 0 {
				s.BaseBytes = s.CurrentBytes // folded
			}
			samples = p.Trim(append(samples, s))
			f = f.Observe(s)
			if d := p.Hold(p.Decide(samples), f, s.At); d.Rewrite {
				tries++
				rewrites, endsAt = rewrites+1, at+10*time.Second
			}
		}
		return tries, f
	}
	p := aofrewrite.DefaultPolicy()
	p.MinGrowth = 64 * mib
	tries, f := night(p, 7*time.Hour)
	// The first after the first quiet minute, then 5+10+20+40 min and
	// hourly after each failure (each ~1 min later: its own 10 s and the
	// quiet minute after it): 9 in 6 h.
	if tries != 9 || f.Count != 9 {
		t.Errorf("held back: %d rewrites started, %d failures counted; want 9 and 9", tries, f.Count)
	}
	before := p
	before.RetryWait = 0
	if tries, _ := night(before, 7*time.Hour); tries < 300 {
		t.Errorf("without the wait: %d rewrites started; want one about every 70 s (over 300 in 6 h)", tries)
	}
	// Room from 30 min: tries at 1, 6 and 16 min fail, the one at 36
	// min succeeds, and the AOF folded, none follows.
	if tries, f := night(p, 30*time.Minute); f.Count != 0 || tries != 4 {
		t.Errorf("the disk with room after 30 min: %d rewrites, %d failures at the end; want 4, 0", tries, f.Count)
	}
}
