package report

import (
	"fmt"
	"slices"
	"strings"

	"github.com/votechain/votechain/bench/measure"
)

// stagesMarkdown is where the time went in the batchers in the referendum
// and each pace probe (nothing when no phase has it): a column a phase, a
// row a stage.
func (r *Report) stagesMarkdown(b *strings.Builder) {
	var cols []stagesColumn
	if s := r.Referendum.Stages; s != nil {
		cols = append(cols, stagesColumn{r.Referendum.Phase.Name, s})
	}
	for _, pr := range r.Pace21.Probes {
		if pr.Stages != nil {
			cols = append(cols, stagesColumn{pr.Phase.Name, pr.Stages})
		}
	}
	if len(cols) == 0 {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	row := func(head string, cell func(*measure.BatcherStages) string) {
		p("| %s |", head)
		for _, c := range cols {
			p(" %s |", cell(c.s))
		}
		p("\n")
	}
	p("## Where the time goes in the batcher\n\n")
	p("From the batchers' own metrics: the increase of each histogram from the phase's start until its votes were drained (the same votes as its 202→commit), added up over the batchers. A cell is **p50 / p95 / mean** in ms; p50 and p95 are estimated from the histogram's buckets by linear interpolation within the bucket that holds the rank, as Prometheus's `histogram_quantile` does, so each is only as fine as its bucket (the bounds are 50 ms apart from 0.25 to 0.6 s and 250 ms apart from 1 to 2 s, wider elsewhere: batcher/metrics.go); the mean is exact (sum ÷ count). *queue* and *buffer* are per vote, *endorse* per transaction submitted, the others per batch, so the stages do not add up to a vote's path: the *vote* row is that path as the batcher sees it, 202 to acknowledgement once committed, receipts written.\n\n")
	p("| stage (per) |")
	for _, c := range cols {
		p(" %s |", c.name)
	}
	p("\n|---|")
	for range cols {
		p("---|")
	}
	p("\n")
	for _, name := range stageNames(cols) {
		per := ""
		for _, c := range cols {
			if st, ok := c.s.Stage(name); ok && st.Per != "" {
				per = " (" + st.Per + ")"
				break
			}
		}
		row(name+per, func(s *measure.BatcherStages) string {
			st, _ := s.Stage(name)
			return stageCell(st)
		})
	}
	row("**vote: 202 → acknowledged**", func(s *measure.BatcherStages) string { return "**" + stageCell(s.Vote) + "**" })
	row("votes committed, batches", func(s *measure.BatcherStages) string {
		return fmt.Sprintf("%s in %s", num(s.Votes), num(s.Batches))
	})
	row("transactions submitted (batches each)", func(s *measure.BatcherStages) string {
		return fmt.Sprintf("%s (%.2f)", num(s.Transactions), s.BatchesPerTx)
	})
	row("**votes per transaction**", func(s *measure.BatcherStages) string { return fmt.Sprintf("**%s**", num(s.VotesPerTx)) })
	row("retries", func(s *measure.BatcherStages) string { return num(s.Retries) })
	row("span, batchers", func(s *measure.BatcherStages) string { return fmt.Sprintf("%.0f s, %d", s.SpanS, s.Batchers) })
	p("\n*Votes per transaction* is the votes in the batches committed (`batcher_batch_votes`' sum) over the transactions submitted (`batcher_tx_batches`' count, one per submission, so a transaction resubmitted after a retry counts again); *span* runs from the phase's start to the end of its drain. A dash: no observation.\n\n")
}

// stagesColumn is a phase's column of the stages table.
type stagesColumn struct {
	name string
	s    *measure.BatcherStages
}

// stageNames is every column's stages, each once, in the order they first
// appear.
func stageNames(cols []stagesColumn) []string {
	var names []string
	for _, c := range cols {
		for _, st := range c.s.Stages {
			if !slices.Contains(names, st.Stage) {
				names = append(names, st.Stage)
			}
		}
	}
	return names
}

// stageCell is one stage's p50 / p95 / mean in milliseconds, or a dash
// without observations.
func stageCell(st measure.StageTime) string {
	if st.Count <= 0 {
		return "—"
	}
	return fmt.Sprintf("%s / %s / %s", ms(st.P50ms), ms(st.P95ms), ms(st.MeanMs))
}

// ms is a duration in milliseconds: whole above 10, one decimal below.
func ms(x float64) string {
	if x >= 10 {
		return num(x)
	}
	return fmt.Sprintf("%.1f", x)
}
