package suite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/bench/ledgerload"
	"github.com/votechain/votechain/bench/loadgen"
	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/bench/report"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/stack"
	"github.com/votechain/votechain/network/fabricclient"
)

// Config is one benchmark run.
type Config struct {
	Stack    StackConfig
	Fresh    bool // wipe the benchmark's system first, so the run starts on an empty ledger
	Keep     bool // leave the system running afterwards
	Plan     Plan
	Mix      loadgen.Mix
	Workers  uint64    // most vote requests in flight
	Self     string    // this executable, run as `Self serve-bytes` for the bare handler
	OutDir   string    // where profiles are written (the report folder)
	Profile  Profiler  // takes the CPU profiles for missed targets; nil for none
	Progress io.Writer // progress lines
	Log      *slog.Logger
	// Contests are the contests of the election the contests pair runs on
	// an extra network when the run's election has one contest (fewer than
	// two: not measured).
	Contests []ballot.Contest
	// Only runs one phase on its own instead of the whole benchmark
	// (OnlyScaleOut, OnlySweep, OnlyIntake, OnlyAB); empty: every phase.
	Only string
	// AB is what OnlyAB compares.
	AB AB
	// FirstEphemeral is the first port of the machine's ephemeral range
	// (FirstEphemeralPort), which no port of the run may reach
	// (CheckPortBase); 0: LinuxFirstEphemeral.
	FirstEphemeral int
	// ExactCheckMetric is the gateway's counter of duplicate checks that
	// went to the ledger, or a comma-separated list of candidates (the
	// first the gateway exposes counts); the duplicate storm reports its
	// increase.
	ExactCheckMetric string
}

// Profiler takes a CPU profile of the vote intake into dir.
type Profiler func(ctx context.Context, dir string) (report.Profile, error)

// Plan is the schedule of the phases.
type Plan struct {
	// The ledger side on a fresh ledger: votes per transaction tried at
	// the first in-flight depth, then the other depths at the best size;
	// the ceilings run at the best setting (CeilingVotes and CeilingFlight
	// without a sweep).
	SweepVotes   []int
	SweepFlights []int
	SweepDur     time.Duration
	// SweepNoise is the share of the fastest setting's rate within which
	// sweep rates count as equal (report.ChooseSetting).
	SweepNoise    float64
	Warmup        time.Duration // of every sweep, ceiling and naive drive, before its measured window
	CeilingVotes  int
	CeilingFlight int
	CeilingDur    time.Duration
	NaiveFlight   int
	NaiveDur      time.Duration
	GrowTo        uint64        // votes on the ledger before the grown ceiling (0: no growth phase)
	FillLimit     time.Duration // longest fill
	// DriveRate and DriveTxRate bound what a drive may commit per second
	// (votes, transactions): they size the roll voters each drive may
	// cast (Plan.DriverVoters). A drive faster than them ends the run.
	DriveRate   float64
	DriveTxRate float64
	// ExtraDriveRate is DriveRate for the eligibility pair's drives on
	// extra networks, fresh and without the run's roll, which commit
	// faster than the run's own network: it sizes their shared roll.
	ExtraDriveRate float64
	// ExtraWarmup is how each extra network is warmed up before its first
	// measured drive (a zero Limit: not at all).
	ExtraWarmup WarmupRule
	// OtherConsensus measures the fresh-ledger ceiling of the consensus the
	// run's network does not use, on a second network brought up for it.
	OtherConsensus bool
	// Eligibility measures the fresh-ledger ceiling with the roll sealed
	// and without, on two more networks of the run's consensus.
	Eligibility bool

	// CatchUpLimit bounds the wait before the referendum for the explorer
	// and the batcher to catch up with the drives before it (0: no wait).
	CatchUpLimit   time.Duration
	ReferendumRate float64
	ReferendumDur  time.Duration
	RampRates      []float64
	RampStep       time.Duration
	Knee           loadgen.KneeCriteria
	FixedRates     []float64
	FixedDur       time.Duration

	// The batcher's pace: the sustained phase is the first probe, the
	// search adds up to SearchProbes more of ProbeDur each, on a grid of
	// SearchStep votes/s, the first inside the bracket at SearchGoal (0:
	// none) when it is there; a probe holds by HoldRatio and HoldP95.
	SustainedRate float64
	SustainedDur  time.Duration
	SearchProbes  int
	SearchGoal    float64
	ProbeDur      time.Duration
	SearchStep    float64
	HoldRatio     float64
	HoldP95       time.Duration

	SurgeRate  float64
	SurgeDur   time.Duration
	DrainLimit time.Duration
	StormRate  float64 // re-sends of committed voters per second
	StormDur   time.Duration

	ReadWorkers int
	ReadDur     time.Duration // per run; three runs each, alternating

	// The scale-out phase (the cluster shape on an extra stack): the rate
	// offered through HAProxy for ScaleOutDur, then at most ScaleOutDrain
	// for the drain. A rate of 0 skips it.
	ScaleOutRate  float64
	ScaleOutDur   time.Duration
	ScaleOutDrain time.Duration
}

// DefaultPlan returns the default schedule, which aims at about 15 minutes
// for `make bench` on a small machine; the drains take what the batcher
// needs. Each call returns a new Plan with slices of its own, so a caller
// that changes its plan changes no one else's.
func DefaultPlan() Plan {
	return Plan{
		SweepVotes: []int{500, 1000, 2000}, SweepFlights: []int{16, 8, 32}, SweepDur: 6 * time.Second, Warmup: 3 * time.Second,
		// Runs 3 to 5 measured 2,000×16 at 8,667, 6,667 and 8,667 counted/s and
		// 500×16 at 7,667 to 7,833: a 6 s window holds few 2,000-vote blocks.
		SweepNoise:   0.15,
		CeilingVotes: 500, CeilingFlight: 16, CeilingDur: 20 * time.Second,
		NaiveFlight: 200, NaiveDur: 15 * time.Second,
		GrowTo: 2_000_000, FillLimit: 3 * time.Minute, OtherConsensus: true, Eligibility: true,
		DriveRate: 25_000, DriveTxRate: 1_000, // measured here at most: 16,504 votes/s (a fresh ledger, roll sealed), 198 tx/s
		ExtraDriveRate: 50_000, // an extra network with no roll ran out of 25,000/s worth of voters (session 8)
		// The first drive on a fresh extra network spent 38-54% of its ledger
		// processes' CPU in page faults (runs 38-44), the run's network 0-6%.
		ExtraWarmup: WarmupRule{Slice: 5 * time.Second, MaxShare: 0.10, Limit: 45 * time.Second},

		CatchUpLimit: 3 * time.Minute, ReferendumRate: 1000, ReferendumDur: 20 * time.Second,
		// The knee is the last step served, so it lies up to one step below
		// the rate the intake serves: 2,500 apart from 10,000 (until run 66,
		// 5,000 apart above 15,000: run 66 served 20,000 and not 25,000, whose
		// answers reached 23,181/s). Accepted is ~0.97 of a step's rate (2%
		// re-sends, 1% not on the roll), so 20,000 accepted needs the 22,500 step.
		RampRates: []float64{500, 1000, 2000, 3000, 4000, 5000, 6000, 8000, 10000, 12500, 15000, 17500, 20000, 22500, 25000, 27500, 30000}, RampStep: 4 * time.Second,
		Knee:       loadgen.KneeCriteria{MinServed: 0.95, MaxFailed: 0.01, MaxP99: time.Second},
		FixedRates: []float64{5000, 10000}, FixedDur: 10 * time.Second,

		// Four search probes after the sustained one: the first at issue 21's
		// goal, the others bisecting between the highest rate that held and
		// the lowest that failed, or twice the former while none failed (the
		// ramp's knee is not measured yet): from 5,000 held they probe 8,000,
		// then 12,000 or 6,500, and so on, ending within 500-1,000 votes/s
		// (three left runs 55-59 2,000 apart). Bisecting alone, runs 60-62
		// probed 7,500 and 8,500, never the goal.
		SustainedRate: 5000, SustainedDur: 60 * time.Second,
		SearchProbes: 4, SearchGoal: goalSustainable, ProbeDur: 60 * time.Second, SearchStep: 250, HoldRatio: 0.95, HoldP95: 2 * time.Second,

		SurgeRate: 20000, SurgeDur: 10 * time.Second, DrainLimit: 6 * time.Minute,
		StormRate: 5000, StormDur: 20 * time.Second,

		ReadWorkers: 32, ReadDur: 5 * time.Second,

		// Below the shape's knee on 2 cores (the single Redis's was 2,900/s; the
		// replicas' WAIT adds work), so few 503s weigh on the cost per vote.
		ScaleOutRate: 1500, ScaleOutDur: 30 * time.Second, ScaleOutDrain: 2 * time.Minute,
	}
}

// run is the state of one benchmark run.
type run struct {
	cfg      Config
	st       *stack.Stack
	ledger   *fabricclient.Ballot
	election *ballot.Election
	rdb      *redis.Client
	rec      *loadgen.Recorder
	runner   *loadgen.Runner
	watcher  *ledgerload.Watcher
	book     *measure.CPUBook
	steps    *measure.CPUBook // the ramp's steps, each a phase (nil before the ramp)
	t0       time.Time
	began    measure.StallsSnapshot // the machine's at the run's start: its OOM kills

	redisWatch *measure.RedisWatch // Redis's AOF rewrites and latency spikes
	rep        *report.Report

	nextSeq     uint64                 // first batch number of the next ledger drive
	driverRoll  []ballot.RollEntry     // roll voters kept for the ledger drives, not yet cast
	rollEntries int                    // roll entries sealed on the run's ledger (intake's and drivers')
	best        ledgerload.DriveResult // the sweep's best setting
	stormPool   int                    // voters sent fresh by the end of the referendum
	stormUnsure int                    // of them, first attempts answered 503 or not at all
	fatal       error                  // ends the run after the current phase (fail)

	mu     sync.Mutex
	queued *measure.Series // queue depth samples (max per second)
}

func (r *run) say(format string, a ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, "bench: "+format+"\n", a...)
	}
}

// mark records a span of the run for the plot.
func (r *run) mark(name string, from, to time.Time) {
	r.rep.Series.Marks = append(r.rep.Series.Marks, report.Mark{Name: name, StartS: from.Sub(r.t0).Seconds(), EndS: to.Sub(r.t0).Seconds()})
}

// Run brings the benchmark's system up, runs every phase and returns the
// report. Measurements that fail are noted in the report rather than ending
// the run where the rest can still be measured.
func Run(ctx context.Context, cfg Config) (*report.Report, error) {
	began := time.Now()
	r := &run{cfg: cfg, rep: &report.Report{Date: began, Machine: measure.Describe(), KneeIndex: -1}, began: measure.ReadStalls()}
	if err := r.prepare(ctx); err != nil {
		return nil, err
	}
	r.rep.Machine.YardstickStart = r.yardstick(ctx, "before the run")
	r.rep.Machine.PageFaultStart = r.pageFaultCost(ctx, "before the run")
	if !r.cfg.onItsSystem() {
		return r.only(ctx, began)
	}

	r.say("bringing the benchmark system up in %s (port base %d, %d voters)", cfg.Stack.Dir, cfg.Stack.PortBase, cfg.Stack.Voters)
	st, err := StartStack(ctx, cfg.Stack)
	if err != nil {
		return nil, err
	}
	r.st = st
	defer func() {
		r.noteExplorerAudit(ctx)
		if !cfg.Keep {
			r.say("stopping the benchmark system (data kept in %s)", cfg.Stack.Dir)
			if err := st.Down(false); err != nil {
				r.say("stop: %v", err)
			}
		}
		r.end(ctx, began) // once the system is down: the yardstick then has the machine
	}()
	if err := r.connect(ctx); err != nil {
		return nil, err
	}
	defer r.rdb.Close()
	phases := r.phases
	switch cfg.Only {
	case OnlySweep:
		phases = r.sweepOnly
	case OnlyIntake:
		phases = r.intakeOnly
	case OnlyAB:
		phases = r.abOnly
	}
	if err := phases(ctx); err != nil {
		return r.rep, err
	}
	return r.rep, nil
}

// onItsSystem reports whether the phases of a run of cfg run on the run's
// system in cfg.Stack.Dir: all of them, or one that can run alone there
// (--only sweep, intake, ab), not one with a stack of its own (run.only).
func (cfg Config) onItsSystem() bool {
	switch cfg.Only {
	case "", OnlySweep, OnlyIntake, OnlyAB:
		return true
	}
	return false
}

// prepare checks an A/B run's settings and the run folder (CheckRunDir:
// with --fresh one no stack made, without it a kept system made with
// another --port-base), then for --fresh wipes the previous system the
// run would use (not before a lone phase on a stack of its own), then
// records the environment. In that order: a wrong command wipes nothing,
// and the environment is checked against the system the run will make,
// not against the folder's old record, which stack.New refuses when it
// was made with another --port-base (the check then said only why it
// could not be made).
func (r *run) prepare(ctx context.Context) error {
	if r.cfg.Only == OnlyAB {
		if err := CheckAB(ctx, r.cfg.AB, r.cfg.Stack.Voters-r.cfg.Stack.DriverVoters, r.cfg.Stack.BinDir); err != nil {
			return err
		}
	}
	if err := CheckRunDir(r.cfg); err != nil {
		return err
	}
	if r.cfg.Fresh && r.cfg.onItsSystem() {
		if err := r.wipe(); err != nil {
			return err
		}
	}
	r.recordEnvironment(ctx)
	return nil
}

// recordEnvironment puts the variables of the environment that set flags
// of the processes the run starts into the report, and says them before
// any measurement:
// the stack passes this process's environment on, and each of its
// Votechain processes reads the flags it is not given from it. Any that
// is set is checked against the flags the commands' --help lists and the
// command lines the run's stack gives them (stack.EnvReaders,
// cli.CheckEnv): a warning for each that changes nothing, a line for each
// that overrides a default.
func (r *run) recordEnvironment(ctx context.Context) {
	prefixes := stack.EnvPrefixes()
	env := report.Environment{Prefixes: prefixes, Set: cli.EnvSettings(prefixes...)}
	if len(env.Set) > 0 {
		st, err := stack.New(r.cfg.Stack.stackConfig())
		var c cli.EnvCheck
		if err == nil {
			c, err = cli.CheckEnv(ctx, st.EnvReaders())
		}
		if err != nil {
			env.Unchecked = err.Error()
		}
		env.Overrides, env.Unread = c.Overrides, c.Unread
	}
	r.rep.Settings.Environment = env
	r.say("environment of the run's batchers, gateways and explorer: %s", env.Summary())
	for _, line := range env.Checked() {
		r.say("environment: %s", line)
	}
}

// yardstickFor is how long each half of the machine's yardstick runs.
const yardstickFor = 2 * time.Second

// yardstick measures the machine's yardstick (measure.MeasureYardstick)
// and says what it gave; when names the moment for the progress output.
// A cancelled run measures none (nil), and keeps none it cut short: those
// figures are of less than yardstickFor, not of the machine's speed.
func (r *run) yardstick(ctx context.Context, when string) *measure.Yardstick {
	if ctx.Err() != nil {
		return nil
	}
	y := measure.MeasureYardstick(ctx, yardstickFor)
	if ctx.Err() != nil {
		r.say("yardstick %s: cut short, not kept", when)
		return nil
	}
	r.say("yardstick %s: %.0f ops/s on one core, %.0f on all %d (%.2fx)", when, y.OneCore, y.AllCores, y.CPUs, y.Scaling())
	return &y
}

// Page fault probe: 64 MiB of fresh memory touched three times.
const (
	pageFaultProbeBytes  = 64 << 20
	pageFaultProbeRounds = 3
)

// pageFaultCost measures what a minor page fault costs the machine now
// (measure.MeasurePageFaultCost) and says so; nil if cancelled or the probe
// failed (noted).
func (r *run) pageFaultCost(ctx context.Context, when string) *measure.PageFaultCost {
	if ctx.Err() != nil {
		return nil
	}
	c, err := measure.MeasurePageFaultCost(pageFaultProbeBytes, pageFaultProbeRounds)
	if err != nil {
		r.note("page fault probe %s: %v", when, err)
		return nil
	}
	r.say("page fault probe %s: %.2f µs of CPU per fault of fresh memory (%d faults a round)", when, c.MicrosPerFault, c.Faults)
	return &c
}

// end records what the report says about the run's end: the machine's
// yardstick (after the run's system stopped, unless --keep) and load, and
// the run's duration.
func (r *run) end(ctx context.Context, began time.Time) {
	r.rep.Machine.YardstickEnd = r.yardstick(ctx, "after the run")
	r.rep.Machine.PageFaultEnd = r.pageFaultCost(ctx, "after the run")
	r.rep.Machine.LoadEnd = measure.LoadAvg()
	r.rep.DurationS = time.Since(began).Seconds()
	if r.rep.OOMKills = measure.ReadStalls().Since(r.began).OOMKills; r.rep.OOMKills > 0 {
		r.say("the kernel's OOM killer killed %d process(es) during the run (dmesg names them): figures measured after a kill may be void", r.rep.OOMKills)
	}
}

// wipe stops the previous benchmark system and deletes its data
// (wipeStack), its scale-out stack and extra networks with it. A folder no
// stack made ($HOME given as --dir) is refused before anything is stopped
// or deleted (checkWipe).
func (r *run) wipe() error {
	dir := r.cfg.Stack.Dir
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		return nil
	}
	if err := checkWipe(dir); err != nil {
		return err
	}
	r.say("wiping the previous benchmark system in %s", dir)
	if err := wipeStack(dir, r.cfg.Stack.Log); err != nil {
		return fmt.Errorf("--fresh: %w", err)
	}
	return nil
}

// connect dials the ledger and Redis, reads the election and roll, and
// starts the watchers.
func (r *run) connect(ctx context.Context) error {
	profile, err := r.st.Network().Profile()
	if err != nil {
		return err
	}
	conn, err := fabricclient.Dial(ctx, profile, "Commission")
	if err != nil {
		return err
	}
	r.ledger = conn.Ballot()
	if r.election, err = r.ledger.Election(ctx); err != nil {
		return err
	}
	ropts, err := r.st.RedisOptions(redisserver.UserAdmin) // INFO, SLOWLOG and the queues' depth
	if err != nil {
		return err
	}
	r.rdb = redis.NewClient(ropts.Simple()) // the bench runs a single Redis
	r.watchRedis(ctx)
	if n, err := loadgen.QueueDepth(ctx, r.rdb, r.election.States); err != nil {
		return err
	} else if n > 0 {
		r.say("waiting for %d votes of an earlier run to drain", n)
		if _, err := loadgen.WaitDrained(ctx, r.rdb, r.election.States, r.cfg.Plan.DrainLimit, r.cfg.Progress, nil); err != nil {
			return err
		}
	}
	roll, err := loadgen.ReadRoll(r.st.RollCSV(), r.election.States)
	if err != nil {
		return err
	}
	if err := r.reserveDriverVoters(roll); err != nil {
		return err
	}
	r.rollEntries = len(r.driverRoll) + roll.Size()*len(r.election.Contests)
	gen, err := loadgen.NewGenerator(roll, r.election.Contests, r.cfg.Mix, uint64(time.Now().UnixNano()))
	if err != nil {
		return err
	}
	weights := loadgen.Weights(roll.States)
	r.rep.Settings = report.Settings{Voters: roll.Size(), Duplicates: r.cfg.Mix.Duplicate, Ineligible: r.cfg.Mix.Ineligible,
		StateWeight: map[string]float64{}, Batchers: 1, Workers: r.cfg.Workers, LedgerNice: r.cfg.Stack.LedgerPriority.Nice, LedgerPriority: r.cfg.Stack.LedgerPriority.String(),
		Environment: r.rep.Settings.Environment}
	for i, s := range roll.States {
		r.rep.Settings.StateWeight[s] = weights[i]
	}

	pids := map[string]int{loadGenerator: os.Getpid()}
	for _, p := range r.st.Network().Status(ctx).Processes {
		if p.Running {
			pids[p.Name] = p.PID
		}
	}
	for _, s := range r.st.Status() {
		if s.Running {
			pids[s.Name] = s.PID
		}
	}
	r.book = measure.NewCPUBook(pids)

	r.t0 = time.Now()
	r.nextSeq = ledgerload.SeqBaseFor(r.t0)
	r.rep.Ledger14.Consensus = string(r.st.Network().Consensus())
	r.rec = loadgen.NewRecorder(r.t0)
	r.runner = &loadgen.Runner{URL: r.st.GatewayURL() + "/api/v1/vote", Gen: gen, Rec: r.rec, Progress: r.cfg.Progress, MaxWorkers: r.cfg.Workers}
	r.queued = measure.NewSeries(r.t0)
	if r.watcher, _, err = ledgerload.Watch(ctx, r.ledger); err != nil {
		return err
	}
	go r.sampleQueue(ctx)
	return nil
}

// reserveDriverVoters takes the last DriverVoters/Size share of each
// state's voters off roll (the intake phases cast the rest) and keeps them,
// as the ledger knows them (nullifiers), for the ledger drives.
func (r *run) reserveDriverVoters(roll *loadgen.Roll) error {
	size := roll.Size()
	if r.cfg.Stack.DriverVoters <= 0 || size == 0 {
		return nil
	}
	secret, err := cli.LoadSecret(r.st.SecretFile())
	if err != nil {
		return err
	}
	share := min(float64(r.cfg.Stack.DriverVoters)/float64(size), 0.5)
	for i, voters := range roll.Voters {
		keep := len(voters) - int(share*float64(len(voters)))
		for _, v := range voters[keep:] {
			for _, c := range r.election.ContestIDs() {
				r.driverRoll = append(r.driverRoll, ballot.RollEntry{State: roll.States[i], Contest: c, Nullifier: ballot.HashHex(v.Nullifier(secret, r.election.ID, c))})
			}
		}
		roll.Voters[i] = voters[:keep]
	}
	r.say("%d roll entries (voter and contest) kept for the ledger drives, %d voters for the intake", len(r.driverRoll), roll.Size())
	return nil
}

// sampleQueue records the queue depth every half second (the series keeps
// the per-second maximum).
func (r *run) sampleQueue(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n, err := loadgen.QueueDepth(ctx, r.rdb, r.election.States)
			if err != nil {
				continue
			}
			r.mu.Lock()
			i := int(now.Sub(r.t0) / time.Second)
			r.queued.Add(now, 0)
			if i < len(r.queued.Count) {
				r.queued.Count[i] = max(r.queued.Count[i], float64(n))
			}
			r.mu.Unlock()
		}
	}
}

// intake runs one constant-rate phase with its CPU window and mark, and
// the gateway's own time for its 202s.
func (r *run) intake(ctx context.Context, name, cpuPhase string, rate float64, d time.Duration) (loadgen.Phase, error) {
	r.say("%s: offering %.0f votes/s for %s", name, rate, d)
	before, berr := r.gateway202s(ctx)
	r.book.Begin(cpuPhase)
	from := time.Now()
	p, err := r.runner.Constant(ctx, name, rate, d)
	r.book.End()
	r.mark(name, from, time.Now())
	after, aerr := r.gateway202s(ctx)
	in, derr := after.Sub(before)
	if derr = errors.Join(berr, aerr, derr); derr != nil {
		r.note("%s: the gateway's own time for its 202s not measured: %v", name, derr)
	} else {
		e := in.Estimate()
		p.InGateway = &e
	}
	return p, err
}

// gateway202s is the gateway's histogram of its time for POST
// /api/v1/vote's 202s (api_request_duration_seconds), read from its
// /metrics now.
func (r *run) gateway202s(ctx context.Context) (measure.Histogram, error) {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	samples, err := measure.ScrapeMetrics(sctx, r.st.GatewayURL()+"/metrics")
	if err != nil {
		return measure.Histogram{}, err
	}
	hs, err := measure.Histograms(measure.Select(samples, map[string]string{"method": "POST", "route": "/api/v1/vote", "code": "202"}), "api_request_duration_seconds", "")
	return hs[""], err
}

// phases runs everything after bring-up, in order.
func (r *run) phases(ctx context.Context) error {
	rep := r.rep
	// The ledger side on a fresh ledger, before any vote comes in.
	r.sweep(ctx)
	if r.fatal != nil {
		return r.fatal
	}

	if err := r.votes(ctx); loadgen.IsExhausted(err) {
		r.note("the intake phases stopped early: %v", err)
	} else if err != nil {
		return err
	}
	if err := r.drain(ctx); err != nil {
		r.note("drain: %v", err)
	}
	if err := r.storm(ctx); err != nil {
		r.note("duplicate storm: %v", err)
	}
	if err := r.handOver(ctx); err != nil {
		return err
	}

	r.ceilingAndNaive(ctx)
	r.redisPersistence() // the ceilings took long enough for a poll after the storm
	if r.fatal != nil {
		return r.fatal
	}
	if c := rep.Ceiling.CountedPerS; c > 0 {
		rep.Pace21.DrainOverCeiling = rep.Surge.DrainPerS / c
	}
	r.reads(ctx)
	r.lossCheck(ctx)
	r.ledgerSize(ctx)
	r.grow(ctx)
	if r.fatal != nil {
		return r.fatal
	}
	// The extra networks are measured while the run's system stands idle:
	// once the explorer has indexed the fill's blocks.
	r.catchUp(ctx, "catch-up-extra")
	if r.cfg.Plan.OtherConsensus {
		r.otherConsensus(ctx)
	}
	if r.cfg.Plan.Eligibility {
		r.eligibility(ctx)
	}
	r.contestsOnExtra(ctx)
	if r.fatal != nil {
		return r.fatal
	}
	if r.cfg.Plan.ScaleOutRate > 0 {
		r.scaleOut(ctx)
	}
	r.series()
	if r.cfg.Profile != nil {
		r.say("profiling the vote intake")
		if p, err := r.cfg.Profile(ctx, r.cfg.OutDir); err != nil {
			r.note("intake profile: %v", err)
		} else {
			rep.Profiles = append(rep.Profiles, p)
		}
	}
	rep.Profiles = append(rep.Profiles, r.redisProfile(ctx))
	r.bookCPU()
	r.targets()
	return nil
}

// bookCPU puts the CPU book's phases, per process and machine-wide, and
// what saturated in them into the report.
func (r *run) bookCPU() {
	rep := r.rep
	rep.Phases, rep.CPU, rep.MachineBusy, rep.DiskWriteMBps = cpuTable(r.book)
	rep.ReferendumStart.Busy, rep.ReferendumStart.Parts = r.parts("referendum")
	r.saturation()
}

// votes runs the phases that cast votes through the gateway: referendum
// (once the explorer and the batcher have caught up, catchUp),
// the batcher's pace (sustained, then the search: each probe starts on a
// drained queue, so its votes queue behind nothing older), the ramp to the
// knee, the fixed rates and the surge (whose drain also takes the ramp's
// backlog). It stops at the first error (ErrRollExhausted when the roll
// ran out).
func (r *run) votes(ctx context.Context) error {
	pl := r.cfg.Plan
	rep := r.rep
	ref, _, err := r.referendum(ctx)
	if err != nil {
		return err
	}
	r.stormPool, r.stormUnsure = r.runner.Gen.SentFresh(), ref.Overloaded+ref.Errors+ref.OtherStatus

	sus, err := r.probe(ctx, "sustained", "sustained", pl.SustainedRate, pl.SustainedDur)
	rep.Pace21.Probes = append(rep.Pace21.Probes, sus)
	rep.Sustained = sus.Commit
	if err != nil {
		return err
	}
	r.voteCPU("sustained", sus.Phase)
	if err := r.search(ctx); err != nil {
		return err
	}
	return r.rampFixedSurge(ctx)
}

// rampFixedSurge runs the ramp to the knee, the fixed rates and the surge,
// whose backlog drain measures.
func (r *run) rampFixedSurge(ctx context.Context) error {
	pl := r.cfg.Plan
	rep := r.rep
	var err error
	r.say("ramp: %v votes/s, %s per step, until a step is not served", pl.RampRates, pl.RampStep)
	r.book.Begin("ramp")
	from := time.Now()
	r.steps = r.book.Sub() // each step's CPU apart (the report's ramp CPU table)
	r.runner.OnStep = func(step string) func() {
		r.steps.Begin(step)
		return r.steps.End
	}
	rep.Ramp, rep.KneeIndex, err = r.runner.Ramp(ctx, pl.RampRates, pl.RampStep, pl.Knee)
	r.runner.OnStep = nil
	r.book.End()
	r.mark("ramp", from, time.Now())
	if err != nil {
		return err
	}
	for _, rate := range pl.FixedRates {
		name := fmt.Sprintf("fixed-%.0f", rate)
		p, err := r.intake(ctx, name, name, rate, pl.FixedDur)
		rep.Fixed = append(rep.Fixed, p)
		if err != nil {
			return err
		}
		r.voteCPU(name, p)
	}
	rep.Surge.Phase, err = r.intake(ctx, "surge", "surge", pl.SurgeRate, pl.SurgeDur)
	surgeFrom := r.t0.Add(time.Duration(rep.Surge.Phase.StartS * float64(time.Second)))
	rep.Surge.During = r.committed(rep.Surge.Phase, surgeFrom, surgeFrom.Add(pl.SurgeDur))
	return err
}

// committed is what the batcher committed while an intake phase ran.
func (r *run) committed(p loadgen.Phase, from, to time.Time) report.Commit {
	c := report.Commit{Phase: p, WindowS: to.Sub(from).Seconds()}
	batches, votes := r.watcher.Between(from, to)
	c.CommittedPerS, c.BatchesPerS = float64(votes)/c.WindowS, float64(batches)/c.WindowS
	if batches > 0 {
		c.VotesPerBatch = float64(votes) / float64(batches)
	}
	return c
}

// drain reads Redis's queue at the end of the surge and waits for the
// queues to empty onto the ledger, then measures the rest of Redis's
// memory: its scans of every key would take cores from the drain it times.
func (r *run) drain(ctx context.Context) error {
	s := &r.rep.Surge
	q, err := measure.ReadRedisQueue(ctx, r.rdb, r.election.States)
	if err != nil {
		return err
	}
	s.QueuedAtEnd = q.Queued // read last, just before the drain's clock starts
	r.say("surge over: %d votes queued; draining", s.QueuedAtEnd)
	r.book.Begin("drain")
	from := time.Now()
	d, err := loadgen.WaitDrained(ctx, r.rdb, r.election.States, r.cfg.Plan.DrainLimit, r.cfg.Progress, nil)
	r.book.End()
	r.mark("drain", from, time.Now())
	s.DrainS, s.Drained = d.Seconds(), err == nil
	if d > 0 {
		s.DrainPerS = float64(s.QueuedAtEnd) / d.Seconds()
	}
	if u, merr := q.Breakdown(ctx, r.rdb, r.election.States); merr != nil {
		r.rep.Notes = append(r.rep.Notes, "redis memory: "+merr.Error())
	} else {
		r.rep.Redis = u
	}
	if err := r.watcher.WaitIdle(ctx, 2*time.Second, time.Minute); err != nil {
		r.rep.Notes = append(r.rep.Notes, "waiting for the last commit events: "+err.Error())
	}
	return err
}

// reads compares the gateway's results GET with a bare handler, alternating,
// each run once Redis has no AOF rewrite in progress.
func (r *run) reads(ctx context.Context) {
	pl := r.cfg.Plan
	url := r.st.GatewayURL() + "/api/v1/results"
	snap, err := loadgen.CaptureRead(ctx, url)
	if err != nil {
		r.rep.Notes = append(r.rep.Notes, "results reads: "+err.Error())
		return
	}
	file := filepath.Join(r.cfg.Stack.Dir, "results-body.json")
	if err := os.WriteFile(file, snap.Body, 0o644); err != nil {
		r.rep.Notes = append(r.rep.Notes, "results reads: "+err.Error())
		return
	}
	cmd, bareURL, err := bareServer(ctx, r.cfg.Self, file, snap.ContentType, snap.ETag)
	if err != nil {
		r.rep.Notes = append(r.rep.Notes, "results reads: "+err.Error())
		return
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	r.book.Watch("bare handler", cmd.Process.Pid)
	rd := &r.rep.Reads
	rd.BodyBytes = len(snap.Body)
	from := time.Now()
	for range 3 {
		for _, side := range []struct {
			phase, url string
			out        *[]loadgen.ReadResult
		}{{"reads-gateway", url, &rd.Gateway}, {"reads-bare", bareURL + "/api/v1/results", &rd.Bare}} {
			waited, running, rewrites := waitNoRewrite(ctx, r.rdb, 500*time.Millisecond, rewriteWaitLimit)
			if running {
				r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("results reads: Redis's AOF rewrite still ran after %s; %s measured beside it", waited.Round(time.Second), side.phase))
			} else if waited > time.Second {
				r.say("%s: waited %s for Redis's AOF rewrite to end", side.phase, waited.Round(time.Second))
			}
			r.say("%s: %d workers for %s", side.phase, pl.ReadWorkers, pl.ReadDur)
			r.book.Begin(side.phase)
			res := loadgen.HammerReads(ctx, side.url, pl.ReadWorkers, pl.ReadDur)
			r.book.End()
			if !running && rewroteSince(ctx, r.rdb, rewrites) {
				r.rep.Notes = append(r.rep.Notes, fmt.Sprintf("results reads: Redis began an AOF rewrite during a %s run, which shared the cores with it", side.phase))
			}
			*side.out = append(*side.out, res)
			r.say("%s: %.0f QPS", side.phase, res.QPS)
		}
	}
	r.mark("reads", from, time.Now())
	// Medians resist a run that another user's burst slowed; the best runs
	// are each side's least disturbed.
	rd.GatewayQPS, rd.BareQPS = medianQPS(rd.Gateway), medianQPS(rd.Bare)
	rd.GatewayBestQPS, rd.BareBestQPS = bestQPS(rd.Gateway), bestQPS(rd.Bare)
	if rd.BareQPS > 0 {
		rd.Ratio = rd.GatewayQPS / rd.BareQPS
	}
	if rd.BareBestQPS > 0 {
		rd.BestRatio = rd.GatewayBestQPS / rd.BareBestQPS
	}
}

// lossCheck compares the 202 ids with the ledger and derives 202→commit
// latencies per phase.
func (r *run) lossCheck(ctx context.Context) {
	r.say("loss check: reading this run's batches back from the ledger")
	arrivals, werr := r.watcher.Arrivals()
	if werr != nil {
		r.rep.Notes = append(r.rep.Notes, "event stream: "+werr.Error())
	}
	ids, bad := r.rec.AcceptedIDs()
	r.book.Begin("loss-check")
	loss, commits, err := ledgerload.Check(ctx, r.ledger, arrivals, ids, r.rec.AcceptedContests(), bad, r.rec.Unanswered())
	r.book.End()
	if err != nil {
		r.rep.Notes = append(r.rep.Notes, "loss check: "+err.Error())
	}
	r.rep.Loss = loss
	r.contestResults(ctx)
	r.say("loss check: %d accepted, %d counted, missing %d, extra %d, twice %d", loss.Accepted, loss.Counted, loss.Missing, loss.Extra, loss.CountedTwice)
	within := func(p loadgen.Phase) measure.Latency {
		from := r.t0.Add(time.Duration(p.StartS * float64(time.Second)))
		to := from.Add(time.Duration(p.DurationS * float64(time.Second)))
		var lat []time.Duration
		for _, c := range commits {
			// Cast times are whole milliseconds: allow one on either side.
			if !c.CastAt.Before(from.Add(-time.Millisecond)) && c.CastAt.Before(to.Add(time.Millisecond)) {
				lat = append(lat, c.Committed.Sub(c.CastAt))
			}
		}
		return measure.Summarize(lat)
	}
	r.rep.Referendum.CommitLatency = within(r.rep.Referendum.Phase)
	r.rep.Surge.CommitLatency = within(r.rep.Surge.Phase)
}

// ledgerSize sizes the peers' ledger folders against the votes on the channel.
func (r *run) ledgerSize(ctx context.Context) {
	l := &r.rep.Ledger
	l.PeerBytes = map[string]int64{}
	// Each peer's ledger sits in nodes/<peer host>/data.
	nodes := filepath.Dir(filepath.Dir(r.st.Network().Layout().NodeDataDir("x")))
	entries, err := os.ReadDir(nodes)
	if err != nil {
		r.rep.Notes = append(r.rep.Notes, "ledger size: "+err.Error())
	}
	for _, e := range entries {
		data := filepath.Join(nodes, e.Name(), "data")
		if !strings.HasPrefix(e.Name(), "peer") {
			continue
		}
		if _, err := os.Stat(data); err != nil {
			continue
		}
		n, err := measure.DirSize(data)
		if err != nil {
			r.rep.Notes = append(r.rep.Notes, "ledger size: "+err.Error())
			continue
		}
		l.PeerBytes[e.Name()] = n
	}
	res, err := r.ledger.Results(ctx)
	if err != nil {
		r.rep.Notes = append(r.rep.Notes, "ledger results: "+err.Error())
		return
	}
	l.Votes = res.Counted + res.Rejected
	var most int64
	for _, n := range l.PeerBytes {
		most = max(most, n)
	}
	if l.Votes > 0 {
		l.BytesPerVote = float64(most) / float64(l.Votes)
	}
}

// series fills the plot's per-second series.
func (r *run) series() {
	tl := r.rec.Timeline()
	s := &r.rep.Series
	s.Start = r.t0
	s.Sent, s.Accepted = tl.Sent.Count, tl.Accepted.Count
	s.AcceptP50ms, s.AcceptP99ms = tl.AcceptLat.PerSecond(50), tl.AcceptLat.PerSecond(99)
	committed, driver := measure.NewSeries(r.t0), measure.NewSeries(r.t0)
	arrivals, _ := r.watcher.Arrivals()
	for _, a := range arrivals {
		if ledgerload.IsDriverSeq(a.Seq) {
			driver.Add(a.At, float64(a.Counted))
		} else {
			committed.Add(a.At, float64(a.Counted))
		}
	}
	s.Committed, s.DriverCommitted = committed.Count, driver.Count
	r.mu.Lock()
	s.Queued = append([]float64(nil), r.queued.Count...)
	r.mu.Unlock()
}

// redisProfile is Redis's own account of where its time went.
func (r *run) redisProfile(ctx context.Context) report.Profile {
	p := report.Profile{Process: "redis", How: "INFO commandstats and persistence after the run: calls, total and per-call microseconds of each command; AOF rewrites", File: "-"}
	info, err := r.rdb.Info(ctx, "commandstats", "persistence").Result()
	if err != nil {
		p.Top = err.Error()
		return p
	}
	var lines []string
	for _, l := range strings.Split(info, "\n") {
		if strings.HasPrefix(l, "cmdstat_") || strings.HasPrefix(l, "aof_rewrites") || strings.HasPrefix(l, "aof_last_rewrite_time_sec") || strings.HasPrefix(l, "aof_current_size") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	p.Top = strings.Join(lines, "\n")
	return p
}

func medianQPS(rs []loadgen.ReadResult) float64 {
	q := make([]float64, len(rs))
	for i, x := range rs {
		q[i] = x.QPS
	}
	slices.Sort(q)
	switch n := len(q); {
	case n == 0:
		return 0
	case n%2 == 1:
		return q[n/2]
	default:
		return (q[n/2-1] + q[n/2]) / 2
	}
}

func bestQPS(rs []loadgen.ReadResult) float64 {
	var best float64
	for _, x := range rs {
		best = max(best, x.QPS)
	}
	return best
}
