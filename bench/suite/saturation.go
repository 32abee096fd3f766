package suite

import (
	"fmt"
	"sort"
	"strings"

	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/bench/report"
)

// saturation says, per phase and per ramp step, who held the cores.
func (r *run) saturation() {
	cpus := float64(r.rep.Machine.CPUs)
	r.rep.Saturation = shares(r.book, cpus)
	if r.steps != nil {
		r.rep.RampCPU = shares(r.steps, cpus)
	}
	r.rep.Pace21.Budget = paceBudgetFor(r.rep)
	r.rep.Why = r.why()
}

// shares is who held the cores in each of book's phases, grouped by role:
// the intake, the ledger side, the load generator, the monitoring and,
// from the machine's busy time, everything else.
func shares(b *measure.CPUBook, cpus float64) []report.Saturation {
	var out []report.Saturation
	for _, ph := range b.Phases() {
		cores := map[string]float64{}
		for _, name := range b.Names() {
			cores[name] = b.Cores(ph, name)
		}
		out = append(out, share(ph, b.MachineBusy(ph)*cpus, cores))
	}
	return out
}

// share groups one phase's cores per process (name -> cores) by role;
// machine is the machine's busy cores in it.
func share(phase string, machine float64, cores map[string]float64) report.Saturation {
	s := report.Saturation{Phase: phase, Machine: machine}
	type nc struct {
		name  string
		cores float64
	}
	var all []nc
	for name, c := range cores {
		all = append(all, nc{name, c})
		switch role(name) {
		case "intake":
			s.Intake += c
		case "loadgen":
			s.LoadGen += c
		case "monitor":
			s.Monitor += c
		default:
			s.Ledger += c
		}
	}
	s.Others = max(s.Machine-s.Intake-s.Ledger-s.LoadGen-s.Monitor, 0)
	sort.Slice(all, func(i, j int) bool {
		if all[i].cores != all[j].cores {
			return all[i].cores > all[j].cores
		}
		return all[i].name < all[j].name
	})
	var top []string
	for _, x := range all[:min(3, len(all))] {
		top = append(top, fmt.Sprintf("%s %.2f", x.name, x.cores))
	}
	s.Top = strings.Join(top, ", ")
	return s
}

// why reads the saturation table for the missed targets.
func (r *run) why() string {
	find := func(ph string) report.Saturation {
		for _, s := range r.rep.Saturation {
			if s.Phase == ph {
				return s
			}
		}
		return report.Saturation{}
	}
	ramp, sus, drain := find("ramp"), find("sustained"), find("drain")
	b := r.book
	var busiest string
	var most float64
	for _, name := range b.Names() {
		for _, ph := range []string{"ramp", "fixed", "sustained", "surge"} {
			if c := b.Cores(ph, name); c > most {
				busiest, most = name, c
			}
		}
	}
	var w strings.Builder
	fmt.Fprintf(&w, "**Intake.** In the ramp the machine was %.0f%% busy: the ledger side held %.2f cores (committing the backlog while votes came in), the intake %.2f (gateway %.2f, Redis %.2f), the load generator %.2f and other users %.2f. ",
		ramp.Machine/float64(r.rep.Machine.CPUs)*100, ramp.Ledger, ramp.Intake, b.Cores("ramp", "gateway"), b.Cores("ramp", "redis"), ramp.LoadGen, ramp.Others)
	if most >= 0.9 {
		fmt.Fprintf(&w, "%s saturated a core (%.2f cores). ", busiest, most)
	} else {
		fmt.Fprintf(&w, "No process held a whole core (the busiest, %s, %.2f): the knee is where the machine's %s run out, not one process. Latency grows in the run queue: every process waits its turn for a core. ", busiest, most, r.rep.Machine.Cores())
	}
	fmt.Fprintf(&w, "Redis answers each dedup script call (EVALSHA, a micro-batch of votes) and fsyncs its AOF before replying (appendfsync always); see its command statistics below. ")
	fmt.Fprintf(&w, "\n\n**Commit.** With intake running (sustained) the ledger side held %.2f cores and the batcher committed %.0f votes/s; draining with no intake it held %.2f cores and committed %.0f votes/s",
		sus.Ledger, r.rep.Sustained.CommittedPerS, drain.Ledger, r.rep.Surge.DrainPerS)
	ceiling := r.rep.Ceiling.CountedPerS > 0 // not driven in an intake-only run
	if !ceiling {
		fmt.Fprintf(&w, " (the ledger ceiling was not driven in this run). ")
	} else {
		fmt.Fprintf(&w, "; the ledger ceiling, driven directly, was %.0f votes/s. ", r.rep.Ceiling.CountedPerS)
		fmt.Fprintf(&w, "The commit path's cost is in the peers and the chaincode: at the ceiling the ledger side held %.2f of the %s. ",
			find("ceiling").Ledger, r.rep.Machine.Cores())
	}
	if ref := r.rep.Referendum; ref.VotesPerBatch > 0 && ref.VotesPerBatch < float64(r.best.VotesPerTx)/2 {
		fmt.Fprintf(&w, "At the referendum rate the batcher cut %.1f batches/s of %.0f votes on average (each state's lane cuts at its batch timeout before a batch fills), against %d votes per transaction for the ceiling: per-transaction costs (endorsement by both orgs, ordering, validation) are paid on few votes, so the ledger falls behind even at %.0f votes/s and 202→commit grows; once a backlog forms the batches fill and the rate rises (%.0f votes per batch while sustained). ",
			ref.BatchesPerS, ref.VotesPerBatch, r.best.VotesPerTx, ref.Phase.Offered, r.rep.Sustained.VotesPerBatch)
	}
	switch d := r.rep.Pace21.DrainOverCeiling; {
	case !ceiling:
	case d < goalDrainOver:
		fmt.Fprintf(&w, "Draining with no intake, the batcher reached %.2f of the ceiling: the bare driver's batches (%d votes, %d in flight) use the ledger better than the batcher's lanes do. With intake running, intake and commit co-located on %s also compete for the same CPU: every core-second the gateway, Redis and load generator take is one the peers do not get. ",
			d, r.best.VotesPerTx, r.best.InFlight, r.rep.Machine.Cores())
	default:
		fmt.Fprintf(&w, "Draining, the batcher keeps the ledger as busy as the bare driver does (%.2f of the ceiling); what limits both is the cores the peers get. ", d)
	}
	var sum, worst float64
	var worstPhase string
	for _, s := range r.rep.Saturation {
		sum += s.Others
		if s.Others > worst {
			worst, worstPhase = s.Others, s.Phase
		}
	}
	if n := len(r.rep.Saturation); n > 0 {
		fmt.Fprintf(&w, "\n\n**Other users.** Processes that are not part of this benchmark held %.2f cores on average over the phases (%.2f during %s) of the %d: every absolute figure in this report is a lower bound on what the machine does alone, and comparisons within one phase (gateway vs bare handler, ceiling vs naive) are fairer than comparisons across phases.",
			sum/float64(n), worst, worstPhase, r.rep.Machine.CPUs)
	}
	return w.String()
}
