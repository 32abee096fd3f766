package measure

import (
	"math"
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestHighestGrown(t *testing.T) {
	bounds := []float64{0, 0.001, 0.01, 0.1, math.Inf(1)}
	cases := []struct {
		now, before []uint64
		want        float64
	}{
		{[]uint64{5, 3, 0, 0}, []uint64{5, 3, 0, 0}, 0},
		{[]uint64{9, 3, 0, 0}, []uint64{5, 3, 0, 0}, 0.001},
		{[]uint64{9, 3, 2, 0}, []uint64{5, 3, 1, 0}, 0.1},
		{[]uint64{9, 3, 2, 1}, []uint64{5, 3, 1, 0}, 0.1}, // open last bucket: its lower bound
	}
	for _, c := range cases {
		if got := highestGrown(c.now, c.before, bounds); got != c.want {
			t.Errorf("highestGrown(%v, %v) = %v, want %v", c.now, c.before, got, c.want)
		}
	}
}

// TestGoRuntimeSince: a forced collection and a goroutine kept from running
// show in the difference of two snapshots.
func TestGoRuntimeSince(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	before := ReadGoRuntime()
	runtime.GC()
	runtime.GC()
	// The goroutines are runnable while this one holds the only P. The
	// runtime times a new goroutine's first wait for one in eight of them,
	// chosen at random: with 256, none timed has odds of ~1e-15 (with 64
	// it was ~2e-4).
	var wg sync.WaitGroup
	for range 256 {
		wg.Add(1)
		go wg.Done()
	}
	for end := time.Now().Add(30 * time.Millisecond); time.Now().Before(end); {
	}
	wg.Wait()
	g := ReadGoRuntime().Since(before)
	t.Logf("%+v", g)
	if g.GCCycles < 2 {
		t.Errorf("GC cycles %d after two runtime.GC, want >= 2", g.GCCycles)
	}
	if g.MaxGCPauseMs <= 0 {
		t.Errorf("max GC pause %v ms, want > 0", g.MaxGCPauseMs)
	}
	if g.MaxSchedWaitMs < 1 {
		t.Errorf("max scheduling wait %v ms after a goroutine waited ~30 ms behind a busy P, want >= 1", g.MaxSchedWaitMs)
	}
	if z := ReadGoRuntime().Since(GoRuntimeSnapshot{}); z != (GoRuntime{}) {
		t.Errorf("Since an empty snapshot = %+v, want zero", z)
	}
}
