// Package aofrewrite rewrites Redis's append-only file while the intake is
// quiet, so that the rewrite's child (a fork writing the whole dataset as a
// new base file, 4.6-7.5 core-seconds at the bench's size) does not share
// the cores with a surge of votes. Redis's own auto-rewrite
// (redisserver.RewritePercentage) stays on as the safety net: a long surge
// without a quiet moment still cannot grow the AOF without bound.
//
// The package has two parts: Policy, a pure decision over samples of a
// server's INFO persistence (no I/O: tested with tables), with Failures,
// which holds a server's rewrites back after failed ones, and Rewriter, the
// adapter that polls every Redis server (each master of a Redis Cluster),
// keeps their samples and failures and sends BGREWRITEAOF where Policy says
// so.
package aofrewrite

import (
	"fmt"
	"time"
)

// Sample is one reading of a Redis server's INFO persistence.
type Sample struct {
	At time.Time
	// BaseBytes is aof_base_size: the AOF's size when the last rewrite
	// ended (the base file and what was appended during the rewrite).
	BaseBytes int64
	// CurrentBytes is aof_current_size: the base and every incremental
	// file. CurrentBytes-BaseBytes is what a restart would replay as
	// commands.
	CurrentBytes int64
	// Rewrites is aof_rewrites: rewrites begun since the server started.
	Rewrites int64
	// Enabled is aof_enabled.
	Enabled bool
	// Loading is set while the server loads its data after a start.
	Loading bool
	// Rewriting is set while a rewrite runs or is scheduled
	// (aof_rewrite_in_progress, aof_rewrite_scheduled).
	Rewriting bool
	// Forked is set while another child runs (an RDB save, e.g. for a
	// replica's full sync, or a module's fork): a rewrite would wait for it.
	Forked bool
	// RewriteFailed is aof_last_bgrewrite_status:err: the last rewrite
	// (this process's, another batcher's or Redis's own) failed, e.g. on a
	// full disk (Failures).
	RewriteFailed bool
	// RewriteFailures is aof_rewrites_consecutive_failures, which Redis 7
	// reports (FailuresReported): the rewrites in a row whose child
	// failed (a full disk mid-write, a killed child), whoever started
	// them; 0 after one succeeds and after a start. A BGREWRITEAOF
	// refused outright (measured: its new AOF file could not be created;
	// the status turns err) leaves it as it is (Failures).
	RewriteFailures  int64
	FailuresReported bool
}

// Policy decides when a quiet-time rewrite is due: the AOF's incremental
// part has grown past the threshold, max(MinGrowth, GrowthPercent of the
// base), and over the last Window the AOF grew no faster than QuietRate in
// any interval between two samples.
//
// The AOF's growth is the intake's trace: an accepted vote appends ~340
// bytes and its settling by a batcher ~90 more (BenchmarkVoteLife), while
// an idle system's own writes (leases, lag keys, log heads) are a few KB/s
// at most.
// Reading it from INFO persistence measures the write load whatever the
// number of gateways; the masters of a cluster, which share one machine,
// are quiet only together (DecideShared).
type Policy struct {
	// QuietRate is the fastest growth, in bytes per second, that still
	// counts as quiet.
	QuietRate float64
	// Window is how long the AOF must have grown no faster than QuietRate.
	Window time.Duration
	// MinGrowth is the least incremental part worth a rewrite, in bytes.
	MinGrowth int64
	// GrowthPercent is the least incremental part worth a rewrite, as a
	// share of the base.
	GrowthPercent int
	// RetryWait is how long a server's quiet-time rewrites wait after a
	// failed one (Hold); each further failure in a row doubles the wait,
	// up to MaxRetryWait. A rewrite that succeeds ends the wait. Zero: no
	// wait.
	RetryWait, MaxRetryWait time.Duration
}

// DefaultPolicy returns the policy the batcher runs unless configured
// otherwise (docs/operations.md#redis-persistence-aof-rewrites), a new
// value at each call, so no caller can change the default for the others:
//   - QuietRate 64 KiB/s, about 150 votes/s taken and settled: the intake
//     then uses a few percent of a core, and the rewrite's child has a
//     core to itself.
//   - Window one minute: a lull of a few seconds between waves is not
//     taken for a quiet period (a rewrite of the bench's ~500 MB runs
//     6-14 s).
//   - GrowthPercent 50: a restart after a crash in a quiet period
//     replays at most about half the base (1.5-1.9 s per 100 MB,
//     BenchmarkAOFReplay: ~4 s at the bench's ~450 MB), and a surge that
//     follows starts with most of the safety net's headroom.
//   - MinGrowth 16 MiB: for a small base the safety net fires once the
//     whole AOF reaches 64 MB (auto-aof-rewrite-min-size), i.e. at an
//     incremental part of 64 MB less the base, never under 48 MB (at a
//     16 MB base, where three times the base takes over); 16 MiB leaves
//     the quiet-time rewrite room below that, and replays in a fraction
//     of a second.
//   - RetryWait 5 minutes, MaxRetryWait an hour: a rewrite that fails
//     (a full disk, a fork refused) is tried again after 5, 10, 20, 40
//     minutes, then hourly, not at every quiet minute, each try a fork
//     that copies the dataset for nothing; the safety net's own retries
//     Redis limits itself.
func DefaultPolicy() Policy {
	return Policy{QuietRate: 64 << 10, Window: time.Minute, MinGrowth: 16 << 20, GrowthPercent: 50,
		RetryWait: 5 * time.Minute, MaxRetryWait: time.Hour}
}

// Reason says why a Decision is what it is.
type Reason string

const (
	ReasonQuiet     Reason = "quiet"              // rewrite: grown past the threshold, quiet for the window
	ReasonNoSamples Reason = "no samples"         // nothing read yet
	ReasonDisabled  Reason = "AOF disabled"       // aof_enabled:0
	ReasonLoading   Reason = "loading"            // the server is loading its data
	ReasonBusy      Reason = "child running"      // a rewrite or another fork is running or scheduled
	ReasonSmall     Reason = "below threshold"    // the incremental part is under the threshold
	ReasonIntake    Reason = "intake above quiet" // the AOF grew faster than QuietRate within the window
	// ReasonSharedIntake: quiet alone, but the servers sharing the
	// machine grew faster than QuietRate together (DecideShared).
	ReasonSharedIntake Reason = "servers' intake above quiet"
	// ReasonSharedUnknown: a server sharing the machine has no measured
	// latest interval, so the intake on it is unknown (DecideShared).
	ReasonSharedUnknown Reason = "a server's intake unknown"
	ReasonShort         Reason = "not quiet long enough" // the samples since the last discontinuity span less than the window
	// ReasonFailed: due, but the server's last rewrites failed and the
	// wait after them is not over (Hold).
	ReasonFailed Reason = "waiting after failed rewrites"
)

// Decision is Policy's answer for one server.
type Decision struct {
	Rewrite bool
	Reason  Reason
	// Growth is the incremental part (CurrentBytes-BaseBytes) and
	// Threshold the size it must reach, in bytes.
	Growth, Threshold int64
	// Rate is the fastest growth, bytes per second, over the intervals
	// read (the one that broke the quiet, for ReasonIntake; the servers'
	// sum, for ReasonSharedIntake).
	Rate float64
	// Quiet is how long the samples show the AOF growing no faster than
	// QuietRate.
	Quiet time.Duration
	// RetryAt is when the wait after failed rewrites ends
	// (ReasonFailed only).
	RetryAt time.Time
}

func (d Decision) String() string {
	verb := "wait"
	if d.Rewrite {
		verb = "rewrite"
	}
	retry := ""
	if !d.RetryAt.IsZero() {
		retry = ", retry at " + d.RetryAt.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("%s (%s): incremental %d of %d bytes, rate %.0f B/s, quiet %s%s", verb, d.Reason, d.Growth, d.Threshold, d.Rate, d.Quiet.Round(100*time.Millisecond), retry)
}

// Threshold is the incremental part a server whose AOF base is base bytes
// must reach before a quiet-time rewrite.
func (p Policy) Threshold(base int64) int64 {
	return max(p.MinGrowth, base*int64(p.GrowthPercent)/100)
}

// Decide is whether to rewrite now a server whose samples, oldest first,
// are these (the latest last). Samples across a rewrite (Rewrites changed),
// a restart or a shrinking AOF do not count towards the quiet window: the
// window starts again after them.
func (p Policy) Decide(samples []Sample) Decision {
	if len(samples) == 0 {
		return Decision{Reason: ReasonNoSamples}
	}
	last := samples[len(samples)-1]
	d := Decision{Growth: last.CurrentBytes - last.BaseBytes, Threshold: p.Threshold(last.BaseBytes)}
	busy := false // an interval of the window above QuietRate
	for i := len(samples) - 1; i > 0 && d.Quiet < p.Window; i-- {
		prev, cur := samples[i-1], samples[i]
		if !continuous(prev, cur) {
			break
		}
		rate := float64(cur.CurrentBytes-prev.CurrentBytes) / cur.At.Sub(prev.At).Seconds()
		if rate > p.QuietRate {
			d.Rate, busy = rate, true
			break
		}
		d.Rate = max(d.Rate, rate)
		d.Quiet = last.At.Sub(prev.At)
	}
	switch {
	case !last.Enabled:
		d.Reason = ReasonDisabled
	case last.Loading:
		d.Reason = ReasonLoading
	case last.Rewriting || last.Forked:
		d.Reason = ReasonBusy
	case busy:
		d.Reason = ReasonIntake
	case d.Growth < d.Threshold:
		d.Reason = ReasonSmall
	case d.Quiet < p.Window:
		d.Reason = ReasonShort
	default:
		d.Rewrite, d.Reason = true, ReasonQuiet
	}
	return d
}

// DecideShared decides for servers that share the machine's cores, by
// address: the masters of a Redis Cluster, which Votechain runs on one host
// (the clients'). Each server's Decide stands, except that the intake is
// quiet only while the servers' growth together is known and quiet:
//   - a server whose latest interval is not measured (one sample only, or
//     a rewrite, restart or shrink between its last two) may be taking
//     votes at any rate, so no server is rewritten (ReasonSharedUnknown);
//   - when the sum of each one's fastest rate in the window (its
//     intervals across a rewrite or restart skipped, not ending the scan)
//     exceeds QuietRate, no server is rewritten (ReasonSharedIntake, Rate
//     the sum). The sum of the maxima is at least the fastest total: it
//     errs towards waiting.
func (p Policy) DecideShared(histories map[string][]Sample) map[string]Decision {
	ds := make(map[string]Decision, len(histories))
	var total float64
	known := true
	for addr, h := range histories {
		ds[addr] = p.Decide(h)
		rate, ok := p.windowRate(h)
		total += rate
		known = known && ok
	}
	reason := ReasonSharedIntake
	switch {
	case !known:
		reason = ReasonSharedUnknown
	case total <= p.QuietRate:
		return ds
	}
	for addr, d := range ds {
		if d.Rewrite {
			d.Rewrite, d.Reason, d.Rate = false, reason, total
			ds[addr] = d
		}
	}
	return ds
}

// windowRate is the fastest growth over the measured intervals of the last
// Window of samples (those across a rewrite, restart or shrink skipped),
// and whether the latest interval is measured.
func (p Policy) windowRate(samples []Sample) (rate float64, latest bool) {
	n := len(samples)
	if n < 2 {
		return 0, false
	}
	since := samples[n-1].At.Add(-p.Window)
	for i := n - 1; i > 0 && samples[i].At.After(since); i-- {
		prev, cur := samples[i-1], samples[i]
		if !continuous(prev, cur) {
			continue
		}
		rate = max(rate, float64(cur.CurrentBytes-prev.CurrentBytes)/cur.At.Sub(prev.At).Seconds())
	}
	return rate, continuous(samples[n-2], samples[n-1])
}

// continuous reports whether the AOF's growth between two samples is
// known: the same rewrite count, a later time, no shrinking, no loading.
func continuous(prev, cur Sample) bool {
	return cur.At.After(prev.At) && cur.Rewrites == prev.Rewrites &&
		cur.CurrentBytes >= prev.CurrentBytes && !prev.Loading && !cur.Loading
}

// Trim drops the samples Decide no longer needs: those before the last one
// at least Window older than the latest. It reuses samples' array.
func (p Policy) Trim(samples []Sample) []Sample {
	if len(samples) == 0 {
		return samples
	}
	since := samples[len(samples)-1].At.Add(-p.Window)
	first := 0
	for i, s := range samples {
		if !s.At.After(since) {
			first = i
		}
	}
	return append(samples[:0], samples[first:]...)
}
