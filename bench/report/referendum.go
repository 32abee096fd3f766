package report

import (
	"fmt"
	"strings"
)

// PhaseStart is how a phase began: the wait for the ledger side to catch
// up with the phases before it (the explorer indexing every block, the
// batcher emptying the vote queues), and who held the cores in the phase.
type PhaseStart struct {
	WaitS    float64 `json:"wait_s"`
	CaughtUp bool    `json:"caught_up"` // false: the wait hit its bound (or could not tell), Note says which
	LimitS   float64 `json:"limit_s"`
	Behind   uint64  `json:"explorer_blocks_behind"` // at the start of the wait
	Queued   int64   `json:"queued"`                 // votes queued at the start of the wait
	Note     string  `json:"note,omitempty"`
	// Busy is the machine's busy cores in the phase (every process), Parts
	// this run's processes by component, in cores.
	Busy  float64     `json:"machine_busy_cores"`
	Parts []PartCores `json:"parts"`
}

// PartCores is a component's CPU in a phase.
type PartCores struct {
	Part  string  `json:"part"`
	Cores float64 `json:"cores"`
}

// began says how the phase named what began: after the ledger side caught
// up (how long it took, from how far behind), or after the wait's bound.
func (s PhaseStart) began(what string) string {
	if s.CaughtUp {
		return fmt.Sprintf("%s began once the ledger side had caught up with the phases before it: the wait took %.1f s (bound %.0f s), from the explorer %s blocks behind the channel and %s votes queued for the batcher",
			what, s.WaitS, s.LimitS, num(float64(s.Behind)), num(float64(s.Queued)))
	}
	return fmt.Sprintf("%s began after waiting %.1f s (the bound) for the ledger side to catch up, which it had not: %s", what, s.WaitS, s.Note)
}

// referendumMarkdown says how the referendum began and who held the cores.
func (r *Report) referendumMarkdown(b *strings.Builder) {
	s := r.ReferendumStart
	if s.LimitS == 0 {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	if s.CaughtUp {
		p("%s, so its 202→commit measures the referendum and not a backlog. ", s.began("The referendum"))
	} else {
		p("%s. Its 202→commit includes that backlog. ", s.began("The referendum"))
	}
	var parts []string
	var ours float64
	for _, c := range s.Parts {
		parts = append(parts, fmt.Sprintf("%s %.2f", c.Part, c.Cores))
		ours += c.Cores
	}
	p("In the phase the machine held %.2f cores busy: %s, other users %.2f.\n\n", s.Busy, strings.Join(parts, ", "), max(s.Busy-ours, 0))
}

// sweepOnlyMarkdown is the report of `benchrun --only sweep`: the ledger
// side's sweep and fresh ceiling, then the referendum.
func (r *Report) sweepOnlyMarkdown(b *strings.Builder) {
	r.ledgerMarkdown(b)
	c := r.Referendum
	fmt.Fprintf(b, "## Referendum\n\n%s votes/s offered for %.0f s: %s accepted/s (202 p95 %.1f ms), %s committed/s in %.1f batches/s of %.0f votes; 202→commit p50 %.0f ms, p95 %.0f ms.\n\n",
		num(c.Phase.Offered), c.WindowS, num(c.Phase.AcceptedPerS), c.Phase.AcceptLatency.P95ms, num(c.CommittedPerS), c.BatchesPerS, c.VotesPerBatch, c.CommitLatency.P50ms, c.CommitLatency.P95ms)
	r.referendumMarkdown(b)
	r.stagesMarkdown(b)
}
