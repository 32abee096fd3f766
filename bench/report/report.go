// Package report holds the benchmark report: its data (saved as JSON), its
// Markdown rendering, and an SVG plot of votes per second and latency over
// time.
package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/votechain/votechain/bench/ledgerload"
	"github.com/votechain/votechain/bench/loadgen"
	"github.com/votechain/votechain/bench/measure"
)

// Report is everything one `make bench` run measured.
type Report struct {
	Date      time.Time       `json:"date"`
	Only      string          `json:"only,omitempty"` // the one phase run (benchrun --only); empty: all
	Machine   measure.Machine `json:"machine"`
	DurationS float64         `json:"duration_s"` // wall time of the whole run
	Settings  Settings        `json:"settings"`
	Targets   []Target        `json:"targets"`

	Referendum Commit `json:"referendum"` // a steady rate the ledger keeps up with
	// ReferendumStart is the wait before the referendum and its CPU.
	ReferendumStart PhaseStart `json:"referendum_start"`
	// CeilingStart is the wait before the ceiling after the intake phases.
	CeilingStart PhaseStart      `json:"ceiling_start"`
	Ramp         []loadgen.Phase `json:"ramp"`
	KneeIndex    int             `json:"knee_index"` // into Ramp; -1: no step served
	Fixed        []loadgen.Phase `json:"fixed_rates"`
	Sustained    Commit          `json:"sustained"`
	Surge        Surge           `json:"surge"`

	Ceiling   ledgerload.DriveResult `json:"ceiling"`
	Naive     ledgerload.DriveResult `json:"naive"`
	VsCeiling float64                `json:"votechain_over_ceiling"`
	VsNaive   float64                `json:"votechain_over_naive"`

	Ledger14 LedgerSide `json:"ledger_side"` // ceilings, sweep, growth, CPU per vote
	Intake15 IntakeCost `json:"intake_cost"` // CPU per accepted vote, duplicate storm
	Pace21   Pace       `json:"pace"`        // batcher pace: sustained, sustainable rate, drain

	Reads Reads `json:"reads"`

	Phases      []string             `json:"phases"` // CPU columns, in run order
	CPU         []measure.ProcessCPU `json:"cpu"`
	MachineBusy map[string]float64   `json:"machine_busy"` // busy share of all cores per phase (0..1)
	// DiskWriteMBps is what reached the machine's disks per phase (MB/s,
	// every process, from /proc/diskstats); empty in reports from before
	// it was recorded, as are CPU's WriteMBps.
	DiskWriteMBps map[string]float64 `json:"disk_write_mb_per_s,omitempty"`
	// ExtraCPU is each extra network's CPU book, in the order they were
	// brought up; empty in reports from before it was recorded.
	ExtraCPU   []NetworkCPU `json:"extra_networks_cpu,omitempty"`
	Saturation []Saturation `json:"saturation"`
	// RampCPU is Saturation for each step of the ramp (phase ramp-RATE):
	// who held the cores in the step that was not served. Empty in
	// reports from before it was recorded.
	RampCPU           []Saturation       `json:"ramp_cpu,omitempty"`
	Why               string             `json:"why"` // what the saturation table says about the missed targets
	Redis             measure.RedisUsage `json:"redis"`
	RedisMBPerMillion float64            `json:"redis_mb_per_million_voters"`
	Ledger            Ledger             `json:"ledger"`
	Loss              ledgerload.Loss    `json:"loss_check"`
	Contests          []ContestResult    `json:"contests"` // results per contest, in ballot order
	Profiles          []Profile          `json:"profiles"`

	Scale Scale `json:"scaling_out"`
	AB    *AB   `json:"ab,omitempty"` // benchrun --only ab; nil otherwise

	Series Series   `json:"series"`
	Notes  []string `json:"notes"`
	// OOMKills is how many processes the kernel's OOM killer killed for
	// want of memory during the run (any of the system's voids what was
	// measured after it).
	OOMKills uint64 `json:"oom_kills,omitempty"`
}

// Settings are the knobs of the run.
type Settings struct {
	Voters      int                `json:"roll_voters"`
	Duplicates  float64            `json:"duplicate_share"`
	Ineligible  float64            `json:"ineligible_share"`
	StateWeight map[string]float64 `json:"state_weights"`
	Batchers    int                `json:"batchers"`
	Workers     uint64             `json:"max_client_workers"`
	// LedgerNice is the niceness added to the ledger side (stack.Config.LedgerPriority.Nice; 0: none or SCHED_IDLE, which LedgerPriority tells).
	LedgerNice int `json:"ledger_nice"`
	// LedgerPriority is the ledger side's CPU priority as
	// proc.ParsePriority reads it ("idle", "nice:10", "normal"); empty in
	// reports from before it was recorded, whose LedgerNice says it.
	LedgerPriority string `json:"ledger_priority,omitempty"`
	// Environment is what the run's processes took from its environment;
	// zero in reports from before it was recorded.
	Environment Environment `json:"environment,omitzero"`
}

// Environment is the variables of a run's environment that set flags of
// the processes it starts: the batchers, gateways and explorer inherit it
// and take any flag the run's stack does not pass on their command line
// from PREFIX_FLAG_NAME (stack.EnvPrefixes(), cli.ApplyEnv), so
// `BATCHER_LEDGER_LAG=-1s make bench` measures another batcher than
// `make bench`.
type Environment struct {
	Prefixes []string `json:"prefixes"` // the prefixes looked for (BATCHER, ...)
	// Set is those variables that were set, as NAME=value sorted by name;
	// a value whose name suggests a secret is "(set)" (cli.EnvSettings).
	Set []string `json:"set"`
	// Overrides are those of Set that change a flag of a process from its
	// default, "NAME=value: command --flag (default D)" (cli.EnvCheck);
	// Unread are those that change nothing, "NAME: why": no such flag (a
	// misspelling), or the stack gives it on the command line. Both are
	// read from the commands' --help; Unchecked says why they could not
	// be (empty when they were, or nothing was set).
	Overrides []string `json:"overrides,omitempty"`
	Unread    []string `json:"unread,omitempty"`
	Unchecked string   `json:"unchecked,omitempty"`
}

// Checked says what the set variables do, for lines of text: each that
// changes nothing (a warning), each that overrides a default, or why they
// were not checked; nil when none was set.
func (e Environment) Checked() []string {
	var out []string
	for _, u := range e.Unread {
		out = append(out, "WARNING: read by no process, changes nothing: "+u)
	}
	for _, o := range e.Overrides {
		out = append(out, "overrides a default: "+o)
	}
	if e.Unchecked != "" {
		out = append(out, "not checked against the processes' flags: "+e.Unchecked)
	}
	return out
}

// Summary says which variables were set, for a line of text: "A=1, B=2",
// or that none of PREFIX_* was.
func (e Environment) Summary() string { return e.summary(func(s string) string { return s }) }

// summary is Summary with each variable or pattern as name gives it.
func (e Environment) summary(name func(string) string) string {
	var parts []string
	for _, kv := range e.Set {
		parts = append(parts, name(kv))
	}
	if len(parts) > 0 {
		return strings.Join(parts, ", ")
	}
	for _, p := range e.Prefixes {
		parts = append(parts, name(p+"_*"))
	}
	return "none of " + strings.Join(parts, ", ") + " set"
}

// Target is one goal of the issue and how the run did against it.
type Target struct {
	Issue    string `json:"issue,omitempty"` // the issue that set it, if any
	Name     string `json:"name"`
	Goal     string `json:"goal"`
	Measured string `json:"measured"`
	Met      bool   `json:"met"`
	Margin   string `json:"margin"` // e.g. "missed by 62% (9,400 of 25,000)"
}

// Commit is an intake phase and what the ledger committed meanwhile.
type Commit struct {
	Phase         loadgen.Phase   `json:"phase"`
	WindowS       float64         `json:"window_s"`
	CommittedPerS float64         `json:"committed_per_s"` // batcher's votes counted per second over the window
	BatchesPerS   float64         `json:"batches_per_s"`   // batcher transactions per second over the window
	VotesPerBatch float64         `json:"votes_per_batch"` // mean counted votes per batch in the window
	CommitLatency measure.Latency `json:"commit_latency"`  // 202 to commit event, votes cast in the phase
	// Stages is where the time went in the batchers, from the phase's
	// start until its votes were drained (the referendum and the pace
	// probes; nil for other phases and in reports from before it was
	// recorded).
	Stages *measure.BatcherStages `json:"batcher_stages,omitempty"`
}

// Surge is a burst and its drain.
type Surge struct {
	Phase         loadgen.Phase   `json:"phase"`
	During        Commit          `json:"during"` // what the batcher committed while the surge ran
	QueuedAtEnd   int64           `json:"queued_at_end"`
	DrainS        float64         `json:"drain_s"`
	DrainPerS     float64         `json:"drain_per_s"`
	Drained       bool            `json:"drained"`
	CommitLatency measure.Latency `json:"commit_latency"`
}

// LedgerSide is the capacity of the ledger side, driven directly
// (CommitBatch with pre-built batches, no gateway or Redis).
type LedgerSide struct {
	Consensus string                   `json:"consensus"` // of the run's network
	Sweep     []ledgerload.DriveResult `json:"sweep"`     // votes/tx × in flight on a fresh ledger
	// Choice is how the sweep chose the setting of the ceilings; its
	// Trials are the Sweep rows', in the same order.
	Choice *SweepChoice           `json:"sweep_choice,omitempty"`
	Fresh  Ceiling                `json:"fresh"` // at the sweep's best setting, before any intake
	After  Ceiling                `json:"after"` // the headline ceiling, after the intake phases
	Fill   ledgerload.DriveResult `json:"fill"`  // the ceiling driver growing the ledger
	Grown  Ceiling                `json:"grown"` // after the fill
	// GrownOverFresh is Grown ÷ Fresh votes/s (0 when either is missing).
	GrownOverFresh float64  `json:"grown_over_fresh"`
	Other          *Ceiling `json:"other_consensus,omitempty"` // the other consensus, fresh ledger
	OtherNote      string   `json:"other_consensus_note,omitempty"`
	// OneContest and AllContests are the ceiling with every vote in the
	// first contest, then again with the votes spread over all contests
	// (issue 17). With an election of several contests they follow Fresh on
	// the run's network; with one, they run on an extra network of several
	// contests after ContestsFirst, its ceiling over all contests.
	// ContestsOverOne is the mean of ContestsBefore and AllContests ÷
	// OneContest, counted/s.
	OneContest      Ceiling  `json:"one_contest"`
	AllContests     Ceiling  `json:"all_contests"`
	ContestsFirst   *Ceiling `json:"contests_first,omitempty"`
	ContestsOverOne float64  `json:"contests_over_one"`
	ContestsNote    string   `json:"contests_note,omitempty"`
	// Eligibility is the ceiling with the roll on the ledger and without.
	Eligibility *Eligibility `json:"eligibility,omitempty"`
}

// ContestsBefore is the ceiling over all contests before OneContest:
// ContestsFirst on an extra network, else Fresh.
func (l LedgerSide) ContestsBefore() Ceiling {
	if l.ContestsFirst != nil {
		return *l.ContestsFirst
	}
	return l.Fresh
}

// Eligibility compares the ceiling on two fresh networks of the run's
// consensus, one whose roll is written and sealed (every vote checked
// against it) and one where it is not, cast by the same Voters.
type Eligibility struct {
	Voters   int     `json:"voters"`
	Sealed   Ceiling `json:"sealed"`
	Unsealed Ceiling `json:"unsealed"`
	Ratio    float64 `json:"sealed_over_unsealed"` // counted/s; 0 when either is missing
	Note     string  `json:"note,omitempty"`
}

// Ceiling is one ceiling measurement and where the ledger stood.
type Ceiling struct {
	Consensus string                 `json:"consensus,omitempty"`
	Contests  []string               `json:"contests,omitempty"` // the votes' contests, in turn; none named: all the election's
	Drive     ledgerload.DriveResult `json:"drive"`
	AtVotes   uint64                 `json:"ledger_votes_before"` // votes on the ledger when it began
	// RollEntries is the roll entries (voter and contest) sealed on the
	// ledger; each vote of a voter on it reads a key that exists.
	RollEntries int `json:"roll_entries"`
	// CPUPer1000 is the ledger side's CPU (peers, chaincode, orderers,
	// explorer) in core-seconds per 1,000 committed votes.
	CPUPer1000 float64 `json:"ledger_cpu_s_per_1000_votes"`
	Cores      float64 `json:"ledger_cores"` // the same processes' CPU in cores
	Faults
	// Warmup is the warm-up an extra network got before this, its first
	// measured drive (nil: none, or not an extra network's first).
	Warmup *Warmup `json:"warmup,omitempty"`
}

// Faults is what the same processes' minor page faults were over a drive:
// per 1,000 committed votes, and the share of their CPU those faults took
// at the machine's cost per fault measured before the run (0: not
// measured). A process faults when it takes memory it does not hold: a heap
// that grows, or memory given back to the kernel and taken again.
type Faults struct {
	PageFaultsPer1000 float64 `json:"page_faults_per_1000_votes"`
	PageFaultCPUShare float64 `json:"page_fault_cpu_share,omitempty"`
}

// FaultsText is f for a table cell: faults per 1,000 votes and, when
// known, the share of the CPU they took.
func (f Faults) FaultsText() string {
	if f.PageFaultCPUShare <= 0 {
		return fmt.Sprintf("%.0f", f.PageFaultsPer1000)
	}
	return fmt.Sprintf("%.0f (%.0f%%)", f.PageFaultsPer1000, f.PageFaultCPUShare*100)
}

// ContestResult is one contest of the election and its votes: the
// intake's, from the loss check, and the ledger's, drivers' votes included.
type ContestResult struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Kind     string   `json:"kind"`
	Choices  []string `json:"choices"`
	Accepted int      `json:"accepted_202"` // distinct votes of the contest the gateway answered 202
	Counted  int      `json:"counted"`      // of the intake's votes, counted in the contest on the ledger
	Missing  int      `json:"missing"`      // answered 202, not counted
	// Ledger is the ledger's national count per choice (GetResults after
	// the intake phases and the drives up to then), LedgerCounted its sum.
	Ledger        map[string]uint64 `json:"ledger"`
	LedgerCounted uint64            `json:"ledger_counted"`
}

// IntakeCost is what accepting a vote costs, and the duplicate storm.
type IntakeCost struct {
	Phases []VoteCPU `json:"phases"`
	Storm  Storm     `json:"duplicate_storm"`
	// Redis is what Redis's persistence (AOF rewrites, fsync and other
	// latency spikes) did in each intake phase, in run order.
	Redis []measure.RedisWindow `json:"redis_persistence,omitempty"`
}

// VoteCPU is the gateway's and Redis's CPU per accepted vote in a phase.
type VoteCPU struct {
	Phase     string  `json:"phase"`
	Accepted  int     `json:"accepted"`
	GatewayUS float64 `json:"gateway_us_per_vote"`
	RedisUS   float64 `json:"redis_us_per_vote"`
	TotalUS   float64 `json:"total_us_per_vote"`
	// RedisChildUS is the part of RedisUS that was Redis's AOF rewrite
	// children's CPU (reaped in the phase); nil: not known.
	RedisChildUS *float64 `json:"redis_child_us_per_vote,omitempty"`
}

// Storm is re-sends of votes already committed.
type Storm struct {
	Phase loadgen.Phase `json:"phase"`
	// Voters is the pool re-sent from: the first voters sent fresh, all of
	// them answered before the storm; Unsure of them had a first attempt
	// answered 503 or not at all (so their re-send may be a first vote).
	Voters      int     `json:"voters"`
	Unsure      int     `json:"unsure"`
	Metric      string  `json:"exact_check_metric"`
	MetricFound bool    `json:"exact_check_metric_found"`
	ExactChecks float64 `json:"exact_checks"` // the metric's increase over the storm
}

// Pace is how the batcher keeps pace with intake.
type Pace struct {
	Probes []Probe `json:"probes"` // sustained first, then the search's
	// Sustainable is the highest offered rate that held (0: none did).
	Sustainable      float64 `json:"sustainable_per_s"`
	DrainOverCeiling float64 `json:"drain_over_ceiling"`
	// Budget prices the stack per vote in the sustained phase (nil: the
	// phase's CPU was not booked).
	Budget *PaceBudget `json:"budget,omitempty"`
}

// PaceBudget is the CPU the whole co-located stack (intake, ledger side,
// load generator, monitoring: every process of the run) spent per vote the
// batcher committed in a phase, and what the machine's cores allow at that
// cost. BoundPerS, the cores over the cost, estimates the sustainable rate
// from above: 202→commit latency grows in the run queue as the cores fill,
// so probes fail below it or near it (docs/bench.md).
type PaceBudget struct {
	Phase         string  `json:"phase"`
	CommittedPerS float64 `json:"committed_per_s"`
	StackCores    float64 `json:"stack_cores"`
	// PerVoteUS is StackCores over CommittedPerS, in µs of CPU; the parts
	// are each role's share of it.
	PerVoteUS     float64 `json:"cpu_per_vote_us"`
	IntakeUS      float64 `json:"intake_us"`
	LedgerUS      float64 `json:"ledger_us"`
	LoadGenUS     float64 `json:"load_generator_us"`
	MonitorUS     float64 `json:"monitoring_us"`
	Cores         int     `json:"cores"`                // the machine's
	BoundPerS     float64 `json:"cpu_bound_per_s"`      // Cores at PerVoteUS
	GoalPerS      float64 `json:"goal_per_s"`           // issue 21's sustainable rate
	CoresAtGoal   float64 `json:"cores_at_goal"`        // GoalPerS at PerVoteUS
	GoalPerVoteUS float64 `json:"goal_cpu_per_vote_us"` // the most a vote may cost for GoalPerS on Cores
}

// Probe is a rate held for a while, then drained, with the verdict.
type Probe struct {
	Commit
	CommittedOverAccepted float64 `json:"committed_over_accepted"`
	QueuedBefore          int64   `json:"queued_before"`
	QueuedAfter           int64   `json:"queued_after"`
	DrainS                float64 `json:"drain_s"` // after the window, until the queue was empty
	Holds                 bool    `json:"holds"`
	Why                   string  `json:"why"`
	// CommitPaths is the commit stage in the window, a peer each, from
	// the nodes' logs (none when they could not be read: the notes say why).
	CommitPaths []CommitPath `json:"commit_paths,omitempty"`
}

// Reads compares the gateway's results GET with a bare handler.
type Reads struct {
	BodyBytes      int                  `json:"body_bytes"`
	Gateway        []loadgen.ReadResult `json:"gateway"`
	Bare           []loadgen.ReadResult `json:"bare"`
	GatewayQPS     float64              `json:"gateway_qps"` // median run
	BareQPS        float64              `json:"bare_qps"`    // median run
	Ratio          float64              `json:"ratio"`       // of the medians
	GatewayBestQPS float64              `json:"gateway_best_qps"`
	BareBestQPS    float64              `json:"bare_best_qps"`
	BestRatio      float64              `json:"best_ratio"` // of the best runs
}

// Saturation is who held the cores during one phase, in cores.
type Saturation struct {
	Phase   string  `json:"phase"`
	Machine float64 `json:"machine"`        // every process on the machine
	Intake  float64 `json:"intake"`         // gateway and Redis
	Ledger  float64 `json:"ledger"`         // peers, chaincode, orderers, batcher, explorer
	LoadGen float64 `json:"load_generator"` // benchrun and the bare handler
	Monitor float64 `json:"monitoring"`     // Prometheus and the Redis exporter
	Others  float64 `json:"others"`         // everything else: other users of the machine
	Top     string  `json:"top"`            // the busiest processes
}

// Ledger is the size of the peers' ledgers.
type Ledger struct {
	PeerBytes    map[string]int64 `json:"peer_bytes"`
	Votes        uint64           `json:"votes"`          // counted + rejected on the ledger (all runs, all drivers)
	BytesPerVote float64          `json:"bytes_per_vote"` // one peer's ledger folder / votes
}

// Profile is a CPU profile taken to explain a missed target.
type Profile struct {
	Process string `json:"process"`
	How     string `json:"how"`
	File    string `json:"file"`
	Top     string `json:"top"`
}

// Series are per-second values from the run's start.
type Series struct {
	// Start is the wall clock of second 0 (and of the phases' start_s and
	// the marks), to line the series up with logs and outside samplers;
	// zero in reports from before it was recorded.
	Start           time.Time `json:"start"`
	Sent            []float64 `json:"sent"`
	Accepted        []float64 `json:"accepted"`
	Committed       []float64 `json:"committed"`        // batcher's batches
	DriverCommitted []float64 `json:"driver_committed"` // ceiling and naive drivers
	AcceptP50ms     []float64 `json:"accept_p50_ms"`
	AcceptP99ms     []float64 `json:"accept_p99_ms"`
	Queued          []float64 `json:"queued"`
	Marks           []Mark    `json:"marks"`
}

// Mark is a named span of the run.
type Mark struct {
	Name   string  `json:"name"`
	StartS float64 `json:"start_s"`
	EndS   float64 `json:"end_s"`
}

// Load reads the report Save wrote to dir's report.json. A file that is
// not such a report is an error naming it: one with a field Report does
// not have (another JSON file, or a report of an older or newer benchrun,
// whose Markdown would leave that field out), one without the run's date
// or machine (every run records both), or one with anything after the
// report. The one dropped field it reads past is the scaling_out of the
// reports from before the scale-out phase (legacyScale): their Scale is
// marked Predated, and its section says so.
func Load(dir string) (*Report, error) {
	path := filepath.Join(dir, "report.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	notReport := func(why string, a ...any) error {
		return fmt.Errorf("report: %s is not a bench report of this benchrun: %s", path, fmt.Sprintf(why, a...))
	}
	data, predated := withoutLegacyScale(data)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Report
	if err := dec.Decode(&r); err != nil {
		return nil, notReport("%v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, notReport("more follows the report's JSON object")
	}
	r.Scale.Predated = predated
	switch {
	case r.Date.IsZero():
		return nil, notReport("it has no date")
	case r.Machine.CPUs < 1:
		return nil, notReport("it has no machine (the cores the run had)")
	}
	return &r, nil
}

// legacyScale is the scaling_out of the reports from before the scale-out
// phase (bench/reports up to 2026-11-30-2cpu-vm-run2): a plan derived from
// the single stack's per-process CPU, its costs (the field that marks it),
// goals and plan, none of which Scale has.
type legacyScale struct {
	Costs json.RawMessage `json:"costs"`
}

// withoutLegacyScale is data, a report's JSON, without its scaling_out if
// that is a legacyScale (predated true), so that the rest is still read
// strictly; any other data, a report's or not, is returned as it is.
func withoutLegacyScale(data []byte) (_ []byte, predated bool) {
	var top map[string]json.RawMessage
	var scale legacyScale
	if json.Unmarshal(data, &top) != nil || json.Unmarshal(top["scaling_out"], &scale) != nil || scale.Costs == nil {
		return data, false
	}
	delete(top, "scaling_out")
	rest, err := json.Marshal(top)
	if err != nil {
		return data, false
	}
	return rest, true
}

// Save writes report.json, report.md and report.svg into dir.
func (r *Report) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return r.Render(dir)
}

// Render writes report.md and report.svg into dir, an existing folder,
// and nothing else: the report.json there is left as it is.
func (r *Report) Render(dir string) error {
	for name, b := range map[string][]byte{"report.md": []byte(r.Markdown()), "report.svg": Plot(r.Series)} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	return nil
}

// Markdown is the budget as the report's paragraph.
func (b PaceBudget) Markdown() string {
	var w strings.Builder
	fmt.Fprintf(&w, "**CPU per vote in the %s phase: %.0f µs.** The run's processes held %.2f cores for %s committed votes/s: intake %.0f µs a vote, ledger side %.0f, load generator %.0f, monitoring %.0f. ",
		b.Phase, b.PerVoteUS, b.StackCores, Num(b.CommittedPerS), b.IntakeUS, b.LedgerUS, b.LoadGenUS, b.MonitorUS)
	fmt.Fprintf(&w, "At that cost the machine's %d cores carry at most %s votes/s", b.Cores, Num(b.BoundPerS))
	if b.GoalPerS > 0 {
		fmt.Fprintf(&w, ", and issue 21's %s votes/s would take %.2f cores (on %d cores it allows %.0f µs a vote)", Num(b.GoalPerS), b.CoresAtGoal, b.Cores, b.GoalPerVoteUS)
	}
	w.WriteString(". The bound is a yardstick, not a forecast: as the cores fill, 202→commit latency grows in the run queue, which keeps the sustainable rate found below it, while a vote costs less at higher rates (larger batches and transactions, fuller intake micro-batches), which can lift that rate above it (docs/bench.md).")
	return w.String()
}
