package report

import (
	"fmt"
	"slices"
	"strings"

	"github.com/votechain/votechain/bench/ledgerload"
)

// The sections of the open issues' measurements: the ledger side (14),
// intake cost and the duplicate storm (15), the batcher's pace (21).

func (r *Report) ledgerMarkdown(b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	l := r.Ledger14
	if len(l.Sweep) == 0 && l.Fresh.Drive.Txs == 0 {
		return
	}
	p("## Ledger side: ceilings, settings, growth, CPU per vote\n\n")
	p("CommitBatch driven directly with pre-built batches (no gateway, no Redis), on the run's network (%s). The votes are of voters on the sealed roll (kept apart from the intake's) who have not voted, each once, so the chaincode checks each against the roll and counts it; *counted/s* is what it counted, *rejected* what it refused and why.\n\n", l.Consensus)
	if len(l.Sweep) > 0 {
		r.sweepMarkdown(b)
	}
	p("| ceiling | consensus | votes on the ledger before | roll entries sealed | votes/tx | in flight | counted/s | rejected | ledger-side CPU | core-s per 1,000 votes | page faults per 1,000 votes (share of that CPU) |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	row := func(name string, c Ceiling) {
		if c.Drive.Txs == 0 && c.Drive.Errors == 0 {
			return
		}
		p("| %s | %s | %s | %s | %d | %d | **%s** | %s | %.2f cores | %.3f | %s |\n", name, c.Consensus, num(float64(c.AtVotes)), num(float64(c.RollEntries)), c.Drive.VotesPerTx, c.Drive.InFlight,
			num(c.Drive.CountedPerS), rejected(c.Drive), c.Cores, c.CPUPer1000, c.FaultsText())
	}
	row("fresh ledger", l.Fresh)
	row("after the intake phases (headline)", l.After)
	if len(l.OneContest.Contests) > 0 {
		if l.ContestsFirst != nil {
			row(fmt.Sprintf("votes over %d contests on a fresh ledger (extra network)", len(l.AllContests.Contests)), *l.ContestsFirst)
		}
		row("every vote in one contest ("+strings.Join(l.OneContest.Contests, ", ")+")", l.OneContest)
		row(fmt.Sprintf("votes over %d contests, in turn", len(l.AllContests.Contests)), l.AllContests)
	}
	row("grown ledger (after the fill)", l.Grown)
	if l.Other != nil {
		row("other consensus, fresh ledger", *l.Other)
	}
	if el := l.Eligibility; el != nil {
		row("roll sealed on a fresh ledger (eligibility checked)", el.Sealed)
		row("no roll on a fresh ledger (not checked)", el.Unsealed)
	}
	p("\n")
	if s := r.CeilingStart; s.LimitS > 0 {
		p("%s. ", s.began("The ceiling after the intake phases"))
	}
	if l.Fill.Txs > 0 {
		p("The fill committed %s votes in %.0f s (%s votes/s, %s counted/s; rejected: %s) with the same driver. ", num(float64(l.Fill.Votes)), l.Fill.DurationS, num(l.Fill.VotesPerS), num(l.Fill.CountedPerS), rejected(l.Fill))
	}
	if l.ContestsOverOne > 0 {
		p("With the votes spread over %d contests the ceiling is **%.2f × the one-contest ceiling**: the one-contest drive ran between two drives spreading the votes over all contests (same setting), and the ratio is their mean over it. On a machine shared with other work the rates follow the cores left to the ledger side; its CPU per 1,000 votes (%.3f core-s in one contest; %.3f and %.3f spread) is steadier. ",
			len(l.AllContests.Contests), l.ContestsOverOne, l.OneContest.CPUPer1000, l.ContestsBefore().CPUPer1000, l.AllContests.CPUPer1000)
	}
	if l.ContestsNote != "" {
		p("Contests: %s ", l.ContestsNote)
	}
	if l.GrownOverFresh > 0 {
		p("After the fill the ceiling is **%.2f × the fresh one**. ", l.GrownOverFresh)
	}
	if l.OtherNote != "" {
		p("Other consensus: %s", l.OtherNote)
	}
	if el := l.Eligibility; el != nil {
		p("\n\nEligibility on the ledger: two more fresh networks of the run's consensus, one after the other while the run's system stood idle, the votes on both cast by voters of the same roll of %s, each once on each network; on the first the roll is written and sealed, so the chaincode checks every vote against it, on the second nothing does. ", num(float64(el.Voters)))
		if el.Ratio > 0 {
			p("With the roll the ceiling is **%.2f × the one without** (%s / %s counted/s). ", el.Ratio, num(el.Sealed.Drive.CountedPerS), num(el.Unsealed.Drive.CountedPerS))
		}
		if el.Note != "" {
			p("%s", el.Note)
		}
	}
	r.warmupMarkdown(b)
	p("\n\nLedger-side CPU counts the peers, the chaincode servers, the orderers and the explorer (from /proc, over the drive). Compare ceilings with their *roll entries sealed*: a vote of a voter on a sealed roll reads a key that exists (its roll mark), at endorsement and again at validation on each peer, and the larger the roll the more of those reads miss the peers' caches and go to disk; a vote on a network without a roll reads a key that does not exist, which the LevelDB bloom filter answers without a disk read. The run's network carries the whole election's roll, the extra networks a smaller one or none.\n\n")
}

// rejected is how many of a drive's committed votes the chaincode refused,
// and why.
func rejected(d ledgerload.DriveResult) string {
	if d.Rejected == 0 {
		return "0"
	}
	why := make([]string, 0, len(d.Reasons))
	for reason, n := range d.Reasons {
		why = append(why, fmt.Sprintf("%s %s", num(float64(n)), reason))
	}
	slices.Sort(why)
	return fmt.Sprintf("%s of %s (%s)", num(float64(d.Rejected)), num(float64(d.AllVotes)), strings.Join(why, ", "))
}

func (r *Report) intakeMarkdown(b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	in := r.Intake15
	if len(in.Phases) == 0 && in.Storm.Phase.Sent == 0 {
		return
	}
	p("## Intake cost and the duplicate storm\n\n| phase | accepted (202) | gateway CPU per vote | Redis CPU per vote | together | of Redis's, AOF rewrite children |\n|---|---|---|---|---|---|\n")
	for _, v := range in.Phases {
		child := ""
		if v.RedisChildUS != nil {
			child = fmt.Sprintf("%.0f µs", *v.RedisChildUS)
		}
		p("| %s | %s | %.0f µs | %.0f µs | **%.0f µs** | %s |\n", v.Phase, num(float64(v.Accepted)), v.GatewayUS, v.RedisUS, v.TotalUS, child)
	}
	p("\nCPU of the gateway and redis-server processes over the phase, from /proc, per vote answered 202 in it (Redis's share includes the batcher's reads, acks and receipts meanwhile, and the CPU of its AOF rewrite children it reaped in the phase: the last column).\n\n")
	redisPersistenceMarkdown(b, in.Redis)
	if s := in.Storm; s.Phase.Sent > 0 {
		checks := fmt.Sprintf("the gateway's `%s` rose by **%.0f**", s.Metric, s.ExactChecks)
		if !s.MetricFound {
			checks = fmt.Sprintf("the gateway exposes no `%s`, so its ledger checks were not counted", s.Metric)
		}
		p("**Duplicate storm:** %s re-sends/s for %.0f s of %s voters whose votes are committed (%d of them had a first attempt answered 503 or not at all): %s sent, **%s × 409, %d × 503**, %d × 202, %d other answers or errors; 409 p99 %.1f ms; %s.\n\n",
			num(s.Phase.Offered), s.Phase.DurationS, num(float64(s.Voters)), s.Unsure, num(float64(s.Phase.Sent)), num(float64(s.Phase.Duplicates)), s.Phase.Overloaded,
			s.Phase.Accepted, s.Phase.Ineligible+s.Phase.OtherStatus+s.Phase.Errors, s.Phase.AnswerLatency.P99ms, checks)
	}
}

func (r *Report) paceMarkdown(b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	pc := r.Pace21
	if len(pc.Probes) == 0 {
		return
	}
	p("## Batcher pace: sustained rate and the sustainable rate\n\n")
	p("Each probe offers a rate for its window on a drained queue, then waits for the drain; it *holds* when intake accepts ≥ 95%% of the offered rate, the batcher commits ≥ 95%% of what was accepted in the window (the queue does not grow), and 202→commit p95 of the window's votes is under 2 s. The first probe is the sustained phase; the first search probe offers issue 21's goal when it lies between the rates that held and failed, the others bisect between them.\n\n")
	p("| probe | window | offered/s | accepted/s | committed/s | committed ÷ accepted | votes/batch | queued before → after | drain | 202→commit p50 | p95 | verdict |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, pr := range pc.Probes {
		p("| %s | %.0f s | %s | %s | %s | %.2f | %.0f | %s → %s | %.1f s | %.0f ms | %.0f ms | %s |\n", pr.Phase.Name, pr.WindowS, num(pr.Phase.Offered), num(pr.Phase.AcceptedPerS),
			num(pr.CommittedPerS), pr.CommittedOverAccepted, pr.VotesPerBatch, num(float64(pr.QueuedBefore)), num(float64(pr.QueuedAfter)), pr.DrainS,
			pr.CommitLatency.P50ms, pr.CommitLatency.P95ms, pr.Why)
	}
	if bu := pc.Budget; bu != nil {
		p("\n%s\n", bu.Markdown())
	}
	if r.Only != "" { // no search and no ceiling (--only intake)
		p("\n")
		return
	}
	p("\n**Sustainable rate: %s votes/s offered** (the highest that held; 0 if none did). Drain after the surge ÷ ledger ceiling: **%.2f**.\n\n", num(pc.Sustainable), pc.DrainOverCeiling)
}

func (r *Report) contestsMarkdown(b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	if len(r.Contests) == 0 {
		return
	}
	p("## Results per contest\n\nThe election's %d contests in ballot order. *202* and *counted* are the intake's votes (each voter votes in one contest, picked by a hash of the voter id): the vote ids answered 202 to a request in the contest, and those counted in it by this run's batcher batches, read back from the ledger by the loss check. *Ledger* is the ledger's own national count (GetResults), which includes the ledger drives' votes.\n\n", len(r.Contests))
	p("| contest | kind | title | 202 | counted | missing | ledger counted | ledger per choice |\n|---|---|---|---|---|---|---|---|\n")
	for _, c := range r.Contests {
		choices := make([]string, len(c.Choices))
		for i, ch := range c.Choices {
			choices[i] = fmt.Sprintf("%s %s", ch, num(float64(c.Ledger[ch])))
		}
		p("| %s | %s | %s | %s | %s | %d | %s | %s |\n", c.ID, c.Kind, c.Title, num(float64(c.Accepted)), num(float64(c.Counted)), c.Missing,
			num(float64(c.LedgerCounted)), strings.Join(choices, ", "))
	}
	if r.Loss.OtherContest > 0 {
		p("\n**%d votes were counted in another contest than the one their request named.**\n", r.Loss.OtherContest)
	}
	p("\n")
}

// sweepMarkdown is the sweep's table and how it chose the setting.
func (r *Report) sweepMarkdown(b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	l := r.Ledger14
	c := l.Choice
	if c != nil && len(c.Trials) != len(l.Sweep) {
		c = nil // not the same drives: show the rates only
	}
	p("**Sweep on a fresh ledger** (%.0f s per setting; the choice below sets the ceilings):\n\n| votes/tx | in flight | tx/s | counted/s | rejected | commit p50 | p99 | errors |", l.Sweep[0].DurationS)
	if c != nil {
		p(" peers, chaincode, orderers: core-s per 1,000 votes | their page faults per 1,000 votes (share of that CPU) | drive |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	} else {
		p("\n|---|---|---|---|---|---|---|---|\n")
	}
	for i, s := range l.Sweep {
		p("| %d | %d | %.1f | %s | %s | %.0f ms | %.0f ms | %d |", s.VotesPerTx, s.InFlight, s.TxPerS, num(s.CountedPerS), rejected(s), s.Latency.P50ms, s.Latency.P99ms, s.Errors)
		if c != nil {
			what := "sweep"
			if c.Trials[i].Confirm {
				what = "confirmation"
			}
			p(" %.3f | %s | %s |", c.Trials[i].CPUPer1000, c.Trials[i].FaultsText(), what)
		}
		p("\n")
	}
	if c != nil {
		p("\n**Setting for the ceilings: %d votes/tx, %d in flight.** %s. ", c.Chosen.VotesPerTx, c.Chosen.InFlight, upper(c.Why()))
		p("A sweep drive holds only a few blocks of large transactions, so rates a few percent apart swap places from run to run; rates within %.0f%% of the fastest count as equal, and when the choice rests on such a tie the two settings that decide it are driven once more each (*confirmation*), pooled, and the choice is between those two. Among equals the least CPU per vote of the peers, chaincode servers and orderers wins: with the ledger side CPU-bound its rate is the cores it gets over that CPU, and the CPU does not depend on what else the machine runs (the explorer is left out: it indexes behind the drives, so its work on one setting lands in the next).\n\n", c.Noise*100)
	} else {
		p("\n")
	}
}

// upper capitalises s's first letter.
func upper(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
