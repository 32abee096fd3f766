// The load generator's own Go runtime over a phase: a stall of the process
// that measures looks like a stall of the system measured.

package measure

import (
	"math"
	"runtime/metrics"
)

// GoRuntime is what the Go runtime of this process did between two
// snapshots (ReadGoRuntime, Since).
type GoRuntime struct {
	GCCycles uint64 `json:"gc_cycles"`
	// GCCPUms is the CPU the collector took (its workers, assists and
	// stop-the-world phases), in milliseconds.
	GCCPUms float64 `json:"gc_cpu_ms"`
	// MaxGCPauseMs is the longest stop-the-world pause for the collector
	// (the upper bound of its histogram bucket).
	MaxGCPauseMs float64 `json:"max_gc_pause_ms"`
	// MaxSchedWaitMs is the longest a runnable goroutine waited to run (the
	// upper bound of its histogram bucket): the process's P busy, or its
	// thread not given a core by the kernel.
	MaxSchedWaitMs float64 `json:"max_sched_wait_ms"`
}

// GoRuntimeSnapshot is the runtime's cumulative counters at one instant.
type GoRuntimeSnapshot struct{ s []metrics.Sample }

var goRuntimeMetrics = []string{
	"/gc/cycles/total:gc-cycles",
	"/cpu/classes/gc/total:cpu-seconds",
	"/sched/pauses/total/gc:seconds",
	"/sched/latencies:seconds",
}

// ReadGoRuntime snapshots this process's runtime counters.
func ReadGoRuntime() GoRuntimeSnapshot {
	s := make([]metrics.Sample, len(goRuntimeMetrics))
	for i, name := range goRuntimeMetrics {
		s[i].Name = name
	}
	metrics.Read(s)
	return GoRuntimeSnapshot{s}
}

// Since is what happened from earlier to s.
func (s GoRuntimeSnapshot) Since(earlier GoRuntimeSnapshot) GoRuntime {
	var g GoRuntime
	if len(s.s) != len(goRuntimeMetrics) || len(earlier.s) != len(goRuntimeMetrics) {
		return g
	}
	if s.s[0].Value.Kind() == metrics.KindUint64 {
		g.GCCycles = s.s[0].Value.Uint64() - earlier.s[0].Value.Uint64()
	}
	if s.s[1].Value.Kind() == metrics.KindFloat64 {
		g.GCCPUms = (s.s[1].Value.Float64() - earlier.s[1].Value.Float64()) * 1000
	}
	g.MaxGCPauseMs = maxNewBucket(s.s[2].Value, earlier.s[2].Value) * 1000
	g.MaxSchedWaitMs = maxNewBucket(s.s[3].Value, earlier.s[3].Value) * 1000
	return g
}

// maxNewBucket is the upper bound of the highest bucket whose count grew
// from a to b (its lower bound if that is the open last bucket); 0 if none
// grew or the values are not histograms.
func maxNewBucket(b, a metrics.Value) float64 {
	if b.Kind() != metrics.KindFloat64Histogram || a.Kind() != metrics.KindFloat64Histogram {
		return 0
	}
	hb, ha := b.Float64Histogram(), a.Float64Histogram()
	if len(hb.Counts) != len(ha.Counts) {
		return 0
	}
	return highestGrown(hb.Counts, ha.Counts, hb.Buckets)
}

// highestGrown: counts[i] holds values in [bounds[i], bounds[i+1]).
func highestGrown(now, before []uint64, bounds []float64) float64 {
	for i := len(now) - 1; i >= 0; i-- {
		if now[i] > before[i] {
			if up := bounds[i+1]; !math.IsInf(up, 1) {
				return up
			}
			return bounds[i]
		}
	}
	return 0
}
