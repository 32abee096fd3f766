package aofrewrite_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/internal/aofrewrite"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
)

// toyPolicy is DefaultPolicy scaled to a test's megabytes and seconds:
// quiet under 20 KB/s for 2 s; rewrite once 1 MiB, or half the base, was
// appended.
var toyPolicy = aofrewrite.Policy{QuietRate: 20_000, Window: 2 * time.Second, MinGrowth: 1 << 20, GrowthPercent: 50}

const toyInterval = 200 * time.Millisecond

// writer writes 1 KB values over 1,000 keys through rdb, ~20 a 20 ms
// (~1 MB/s of AOF, fifty times toyPolicy's quiet rate), until stopped.
type writer struct {
	last atomic.Int64 // when the last write was sent, Unix ns
	stop chan struct{}
	done sync.WaitGroup
}

func startWriter(t *testing.T, rdb redis.UniversalClient) *writer {
	w := &writer{stop: make(chan struct{})}
	value := make([]byte, 1000)
	rand.Read(value)
	w.done.Go(func() {
		ctx := context.Background()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			w.last.Store(time.Now().UnixNano())
			pipe := rdb.Pipeline()
			for j := range 20 {
				pipe.Set(ctx, "k:"+strconv.Itoa((i*20+j)%1000), value, 0)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				t.Errorf("writer: %v", err)
				return
			}
		}
	})
	return w
}

func (w *writer) Stop() { close(w.stop); w.done.Wait() }

// persistence reads a server's INFO persistence.
func persistence(t *testing.T, rdb *redis.Client) aofrewrite.Sample {
	t.Helper()
	info, err := rdb.Info(context.Background(), "persistence").Result()
	if err != nil {
		t.Fatal(err)
	}
	return aofrewrite.ParseInfo(info, time.Now())
}

// started is aof_rewrites_started_total by server in reg.
func started(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	return metric(t, reg, "aof_rewrites_started_total")
}

// runRewriter runs a Rewriter with toyPolicy on rdb until the test ends.
func runRewriter(t *testing.T, rdb redis.UniversalClient) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	r := aofrewrite.New(rdb, aofrewrite.WithPolicy(toyPolicy), aofrewrite.WithInterval(toyInterval),
		aofrewrite.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), aofrewrite.WithRegisterer(reg))
	ctx, cancel := context.WithCancel(context.Background())
	var done sync.WaitGroup
	done.Go(func() { r.Run(ctx) })
	t.Cleanup(func() { cancel(); done.Wait() })
	return reg
}

// waitFor polls cond every 50 ms for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// TestRewriterSingleServer: on a redis-server with the system's settings,
// the policy (two Rewriters, as two batchers run it) starts no rewrite while
// writes run above the quiet rate, though the AOF has grown past its
// threshold; starts one once they stop, and only one; and Redis's own
// auto-rewrite still fires during a long surge.
func TestRewriterSingleServer(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	admin := srv.Client()
	if pct, err := admin.ConfigGet(ctx, "auto-aof-rewrite-percentage").Result(); err != nil || pct["auto-aof-rewrite-percentage"] != strconv.Itoa(redisserver.RewritePercentage) {
		t.Fatalf("auto-aof-rewrite-percentage %v, %v; want redisserver.RewritePercentage", pct, err)
	}
	w := startWriter(t, admin) // a dataset of ~1 MB
	time.Sleep(time.Second)
	w.Stop()
	if err := admin.BgRewriteAOF(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if !waitFor(10*time.Second, func() bool { return !persistence(t, admin).Rewriting }) {
		t.Fatal("the set-up's rewrite did not end")
	}
	before := persistence(t, admin)
	// Two batchers, each with its Rewriter.
	regs := []*prometheus.Registry{runRewriter(t, srv.ClientAs(redisserver.UserAOF)), runRewriter(t, srv.ClientAs(redisserver.UserAOF))}
	policyRewrites := func() (n float64) {
		for _, reg := range regs {
			n += started(t, reg)[srv.Addr]
		}
		return n
	}

	// A surge: past the threshold, never quiet.
	w = startWriter(t, admin)
	if !waitFor(20*time.Second, func() bool { s := persistence(t, admin); return s.CurrentBytes-s.BaseBytes > 2*toyPolicy.MinGrowth }) {
		t.Fatal("the writer did not grow the AOF")
	}
	time.Sleep(toyPolicy.Window + 5*toyInterval) // past the threshold for longer than the window
	loaded := persistence(t, admin)
	w.Stop()
	if loaded.Rewrites != before.Rewrites || policyRewrites() != 0 {
		t.Fatalf("under load: %d rewrites (policy: %v); want none: the intake was never quiet", loaded.Rewrites-before.Rewrites, policyRewrites())
	}

	// Quiet: a rewrite, after the window and within a few readings more.
	quietAt := time.Unix(0, w.last.Load()) // the last write's effects came after this
	if !waitFor(toyPolicy.Window+10*toyInterval+5*time.Second, func() bool { return policyRewrites() >= 1 }) {
		t.Fatalf("quiet for %v, AOF grown %d bytes: policy started %v rewrites; want 1", time.Since(quietAt), loaded.CurrentBytes-loaded.BaseBytes, policyRewrites())
	}
	took := time.Since(quietAt)
	if took < toyPolicy.Window {
		t.Errorf("rewrite seen %v after the last write was sent; want at least the quiet window %v", took, toyPolicy.Window)
	}
	time.Sleep(toyPolicy.Window + 5*toyInterval)
	// Two Rewriters deciding at once start one rewrite: Redis refuses the
	// second while the first runs. (Only were one of them stalled between
	// its INFO and its BGREWRITEAOF for longer than the whole rewrite would
	// both run, one after the other.)
	n := policyRewrites()
	folded := persistence(t, admin)
	if float64(folded.Rewrites-before.Rewrites) != n || folded.Rewriting {
		t.Errorf("the server ran %d rewrites (running: %v), the Rewriters counted %v; want the same, ended", folded.Rewrites-before.Rewrites, folded.Rewriting, n)
	}
	if n != 1 {
		t.Logf("the two Rewriters started %v rewrites, one after the other", n)
	}
	time.Sleep(toyPolicy.Window + 5*toyInterval)
	if again := persistence(t, admin); again.Rewrites != folded.Rewrites || policyRewrites() != n {
		t.Errorf("%d more rewrites once the AOF was folded; want none", again.Rewrites-folded.Rewrites)
	}
	t.Logf("policy rewrite %v after the writes stopped (window %v, readings every %v); AOF grown %d bytes at the end of the surge", took.Round(time.Millisecond), toyPolicy.Window, toyInterval, loaded.CurrentBytes-loaded.BaseBytes)

	// The safety net: a surge with no quiet moment still gets rewritten by
	// Redis at RewritePercentage (its 64 MB floor lowered to this toy
	// dataset), and the policy keeps out.
	if err := admin.ConfigSet(ctx, "auto-aof-rewrite-min-size", "1mb").Err(); err != nil {
		t.Fatal(err)
	}
	base := persistence(t, admin)
	var last aofrewrite.Sample
	w = startWriter(t, admin)
	ok := waitFor(30*time.Second, func() bool {
		s := persistence(t, admin)
		if s.Rewrites == base.Rewrites {
			last = s
		}
		return s.Rewrites > base.Rewrites
	})
	w.Stop()
	if !ok {
		t.Fatalf("no rewrite by Redis during a surge: %+v", persistence(t, admin))
	}
	if m := policyRewrites(); m != n {
		t.Errorf("the policy started %v rewrites during the surge; want none", m-n)
	}
	grown := float64(last.CurrentBytes-last.BaseBytes) / float64(last.BaseBytes) * 100
	if grown < redisserver.RewritePercentage*0.8 {
		t.Errorf("Redis rewrote at %.0f%% of the base; want about %d%%", grown, redisserver.RewritePercentage)
	}
	t.Logf("safety net: Redis rewrote during the surge, the AOF %d bytes over a %d-byte base (%.0f%%, last reading before it)", last.CurrentBytes-last.BaseBytes, last.BaseBytes, grown)
}

// TestRewriterCluster: on a Redis Cluster the policy reads each master and
// rewrites each one once the writes stop, not before.
func TestRewriterCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	admin := c.ClientAs(redisserver.UserAdmin)
	reg := runRewriter(t, c.ClientAs(redisserver.UserAOF))
	nodes := map[string]*redis.Client{}
	for _, s := range c.Nodes {
		nodes[s.Addr] = s.Client()
	}
	masters := c.Nodes[:3]

	w := startWriter(t, admin) // ~330 KB/s on each master
	grown := func() bool {
		for _, m := range masters {
			if s := persistence(t, nodes[m.Addr]); s.CurrentBytes-s.BaseBytes < toyPolicy.MinGrowth {
				return false
			}
		}
		return true
	}
	if !waitFor(30*time.Second, grown) {
		w.Stop()
		t.Fatal("the writer did not grow every master's AOF past the threshold")
	}
	time.Sleep(toyPolicy.Window + 5*toyInterval)
	w.Stop()
	if n := started(t, reg); len(n) != 0 {
		t.Fatalf("under load the policy started rewrites: %v; want none", n)
	}
	if !waitFor(toyPolicy.Window+10*toyInterval+10*time.Second, func() bool { return len(started(t, reg)) == 3 }) {
		t.Fatalf("quiet: the policy started rewrites on %v; want each of the 3 masters", started(t, reg))
	}
	time.Sleep(toyPolicy.Window + 5*toyInterval)
	for _, m := range masters {
		if n := started(t, reg)[m.Addr]; n != 1 {
			t.Errorf("master %s: %v rewrites by the policy; want 1", m.Addr, n)
		}
		if s := persistence(t, nodes[m.Addr]); s.Rewrites != 1 {
			t.Errorf("master %s: aof_rewrites %d; want 1", m.Addr, s.Rewrites)
		}
	}
}

// TestRewriterWaitsAfterAFailure: a server that refuses BGREWRITEAOF (here
// to a user without the permission: NOPERM, as Redis refuses a rewrite
// whose fork or AOF directory fails) is asked once, not at every reading
// once quiet: the failure counted in aof_rewrite_failures and logged once,
// at warn. With no wait (RetryWait 0, the policy before Failures) it is
// asked at every reading.
func TestRewriterWaitsAfterAFailure(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	admin := srv.Client()
	if err := admin.Do(ctx, "ACL", "SETUSER", "nobgrewrite", "on", ">pw", "+info").Err(); err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "nobgrewrite", Password: "pw"})
	defer rdb.Close()
	for i := range 100 { // an AOF grown past the threshold below
		if err := admin.Set(ctx, "k:"+strconv.Itoa(i), strconv.Itoa(i), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	refusals := func() int {
		info, err := admin.Info(ctx, "errorstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		_, n, _ := strings.Cut(info, "errorstat_NOPERM:count=")
		count, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(n, "\n", 2)[0]))
		return count
	}
	poll := func(retryWait time.Duration) (asked int, failures float64, logs string) {
		p := aofrewrite.Policy{QuietRate: 20_000, Window: 300 * time.Millisecond, MinGrowth: 1000, GrowthPercent: 0,
			RetryWait: retryWait, MaxRetryWait: retryWait}
		var buf bytes.Buffer
		reg := prometheus.NewRegistry()
		r := aofrewrite.New(rdb, aofrewrite.WithPolicy(p), aofrewrite.WithInterval(100*time.Millisecond),
			aofrewrite.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))), aofrewrite.WithRegisterer(reg))
		before := refusals()
		for range 20 { // 2 s, quiet after the first 0.3 s
			r.Poll(ctx)
			time.Sleep(100 * time.Millisecond)
		}
		return refusals() - before, metric(t, reg, "aof_rewrite_failures")[srv.Addr], buf.String()
	}
	asked, failures, logs := poll(time.Hour)
	if asked != 1 || failures != 1 {
		t.Errorf("waiting an hour after a failure: asked %d times, aof_rewrite_failures %v; want 1 and 1", asked, failures)
	}
	if n := strings.Count(logs, "AOF rewrite failed"); n != 1 || !strings.Contains(logs, "level=WARN") || !strings.Contains(logs, "NOPERM") {
		t.Errorf("logged the failure %d times; want once, at warn, with the server's answer:\n%s", n, logs)
	}
	if asked, _, _ := poll(0); asked < 10 {
		t.Errorf("with no wait: asked %d times in 2 s of readings every 100 ms; want at every reading once quiet", asked)
	}
}

// metric is the counter or gauge name by server in reg.
func metric(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			v := m.GetGauge().GetValue()
			if c := m.GetCounter(); c != nil {
				v = c.GetValue()
			}
			n[m.GetLabel()[0].GetValue()] = v
		}
	}
	return n
}

// failRewrite makes one rewrite on srv fail: it starts one whose child
// writes slowly (rdb-key-save-delay) and kills the child, as a full disk
// or the OOM killer would end it.
func failRewrite(t *testing.T, srv *redistest.Server) {
	t.Helper()
	ctx := context.Background()
	admin := srv.Client()
	if err := admin.ConfigSet(ctx, "rdb-key-save-delay", "100000").Err(); err != nil { // 0.1 s a key
		t.Fatal(err)
	}
	defer admin.ConfigSet(ctx, "rdb-key-save-delay", "0")
	if err := admin.BgRewriteAOF(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	var child int
	if !waitFor(5*time.Second, func() bool {
		data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", srv.PID(), srv.PID()))
		_, err := fmt.Sscan(string(data), &child)
		return err == nil
	}) {
		t.Fatal("no rewrite child")
	}
	if err := syscall.Kill(child, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !waitFor(5*time.Second, func() bool { s := persistence(t, admin); return !s.Rewriting && s.RewriteFailed }) {
		t.Fatalf("the killed rewrite did not end in failure: %+v", persistence(t, admin))
	}
}

// TestRewritersFollowTheServersFailureCount: on redis-server (7.0:
// aof_rewrites_consecutive_failures), a Rewriter that starts after two
// failed rewrites in a row holds the server back as long as one that saw
// both (2 failures, the same retry time, where by aof_last_bgrewrite_status
// alone it counted 1: half the wait); neither sends BGREWRITEAOF while
// held; a rewrite that succeeds, started by neither, ends both waits.
func TestRewritersFollowTheServersFailureCount(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	admin := srv.Client()
	for i := range 100 {
		if err := admin.Set(ctx, "k:"+strconv.Itoa(i), strconv.Itoa(i), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	p := aofrewrite.Policy{QuietRate: 20_000, Window: 300 * time.Millisecond, MinGrowth: 1, GrowthPercent: 0,
		RetryWait: time.Hour, MaxRetryWait: 4 * time.Hour}
	newRewriter := func() (*aofrewrite.Rewriter, *prometheus.Registry) {
		reg := prometheus.NewRegistry()
		return aofrewrite.New(srv.ClientAs(redisserver.UserAOF), aofrewrite.WithPolicy(p), aofrewrite.WithInterval(100*time.Millisecond),
			aofrewrite.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), aofrewrite.WithRegisterer(reg)), reg
	}
	saw, sawReg := newRewriter()
	saw.Poll(ctx)
	failRewrite(t, srv)
	saw.Poll(ctx)
	failRewrite(t, srv)
	if s := persistence(t, admin); !s.FailuresReported || s.RewriteFailures != 2 {
		t.Fatalf("after two killed rewrites: %+v; want aof_rewrites_consecutive_failures:2", s)
	}
	late, lateReg := newRewriter()
	if err := admin.Set(ctx, "grown", "after the failures", 0).Err(); err != nil { // a rewrite due once quiet
		t.Fatal(err)
	}
	rewrites := persistence(t, admin).Rewrites
	var held map[string]aofrewrite.Decision
	for range 8 { // 0.8 s: quiet for longer than the window
		saw.Poll(ctx)
		held = late.Poll(ctx)
		time.Sleep(100 * time.Millisecond)
	}
	ds := saw.Poll(ctx)
	for name, reg := range map[string]*prometheus.Registry{"saw both": sawReg, "started after": lateReg} {
		if n := metric(t, reg, "aof_rewrite_failures")[srv.Addr]; n != 2 {
			t.Errorf("%s: aof_rewrite_failures %v; want 2, the server's count", name, n)
		}
	}
	a, b := ds[srv.Addr], held[srv.Addr]
	if a.Reason != aofrewrite.ReasonFailed || b.Reason != aofrewrite.ReasonFailed {
		t.Fatalf("quiet and grown: %v / %v; want both held (%s)", a, b, aofrewrite.ReasonFailed)
	}
	if gap := a.RetryAt.Sub(b.RetryAt).Abs(); gap > 2*time.Second {
		t.Errorf("retry at %v / %v: %v apart; want the same wait", a.RetryAt, b.RetryAt, gap)
	}
	if got := persistence(t, admin).Rewrites; got != rewrites {
		t.Errorf("%d rewrites started while held; want none", got-rewrites)
	}

	if err := admin.BgRewriteAOF(ctx).Err(); err != nil { // an operator's, which succeeds
		t.Fatal(err)
	}
	if !waitFor(10*time.Second, func() bool { s := persistence(t, admin); return !s.Rewriting && !s.RewriteFailed }) {
		t.Fatal("the operator's rewrite did not succeed")
	}
	saw.Poll(ctx)
	late.Poll(ctx)
	for name, reg := range map[string]*prometheus.Registry{"saw both": sawReg, "started after": lateReg} {
		if n := metric(t, reg, "aof_rewrite_failures")[srv.Addr]; n != 0 {
			t.Errorf("%s, after a rewrite that succeeded: aof_rewrite_failures %v; want 0", name, n)
		}
	}
}
