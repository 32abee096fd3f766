package suite

import (
	"sort"
	"time"

	"github.com/votechain/votechain/bench/procstat"
	"github.com/votechain/votechain/bench/report"
)

// cpuBook adds up each process's CPU time per named phase, over one or more
// windows of the same name.
type cpuBook struct {
	pids   map[string]int
	order  []string
	cpu    map[string]map[string]time.Duration // phase -> process -> CPU
	wall   map[string]time.Duration
	busy   map[string]time.Duration // machine busy, all cores
	total  map[string]time.Duration // machine time, all cores
	last   procstat.Snapshot
	peak   map[string]int64 // process -> VmHWM seen
	window string
}

func newCPUBook(pids map[string]int) *cpuBook {
	return &cpuBook{pids: pids, cpu: map[string]map[string]time.Duration{}, wall: map[string]time.Duration{},
		busy: map[string]time.Duration{}, total: map[string]time.Duration{}, peak: map[string]int64{}}
}

// begin opens a window of phase; end closes it and books it.
func (b *cpuBook) begin(phase string) {
	b.window = phase
	b.last = b.snap()
	if _, ok := b.cpu[phase]; !ok {
		b.order = append(b.order, phase)
		b.cpu[phase] = map[string]time.Duration{}
	}
}

func (b *cpuBook) end() {
	now := b.snap()
	ph := b.window
	for name, u := range now.Procs {
		if a, ok := b.last.Procs[name]; ok {
			b.cpu[ph][name] += u.CPU - a.CPU
		}
	}
	b.wall[ph] += now.At.Sub(b.last.At)
	b.busy[ph] += now.Busy - b.last.Busy
	b.total[ph] += now.MachineAt - b.last.MachineAt
}

func (b *cpuBook) snap() procstat.Snapshot {
	s := procstat.Take(b.pids)
	for name, u := range s.Procs {
		b.peak[name] = max(b.peak[name], u.HWMBytes)
	}
	return s
}

// cores is process name's CPU in phase, in cores.
func (b *cpuBook) cores(phase, name string) float64 {
	w := b.wall[phase].Seconds()
	if w <= 0 {
		return 0
	}
	return b.cpu[phase][name].Seconds() / w
}

// sumCores adds cores over the processes whose names satisfy match.
func (b *cpuBook) sumCores(phase string, match func(string) bool) float64 {
	var s float64
	for name := range b.pids {
		if match(name) {
			s += b.cores(phase, name)
		}
	}
	return s
}

// rows renders the book for the report.
func (b *cpuBook) rows() ([]string, []report.ProcessCPU, map[string]float64) {
	names := make([]string, 0, len(b.pids))
	for n := range b.pids {
		names = append(names, n)
	}
	sort.Strings(names)
	var rows []report.ProcessCPU
	for _, n := range names {
		r := report.ProcessCPU{Name: n, Cores: map[string]float64{}, PeakRSSMB: float64(b.peak[n]) / (1 << 20)}
		for _, ph := range b.order {
			r.Cores[ph] = b.cores(ph, n)
		}
		rows = append(rows, r)
	}
	busy := map[string]float64{}
	for _, ph := range b.order {
		if t := b.total[ph].Seconds(); t > 0 {
			busy[ph] = b.busy[ph].Seconds() / t
		}
	}
	return b.order, rows, busy
}

// seconds is process name's CPU time in phase.
func (b *cpuBook) seconds(phase, name string) float64 { return b.cpu[phase][name].Seconds() }
