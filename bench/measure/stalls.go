// The machine's stalls over a phase: what the kernel made tasks wait for,
// whichever process they belong to, and what the hypervisor took from a
// virtual machine's CPUs. A phase whose latency spikes while memory stalled
// was slowed by reclaim, one whose CPUs were stolen by another guest, not by
// the code it measured.

package measure

import (
	"os"
	"strconv"
	"strings"
)

// Stalls is what the machine's tasks waited for between two snapshots
// (ReadStalls, Since): Linux's pressure stall information (/proc/pressure;
// "some": at least one runnable task waited, "full": every non-idle task
// did) in milliseconds of wall time, and the direct reclaims and
// compactions tasks ran themselves because free memory ran short
// (/proc/vmstat), and the steal time (/proc/stat). All zero where the
// kernel does not keep them.
type Stalls struct {
	CPUSomeMs float64 `json:"cpu_some_ms"`
	MemSomeMs float64 `json:"memory_some_ms"`
	MemFullMs float64 `json:"memory_full_ms"`
	IOSomeMs  float64 `json:"io_some_ms"`
	// DirectReclaims counts allocations that stalled to reclaim memory
	// (allocstall_*), CompactStalls those that stalled to compact it.
	DirectReclaims uint64 `json:"direct_reclaims"`
	CompactStalls  uint64 `json:"compact_stalls"`
	// StealMs is CPU time the hypervisor gave to something else while this
	// machine's virtual CPUs had work (summed over CPUs, in 10 ms ticks):
	// every task on a stolen CPU stood still, however high its priority.
	StealMs float64 `json:"steal_ms,omitempty"`
	// OOMKills counts the processes the kernel's OOM killer killed for
	// want of memory (/proc/vmstat oom_kill): any one of the system's
	// voids what was measured after it.
	OOMKills uint64 `json:"oom_kills,omitempty"`
}

// StallsSnapshot is the kernel's cumulative counters at one instant.
type StallsSnapshot struct {
	psi                     [4]float64 // µs: cpu some, memory some, memory full, io some
	reclaims, compactStalls uint64
	oomKills                uint64
	stealTicks              uint64 // /proc/stat, USER_HZ (100 a second)
}

// ReadStalls snapshots the machine's stall counters.
func ReadStalls() StallsSnapshot {
	var s StallsSnapshot
	for i, r := range []struct{ file, kind string }{{"cpu", "some"}, {"memory", "some"}, {"memory", "full"}, {"io", "some"}} {
		if data, err := os.ReadFile("/proc/pressure/" + r.file); err == nil {
			s.psi[i] = psiTotal(string(data), r.kind)
		}
	}
	if data, err := os.ReadFile("/proc/vmstat"); err == nil {
		s.reclaims, s.compactStalls, s.oomKills = vmstatStalls(string(data))
	}
	if data, err := os.ReadFile("/proc/stat"); err == nil {
		s.stealTicks = stealTicks(string(data))
	}
	return s
}

// Since is what happened from earlier to s.
func (s StallsSnapshot) Since(earlier StallsSnapshot) Stalls {
	ms := func(i int) float64 { return (s.psi[i] - earlier.psi[i]) / 1000 }
	return Stalls{CPUSomeMs: ms(0), MemSomeMs: ms(1), MemFullMs: ms(2), IOSomeMs: ms(3),
		DirectReclaims: s.reclaims - earlier.reclaims, CompactStalls: s.compactStalls - earlier.compactStalls,
		StealMs: float64(s.stealTicks-earlier.stealTicks) * 10, OOMKills: s.oomKills - earlier.oomKills}
}

// stealTicks is the steal field (the eighth number) of /proc/stat's "cpu"
// line, the machine's total; 0 if it has none.
func stealTicks(data string) uint64 {
	for line := range strings.Lines(data) {
		if rest, ok := strings.CutPrefix(line, "cpu "); ok {
			f := strings.Fields(rest)
			if len(f) < 8 {
				return 0
			}
			n, _ := strconv.ParseUint(f[7], 10, 64)
			return n
		}
	}
	return 0
}

// psiTotal is the total= value (µs) of a /proc/pressure file's line of
// kind ("some" or "full"); 0 if there is none.
func psiTotal(data, kind string) float64 {
	for line := range strings.Lines(data) {
		if rest, ok := strings.CutPrefix(line, kind+" "); ok {
			_, v, _ := strings.Cut(rest, "total=")
			n, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return n
		}
	}
	return 0
}

// vmstatStalls sums /proc/vmstat's allocstall_* counters (one per memory
// zone) and reads compact_stall and oom_kill.
func vmstatStalls(data string) (reclaims, compactStalls, oomKills uint64) {
	for line := range strings.Lines(data) {
		name, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(name, "allocstall_"):
			reclaims += n
		case name == "compact_stall":
			compactStalls = n
		case name == "oom_kill":
			oomKills = n
		}
	}
	return reclaims, compactStalls, oomKills
}
