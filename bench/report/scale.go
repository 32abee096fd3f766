package report

import (
	"fmt"
	"strings"
)

func (r *Report) scalingMarkdown(b *strings.Builder) {
	s := r.Scale
	c, g, pl := s.Cluster, s.Goals, s.Plan
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## Scaling out\n\n")
	if s.Predated {
		p("This report predates the scale-out phase: its report.json's `scaling_out` holds the plan derived then from the single stack's CPU (`costs`, `goals`, `plan`), a format this benchrun no longer renders.\n\n")
		return
	}
	if !c.Ran() {
		why := c.Error
		if why == "" {
			why = "it was not run"
		}
		p("**The scale-out phase did not complete: %s.** No cluster costs were measured, so this run makes no scale-out plan.\n\n", why)
		return
	}
	ph := c.Phase
	where := "on an extra stack on its own ports while the run's system stood idle"
	if r.Only != "" {
		where = "on a stack of its own, alone"
	}
	p("Measured on the cluster shape (%s), brought up %s: %s votes/s offered through HAProxy for %.0f s (%s answered 202, 202 p99 %.0f ms, %d × 503, %d errors), then drained in %.0f s%s. "+
		"Each process's CPU comes from /proc over the offer and the drain (%.0f s) and is divided by the votes accepted (%s; %s committed). The machine was %.0f%% busy over that time, other users included: absolute rates on it are low, the cost per vote is what carries to other machines.\n\n",
		c.Shape, where, num(ph.Offered), ph.DurationS, num(float64(c.Accepted)), ph.AcceptLatency.P99ms, ph.Overloaded, ph.Errors+ph.OtherStatus,
		c.DrainS, map[bool]string{true: "", false: " (the drain did not finish in its limit)"}[c.Drained], c.WallS, num(float64(c.Accepted)), num(float64(c.Committed)), c.MachineBusy*100)
	if ph.Sent > 0 && float64(ph.Overloaded) > 0.05*float64(ph.Sent) {
		p("%.0f%% of the requests were answered 503 (a vote not confirmed on its replica in time, or the intake's queue full): their work is in the CPU too, so the costs per accepted vote below are over-estimates by up to that share.\n\n", float64(ph.Overloaded)/float64(ph.Sent)*100)
	}
	p("| process | part | CPU s | cores in the offer | core-s per 1,000 votes | its own votes | core-s per 1,000 of its own | Redis used memory after (bytes per own vote added) |\n|---|---|---|---|---|---|---|---|\n")
	for _, pr := range c.Procs {
		own, ownCost := "all", "—"
		var whose []string
		if len(pr.States) > 0 {
			whose = append(whose, strings.Join(pr.States, " "))
		}
		if pr.Lanes > 0 {
			whose = append(whose, fmt.Sprintf("%d lanes, %.3f cores per lane in the offer", pr.Lanes, pr.OfferCores/float64(pr.Lanes)))
		}
		if pr.Votes > 0 || len(whose) > 0 {
			own = num(float64(pr.Votes))
			if len(whose) > 0 {
				own += " (" + strings.Join(whose, "; ") + ")"
			}
		}
		if pr.Votes > 0 {
			ownCost = fmt.Sprintf("%.3f", pr.OwnPer1000(c.Accepted))
		}
		mem := "—"
		if pr.MemAfter > 0 {
			mem = fmt.Sprintf("%.1f MB", float64(pr.MemAfter)/(1<<20))
			if n := pr.Votes; n > 0 {
				mem += fmt.Sprintf(" (%.0f)", float64(pr.MemAfter-pr.MemBefore)/float64(n))
			}
		}
		p("| %s | %s | %.2f | %.2f | %.3f | %s | %s | %s |\n", pr.Name, pr.Part, pr.CPUS, pr.OfferCores, pr.CPUS/float64(c.Accepted)*1000, own, ownCost, mem)
	}
	l := c.Loss
	p("\n**Loss check on the cluster:** %s vote ids answered 202 against the votes counted by the phase's %d batcher batches, read back from the ledger: missing %d, extra %d (%d requests unanswered), counted twice %d → **%s**.\n\n",
		num(float64(l.Accepted)), l.Batches, l.Missing, l.Extra, l.Unanswered, l.CountedTwice, map[bool]string{true: "exact", false: "FAILED"}[l.OK])

	p("### What %s votes/s takes\n\n", num(g.RatePerS))
	p("From the costs above, each part assumed linear in its units and each core used to %.0f%%; hosts have %d cores. A part's cost per vote is that of all its processes in the measured shape: every peer (one per organisation, %d here) and every orderer of a channel handles all of the channel's votes, so a channel of the same organisations costs the same per vote.\n\n",
		g.Headroom*100, g.HostCores, g.Orgs)
	p("| part | measured | core-s per 1,000 votes | one unit carries | for %s votes/s | cores | %d-core hosts | votes/s per added host |\n|---|---|---|---|---|---|---|---|\n", num(g.RatePerS), g.HostCores)
	for _, r := range pl.Rows {
		p("| %s | %d | %.3f | %s votes/s per %s | **%d** × %s | %.1f | %d | %s |\n", r.Part, r.Measured, r.Per1000, num(r.PerUnit), r.Unit, r.Need, unitNoun(r.Unit), r.Cores, r.Hosts, num(r.PerHost))
	}
	p("| **total** | | | | | %.1f | %d | |\n\n", pl.TotalCores, pl.TotalHosts)
	if pl.PerChannel > 0 {
		p("**Channels and lanes.** One channel commits %s votes/s (this run's ledger ceiling, on its single network), so %s votes/s take **%d channels** (groups of states, each with its %d peers and its orderers), and the batchers at least **%d lanes** (one per channel, and no more than a core's work per lane). More cores do not raise a channel's ceiling: beyond it only another channel adds commit rate.\n\n",
			num(pl.PerChannel), num(g.RatePerS), pl.Channels, g.Orgs, pl.Lanes)
	} else {
		p("**Channels and lanes.** The ledger ceiling of one channel was not measured in this run, so the channels %s votes/s take are not derived; the batchers need at least **%d lanes** (no more than a core's work per lane).\n\n", num(g.RatePerS), pl.Lanes)
	}
	if pl.BigState != "" {
		p("**The largest state.** %s cast %.1f%% of the votes: at %s votes/s that is %s votes/s on the one master its hash tag `{%s}` lives on", pl.BigState, pl.BigStateShare*100, num(g.RatePerS), num(pl.BigStateRate), pl.BigState)
		for _, r := range pl.Rows {
			if r.Part == PartMaster {
				if pl.BigStateRate > r.PerUnit {
					p(", %.2f× what one master carries (%s votes/s): a state that large must be split over several hash tags (partitions) before masters can share it", pl.BigStateRate/r.PerUnit, num(r.PerUnit))
				} else {
					p(", within one master's %s votes/s", num(r.PerUnit))
				}
			}
		}
		p(".\n\n")
	}
	p("**What runs out first.** On this machine (%d cores, everything co-located): **%s**", pl.MachineCores, pl.MachineFirst)
	if pl.MachineRate > 0 {
		p(" (all cores busy at %s votes/s, the largest share of them the %s processes' %.0f%%", num(pl.MachineRate), pl.TopPart, pl.TopShare*100)
		if pl.HotMasterRate > 0 {
			p("; the busiest master, %s, would fill its core at %s votes/s", pl.HotMaster, num(pl.HotMasterRate))
		}
		if pl.PerChannel > 0 {
			p("; the channel's ceiling is %s votes/s", num(pl.PerChannel))
		}
		p(")")
	}
	p(". Per added host: **%s** is the part that needs hosts first as the rate grows; the table's last column ranks the others.\n\n", pl.HostFirst)
}

// unitNoun is the counted noun of a unit ("master (one core…)" → "master").
func unitNoun(unit string) string {
	if i := strings.IndexByte(unit, ' '); i > 0 && !strings.HasSuffix(unit, "core") {
		return unit[:i]
	}
	return unit
}
