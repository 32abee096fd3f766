package report_test

import (
	"fmt"

	"github.com/votechain/votechain/bench/report"
)

// A sustained phase in which the run's processes held 1.81 of 2 cores for
// 4,782 committed votes a second (make bench run 63).
func ExamplePaceBudget_Markdown() {
	b := report.PaceBudget{
		Phase: "sustained", CommittedPerS: 4782, StackCores: 1.81,
		PerVoteUS: 378.5, IntakeUS: 125.5, LedgerUS: 221.7, LoadGenUS: 29.3, MonitorUS: 2.1,
		Cores: 2, BoundPerS: 5284, GoalPerS: 8000, CoresAtGoal: 3.03, GoalPerVoteUS: 250,
	}
	fmt.Println(b.Markdown())
	// Output:
	// **CPU per vote in the sustained phase: 378 µs.** The run's processes held 1.81 cores for 4,782 committed votes/s: intake 126 µs a vote, ledger side 222, load generator 29, monitoring 2. At that cost the machine's 2 cores carry at most 5,284 votes/s, and issue 21's 8,000 votes/s would take 3.03 cores (on 2 cores it allows 250 µs a vote). The bound is a yardstick, not a forecast: as the cores fill, 202→commit latency grows in the run queue, which keeps the sustainable rate found below it, while a vote costs less at higher rates (larger batches and transactions, fuller intake micro-batches), which can lift that rate above it (docs/bench.md).
}
