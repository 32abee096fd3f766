package measure

import (
	"sort"
	"time"
)

// ProcessCPU is one process's CPU use per phase (in cores), its minor page
// faults per phase, its peak RSS, and what it wrote to storage per phase
// (MB/s; absent for a phase its /proc/PID/io could not be read in).
type ProcessCPU struct {
	Name       string             `json:"name"`
	Cores      map[string]float64 `json:"cores"`
	PageFaults map[string]int64   `json:"page_faults,omitempty"`
	PeakRSSMB  float64            `json:"peak_rss_mb"`
	WriteMBps  map[string]float64 `json:"write_mb_per_s,omitempty"`
}

// CPUBook adds up each watched process's CPU time and storage writes per
// named phase, over one or more windows of the same name, and the machine's
// busy time and disk writes over the same windows. It is not safe for
// concurrent use.
type CPUBook struct {
	pids   map[string]int
	order  []string
	cpu    map[string]map[string]time.Duration // phase -> process -> CPU
	faults map[string]map[string]int64         // phase -> process -> minor page faults
	writes map[string]map[string]int64         // phase -> process -> bytes sent to storage
	wall   map[string]time.Duration
	busy   map[string]time.Duration // machine busy, all cores
	total  map[string]time.Duration // machine time, all cores
	disk   map[string]int64         // bytes written to the machine's disks
	last   Snapshot
	peak   map[string]int64 // process -> VmHWM seen
	window string
}

// NewCPUBook watches the processes of pids (name -> PID).
func NewCPUBook(pids map[string]int) *CPUBook {
	return &CPUBook{pids: pids, cpu: map[string]map[string]time.Duration{}, faults: map[string]map[string]int64{}, writes: map[string]map[string]int64{},
		wall: map[string]time.Duration{}, busy: map[string]time.Duration{}, total: map[string]time.Duration{}, disk: map[string]int64{}, peak: map[string]int64{}}
}

// Sub is a new, empty book watching the same processes as b (those b
// watches now; a process b watches later is not added to it): a finer
// breakdown of one of b's windows, such as each step of a ramp, whose
// windows may be open while b's is. The two share nothing.
func (b *CPUBook) Sub() *CPUBook {
	pids := make(map[string]int, len(b.pids))
	for name, pid := range b.pids {
		pids[name] = pid
	}
	return NewCPUBook(pids)
}

// Watch adds a process to the book, or follows name to another PID (a
// restarted process), from the next window on. Call it between windows: a
// window open across it would book the new process's CPU less the old's.
func (b *CPUBook) Watch(name string, pid int) { b.pids[name] = pid }

// Names are the watched processes' names, sorted.
func (b *CPUBook) Names() []string {
	names := make([]string, 0, len(b.pids))
	for n := range b.pids {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Begin opens a window of phase; End closes it and books it.
func (b *CPUBook) Begin(phase string) {
	b.window = phase
	b.last = b.snap()
	if _, ok := b.cpu[phase]; !ok {
		b.order = append(b.order, phase)
		b.cpu[phase] = map[string]time.Duration{}
		b.faults[phase] = map[string]int64{}
		b.writes[phase] = map[string]int64{}
	}
}

// End closes the window Begin opened.
func (b *CPUBook) End() {
	now := b.snap()
	ph := b.window
	for name, u := range now.Procs {
		if a, ok := b.last.Procs[name]; ok {
			b.cpu[ph][name] += u.CPU - a.CPU
			b.faults[ph][name] += u.MinorFaults - a.MinorFaults
			if u.HasIO && a.HasIO {
				b.writes[ph][name] += u.WriteBytes - a.WriteBytes
			}
		}
	}
	b.wall[ph] += now.At.Sub(b.last.At)
	b.busy[ph] += now.Busy - b.last.Busy
	b.total[ph] += now.MachineAt - b.last.MachineAt
	b.disk[ph] += now.DiskBytes - b.last.DiskBytes
}

func (b *CPUBook) snap() Snapshot {
	s := Take(b.pids)
	for name, u := range s.Procs {
		b.peak[name] = max(b.peak[name], u.HWMBytes)
	}
	return s
}

// Phases are the booked phases in the order they were first opened.
func (b *CPUBook) Phases() []string { return b.order }

// Cores is process name's CPU in phase, in cores.
func (b *CPUBook) Cores(phase, name string) float64 {
	w := b.wall[phase].Seconds()
	if w <= 0 {
		return 0
	}
	return b.cpu[phase][name].Seconds() / w
}

// Seconds is the CPU time in phase of the processes whose names satisfy match.
func (b *CPUBook) Seconds(phase string, match func(name string) bool) float64 {
	var s float64
	for name, d := range b.cpu[phase] {
		if match(name) {
			s += d.Seconds()
		}
	}
	return s
}

// PageFaults is the minor page faults in phase of the processes whose names
// satisfy match.
func (b *CPUBook) PageFaults(phase string, match func(name string) bool) int64 {
	var n int64
	for name, f := range b.faults[phase] {
		if match(name) {
			n += f
		}
	}
	return n
}

// WriteMBps is what the processes whose names satisfy match sent to
// storage in phase, in MB (2^20 bytes) a second.
func (b *CPUBook) WriteMBps(phase string, match func(name string) bool) float64 {
	var n int64
	for name, w := range b.writes[phase] {
		if match(name) {
			n += w
		}
	}
	return b.perSecondMB(phase, n)
}

// DiskWriteMBps is what every process on the machine wrote to its disks in
// phase (from /proc/diskstats), in MB a second.
func (b *CPUBook) DiskWriteMBps(phase string) float64 { return b.perSecondMB(phase, b.disk[phase]) }

func (b *CPUBook) perSecondMB(phase string, n int64) float64 {
	if w := b.wall[phase].Seconds(); w > 0 {
		return float64(n) / (1 << 20) / w
	}
	return 0
}

// WallSeconds is the wall time booked to phase.
func (b *CPUBook) WallSeconds(phase string) float64 { return b.wall[phase].Seconds() }

// MachineBusy is the busy share of all cores in phase (0..1).
func (b *CPUBook) MachineBusy(phase string) float64 {
	if t := b.total[phase].Seconds(); t > 0 {
		return b.busy[phase].Seconds() / t
	}
	return 0
}

// Rows is the book per process, for the report.
func (b *CPUBook) Rows() []ProcessCPU {
	var rows []ProcessCPU
	for _, n := range b.Names() {
		r := ProcessCPU{Name: n, Cores: map[string]float64{}, PageFaults: map[string]int64{}, WriteMBps: map[string]float64{}, PeakRSSMB: float64(b.peak[n]) / (1 << 20)}
		for _, ph := range b.order {
			r.Cores[ph] = b.Cores(ph, n)
			r.PageFaults[ph] = b.faults[ph][n]
			if _, ok := b.writes[ph][n]; ok {
				r.WriteMBps[ph] = b.perSecondMB(ph, b.writes[ph][n])
			}
		}
		rows = append(rows, r)
	}
	return rows
}
