package report

import (
	"slices"
	"strings"
	"testing"

	"github.com/votechain/votechain/bench/ledgerload"
	"github.com/votechain/votechain/bench/loadgen"
	"github.com/votechain/votechain/bench/measure"
)

// TestOnlyIntakeReport: `benchrun --only intake` shows the sustained
// probe, the intake phases it ran (not the referendum it did not), their
// gateway and Redis CPU per vote and Redis's persistence in them, the
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
		Intake15: IntakeCost{
			Phases: []VoteCPU{{Phase: "fixed-10000", Accepted: 97000, GatewayUS: 40, RedisUS: 22, TotalUS: 62}},
			Redis:  []measure.RedisWindow{{Phase: "fixed-10000", Known: true, Events: []measure.LatencyEvent{{Event: "aof-fsync-always", Seconds: 11, MaxMS: 55}}}},
		},
	}
	md := r.Markdown()
	for _, want := range []string{"`benchrun --only intake`", "## Batcher pace", "| sustained | 60 s |", "ramp-500 (knee)", "| fixed-10000 |",
		"## Intake cost", "| fixed-10000 | 97,000 | 40 µs | 22 µs | **62 µs** |", "| fixed-10000 | — |  |  |  |  | 11 s, 55 ms |", "## Commit", "SCHED_IDLE", "## CPU per process", "| gateway | 0.90 |", "## Loss check", "PASSED"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	for _, unwanted := range []string{"## Targets", "Sustainable rate", "| referendum", "## Results reads", "Duplicate storm"} {
		if strings.Contains(md, unwanted) {
			t.Errorf("report shows %q, which --only intake does not measure:\n%s", unwanted, md)
		}
	}
}

// TestRampCPUPerStep: the ramp's CPU per step shows as a table after the
// ramp, one row per step with each group's cores and the busiest
// processes, and survives the JSON round trip; a report without it (from
// before it was recorded) shows no such table.
func TestRampCPUPerStep(t *testing.T) {
	r := &Report{
		Machine:   measure.Machine{CPUs: 2},
		Ramp:      []loadgen.Phase{{Name: "ramp-8000", Offered: 8000}, {Name: "ramp-10000", Offered: 10000}},
		KneeIndex: 0,
		RampCPU: []Saturation{
			{Phase: "ramp-8000", Machine: 1.91, Intake: 0.71, Ledger: 0.98, LoadGen: 0.18, Others: 0.04, Top: "gateway 0.45, peer.Commission 0.30"},
			{Phase: "ramp-10000", Machine: 1.99, Intake: 0.32, Ledger: 1.52, LoadGen: 0.11, Others: 0.04, Top: "peer.Commission 0.61, peer.Observers 0.55"},
		},
	}
	md := r.Markdown()
	for _, want := range []string{"**CPU per ramp step** (cores of 2",
		"| ramp-8000 | 1.91 | 0.71 | 0.98 | 0.18 | 0.00 | 0.04 | gateway 0.45, peer.Commission 0.30 |",
		"| ramp-10000 | 1.99 | 0.32 | 1.52 | 0.11 | 0.00 | 0.04 | peer.Commission 0.61, peer.Observers 0.55 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if i, j := strings.Index(md, "### Ramp (knee)"), strings.Index(md, "**CPU per ramp step**"); i < 0 || j < i {
		t.Errorf("the ramp's CPU table is not after the ramp's table (at %d, ramp at %d)", j, i)
	}
	if back := saved(t, r); !slices.Equal(back.RampCPU, r.RampCPU) {
		t.Errorf("ramp CPU after JSON %+v, want %+v", back.RampCPU, r.RampCPU)
	}
	r.RampCPU = nil
	if md := r.Markdown(); strings.Contains(md, "CPU per ramp step") {
		t.Errorf("a report without per-step CPU shows its table:\n%s", md)
	}
}
