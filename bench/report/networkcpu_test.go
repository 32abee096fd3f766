package report

import (
	"strings"
	"testing"

	"github.com/votechain/votechain/bench/measure"
)

// TestMarkdownExtraNetworksCPU: each extra network's CPU book has a table
// of its own after the run's, named after the network and its consensus,
// with its phases as columns, its processes (named as the run's network's)
// and the load generator as rows, and the machine's busy share; the run's
// table and topology count none of them; report.json keeps them; a report
// without extra networks (or from before they were booked) says nothing of
// them.
func TestMarkdownExtraNetworksCPU(t *testing.T) {
	r := fixture()
	if md := r.Markdown(); strings.Contains(md, "CPU on the extra networks") {
		t.Fatal("a report without extra networks has their CPU section")
	}
	topology := r.topology()
	row := func(name string, cores ...float64) measure.ProcessCPU {
		c := measure.ProcessCPU{Name: name, Cores: map[string]float64{}, PeakRSSMB: 512}
		for i, ph := range []string{"ceiling-raft-warmup", "ceiling-raft"} {
			c.Cores[ph] = cores[i]
		}
		return c
	}
	r.ExtraCPU = []NetworkCPU{{Network: "ceiling-raft", Consensus: "raft", Phases: []string{"ceiling-raft-warmup", "ceiling-raft"},
		CPU: []measure.ProcessCPU{
			row("benchrun (load generator)", 0.31, 0.42),
			row("orderer0", 0.12, 0.25),
			row("peer.Commission", 0.55, 0.61),
		},
		MachineBusy: map[string]float64{"ceiling-raft-warmup": 0.97, "ceiling-raft": 0.99},
	}}
	md := saved(t, r).Markdown()
	hasAll(t, md,
		"### CPU on the extra networks\n\n",
		"**ceiling-raft** (raft):\n\n| process | ceiling-raft-warmup | ceiling-raft | peak RSS |\n|---|---|---|---|\n",
		"| benchrun (load generator) | 0.31 | 0.42 | 512 MB |\n| orderer0 | 0.12 | 0.25 | 512 MB |\n| peer.Commission | 0.55 | 0.61 | 512 MB |\n",
		"| *machine busy (all processes, % of all cores)* | 97% | 99% | |\n",
	)
	own, extra := strings.Index(md, "## CPU per process"), strings.Index(md, "### CPU on the extra networks")
	if own < 0 || extra < own || strings.Contains(md[own:extra], "ceiling-raft") {
		t.Errorf("the extra network's table at %d, the run's at %d; want it after the run's, and none of its phases in the run's", extra, own)
	}
	if got := r.topology(); got != topology {
		t.Errorf("topology %q with an extra network's book, %q without", got, topology)
	}
}
