package suite

import (
	"math"
	"strings"
	"testing"

	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/bench/report"
	"github.com/votechain/votechain/internal/monitor"
)

// TestWhyWithoutACeiling: an intake-only run (benchrun --only intake)
// drives no ledger ceiling, so the report's reading of its saturation
// table says so instead of quoting a ceiling of 0 votes/s and a drain at
// 0.00 of it; a full run still quotes both.
func TestWhyWithoutACeiling(t *testing.T) {
	rep := func() *report.Report {
		return &report.Report{
			Machine: measure.Machine{CPUs: 2},
			Saturation: []report.Saturation{
				{Phase: "ramp", Machine: 2, Ledger: 0.8, Intake: 1},
				{Phase: "sustained", Machine: 2, Ledger: 1.1, Intake: 0.6},
				{Phase: "drain", Machine: 2, Ledger: 1.8},
				{Phase: "ceiling", Machine: 2, Ledger: 1.7},
			},
		}
	}
	only := &run{rep: rep(), book: measure.NewCPUBook(nil)}
	why := only.why()
	if !strings.Contains(why, "the ledger ceiling was not driven in this run") {
		t.Errorf("intake-only reading does not say the ceiling was not driven:\n%s", why)
	}
	for _, wrong := range []string{"driven directly, was 0 votes/s", "of the ceiling"} {
		if strings.Contains(why, wrong) {
			t.Errorf("intake-only reading quotes a ceiling it did not measure (%q):\n%s", wrong, why)
		}
	}
	full := &run{rep: rep(), book: measure.NewCPUBook(nil)}
	full.rep.Ceiling.CountedPerS = 9000
	full.rep.Pace21.DrainOverCeiling = 1.1
	why = full.why()
	for _, want := range []string{"driven directly, was 9000 votes/s", "at the ceiling the ledger side held 1.70", "(1.10 of the ceiling)"} {
		if !strings.Contains(why, want) {
			t.Errorf("full reading lacks %q:\n%s", want, why)
		}
	}
}

// TestShareGroupsByRole: a phase's (or a ramp step's) cores per process add
// up by role: gateway and Redis are the intake, benchrun and the bare
// handler the load generator, Prometheus and the exporter the monitoring,
// every other process of the run the ledger side; what the machine was
// busy beyond them is others'; the three busiest are named, busiest first.
func TestShareGroupsByRole(t *testing.T) {
	s := share("ramp-10000", 1.95, map[string]float64{
		"gateway": 0.20, "redis": 0.10, "benchrun (load generator)": 0.15, "peer.Commission": 0.50, "peer.Observers": 0.45,
		"orderer0": 0.10, "explorer": 0.12, "batcher": 0.05, monitor.PrometheusProcess: 0.01,
	})
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if s.Phase != "ramp-10000" || !near(s.Machine, 1.95) || !near(s.Intake, 0.30) || !near(s.LoadGen, 0.15) || !near(s.Monitor, 0.01) ||
		!near(s.Ledger, 1.22) || !near(s.Others, 0.27) {
		t.Errorf("share %+v; want intake 0.30, load generator 0.15, monitoring 0.01, ledger 1.22, others 0.27", s)
	}
	if want := "peer.Commission 0.50, peer.Observers 0.45, gateway 0.20"; s.Top != want {
		t.Errorf("busiest %q, want %q", s.Top, want)
	}
	// The processes' CPU above the machine's busy time (sampling skew)
	// leaves others at 0, not below.
	if s := share("ramp-500", 0.1, map[string]float64{"gateway": 0.2}); s.Others != 0 {
		t.Errorf("others %.2f when the processes exceed the machine's busy time, want 0", s.Others)
	}
}
