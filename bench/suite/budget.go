package suite

import "github.com/votechain/votechain/bench/report"

// paceBudget prices the stack per vote in phase s, in which the batcher
// committed committedPerS votes a second, on a machine of cores cores, and
// sets it against goal votes a second (issue 21's sustainable rate). The
// stack is every role of the run (s without other users' share), so the
// rate it allows is what the run's own processes leave room for. It is nil
// when nothing was committed, no process of the run was busy or the
// machine's cores are unknown.
func paceBudget(s report.Saturation, committedPerS float64, cores int, goal float64) *report.PaceBudget {
	stack := s.Intake + s.Ledger + s.LoadGen + s.Monitor
	if committedPerS <= 0 || stack <= 0 || cores <= 0 {
		return nil
	}
	us := func(c float64) float64 { return c / committedPerS * 1e6 }
	b := &report.PaceBudget{
		Phase: s.Phase, CommittedPerS: committedPerS, StackCores: stack,
		PerVoteUS: us(stack), IntakeUS: us(s.Intake), LedgerUS: us(s.Ledger), LoadGenUS: us(s.LoadGen), MonitorUS: us(s.Monitor),
		Cores: cores, BoundPerS: float64(cores) * committedPerS / stack,
	}
	if goal > 0 {
		b.GoalPerS, b.CoresAtGoal, b.GoalPerVoteUS = goal, goal*stack/committedPerS, float64(cores)/goal*1e6
	}
	return b
}

// paceBudgetFor prices rep's first pace probe, the sustained phase, from
// its row of rep's saturation table against issue 21's goal (nil: no
// probe, or no row of its phase).
func paceBudgetFor(rep *report.Report) *report.PaceBudget {
	if len(rep.Pace21.Probes) == 0 {
		return nil
	}
	sus := rep.Pace21.Probes[0]
	for _, s := range rep.Saturation {
		if s.Phase == sus.Phase.Name {
			return paceBudget(s, sus.CommittedPerS, rep.Machine.CPUs, goalSustainable)
		}
	}
	return nil
}
