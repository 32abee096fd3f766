package suite

import (
	"os"

	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/bench/report"
	"github.com/votechain/votechain/test-network/localnet"
)

// extraBook is the CPU book of an extra network: its running processes
// (procs, from its status) and this process, the load generator driving
// it.
func extraBook(procs []localnet.ProcessStatus) *measure.CPUBook {
	pids := map[string]int{loadGenerator: os.Getpid()}
	for _, p := range procs {
		if p.Running {
			pids[p.Name] = p.PID
		}
	}
	return measure.NewCPUBook(pids)
}

// bookExtraCPU puts b, the CPU book of the extra network brought up as
// name, into the report (report.NetworkCPU) once its phases are over; a
// book with no phase booked adds nothing.
func (r *run) bookExtraCPU(name, consensus string, b *measure.CPUBook) {
	if len(b.Phases()) == 0 {
		return
	}
	n := report.NetworkCPU{Network: name, Consensus: consensus}
	n.Phases, n.CPU, n.MachineBusy, n.DiskWriteMBps = cpuTable(b)
	r.rep.ExtraCPU = append(r.rep.ExtraCPU, n)
}

// cpuTable is what the report's CPU table of a book shows: its phases in
// the order they were first opened, each process's row, and the machine's
// busy share and disk writes (MB/s) in each phase.
func cpuTable(b *measure.CPUBook) (phases []string, rows []measure.ProcessCPU, busy, disk map[string]float64) {
	busy, disk = map[string]float64{}, map[string]float64{}
	for _, ph := range b.Phases() {
		busy[ph] = b.MachineBusy(ph)
		disk[ph] = b.DiskWriteMBps(ph)
	}
	return b.Phases(), b.Rows(), busy, disk
}
