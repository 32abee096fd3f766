package report

import (
	"fmt"
	"strings"
)

// Warmup is the drive an extra network got before its first measured
// drive: slices at the same setting, their votes in no figure, until the
// page faults of its ledger processes took less than MaxShare of their CPU
// in a slice, or LimitS passed. A fresh network's first drive spends a
// large share of that CPU on pages its processes take for the first time
// (a minor fault costs tens of µs on a VM whose host takes freed memory
// back), which the run's network, driven for minutes by then, no longer
// pays: without it an extra network's ceiling compares a cold ledger with a
// warm one.
type Warmup struct {
	LimitS   float64 `json:"limit_s"`
	MaxShare float64 `json:"max_page_fault_cpu_share"`
	// DurationS is from the first slice's start to the last one's end.
	DurationS float64       `json:"duration_s"`
	Slices    []WarmupSlice `json:"slices"`
	Stopped   string        `json:"stopped"` // why it ended
}

// WarmupSlice is one slice of a warm-up: its ledger drive's wall time,
// votes committed and counted, and its ledger processes' page faults.
type WarmupSlice struct {
	DurationS float64 `json:"duration_s"`
	Votes     int     `json:"votes"`
	Counted   int     `json:"counted"`
	Faults
}

// Votes is the votes the warm-up committed, all slices.
func (w Warmup) Votes() int {
	n := 0
	for _, s := range w.Slices {
		n += s.Votes
	}
	return n
}

// text is the warm-up of the network whose first measured drive is c, for
// a sentence of the ledger section.
func (w Warmup) text(c Ceiling) string {
	faults := make([]string, len(w.Slices))
	for i, s := range w.Slices {
		faults[i] = s.FaultsText()
	}
	slices := fmt.Sprintf("%d slices", len(w.Slices))
	if len(w.Slices) == 1 {
		slices = "1 slice"
	}
	return fmt.Sprintf("%.0f s in %s, %s votes (page faults per 1,000 votes, share of the ledger CPU: %s; the measured drive %s), ended as %s",
		w.DurationS, slices, num(float64(w.Votes())), strings.Join(faults, ", "), c.FaultsText(), w.Stopped)
}

// warmupMarkdown says how each extra network was warmed up before its
// first measured drive; nothing if none was.
func (r *Report) warmupMarkdown(b *strings.Builder) {
	l := r.Ledger14
	type first struct {
		name string
		c    *Ceiling
	}
	var firsts []first
	if l.Other != nil {
		firsts = append(firsts, first{"other consensus (" + l.Other.Consensus + ")", l.Other})
	}
	if el := l.Eligibility; el != nil {
		firsts = append(firsts, first{"roll sealed", &el.Sealed}, first{"no roll", &el.Unsealed})
	}
	if l.ContestsFirst != nil {
		firsts = append(firsts, first{"contests", l.ContestsFirst})
	}
	var parts []string
	var rule *Warmup
	for _, f := range firsts {
		if w := f.c.Warmup; w != nil {
			parts = append(parts, fmt.Sprintf("%s: %s", f.name, w.text(*f.c)))
			rule = w
		}
	}
	if rule == nil {
		return
	}
	fmt.Fprintf(b, "\n\nWarm-up of the extra networks: before its first measured drive each was driven at the same setting in slices (their votes in no figure) until its ledger processes' page faults took under %.0f%% of their CPU in a slice, or %.0f s passed. %s.",
		rule.MaxShare*100, rule.LimitS, strings.Join(parts, "; "))
}
