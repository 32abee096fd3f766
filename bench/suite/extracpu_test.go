package suite

import (
	"os"
	"slices"
	"testing"

	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/bench/report"
	"github.com/votechain/votechain/test-network/localnet"
)

// TestExtraNetworkCPU: an extra network's book watches its running
// processes and the load generator (this process), and once its phases
// are over the report holds it, phases in order, with the load
// generator's CPU and the machine's busy share in each; a book with no
// phase adds nothing.
func TestExtraNetworkCPU(t *testing.T) {
	pid := os.Getpid()
	b := extraBook([]localnet.ProcessStatus{
		{Name: "orderer0", PID: pid, Running: true},
		{Name: "peer.Observers", PID: pid + 1, Running: false},
	})
	if got, want := b.Names(), []string{loadGenerator, "orderer0"}; !slices.Equal(got, want) {
		t.Fatalf("the book watches %q, want %q (the running processes and the load generator)", got, want)
	}
	r := &run{rep: &report.Report{}}
	r.bookExtraCPU("ceiling-raft", "raft", b)
	if len(r.rep.ExtraCPU) != 0 {
		t.Fatalf("a book with no phase booked: %+v", r.rep.ExtraCPU)
	}
	for _, ph := range []string{"ceiling-raft-warmup", "ceiling-raft"} {
		b.Begin(ph)
		// Until the kernel has booked this process some CPU.
		for start, u := readProc(t, pid), readProc(t, pid); u.CPU == start.CPU; u = readProc(t, pid) {
		}
		b.End()
	}
	r.bookExtraCPU("ceiling-raft", "raft", b)
	if len(r.rep.ExtraCPU) != 1 {
		t.Fatalf("report's extra networks' CPU: %+v, want the one booked", r.rep.ExtraCPU)
	}
	n := r.rep.ExtraCPU[0]
	if n.Network != "ceiling-raft" || n.Consensus != "raft" || !slices.Equal(n.Phases, []string{"ceiling-raft-warmup", "ceiling-raft"}) || len(n.CPU) != 2 {
		t.Fatalf("booked %+v; want the network, its consensus, its two phases in order and two processes", n)
	}
	for _, ph := range n.Phases {
		if c := n.CPU[0]; c.Name != loadGenerator || c.Cores[ph] <= 0 {
			t.Errorf("%s: first row %+v; want the load generator's CPU", ph, c)
		}
		// The machine's busy share of a window this short may read 0.
		if busy, ok := n.MachineBusy[ph]; !ok || busy < 0 || busy > 1 {
			t.Errorf("%s: machine busy %v (%v); want a share", ph, busy, ok)
		}
	}
}

func readProc(t *testing.T, pid int) measure.ProcUsage {
	t.Helper()
	u, err := measure.ReadProc(pid)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
