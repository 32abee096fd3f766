package report

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/votechain/votechain/bench/loadgen"
	"github.com/votechain/votechain/bench/measure"
)

// Num formats a number with thousands separators and no decimals.
func Num(x float64) string { return num(x) }

// num formats a number with thousands separators and no decimals.
func num(x float64) string {
	neg := x < 0
	if neg {
		x = -x
	}
	s := fmt.Sprintf("%.0f", x)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Margin describes measured against goal: "met" with the surplus, or
// "missed by N%". Higher is better unless lowerBetter.
func Margin(measured, goal float64, lowerBetter bool) (bool, string) {
	if goal == 0 {
		return false, "no goal"
	}
	met := measured >= goal
	if lowerBetter {
		met = measured <= goal
	}
	ratio := measured / goal
	switch {
	case met && lowerBetter:
		return true, fmt.Sprintf("met (%.0f%% of the limit)", ratio*100)
	case met:
		return true, fmt.Sprintf("met (%.2f× the goal)", ratio)
	case lowerBetter:
		return false, fmt.Sprintf("missed: %.1f× the limit", ratio)
	default:
		return false, fmt.Sprintf("missed by %.0f%% (%.2f× the goal)", (1-ratio)*100, ratio)
	}
}

// Markdown renders the report.
func (r *Report) Markdown() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	m := r.Machine
	p("# Votechain benchmark — %s, %s (%s)\n\n", r.Date.UTC().Format("2006-01-02 15:04 MST"), m.Host, m.Cores())
	if r.OOMKills > 0 {
		p("**The kernel's OOM killer killed %d process(es) during this run for want of memory** (`dmesg` names them): a figure measured after a kill may be void, and a killed process is missing from the phases after it.\n\n", r.OOMKills)
	}
	if r.Only != "" {
		p("`benchrun --only %s` on %s: %d × %s, Linux %s, %s: only that phase ran. Run took %.0f s; load average %s at the start and %s at the end.\n\n",
			r.Only, m.Host, m.CPUs, m.CPUModel, m.Kernel, m.GoVersion, r.DurationS, m.LoadStart, m.LoadEnd)
		r.yardstickMarkdown(&b)
		r.environmentMarkdown(&b)
		switch r.Only {
		case "sweep":
			r.sweepOnlyMarkdown(&b)
		case "intake":
			r.intakeOnlyMarkdown(&b)
		case "ab":
			if r.AB != nil {
				r.abMarkdown(&b)
				r.commitPathMarkdown(&b)
			}
		default:
			r.scalingMarkdown(&b)
		}
		r.notesMarkdown(&b)
		return b.String()
	}
	p("`make bench` on %s: %d × %s, %.0f GB RAM, Linux %s%s, %s. Everything co-located: %s, Redis, the gateway and the load generator share the %s. Run took %.0f s. "+
		"Load average %s at the start and %s at the end; work of other users of the machine shows as *machine busy* beyond this run's processes below.\n\n",
		m.Host, m.CPUs, m.CPUModel, m.MemoryGB, m.Kernel, hugePagesWords(m.HugePages), m.GoVersion, r.topology(), m.Cores(), r.DurationS, m.LoadStart, m.LoadEnd)
	r.yardstickMarkdown(&b)
	r.environmentMarkdown(&b)
	p("![accepted and committed votes per second, and accept latency, over time](report.svg)\n\n")

	p("## Targets\n\nGoals as the issues state them for the machine they were measured on; every figure here is of this run on the machine above, and ratios within one run (ceiling ÷ naive, drain ÷ ceiling, gateway ÷ bare handler) carry across machines better than absolute rates.\n\n| issue | target | goal | measured | verdict |\n|---|---|---|---|---|\n")
	for _, t := range r.Targets {
		issue := "—"
		if t.Issue != "" {
			issue = "#" + t.Issue
		}
		p("| %s | %s | %s | %s | %s |\n", issue, t.Name, t.Goal, t.Measured, t.Margin)
	}
	p("\n## Headline\n\n")
	if r.KneeIndex >= 0 && r.KneeIndex < len(r.Ramp) {
		k := r.Ramp[r.KneeIndex]
		p("- **Accepted at the knee: %s votes/s** (offered %s/s; 202 p99 %.1f ms).\n", num(k.AcceptedPerS), num(k.Offered), k.AcceptLatency.P99ms)
	} else {
		p("- Accepted at the knee: no ramp step was served in full.\n")
	}
	p("- **Committed, sustained %.0f s: %s votes/s** end to end (batcher, with intake running).\n", r.Sustained.WindowS, num(r.Sustained.CommittedPerS))
	p("- **Ledger ceiling: %s votes/s** (%d votes/tx, %d in flight); **naive baseline: %s votes/s** (1 vote/tx, %d in flight).\n",
		num(r.Ceiling.CountedPerS), r.Ceiling.VotesPerTx, r.Ceiling.InFlight, num(r.Naive.CountedPerS), r.Naive.InFlight)
	if l := r.Ledger14; l.ContestsOverOne > 0 {
		p("- Ledger ceiling with the votes over %d contests: %s and %s votes/s before and after the ceiling with every vote in one contest (%s votes/s), their mean **%.2f × the one-contest ceiling**.\n",
			len(l.AllContests.Contests), num(l.ContestsBefore().Drive.CountedPerS), num(l.AllContests.Drive.CountedPerS), num(l.OneContest.Drive.CountedPerS), l.ContestsOverOne)
	}
	p("- **Votechain ÷ ceiling = %.2f; Votechain ÷ naive = %.1f×.**", r.VsCeiling, r.VsNaive)
	if r.Ceiling.CountedPerS > 0 && r.Surge.DrainPerS > 0 {
		p(" (While draining after the surge, with no intake competing for the cores, the batcher committed %s votes/s = %.2f × the ceiling",
			num(r.Surge.DrainPerS), r.Surge.DrainPerS/r.Ceiling.CountedPerS)
		if d := r.Surge.During; d.WindowS > 0 {
			p("; during the surge, %s votes/s", num(d.CommittedPerS))
		}
		p(".)")
	}
	p("\n")
	p("- **Surge drain: %.1f s** for %s queued votes after a %.0f s burst offered at %s/s (%s votes/s drained).\n",
		r.Surge.DrainS, num(float64(r.Surge.QueuedAtEnd)), r.Surge.Phase.DurationS, num(r.Surge.Phase.Offered), num(r.Surge.DrainPerS))
	p("- Results GET: %s QPS vs %s QPS for a bare handler serving the same %d bytes (ratio %.2f of the median runs; best runs %s vs %s, ratio %.2f).\n",
		num(r.Reads.GatewayQPS), num(r.Reads.BareQPS), r.Reads.BodyBytes, r.Reads.Ratio, num(r.Reads.GatewayBestQPS), num(r.Reads.BareBestQPS), r.Reads.BestRatio)
	verdict := "PASSED"
	if !r.Loss.OK {
		verdict = "FAILED"
	}
	p("- Loss check %s: %s votes answered 202, %s counted on the ledger in %d batches; missing %d, extra %d, counted twice %d.\n\n",
		verdict, num(float64(r.Loss.Accepted)), num(float64(r.Loss.Counted)), r.Loss.Batches, r.Loss.Missing, r.Loss.Extra, r.Loss.CountedTwice)

	r.ledgerMarkdown(&b)
	r.paceMarkdown(&b)
	r.stagesMarkdown(&b)
	r.commitPathMarkdown(&b)
	r.intakeMarkdown(&b)
	r.intakePhasesMarkdown(&b)
	r.commitMarkdown(&b)
	r.referendumMarkdown(&b)
	p("202→commit is from the vote's cast time on the ledger (set by the gateway when it answers 202) to the arrival of its batch's BatchCommitted event at the benchmark; it includes the time queued behind earlier votes.\n\n")

	p("## Same network, same run: Votechain vs ledger ceiling vs naive\n\n| | votes/tx | in flight | tx/s | votes/s | commit p50 | p99 | errors |\n|---|---|---|---|---|---|---|---|\n")
	p("| Votechain (sustained, end to end) | batcher | | | %s | | | |\n", num(r.Sustained.CommittedPerS))
	p("| ledger ceiling: CommitBatch with pre-built batches, no gateway or Redis | %d | %d | %.1f | %s | %.0f ms | %.0f ms | %d |\n",
		r.Ceiling.VotesPerTx, r.Ceiling.InFlight, r.Ceiling.TxPerS, num(r.Ceiling.CountedPerS), r.Ceiling.Latency.P50ms, r.Ceiling.Latency.P99ms, r.Ceiling.Errors)
	p("| naive: one CommitBatch transaction per vote | %d | %d | %.1f | %s | %.0f ms | %.0f ms | %d |\n\n",
		r.Naive.VotesPerTx, r.Naive.InFlight, r.Naive.TxPerS, num(r.Naive.CountedPerS), r.Naive.Latency.P50ms, r.Naive.Latency.P99ms, r.Naive.Errors)
	p("The naive baseline is one Fabric transaction per vote through the same chaincode (CommitBatch with a one-vote batch), the same AND(Commission, Observers) endorsement policy and the same network; the ceiling drives the same function with %d-vote batches built before the clock starts. Both use batch numbers ≥ %s, apart from the batcher's.\n\n",
		r.Ceiling.VotesPerTx, num(1e9))

	p("## Results reads\n\n| server | run | workers | QPS | p99 |\n|---|---|---|---|---|\n")
	for i := range r.Reads.Gateway {
		g := r.Reads.Gateway[i]
		p("| gateway GET /api/v1/results | %d | %d | %s | %.2f ms |\n", i+1, g.Workers, num(g.QPS), g.P99ms)
		if i < len(r.Reads.Bare) {
			bb := r.Reads.Bare[i]
			p("| bare net/http, same bytes | %d | %d | %s | %.2f ms |\n", i+1, bb.Workers, num(bb.QPS), bb.P99ms)
		}
	}
	p("\nBoth servers are separate processes hammered by the same client (the load generator's HTTP/1.1 client, a persistent connection per worker) in closed loop; runs alternate so drifting machine load hits both alike; the verdict uses the median run of each.\n\n")

	r.cpuMarkdown(&b)
	r.saturationMarkdown(&b)
	p("## Memory and storage\n\nRedis `used_memory` %.1f MB at the end of the surge, with its votes queued. Per kind of key (MEMORY USAGE; claims sampled and scaled; the streams at the end of the surge, the rest once its votes were committed, so that reading every key does not slow the drain), divided by what it is per:\n\n| keys | keys | divided by | count | bytes each | MB per million |\n|---|---|---|---|---|---|\n", float64(r.Redis.UsedBytes)/(1<<20))
	for _, c := range r.Redis.Classes {
		p("| %s | %s | %s | %s | %.1f | %.1f |\n", c.Name, num(float64(c.Keys)), c.Per, num(float64(c.Items)), c.BytesPerItem, c.MBPerMillion)
	}
	p("\n**Redis per million voters ≈ %.0f MB** (#15's figure): what a million voters take once each has voted and the vote is committed — the Bloom filters' and the roll shards' bytes per voter on the roll in Redis (every voter loaded, whether or not they have voted: these keys are sized by the roll), plus a receipt per committed vote and an intake log entry per accepted vote (each divided by the receipts and entries there are). The stream entry and pending record of each vote while it waits for the ledger come on top, for the votes queued only.\n\n", r.RedisMBPerMillion)
	p("Ledger: ")
	names := make([]string, 0, len(r.Ledger.PeerBytes))
	for n := range r.Ledger.PeerBytes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p("%s %.1f MB; ", n, float64(r.Ledger.PeerBytes[n])/(1<<20))
	}
	p("%s votes on the channel (all runs, drivers included) → **%.0f bytes of ledger per vote** per peer.\n\n", num(float64(r.Ledger.Votes)), r.Ledger.BytesPerVote)

	r.lossMarkdown(&b)
	r.contestsMarkdown(&b)
	if len(r.Profiles) > 0 {
		p("## Profiles\n\n")
		for _, pr := range r.Profiles {
			p("### %s\n\n%s (`%s`).\n\n```\n%s\n```\n\n", pr.Process, pr.How, pr.File, strings.TrimSpace(pr.Top))
		}
	}
	r.scalingMarkdown(&b)
	r.notesMarkdown(&b)
	return b.String()
}

// intakePhasesMarkdown is the intake's section: the roll, the ramp and the
// constant-rate phases.
func (r *Report) intakePhasesMarkdown(b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## Intake (gateway over HTTP, open loop)\n\n")
	p("Votes from a roll of %s synthetic voters, states weighted by population (%s); %.0f%% of attempts re-send a voter who already voted (409 expected), %.0f%% use a voter id not on the roll (403 expected).",
		num(float64(r.Settings.Voters)), weights(r.Settings.StateWeight), r.Settings.Duplicates*100, r.Settings.Ineligible*100)
	if n := len(r.Contests); n > 1 {
		p(" The election has %d contests; each voter votes in one of them (see the results per contest).", n)
	}
	p("\n\n")
	p("### Ramp (knee)\n\n")
	phaseTable(b, r.Ramp, r.KneeIndex)
	p("\nThe last two columns tell a stall of the measurer or the machine from one of the gateway: the load generator's own Go collections and the longest a runnable goroutine of it waited; the time some task on the machine waited for a core, for memory (in parentheses: every task at once) and for I/O (Linux's pressure stall information), the allocations that stalled to reclaim memory, and the CPU time the hypervisor gave to other guests while this machine's virtual CPUs had work (steal, summed over the CPUs: every process on a stolen CPU stands still, whatever its priority).\n")
	p("\nA step is *served* when answers (202/409/403) reach 95%% of the offered rate, 503s and errors stay under 1%%, and p99 stays under 1 s; the knee is the last served step.\n\n")
	r.rampCPUMarkdown(b)
	p("### Fixed offered rates, sustained and surge\n\n")
	var all []loadgen.Phase
	for _, ph := range append(append([]loadgen.Phase{r.Referendum.Phase}, r.Fixed...), r.Sustained.Phase, r.Surge.Phase) {
		if ph.Name != "" { // a phase the run had (--only runs some)
			all = append(all, ph)
		}
	}
	phaseTable(b, all, -1)
	r.intakeWritesMarkdown(b, all)
	for _, ph := range append(r.Ramp, all...) {
		if len(ph.ErrorSamples) > 0 {
			p("\n- %s, client-side errors (%d): %s", ph.Name, ph.Errors+ph.OtherStatus, strings.Join(ph.ErrorSamples, "; "))
		}
	}
	p("\n\n*sent/s* below *offered/s* means the load generator could not start requests that fast (it is bounded to %d requests in flight and shares the cores); *accepted/s* and *answered/s* count the answers that arrived by the phase's end plus 1 s, per second of the phase, so a gateway that falls behind is not credited with what it answers later. *202 in the gateway* is the gateway's own time for the phase's 202s, from its handler's start to the answer written, Redis's call included (its api_request_duration_seconds for POST /api/v1/vote, read before and after the phase; estimates only as fine as the histogram's buckets, which double from 0.5 ms): the rest of a 202's latency is spent before the handler (the request in the gateway's socket, its goroutine waiting to run) and on the answer's way back.\n", r.Settings.Workers)
}

// rampCPUMarkdown is who held the cores in each step of the ramp (none in
// reports from before it was recorded).
func (r *Report) rampCPUMarkdown(b *strings.Builder) {
	if len(r.RampCPU) == 0 {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("**CPU per ramp step** (cores of %d, over each step and its answers' grace): the intake (gateway + Redis), the ledger side (peers, chaincode, orderers, batcher, explorer, committing the backlog at their priority), the load generator, the monitoring and everything else on the machine.\n\n", r.Machine.CPUs)
	saturationTable(b, "step", r.RampCPU)
	p("\n")
}

// saturationTable is rows as a table whose first column is named first.
func saturationTable(b *strings.Builder, first string, rows []Saturation) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("| %s | machine | intake | ledger side | load generator | monitoring | others | busiest processes |\n|---|---|---|---|---|---|---|---|\n", first)
	for _, s := range rows {
		p("| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %s |\n", s.Phase, s.Machine, s.Intake, s.Ledger, s.LoadGen, s.Monitor, s.Others, s.Top)
	}
}

// commitMarkdown is the batcher's commit table and the ledger side's CPU
// priority.
func (r *Report) commitMarkdown(b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("\n## Commit (batcher onto the ledger)\n\n| phase | window | offered | accepted/s | committed/s | batches/s | votes/batch | 202→commit p50 | p95 |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range []Commit{r.Referendum, r.Sustained} {
		if c.Phase.Name == "" {
			continue // not run (--only)
		}
		p("| %s | %.0f s | %s/s | %s | %s | %.1f | %.0f | %.0f ms | %.0f ms |\n", c.Phase.Name, c.WindowS, num(c.Phase.Offered), num(c.Phase.AcceptedPerS),
			num(c.CommittedPerS), c.BatchesPerS, c.VotesPerBatch, c.CommitLatency.P50ms, c.CommitLatency.P95ms)
	}
	s := r.Surge
	if d := s.During; d.WindowS > 0 {
		p("| %s (during) | %.0f s | %s/s | %s | %s | %.1f | %.0f | | |\n", s.Phase.Name, d.WindowS, num(s.Phase.Offered), num(s.Phase.AcceptedPerS),
			num(d.CommittedPerS), d.BatchesPerS, d.VotesPerBatch)
	}
	p("| %s + drain | %.0f s + %.1f s | %s/s | %s | %s (drain) | | | %.0f ms | %.0f ms |\n\n", s.Phase.Name, s.Phase.DurationS, s.DrainS,
		num(s.Phase.Offered), num(s.Phase.AcceptedPerS), num(s.DrainPerS), s.CommitLatency.P50ms, s.CommitLatency.P95ms)
	p("%s\n\n", r.Settings.priorityText())
}

// priorityText says at what CPU priority the ledger side ran.
func (s Settings) priorityText() string {
	const side = "The ledger side (orderers, peers, chaincode servers, batcher, explorer)"
	const rest = "so under a surge the gateway and Redis take the cores first and the batcher commits in the time left: compare committed/s during the intake phases with the drain, when no intake competes."
	switch prio := s.LedgerPriority; {
	case prio == "idle":
		return side + " runs under Linux's SCHED_IDLE policy (only on CPU time the intake leaves; a waking intake thread preempts it at once), " + rest
	case s.LedgerNice > 0:
		return fmt.Sprintf("%s runs at niceness +%d, %s", side, s.LedgerNice, rest)
	default:
		return "Every process runs at the same priority (the ledger side not lowered)."
	}
}

// cpuMarkdown is the CPU per process and phase: the run's system's, then
// each extra network's (extraCPUMarkdown).
func (r *Report) cpuMarkdown(b *strings.Builder) {
	fmt.Fprintf(b, "## CPU per process (cores; 1.00 = one core busy) and peak RSS\n\n")
	cpuTable(b, r.Phases, r.CPU, r.MachineBusy)
	fmt.Fprintf(b, "\nCPU from /proc/PID/stat between phase boundaries: utime+stime plus the children a process waited for (Redis's AOF-rewrite child counts as Redis once it ends); peak RSS is VmHWM from /proc/PID/status. *Machine busy* counts every process on the machine, so busy minus the rows above is other users' work (and any child still running, such as an AOF rewrite in progress).\n\n")
	r.extraCPUMarkdown(b)
	r.writesMarkdown(b)
}

// intakeWritesMarkdown says, under the table of the fixed rates, what
// Redis, the peers and the orderers wrote in each of those phases and what
// reached the disks: the writes a 202's fsync shared the disk with. Nothing
// in reports from before it was recorded.
func (r *Report) intakeWritesMarkdown(b *strings.Builder, phases []loadgen.Phase) {
	if len(r.DiskWriteMBps) == 0 {
		return
	}
	sum := func(ph string, match func(name string) bool) float64 {
		var mbps float64
		for _, c := range r.CPU {
			if match(c.Name) {
				mbps += c.WriteMBps[ph]
			}
		}
		return mbps
	}
	prefixed := func(prefix string) func(string) bool {
		return func(name string) bool { return strings.HasPrefix(name, prefix) }
	}
	var cells []string
	for _, ph := range phases {
		if _, booked := r.DiskWriteMBps[ph.Name]; !booked {
			continue
		}
		cells = append(cells, fmt.Sprintf("%s %.1f / %.1f / %.1f / %.1f", ph.Name, sum(ph.Name, func(n string) bool { return n == "redis" }),
			sum(ph.Name, prefixed("peer.")), sum(ph.Name, prefixed("orderer")), r.DiskWriteMBps[ph.Name]))
	}
	if len(cells) > 0 {
		fmt.Fprintf(b, "\nDisk writes in these phases, MB/s (Redis / peers / orderers / all of the disks): %s. Redis's fsyncs wait behind the ledger's writes on the shared disk (see *Disk writes per process*).\n", strings.Join(cells, "; "))
	}
}

// writesMarkdown is what each process of the run's system wrote to storage
// in each phase, and what reached the machine's disks; nothing in reports
// from before it was recorded.
func (r *Report) writesMarkdown(b *strings.Builder) {
	if len(r.DiskWriteMBps) == 0 {
		return
	}
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## Disk writes per process (MB/s)\n\n| process |")
	for _, ph := range r.Phases {
		p(" %s |", ph)
	}
	p("\n|---|")
	for range r.Phases {
		p("---|")
	}
	p("\n")
	quiet := 0
	for _, c := range r.CPU {
		if len(c.WriteMBps) == 0 {
			continue
		}
		if slices.IndexFunc(r.Phases, func(ph string) bool { return c.WriteMBps[ph] >= 0.05 }) < 0 {
			quiet++ // under 0.05 MB/s (0.0 in the table) in every phase
			continue
		}
		p("| %s |", c.Name)
		for _, ph := range r.Phases {
			if w, ok := c.WriteMBps[ph]; ok {
				p(" %.1f |", w)
			} else {
				p(" — |")
			}
		}
		p("\n")
	}
	p("| *disks (all processes, other users' too)* |")
	for _, ph := range r.Phases {
		p(" %.1f |", r.DiskWriteMBps[ph])
	}
	if quiet > 0 {
		p("\n\nThe %d other processes wrote under 0.05 MB/s in every phase.", quiet)
	}
	p("\n\nA process's writes are `write_bytes` of /proc/PID/io between phase boundaries: the file pages it dirtied, counted when dirtied (the kernel writes them back later, or at the process's fsync), plus its children's it waited for. *Disks* is what reached the machine's disks, from /proc/diskstats: every process's writes once written back, file system metadata, other users' work. Redis answers no vote before its AOF fsync, and an fsync shares the disk, and its cache flushes, with the ledger's writes: the peers' and orderers' writes in an intake phase are what its 202 tail waits behind (docs/bench.md).\n\n")
}

// cpuTable is a table of the processes' CPU in each phase, their peak RSS,
// and the machine's busy share in each phase.
func cpuTable(b *strings.Builder, phases []string, rows []measure.ProcessCPU, busy map[string]float64) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("| process |")
	for _, ph := range phases {
		p(" %s |", ph)
	}
	p(" peak RSS |\n|---|")
	for range phases {
		p("---|")
	}
	p("---|\n")
	for _, c := range rows {
		p("| %s |", c.Name)
		for _, ph := range phases {
			p(" %.2f |", c.Cores[ph])
		}
		p(" %.0f MB |\n", c.PeakRSSMB)
	}
	p("| *machine busy (all processes, %% of all cores)* |")
	for _, ph := range phases {
		p(" %.0f%% |", busy[ph]*100)
	}
	p(" |\n")
}

// saturationMarkdown is what held the cores in each phase.
func (r *Report) saturationMarkdown(b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	if len(r.Saturation) > 0 {
		p("## What saturated\n\nCores held per phase (of %d): the intake (gateway + Redis), the ledger side (peers, chaincode, orderers, batcher, explorer), the load generator, the monitoring (Prometheus and the Redis exporter), and everything else on the machine (other users).\n\n", r.Machine.CPUs)
		saturationTable(b, "phase", r.Saturation)
		p("\n%s\n\n", r.Why)
	}
}

// lossMarkdown is the loss check.
func (r *Report) lossMarkdown(b *strings.Builder) {
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	p("## Loss check\n\n")
	l := r.Loss
	verdict := "PASSED"
	if !l.OK {
		verdict = "FAILED"
	}
	p("Set of vote ids answered 202 (%s) against the votes counted by this run's %d batcher batches, read back from the ledger's copy of each transaction (%s counted, %d rejected by the chaincode as duplicates): missing %d, extra %d, counted twice %d, counted in another contest than their request named %d, repeated 202 ids %d, unreadable transactions %d → **%s**.\n\n",
		num(float64(l.Accepted)), l.Batches, num(float64(l.Counted)), l.Rejected, l.Missing, l.Extra, l.CountedTwice, l.OtherContest, l.RepeatedAnswers, l.Unreadable, verdict)
	p("*Extra* votes are counted votes whose 202 the client never received: %d requests timed out or lost their connection client-side, so the gateway may have stored them without the load generator learning their ids. The check passes with at most that many extra votes; a missing or twice-counted vote always fails it.\n", l.Unanswered)
	for _, e := range l.Examples {
		p("- %s\n", e)
	}
	p("\n")

}

// intakeOnlyMarkdown is the report of `benchrun --only intake`: the
// batcher's pace, the intake phases, the commit table, CPU and the loss
// check.
func (r *Report) intakeOnlyMarkdown(b *strings.Builder) {
	r.paceMarkdown(b)
	r.stagesMarkdown(b)
	r.commitPathMarkdown(b)
	r.intakePhasesMarkdown(b)
	r.intakeMarkdown(b)
	r.commitMarkdown(b)
	r.cpuMarkdown(b)
	r.saturationMarkdown(b)
	r.lossMarkdown(b)
}

func (r *Report) notesMarkdown(b *strings.Builder) {
	if len(r.Notes) > 0 {
		fmt.Fprintf(b, "## Notes\n\n")
		for _, n := range r.Notes {
			fmt.Fprintf(b, "- %s\n", n)
		}
	}
}

// topology names the ledger-side processes the run measured, counted from
// the CPU table: "3 orderers, 2 peers, 2 chaincode servers, 1 batcher,
// explorer".
func (r *Report) topology() string {
	var orderers, peers, cc, batchers, explorer int
	for _, c := range r.CPU {
		switch {
		case strings.HasPrefix(c.Name, "orderer"):
			orderers++
		case strings.HasPrefix(c.Name, "peer."):
			peers++
		case strings.HasPrefix(c.Name, "cc."):
			cc++
		case strings.HasPrefix(c.Name, "batcher"):
			batchers++
		case c.Name == "explorer":
			explorer++
		}
	}
	plural := func(n int, one, many string) string {
		if n == 1 {
			return "1 " + one
		}
		return fmt.Sprintf("%d %s", n, many)
	}
	parts := []string{plural(orderers, "orderer", "orderers"), plural(peers, "peer", "peers"),
		plural(cc, "chaincode server", "chaincode servers"), plural(batchers, "batcher", "batchers")}
	if explorer > 0 {
		parts = append(parts, "the explorer")
	}
	return strings.Join(parts, ", ")
}

func weights(w map[string]float64) string {
	type kv struct {
		k string
		v float64
	}
	var list []kv
	for k, v := range w {
		list = append(list, kv{k, v})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].v > list[j].v })
	var parts []string
	for _, e := range list {
		parts = append(parts, fmt.Sprintf("%s %.1f%%", e.k, e.v*100))
	}
	return strings.Join(parts, ", ")
}

func phaseTable(b *strings.Builder, phases []loadgen.Phase, knee int) {
	fmt.Fprintf(b, "| phase | offered/s | sent/s | accepted/s | answered/s | 202 p50 | p95 | p99 | max | 202 in the gateway: p50 / p99 | 409 | 403 | 503 | errors | load generator: GC cycles, longest wait; 202s read late p99 / max | machine stalls: CPU / memory (full) / I/O, direct reclaims; hypervisor steal |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for i, ph := range phases {
		name := ph.Name
		if i == knee {
			name = "**" + name + " (knee)**"
		}
		st := ph.Stalls
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %.1f ms | %.1f ms | %.1f ms | %.0f ms | %s | %d | %d | %d | %d | %d, %.0f ms; %.1f / %.0f ms | %.0f / %.0f (%.0f) / %.0f ms, %d; %.0f ms |\n", name, num(ph.Offered), num(ph.SentPerS),
			num(ph.AcceptedPerS), num(ph.AnsweredPerS), ph.AcceptLatency.P50ms, ph.AcceptLatency.P95ms, ph.AcceptLatency.P99ms, ph.AcceptLatency.MaxMs, inGateway(ph.InGateway),
			ph.Duplicates, ph.Ineligible, ph.Overloaded, ph.Errors+ph.OtherStatus, ph.Self.GCCycles, ph.Self.MaxSchedWaitMs, ph.ReadLag.P99ms, ph.ReadLag.MaxMs,
			st.CPUSomeMs, st.MemSomeMs, st.MemFullMs, st.IOSomeMs, st.DirectReclaims, st.StealMs)
	}
}

// inGateway is a phase's table cell for the gateway's own time for its
// 202s: "—" when not measured (the ramp's steps).
func inGateway(e *measure.Estimate) string {
	if e == nil {
		return "—"
	}
	return fmt.Sprintf("%.1f / %.1f ms", e.P50ms, e.P99ms)
}

// hugePagesWords names the kernel's transparent huge page mode after the
// kernel's version ("" if not known).
func hugePagesWords(mode string) string {
	if mode == "" {
		return ""
	}
	return " (transparent huge pages: " + mode + ")"
}

// yardstickMarkdown says what the machine's yardstick gave at the run's start
// and end (nothing if it was not measured).
func (r *Report) yardstickMarkdown(b *strings.Builder) {
	m := r.Machine
	if m.YardstickStart == nil && m.YardstickEnd == nil {
		return
	}
	var parts []string
	for _, y := range []struct {
		when string
		y    *measure.Yardstick
	}{{"before the run", m.YardstickStart}, {"after it", m.YardstickEnd}} {
		if y.y != nil {
			parts = append(parts, fmt.Sprintf("%s %s ops/s on one core and %s on all %d (%.2f×)",
				y.when, num(y.y.OneCore), num(y.y.AllCores), y.y.CPUs, y.y.Scaling()))
		}
	}
	fmt.Fprintf(b, "**Yardstick** (a fixed CPU-only Go workload: a vote-sized record to JSON and back, then SHA-256; the machine's speed at that moment, to compare runs across machines and hours): %s. The absolute figures below move with it.\n\n", strings.Join(parts, "; "))
	r.pageFaultMarkdown(b)
}

// environmentMarkdown says which variables of the run's environment set
// flags of its processes (nothing for a report from before it was
// recorded).
func (r *Report) environmentMarkdown(b *strings.Builder) {
	e := r.Settings.Environment
	if len(e.Prefixes) == 0 {
		return
	}
	fmt.Fprintf(b, "**Environment** (the batchers, gateways and explorer take any flag the run's stack does not pass on their command line from the variable of the run's environment named after it): %s.\n\n", e.summary(func(s string) string { return "`" + s + "`" }))
	for _, line := range e.Checked() {
		fmt.Fprintf(b, "- %s\n", line)
	}
	if len(e.Checked()) > 0 {
		b.WriteString("\n")
	}
}

// pageFaultMarkdown says what a page fault of fresh memory cost the machine
// at the run's start and end (nothing if it was not measured).
func (r *Report) pageFaultMarkdown(b *strings.Builder) {
	var parts []string
	for _, c := range []struct {
		when string
		c    *measure.PageFaultCost
	}{{"before the run", r.Machine.PageFaultStart}, {"after it", r.Machine.PageFaultEnd}} {
		if c.c != nil {
			parts = append(parts, fmt.Sprintf("%s %.2f µs", c.when, c.c.MicrosPerFault))
		}
	}
	if len(parts) == 0 {
		return
	}
	fmt.Fprintf(b, "**Page faults** (CPU per minor fault while first touching freshly mapped memory; well under 1 µs on bare metal, far more on a VM whose host takes freed memory back and must supply it again): %s. The ledger tables give each drive's page faults per 1,000 votes and the share of its CPU they took at the first figure.\n\n", strings.Join(parts, "; "))
}
