package suite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/bench/loadgen"
	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/bench/report"
)

// TestRedisPersistencePerPhase books the watch's readings onto the intake
// phases: a rewrite ending in fixed-5000 gives its children's CPU per vote
// there, the phases without one 0, and a phase after the last reading is
// left unknown (blank in the report), with no child share.
func TestRedisPersistencePerPhase(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	w := measure.NewRedisWatch()
	for s := 0; s <= 40; s++ {
		p := measure.RedisPersistence{Rewrites: 0}
		if s >= 22 {
			p.Rewrites = 1
		}
		if s >= 22 && s < 26 {
			p.RewriteInProgress = true
		}
		if s >= 26 {
			p.ChildrenCPU = 3 * time.Second
		}
		w.Observe(at(s), p)
	}
	ph := func(name string, start, dur float64, accepted int) loadgen.Phase {
		return loadgen.Phase{Name: name, StartS: start, DurationS: dur, Accepted: accepted}
	}
	rep := &report.Report{
		Referendum: report.Commit{Phase: ph("referendum", 0, 5, 5000)},
		Pace21:     report.Pace{Probes: []report.Probe{{Commit: report.Commit{Phase: ph("sustained", 5, 10, 50000)}}}},
		Ramp:       []loadgen.Phase{ph("ramp-500", 15, 4, 2000)},
		Fixed:      []loadgen.Phase{ph("fixed-5000", 20, 10, 50000)},
		Surge:      report.Surge{Phase: ph("surge", 30, 5, 80000)},
		Intake15: report.IntakeCost{Storm: report.Storm{Phase: ph("storm", 45, 5, 0)},
			Phases: []report.VoteCPU{{Phase: "sustained", Accepted: 50000}, {Phase: "fixed-5000", Accepted: 50000}, {Phase: "storm"}}},
	}
	r := &run{rep: rep, t0: t0, redisWatch: w}
	r.redisPersistence()
	got := map[string]measure.RedisWindow{}
	var order []string
	for _, win := range rep.Intake15.Redis {
		got[win.Phase] = win
		order = append(order, win.Phase)
	}
	if want := []string{"referendum", "sustained", "ramp-500", "fixed-5000", "surge", "storm"}; !slices.Equal(order, want) {
		t.Fatalf("phases %v, want %v", order, want)
	}
	if f := got["fixed-5000"]; !f.Known || f.Started != 1 || f.Ended != 1 || f.ChildCPUS != 3 {
		t.Fatalf("fixed-5000: %+v", f)
	}
	if s := got["sustained"]; !s.Known || s.Rewrites != 0 {
		t.Fatalf("sustained: %+v", s)
	}
	if s := got["storm"]; s.Known {
		t.Fatalf("storm after the last reading is known: %+v", s)
	}
	cpu := rep.Intake15.Phases
	if cpu[1].RedisChildUS == nil || *cpu[1].RedisChildUS != 60 {
		t.Fatalf("fixed-5000 child share %v, want 60 µs", cpu[1].RedisChildUS)
	}
	if cpu[0].RedisChildUS == nil || *cpu[0].RedisChildUS != 0 || cpu[2].RedisChildUS != nil {
		t.Fatalf("child shares: sustained %v, storm %v", cpu[0].RedisChildUS, cpu[2].RedisChildUS)
	}
}

// rewritingRedis answers INFO with a rewrite in progress (or scheduled)
// for its first busy readings, and rewrites as the count of rewrites.
type rewritingRedis struct {
	busy, reads int
	scheduled   bool
	rewrites    int
}

func (f *rewritingRedis) Info(ctx context.Context, section ...string) *redis.StringCmd {
	f.reads++
	running, scheduled := 0, 0
	if f.reads <= f.busy {
		running = 1
		if f.scheduled {
			running, scheduled = 0, 1
		}
	}
	return redis.NewStringResult(fmt.Sprintf("# Persistence\r\naof_rewrite_in_progress:%d\r\naof_rewrite_scheduled:%d\r\naof_rewrites:%d\r\n", running, scheduled, f.rewrites), nil)
}

func (f *rewritingRedis) Do(ctx context.Context, args ...any) *redis.Cmd {
	return redis.NewCmdResult(nil, errors.New("not used"))
}

func TestWaitNoRewrite(t *testing.T) {
	ctx := context.Background()
	for _, scheduled := range []bool{false, true} {
		f := &rewritingRedis{busy: 3, scheduled: scheduled, rewrites: 7}
		waited, running, rewrites := waitNoRewrite(ctx, f, time.Millisecond, time.Second)
		if running || f.reads != 4 || waited <= 0 || rewrites != 7 {
			t.Fatalf("a rewrite (scheduled %v) ending after 3 readings: waited %v, running %v, %d readings, count %d", scheduled, waited, running, f.reads, rewrites)
		}
	}
	f := &rewritingRedis{busy: 1 << 30}
	if _, running, _ := waitNoRewrite(ctx, f, time.Millisecond, 20*time.Millisecond); !running {
		t.Fatal("a rewrite that never ends was not reported running at the limit")
	}
	f = &rewritingRedis{}
	if waited, running, _ := waitNoRewrite(ctx, f, time.Second, time.Minute); running || f.reads != 1 || waited > 100*time.Millisecond {
		t.Fatalf("no rewrite: waited %v, running %v, %d readings", waited, running, f.reads)
	}
}

func TestRewroteSince(t *testing.T) {
	ctx := context.Background()
	f := &rewritingRedis{rewrites: 7}
	if rewroteSince(ctx, f, 7) {
		t.Fatal("no rewrite since the count, but rewroteSince says one")
	}
	f.rewrites = 8
	if !rewroteSince(ctx, f, 7) {
		t.Fatal("a rewrite begun since the count went unseen")
	}
	if rewroteSince(ctx, f, -1) {
		t.Fatal("an unknown count claimed a rewrite")
	}
	f = &rewritingRedis{busy: 1 << 30, rewrites: 7} // still running, same count
	if !rewroteSince(ctx, f, 7) {
		t.Fatal("a rewrite in progress after the measurement went unseen")
	}
}
