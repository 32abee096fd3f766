package suite

import (
	"context"
	"time"

	"github.com/votechain/votechain/bench/loadgen"
	"github.com/votechain/votechain/bench/measure"
)

// Redis is polled this often for its persistence facts (INFO: AOF
// rewrites, CPU) and its latency monitor (which keeps 160 seconds with
// spikes per event, so a reading every 20 s loses none).
const (
	redisPollEvery    = time.Second
	redisLatencyEvery = 20 * time.Second
)

// watchRedis starts polling Redis's persistence facts until ctx ends; a
// failed poll leaves a gap, never an error.
func (r *run) watchRedis(ctx context.Context) {
	r.redisWatch = measure.NewRedisWatch()
	go r.redisWatch.Poll(ctx, r.rdb, redisPollEvery, redisLatencyEvery)
}

// redisPersistence books what Redis's persistence did in each intake phase
// (referendum, the pace probes, the ramp's steps, the fixed rates, the
// surge, the storm) and, per phase of the intake cost table, the part of
// Redis's CPU per vote that was its AOF rewrite children's. Call it once
// the polls have read Redis after the last intake phase.
func (r *run) redisPersistence() {
	rep := r.rep
	phases := []loadgen.Phase{rep.Referendum.Phase}
	for _, p := range rep.Pace21.Probes {
		phases = append(phases, p.Phase)
	}
	phases = append(append(phases, rep.Ramp...), rep.Fixed...)
	phases = append(phases, rep.Surge.Phase, rep.Intake15.Storm.Phase)
	byName := map[string]measure.RedisWindow{}
	rep.Intake15.Redis = nil
	for _, p := range phases {
		if p.Name == "" || p.DurationS <= 0 {
			continue
		}
		from := r.t0.Add(time.Duration(p.StartS * float64(time.Second)))
		w := r.redisWatch.Window(p.Name, from, from.Add(time.Duration(p.DurationS*float64(time.Second))))
		rep.Intake15.Redis = append(rep.Intake15.Redis, w)
		byName[p.Name] = w
	}
	for i := range rep.Intake15.Phases {
		v := &rep.Intake15.Phases[i]
		if w, ok := byName[v.Phase]; ok && w.Known && v.Accepted > 0 {
			us := w.ChildCPUS / float64(v.Accepted) * 1e6
			v.RedisChildUS = &us
		}
	}
}

// rewriteWaitLimit bounds how long a measurement waits for Redis's AOF
// rewrite to end: a rewrite of the bench's data takes seconds to tens of
// seconds on the 2-core machine.
const rewriteWaitLimit = 90 * time.Second

// waitNoRewrite waits until Redis has no AOF rewrite in progress or
// scheduled, polling every poll, up to limit, so a measurement that
// compares two servers (the results reads) does not give one of them a
// rewrite's child to share the cores with (the quiet-time rewriter starts
// one when the intake stops). It returns how long it waited, whether a
// rewrite was still running or scheduled at the end, and the count of
// rewrites started so far (-1 if Redis could not be read; a failed read
// counts as no rewrite), which rewroteSince compares after the measurement.
func waitNoRewrite(ctx context.Context, rdb measure.RedisReader, poll, limit time.Duration) (time.Duration, bool, int64) {
	start := time.Now()
	for {
		p, err := measure.ReadRedisPersistence(ctx, rdb)
		if err != nil {
			return time.Since(start), false, -1
		}
		if !p.RewriteInProgress && !p.RewriteScheduled {
			return time.Since(start), false, p.Rewrites
		}
		if time.Since(start)+poll > limit {
			return time.Since(start), true, p.Rewrites
		}
		select {
		case <-ctx.Done():
			return time.Since(start), true, p.Rewrites
		case <-time.After(poll):
		}
	}
}

// rewroteSince says whether Redis started an AOF rewrite, or has one
// running, since it counted rewrites (waitNoRewrite's count; -1: unknown,
// so false).
func rewroteSince(ctx context.Context, rdb measure.RedisReader, rewrites int64) bool {
	if rewrites < 0 {
		return false
	}
	p, err := measure.ReadRedisPersistence(ctx, rdb)
	return err == nil && (p.Rewrites != rewrites || p.RewriteInProgress)
}
