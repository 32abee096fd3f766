package suite

import (
	"math"
	"strings"
	"testing"

	"github.com/votechain/votechain/bench/loadgen"
	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/bench/report"
)

// TestPaceBudget: the stack's cores (every role but other users) over the
// committed rate give the CPU per vote, its parts per role, the most the
// machine's cores carry at that cost, and what issue 21's goal would take;
// with nothing committed, nothing of the run busy or no cores known there
// is no budget.
func TestPaceBudget(t *testing.T) {
	// Run 63's sustained phase: 1.81 cores of the run's processes for
	// 4,782 committed votes/s on 2 cores (other users' 0.05 left out).
	s := report.Saturation{Phase: "sustained", Machine: 1.86, Intake: 0.60, Ledger: 1.06, LoadGen: 0.14, Monitor: 0.01, Others: 0.05}
	b := paceBudget(s, 4782, 2, 8000)
	if b == nil {
		t.Fatal("no budget for a phase with committed votes and busy processes")
	}
	near := func(got, want float64) bool { return math.Abs(got-want) < 0.01 }
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"stack cores", b.StackCores, 1.81},
		{"µs a vote", b.PerVoteUS, 1.81 / 4782 * 1e6},
		{"intake µs", b.IntakeUS, 0.60 / 4782 * 1e6},
		{"ledger µs", b.LedgerUS, 1.06 / 4782 * 1e6},
		{"load generator µs", b.LoadGenUS, 0.14 / 4782 * 1e6},
		{"monitoring µs", b.MonitorUS, 0.01 / 4782 * 1e6},
		{"CPU-bound rate", b.BoundPerS, 2 * 4782 / 1.81},
		{"cores at the goal", b.CoresAtGoal, 8000 * 1.81 / 4782},
		{"µs a vote the goal allows", b.GoalPerVoteUS, 250},
	} {
		if !near(c.got, c.want) {
			t.Errorf("%s = %.4f, want %.4f", c.what, c.got, c.want)
		}
	}
	if parts := b.IntakeUS + b.LedgerUS + b.LoadGenUS + b.MonitorUS; !near(parts, b.PerVoteUS) {
		t.Errorf("the parts add up to %.2f µs, not the %.2f µs a vote", parts, b.PerVoteUS)
	}
	if b.Phase != "sustained" || b.Cores != 2 || b.GoalPerS != 8000 || b.CommittedPerS != 4782 {
		t.Errorf("budget %+v does not name its phase, cores, goal and rate", *b)
	}
	if b := paceBudget(s, 4782, 2, 0); b == nil || b.GoalPerS != 0 || b.CoresAtGoal != 0 || b.GoalPerVoteUS != 0 {
		t.Errorf("without a goal: %+v, want the cost and bound only", b)
	}
	for name, b := range map[string]*report.PaceBudget{
		"nothing committed":   paceBudget(s, 0, 2, 8000),
		"no process busy":     paceBudget(report.Saturation{Phase: "sustained", Machine: 0.3, Others: 0.3}, 4782, 2, 8000),
		"cores not known":     paceBudget(s, 4782, 0, 8000),
		"a negative rate too": paceBudget(s, -1, 2, 8000),
	} {
		if b != nil {
			t.Errorf("%s: budget %+v, want none", name, *b)
		}
	}
}

// TestSaturationPricesTheSustainedPhase: the run's saturation reading
// prices the first probe (the sustained phase) from its own row of the
// table, not another phase's, and a run without probes has no budget.
func TestSaturationPricesTheSustainedPhase(t *testing.T) {
	rep := &report.Report{Machine: measure.Machine{CPUs: 2}}
	rep.Pace21.Probes = []report.Probe{{Commit: report.Commit{Phase: loadgen.Phase{Name: "sustained"}, CommittedPerS: 4000}}}
	rep.Saturation = []report.Saturation{
		{Phase: "ramp", Machine: 2, Intake: 1.5, Ledger: 0.5},
		{Phase: "sustained", Machine: 1.2, Intake: 0.4, Ledger: 0.8},
	}
	if b := paceBudgetFor(rep); b == nil || b.Phase != "sustained" || math.Abs(b.PerVoteUS-300) > 0.01 {
		t.Fatalf("budget %+v, want the sustained row's 1.2 cores over 4,000 votes/s: 300 µs", b)
	}
	rep.Saturation = rep.Saturation[:1]
	if b := paceBudgetFor(rep); b != nil {
		t.Errorf("budget %+v with no row for the sustained phase, want none", *b)
	}
	rep.Pace21.Probes = nil
	if b := paceBudgetFor(rep); b != nil {
		t.Errorf("budget %+v for a run without probes, want none", *b)
	}
}

// TestSustainableTargetNamesTheCPUBound: the sustainable rate's row in the
// targets table says, beside the rate found, the most the cores carry at
// the sustained phase's CPU per vote; without a budget it gives the rate
// alone.
func TestSustainableTargetNamesTheCPUBound(t *testing.T) {
	rep := &report.Report{Machine: measure.Machine{CPUs: 2}}
	rep.Pace21.Probes = []report.Probe{{Commit: report.Commit{Phase: loadgen.Phase{Name: "sustained", Offered: 5000}, CommittedPerS: 4782}}}
	rep.Pace21.Sustainable = 3750
	rep.Saturation = []report.Saturation{{Phase: "sustained", Machine: 1.86, Intake: 0.60, Ledger: 1.06, LoadGen: 0.14, Monitor: 0.01, Others: 0.05}}
	measured := func() string {
		for _, tg := range (&run{rep: rep}).paceTargets() {
			if strings.HasPrefix(tg.Name, "sustainable rate") {
				return tg.Measured
			}
		}
		t.Fatal("no sustainable-rate target")
		return ""
	}
	rep.Pace21.Budget = paceBudgetFor(rep)
	if got, want := measured(), "3,750/s offered (1 probes; at the sustained phase's 379 µs of CPU a vote the 2 cores carry at most 5,284/s)"; got != want {
		t.Errorf("with a budget: %q, want %q", got, want)
	}
	rep.Pace21.Budget = nil
	if got, want := measured(), "3,750/s offered (1 probes)"; got != want {
		t.Errorf("without a budget: %q, want %q", got, want)
	}
}
