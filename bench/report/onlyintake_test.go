package report

import (
	"strings"
	"testing"

	"github.com/votechain/votechain/bench/ledgerload"
	"github.com/votechain/votechain/bench/loadgen"
	"github.com/votechain/votechain/bench/measure"
)

// TestOnlyIntakeReport: `benchrun --only intake` shows the sustained
// probe, the intake phases it ran (not the referendum it did not), the
// commit table with the ledger's priority, CPU and the loss check, and
// none of the whole run's sections or the search's verdict.
func TestOnlyIntakeReport(t *testing.T) {
	sus := Commit{Phase: loadgen.Phase{Name: "sustained", Offered: 5000, AcceptedPerS: 4900}, WindowS: 60, CommittedPerS: 4700}
	r := &Report{
		Only:      "intake",
		Settings:  Settings{LedgerPriority: "idle"},
		Pace21:    Pace{Probes: []Probe{{Commit: sus, CommittedOverAccepted: 0.96, Why: "holds"}}},
		Sustained: sus,
		Ramp:      []loadgen.Phase{{Name: "ramp-500", Offered: 500}},
		KneeIndex: 0,
		Fixed:     []loadgen.Phase{{Name: "fixed-10000", Offered: 10000}},
		Surge:     Surge{Phase: loadgen.Phase{Name: "surge", Offered: 20000}},
		Phases:    []string{"surge"},
		CPU:       []measure.ProcessCPU{{Name: "gateway", Cores: map[string]float64{"surge": 0.9}}},
		Loss:      ledgerload.Loss{OK: true, Accepted: 10},
	}
	md := r.Markdown()
	for _, want := range []string{"`benchrun --only intake`", "## Batcher pace", "| sustained | 60 s |", "ramp-500 (knee)", "| fixed-10000 |",
		"## Commit", "SCHED_IDLE", "## CPU per process", "| gateway | 0.90 |", "## Loss check", "PASSED"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	for _, unwanted := range []string{"## Targets", "Sustainable rate", "| referendum", "## Results reads"} {
		if strings.Contains(md, unwanted) {
			t.Errorf("report shows %q, which --only intake does not measure:\n%s", unwanted, md)
		}
	}
}
