package report

import (
	"fmt"
	"strings"

	"github.com/votechain/votechain/bench/measure"
)

// NetworkCPU is the CPU book of an extra network, one brought up for some
// phases while the run's system stood idle and removed after them (the
// other consensus's, the eligibility pair's, the contests'): its
// processes and the load generator driving it, in each of its CPU phases
// (its warm-up, <network>-warmup, and its measured drives). Its processes
// bear the names of the run's network's (orderer0, peer.Commission, ...),
// so they have a table of their own, and Report.CPU (whose rows name the
// run's topology) holds none of them.
type NetworkCPU struct {
	Network   string `json:"network"`   // the folder it was brought up in: ceiling-raft, ceiling-roll-sealed, ...
	Consensus string `json:"consensus"` // bft or raft
	// Phases, CPU and MachineBusy are as Report's, for the network's
	// phases.
	Phases        []string             `json:"phases"`
	CPU           []measure.ProcessCPU `json:"cpu"`
	MachineBusy   map[string]float64   `json:"machine_busy"`
	DiskWriteMBps map[string]float64   `json:"disk_write_mb_per_s,omitempty"`
}

// extraCPUMarkdown is a CPU table per extra network; nothing without one.
func (r *Report) extraCPUMarkdown(b *strings.Builder) {
	if len(r.ExtraCPU) == 0 {
		return
	}
	fmt.Fprintf(b, "### CPU on the extra networks\n\nEach extra network was brought up for its phases while the run's system stood idle, and removed after them. Its processes bear the names of the run's network's, so each has a table of its own: its warm-up (`-warmup`) and measured drives, and `benchrun (load generator)` driving it.\n\n")
	for _, n := range r.ExtraCPU {
		fmt.Fprintf(b, "**%s** (%s):\n\n", n.Network, n.Consensus)
		cpuTable(b, n.Phases, n.CPU, n.MachineBusy)
		fmt.Fprintf(b, "\n")
	}
}
