package measure

import (
	"context"
	"testing"
	"time"

	"github.com/votechain/votechain/internal/redistest"
)

func TestParseRedisPersistence(t *testing.T) {
	info := "# Persistence\r\nloading:0\r\naof_enabled:1\r\naof_rewrite_in_progress:1\r\naof_rewrites:3\r\n" +
		"aof_last_rewrite_time_sec:4\r\naof_last_cow_size:6291456\r\naof_current_size:542599404\r\naof_base_size:300000000\r\n" +
		"# Stats\r\nlatest_fork_usec:16150\r\n# CPU\r\nused_cpu_sys:6.5\r\nused_cpu_user:3.25\r\n" +
		"used_cpu_sys_children:0.5\r\nused_cpu_user_children:1.25\r\nused_cpu_sys_main_thread:6.4\r\n"
	got := ParseRedisPersistence(info)
	want := RedisPersistence{RewriteInProgress: true, Rewrites: 3, LastRewriteS: 4, LastCowBytes: 6 << 20, CurrentBytes: 542599404,
		BaseBytes: 300000000, ForkUS: 16150, MainCPU: 9750 * time.Millisecond, ChildrenCPU: 1750 * time.Millisecond}
	if got != want {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if p := ParseRedisPersistence("aof_rewrite_in_progress:0\n"); p.RewriteInProgress || p.Rewrites != 0 {
		t.Fatalf("idle: %+v", p)
	}
}

func TestParseLatencyReplies(t *testing.T) {
	names, err := ParseLatencyLatest([]any{[]any{"aof-fsync-always", int64(1796082593), int64(49), int64(200)}, []any{"fork", int64(1796082593), int64(16), int64(16)}})
	if err != nil || len(names) != 2 || names[0] != "aof-fsync-always" || names[1] != "fork" {
		t.Fatalf("latest: %v, %v", names, err)
	}
	h, err := ParseLatencyHistory([]any{[]any{int64(1796082434), int64(25)}, []any{int64(1796082436), int64(64)}})
	if err != nil || len(h) != 2 || h[1].At.Unix() != 1796082436 || h[1].MS != 64 {
		t.Fatalf("history: %v, %v", h, err)
	}
	for _, bad := range []any{"x", []any{"x"}, []any{[]any{int64(1)}}, []any{[]any{"t", int64(1)}}} {
		if _, err := ParseLatencyHistory(bad); err == nil {
			t.Errorf("history %v: no error", bad)
		}
	}
	if _, err := ParseLatencyLatest([]any{[]any{int64(3)}}); err == nil {
		t.Error("latest with a numeric event: no error")
	}
}

// TestRedisWatchWindows feeds the watch a run of polls a second apart:
// a rewrite seen running at 10-13 s, one begun and ended between the polls
// at 20 and 21 s, and one still running at the end (from 30 s).
func TestRedisWatchWindows(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	w := NewRedisWatch()
	rewrites := int64(0)
	for s := 0; s <= 32; s++ {
		p := RedisPersistence{Rewrites: rewrites, LastRewriteS: 3, LastCowBytes: 8 << 20, MainCPU: time.Duration(s) * 100 * time.Millisecond}
		switch {
		case s == 10:
			rewrites++
			p.Rewrites, p.RewriteInProgress, p.ForkUS = rewrites, true, 40_000
		case s > 10 && s < 14:
			p.RewriteInProgress = true
		case s == 21:
			rewrites++
			p.Rewrites, p.LastRewriteS, p.LastCowBytes = rewrites, 1, 2<<20
		case s == 30:
			rewrites++
			p.Rewrites, p.RewriteInProgress, p.ForkUS = rewrites, true, 50_000
		case s > 30:
			p.RewriteInProgress = true
		}
		if s >= 14 {
			p.ChildrenCPU = 3 * time.Second // the first child reaped at 14 s
		}
		w.Observe(at(s), p)
	}
	w.AddLatency("aof-fsync-always", []LatencySample{{at(11), 30}, {at(12), 80}, {at(25), 5}})
	w.AddLatency("aof-fsync-always", []LatencySample{{at(12), 70}}) // seen again by a later read
	w.AddLatency("fork", []LatencySample{{at(10), 40}})

	if r := w.Rewrites(); len(r) != 3 || !r[0].Start.Equal(at(10)) || !r[0].End.Equal(at(14)) || r[0].ForkMS != 40 ||
		!r[1].Start.Equal(at(21)) || !r[1].End.Equal(at(21)) || r[1].CowBytes != 2<<20 || !r[2].End.IsZero() {
		t.Fatalf("rewrites: %+v", r)
	}
	win := w.Window("fixed-5000", at(9), at(15))
	if !win.Known || win.Rewrites != 1 || win.Started != 1 || win.Ended != 1 || win.RewriteS != 4 || win.ForkMS != 40 || win.CowMB != 8 ||
		win.ChildCPUS != 3 || win.MainCPUS < 0.59 || win.MainCPUS > 0.61 {
		t.Fatalf("window with the first rewrite: %+v", win)
	}
	if e := win.Event("aof-fsync-always"); e.Seconds != 2 || e.MaxMS != 80 {
		t.Fatalf("fsync spikes: %+v", e)
	}
	if e := win.Event("fork"); e.Seconds != 1 || e.MaxMS != 40 {
		t.Fatalf("fork: %+v", e)
	}
	// A window inside a running rewrite: it ran all along, neither began
	// nor ended in it.
	if win := w.Window("inside", at(11), at(13)); win.Rewrites != 1 || win.Started != 0 || win.Ended != 0 || win.RewriteS != 2 {
		t.Fatalf("inside: %+v", win)
	}
	if win := w.Window("quiet", at(15), at(19)); win.Rewrites != 0 || len(win.Events) != 0 || win.ChildCPUS != 0 {
		t.Fatalf("quiet: %+v", win)
	}
	if win := w.Window("between polls", at(20), at(22)); win.Rewrites != 1 || win.Started != 1 || win.Ended != 1 || win.CowMB != 2 {
		t.Fatalf("begun and ended between polls: %+v", win)
	}
	if win := w.Window("last", at(29), at(32)); win.Rewrites != 1 || win.Started != 1 || win.Ended != 0 || win.RewriteS != 2 || win.ForkMS != 50 {
		t.Fatalf("running at the end: %+v", win)
	}
	if win := w.Window("after the polls", at(31), at(40)); win.Known {
		t.Fatalf("a window without a closing reading is known: %+v", win)
	}
}

// TestRedisWatchPoll polls a real redis-server through a BGREWRITEAOF.
func TestRedisWatchPoll(t *testing.T) {
	rdb := redistest.Start(t).Client()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := rdb.ConfigSet(ctx, "latency-monitor-threshold", "1").Err(); err != nil {
		t.Fatal(err)
	}
	w := NewRedisWatch()
	done := make(chan struct{})
	go func() { defer close(done); w.Poll(ctx, rdb, 50*time.Millisecond, 50*time.Millisecond) }()
	// The window opens after the first reading: a reading at or before its
	// start makes it Known, and is what a rewrite is counted from.
	for deadline := time.Now().Add(10 * time.Second); w.readings() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no reading of Redis in 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	from := time.Now()
	if err := rdb.BgRewriteAOF(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); len(w.Rewrites()) == 0 || w.Rewrites()[0].End.IsZero(); {
		if time.Now().After(deadline) {
			t.Fatalf("no rewrite seen: %+v", w.Rewrites())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	// The poll that saw the rewrite over closes the window.
	win := w.Window("all", from, w.Rewrites()[0].End)
	if !win.Known || win.Rewrites != 1 || win.Started != 1 || win.Ended != 1 {
		t.Fatalf("window: %+v", win)
	}
}

// readings is how many readings of INFO the watch has booked.
func (w *RedisWatch) readings() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.cpu)
}
