// Command benchrun is `make bench`: it brings up the benchmark's own
// Votechain system (its own run folder and ports, apart from `make up`),
// runs every phase (bench/suite: the ledger ceiling's sweep of votes per
// transaction and in-flight depth on a fresh ledger, referendum rate, 60 s sustained and the search for the
// sustainable rate, ramp to the knee, fixed offered rates, surge and drain,
// a duplicate storm, the ceiling after intake and the naive baseline,
// results reads against a bare handler, the ceiling after the ledger has
// grown, the other consensus's ceiling on a second network, the ceiling
// with and without the roll sealed on two more, and the ceiling with every
// vote in one contest against the votes spread over several, and last the
// scale-out phase: the cluster shape - a Redis Cluster, two gateways behind
// HAProxy, two batchers - on an extra stack, a fixed rate offered through
// HAProxy and every process's CPU per vote, which the report's scale-out
// plan is made of), checks that
// no accepted vote was lost (per contest too), and writes the report
// (Markdown, JSON, SVG) into a folder named by date and machine (with
// -run2, -run3, … when an earlier run took the name). --election
// picks the election template (default the one-race config/election.json);
// with one contest the contests pair runs on an extra network with the
// contests of --contests-election (default the three-question
// config/referendum.json), with several on the run's own network. --only
// scaleout runs the scale-out phase alone (its report folder ends in
// -only-scaleout), for trying it out; --only sweep and --only intake run
// the start of a run and its intake phases alone on the run's own system;
// --only ab compares two settings of the batchers' environment (--ab-env
// against --ab-env-a) in one run, --ab-rounds rounds of probes A B B A (even
// rounds B A A B) at each --ab-rates rate, each probe after a restart of
// the batchers and an unmeasured --ab-warmup.
// Benchmarks report; a slow machine never fails the run: it exits 0 once
// the run got to its end, whatever it measured. A run cut short saves what
// it measured as a partial report and exits non-zero, its last line saying
// why and where the report is: 130 after SIGINT, 143 after SIGTERM, 1 for
// any other early end. A mistake on the command line exits 2, before
// anything starts.
//
//	benchrun [flags]                 run the benchmark
//	benchrun serve-bytes [flags]     serve a file's bytes (the bare handler; started by the run)
//	benchrun render DIR              write DIR's report.md and report.svg again from its report.json
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/bench/loadgen"
	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/bench/report"
	"github.com/votechain/votechain/bench/suite"
	"github.com/votechain/votechain/gateway/election"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/rundir"
	"github.com/votechain/votechain/internal/stack"
)

func main() {
	cli.Main("benchrun", func(ctx context.Context) error { return dispatch(ctx, os.Args[1:]) })
}

// dispatch runs the command args name first, serve-bytes or render, with
// the arguments after it; args of neither run the benchmark.
func dispatch(ctx context.Context, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "serve-bytes":
			return serveBytes(ctx, args[1:])
		case "render":
			return render(args[1:])
		}
	}
	return run(ctx, args)
}

// synopsis is the usage's head, before the flags of the run.
const synopsis = `Usage:
  benchrun [flags]              run the benchmark and write its report (make bench)
  benchrun render DIR           write DIR's report.md and report.svg again from its report.json
  benchrun serve-bytes [flags]  serve a file's bytes (the bare handler the run starts)

Flags of the run:
`

// run is the benchmark with the flags args. Main's ctx ends it on SIGINT
// or SIGTERM, its cause (cli.Interrupted) naming the signal, which the
// run's phases and its system's teardown finish on and conclude reports.
func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("benchrun", flag.ContinueOnError)
	dir := fs.String("dir", ".run/bench", "run folder of the benchmark's own system")
	plan, defaultAB := suite.DefaultPlan(), suite.DefaultAB() // the flags change plan
	firstEphemeral := suite.FirstEphemeralPort()
	firstBase, lastBase := suite.PortBases(suite.Config{Plan: plan, FirstEphemeral: firstEphemeral})
	portBase := fs.Int("port-base", suite.DefaultPortBase, fmt.Sprintf("first port of the benchmark system's port plan (make up uses 27000; tests 10000-31399); the scale-out stack's plan starts 400 below it and the extra networks' 400 above, so a whole run takes a base from %d to %d (ports base-400..base+799, below this machine's ephemeral range, %d+); a run that brings up fewer stacks needs room only for theirs (--only intake, sweep, ab: the system's 400 ports; --only scaleout: the 400 below; --scaleout-rate 0: none below)", firstBase, lastBase, firstEphemeral))
	voters := fs.Int("voters", 5_000_000, "synthetic voters (at least 1) on the benchmark roll for the intake phases (default 1,000,000 with --quick); they stop early if it runs out, and the voters they leave unsent cast the ledger drives after them, so a faster intake or more search probes need more (3,000,000 until run 58, which ran out on a machine whose intake sent 2.6 M of them; 3,500,000 until run 61, whose fourth search probe left 26,399 too few; 4,000,000 until run 65, whose search probes at 8,000-12,000 votes/s left 103,909 too few)")
	driverVoters := fs.Int("driver-voters", 0, "more voters on the roll, kept for the ledger drives before the intake phases so the sealed roll counts their votes (0: as many as those drives may cast at --drive-rate); after the intake the voters it did not send join them, and the run fails if a drive might run out")
	driveRate := fs.Float64("drive-rate", plan.DriveRate, "most votes/s (above 0) a ledger drive is assumed to commit: sizes the roll voters each drive may cast (a faster drive ends the run)")
	extraDriveRate := fs.Float64("extra-drive-rate", plan.ExtraDriveRate, "as --drive-rate, for the eligibility drives on extra fresh networks: sizes the roll they share")
	electionFile := fs.String("election", "config/election.json", "election template of the benchmark system: its states and contests (config/election.json: one race; config/referendum.json: three questions, whose roll has three entries per voter and takes three times as long to write, and whose ledger ceiling is then also measured with every vote in one question on the run's own network)")
	contestsFile := fs.String("contests-election", "config/referendum.json", "election template whose contests (two or more) the ledger ceiling is measured over, against every vote in one of them, on an extra network, when --election has one contest (empty: not measured)")
	reports := fs.String("reports", "bench/reports", "folder that gets the run's report folder: <date>-<cpus>cpu-<host>, or the first free of it with -run2, -run3, … (a run refused at its start, or ended before it measured anything, leaves none)")
	ledgerPrio := stack.LedgerPriorityFlag(fs, "the benchmark's system (as make up)")
	fresh := fs.Bool("fresh", true, "wipe the benchmark system first (an empty ledger and an unused roll): every process its folder records is stopped first, and if one will not stop it is named and nothing is deleted; a --dir holding files but no "+rundir.Marker+" (made by no votechain command) is refused, deleting nothing")
	keep := fs.Bool("keep", false, "leave the benchmark system running afterwards")
	quick := fs.Bool("quick", false, "shorter phases, for trying the benchmark out (figures are less steady)")
	profile := fs.Bool("profile", true, "CPU-profile the vote intake (go test -bench with -cpuprofile) for the report")
	dup := fs.Float64("duplicates", 0.02, "share of vote attempts re-sending a voter who already voted (0 or more, and with --ineligible below 1)")
	inel := fs.Float64("ineligible", 0.01, "share of vote attempts by voter ids not on the roll (0 or more, and with --duplicates below 1)")
	workers := fs.Uint64("max-workers", 1024, "most vote requests in flight (at least 1)")
	exactMetric := fs.String("exact-check-metric", "ledger_exact_checks_total,bloom_maybe_seen_total", "the gateway's counter of duplicate checks that asked the ledger, or a comma-separated list: the first the gateway exposes (the duplicate storm reports its increase)")
	other := fs.Bool("other-consensus", true, "measure the other consensus's fresh-ledger ceiling on a second network brought up for it")
	sweepNoise := fs.Float64("sweep-noise", plan.SweepNoise, "share of the fastest sweep setting's rate within which settings count as equal: the two that decide such a tie are driven once more, and the least CPU per vote wins")
	only := fs.String("only", "", "run one phase alone instead of the whole benchmark: "+strings.Join(suite.OnlyPhases(), ", ")+" (scaleout: the cluster shape on its own stack at --port-base - 400; sweep: the sweep and its choice, the fresh ceiling, the catch-up and the referendum on the run's system; intake: the sustained phase, the ramp, the fixed rates, the surge and its drain and the loss check on the run's system, no ledger drives, to compare --ledger-priority settings; ab: an A/B of the batchers' environment, --ab-env against --ab-env-a, on the run's system; the report's folder gets the suffix -only-<phase>)")
	abB := fs.String("ab-env", "", "with --only ab: B's batcher settings, NAME=value separated by spaces, each the BATCHER_* variable of a batcher flag (e.g. 'BATCHER_LEDGER_LAG=-1s'), added to the batchers' environment for B's probes; at each --ab-rates rate the probes run A B B A (--ab-rounds: more rounds, the even ones B A A B), the batchers restarted with the probe's settings before each")
	abA := fs.String("ab-env-a", "", "with --only ab: A's batcher settings, as --ab-env (empty: the batchers' defaults; a name one side sets and the other does not must be unset in benchrun's environment)")
	abRates := fs.String("ab-rates", suite.FormatRates(defaultAB.Rates), "with --only ab: the offered votes/s, comma-separated, each once; four probes a round at each")
	abRounds := fs.Int("ab-rounds", defaultAB.Rounds, "with --only ab: rounds of four probes in a row at each rate, A B B A then B A A B, alternating; the report pools them (B÷A of the means, each round's own B÷A, in how many rounds B came lower). Each probe takes about --ab-duration plus the drain and a restart of the batchers")
	abDur := fs.Duration("ab-duration", defaultAB.Dur, "with --only ab: each probe's intake at its rate, before the queue's drain")
	abWarm := fs.Duration("ab-warmup", defaultAB.Warmup, "with --only ab: after each restart of the batchers, an unmeasured intake at the probe's rate for this long, then the queue's drain, before the probe (phases ab-…-warm; 0: none, the probe starts on the batchers just restarted)")
	scaleRate := fs.Float64("scaleout-rate", plan.ScaleOutRate, "votes/s offered through HAProxy in the scale-out phase (default 1000 with --quick; 0: skip the phase)")
	scaleDur := fs.Duration("scaleout-duration", plan.ScaleOutDur, "how long the scale-out phase offers its rate (default 10s with --quick)")
	minFree := fs.Float64("min-free-gb", 30, "refuse to start with less free space than this (GB) where --dir lives: a full run's data reach about 17 GB and a full disk stops Redis and the nodes mid-run (default 10 with --quick; 0: no check)")
	growTo := fs.Uint64("grow-to", plan.GrowTo, "fill the ledger to this many votes before measuring the ceiling again (0: skip)")
	fs.Usage = func() { fmt.Fprint(fs.Output(), synopsis); fs.PrintDefaults() }
	if err := cli.ParseArgs(fs, "", args); err != nil { // flags only, no variables
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unknown command %q: benchrun's commands, given first, are render and serve-bytes; the run takes flags only", fs.Arg(0))
	}
	setFlags := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { setFlags[f.Name] = true })
	if *quick && !setFlags["min-free-gb"] {
		*minFree = 10
	}
	if *quick && !setFlags["voters"] {
		*voters = 1_000_000
	}
	// The flags are checked, the election templates read and the run
	// folder checked before the report's folder is made.
	if err := checkRunFlags(fs); err != nil {
		return err
	}
	ab, err := abConfig(ctx, *only, setFlags, abFlags{a: *abA, b: *abB, rates: *abRates, d: *abDur, warmup: *abWarm, rounds: *abRounds}, *voters, "bin")
	if err != nil {
		return err
	}
	tmpl, err := flagTemplate("election", *electionFile)
	if err != nil {
		return err
	}
	var contests []ballot.Contest
	if *contestsFile != "" && len(tmpl.Contests) == 1 {
		ce, err := flagTemplate("contests-election", *contestsFile)
		if err != nil {
			return err
		}
		if len(ce.Contests) < 2 {
			return cli.Usagef("--contests-election %s has %d contest: give a template of two or more (config/referendum.json), or --contests-election '' to skip", *contestsFile, len(ce.Contests))
		}
		contests = ce.Contests
	}
	plan.GrowTo, plan.DriveRate, plan.ExtraDriveRate, plan.OtherConsensus = *growTo, *driveRate, *extraDriveRate, *other
	plan.SweepNoise = *sweepNoise
	plan.ScaleOutRate, plan.ScaleOutDur = *scaleRate, *scaleDur
	if *quick {
		plan = plan.Quick()
		if !setFlags["scaleout-rate"] {
			plan.ScaleOutRate = 1000
		}
		if !setFlags["scaleout-duration"] {
			plan.ScaleOutDur = 10 * time.Second
		}
		if !setFlags["grow-to"] {
			plan.GrowTo = 300_000
		}
	}
	if *driverVoters <= 0 && *only != suite.OnlyIntake && *only != suite.OnlyAB { // the intake alone and the A/B drive no ledger
		*driverVoters = plan.DriverVoters(len(tmpl.Contests))
	}
	cfg := suite.Config{
		Stack: suite.StackConfig{Dir: *dir, PortBase: *portBase, BinDir: "bin", FabricBin: "bin/fabric", Election: *electionFile,
			Voters: *voters + *driverVoters, DriverVoters: *driverVoters, LedgerPriority: *ledgerPrio},
		Fresh: *fresh, Keep: *keep, Plan: plan, Mix: loadgen.Mix{Duplicate: *dup, Ineligible: *inel}, Workers: *workers,
		Progress: os.Stderr, ExactCheckMetric: *exactMetric, Contests: contests, Only: *only, AB: ab, FirstEphemeral: firstEphemeral,
	}
	if err := suite.CheckPortBase(cfg); err != nil { // the stacks this run brings up, not every run's
		return cli.Usagef("--port-base %d: %w", *portBase, err)
	}
	if err := suite.CheckRunDir(cfg); err != nil { // as suite.Run would, once it had the report's folder
		return err
	}
	if err := checkFreeSpace(*dir, *minFree); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	name := fmt.Sprintf("%s-%dcpu-%s", time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), host)
	if *only != "" {
		name += "-only-" + *only // never over a whole run's report
	}
	out, err := reportFolder(*reports, name)
	if err != nil {
		return err
	}
	// A run that wrote nothing into the folder it made (it failed to
	// start, or ended before it measured anything) leaves none: os.Remove
	// removes no folder that holds a file.
	defer func() {
		if os.Remove(out) == nil {
			fmt.Fprintf(os.Stderr, "report folder %s removed: the run wrote nothing into it\n", out)
		}
	}()
	fmt.Fprintf(os.Stderr, "report folder: %s\n", out)
	if err := os.MkdirAll(filepath.Dir(*dir), 0o755); err != nil { // a fresh clone has no .run yet
		return err
	}
	logFile, err := os.Create(filepath.Join(*dir + ".log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	cfg.Self, cfg.OutDir, cfg.Stack.Log = self, out, slog.New(slog.NewTextHandler(logFile, nil))
	if *profile && *only == "" {
		cfg.Profile = profileIntake
	}
	rep, err := suite.Run(ctx, cfg)
	return conclude(ctx, os.Stderr, rep, err, out)
}

// reportFolder makes and returns the first free folder for a run's report
// under reports: reports/name, else reports/name-run2, -run3, … (the
// suffix earlier reports in bench/reports were renamed to by hand), so a
// run never writes into another's report folder and a partial report
// never replaces a complete one. Taking the name with os.Mkdir, which
// fails on one that exists, keeps two runs started at once apart.
func reportFolder(reports, name string) (string, error) {
	if err := os.MkdirAll(reports, 0o755); err != nil {
		return "", err
	}
	for run := 1; ; run++ {
		dir := filepath.Join(reports, name)
		if run > 1 {
			dir += fmt.Sprintf("-run%d", run)
		}
		err := os.Mkdir(dir, 0o755)
		if !errors.Is(err, fs.ErrExist) {
			return dir, err
		}
	}
}

// metricName is a Prometheus metric's name.
var metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

// checkRunFlags refuses, as usage errors naming the flag and the values it
// takes, the run's flags (fs) that no run can use, before anything is made
// or started: no --dir, an --only that is no phase, no voters, fewer than
// no driver voters, a drive rate that is not above zero, shares of
// duplicates and ineligible voters that leave no fresh votes, no workers,
// an --exact-check-metric that names no metric, a --sweep-noise outside
// 0..1, a scale-out rate below zero or its duration not above it, and a
// --min-free-gb below zero. The --ab-* flags are abConfig's, --port-base
// is checked against the stacks the run brings up (suite.CheckPortBase).
func checkRunFlags(fs *flag.FlagSet) error {
	value := func(name string) any { return fs.Lookup(name).Value.(flag.Getter).Get() }
	if value("dir").(string) == "" {
		return cli.Usagef("--dir is empty: give the benchmark system's run folder (default .run/bench)")
	}
	if only := value("only").(string); only != "" && !slices.Contains(suite.OnlyPhases(), only) {
		return cli.Usagef("--only %q: the phases that run alone are %s", only, strings.Join(suite.OnlyPhases(), ", "))
	}
	if v := value("voters").(int); v < 1 {
		return cli.Usagef("--voters is %d: the intake phases need at least 1 voter", v)
	}
	if v := value("driver-voters").(int); v < 0 {
		return cli.Usagef("--driver-voters is %d: give 0 (as many as the drives may cast) or more", v)
	}
	for _, name := range []string{"drive-rate", "extra-drive-rate"} {
		if v := value(name).(float64); !(v > 0) {
			return cli.Usagef("--%s is %v: it must be above zero (votes/s)", name, v)
		}
	}
	if err := (loadgen.Mix{Duplicate: value("duplicates").(float64), Ineligible: value("ineligible").(float64)}).Validate(); err != nil {
		return cli.Usagef("--duplicates, --ineligible: %v", err)
	}
	if value("max-workers").(uint64) == 0 {
		return cli.Usagef("--max-workers is 0: it must be at least 1")
	}
	for _, name := range strings.Split(value("exact-check-metric").(string), ",") {
		if !metricName.MatchString(name) {
			return cli.Usagef("--exact-check-metric: %q is not a metric's name: give one, or several separated by commas (letters, digits, _ and :)", name)
		}
	}
	if v := value("sweep-noise").(float64); !(v >= 0 && v < 1) {
		return cli.Usagef("--sweep-noise %v: give a share of the rate from 0 to below 1 (0.15 counts rates within 15%% of the fastest as equal)", v)
	}
	if v := value("scaleout-rate").(float64); !(v >= 0) {
		return cli.Usagef("--scaleout-rate is %v: give the votes/s to offer, or 0 to skip the phase", v)
	}
	if v := value("min-free-gb").(float64); !(v >= 0) {
		return cli.Usagef("--min-free-gb is %v: give the GB a run wants free, or 0 for no check", v)
	}
	return cli.DurationsAtLeast(fs, time.Millisecond, "scaleout-duration")
}

// abFlags are the --ab-* flags' values: --ab-env-a, --ab-env, --ab-rates,
// --ab-duration, --ab-warmup, --ab-rounds.
type abFlags struct {
	a, b, rates string
	d, warmup   time.Duration
	rounds      int
}

// abConfig is the A/B --only ab runs, from its flags (set: the flags
// given), checked (suite.CheckAB, against the intake's voters, --voters,
// and the batcher in binDir) before anything starts; an --ab-* flag
// without --only ab is a mistake. Every refusal is a usage error, a
// batcher in binDir that does not answer --help too (its error says to
// run make build). ctx bounds the batcher's --help: once it ends (a
// signal) abConfig fails with its error.
func abConfig(ctx context.Context, only string, set map[string]bool, f abFlags, voters int, binDir string) (suite.AB, error) {
	if only != suite.OnlyAB {
		for _, name := range []string{"ab-env", "ab-env-a", "ab-rates", "ab-duration", "ab-warmup", "ab-rounds"} {
			if set[name] {
				return suite.AB{}, cli.Usagef("--%s goes with --only ab", name)
			}
		}
		return suite.AB{}, nil
	}
	rs, err := suite.ParseRates(f.rates)
	if err != nil {
		return suite.AB{}, cli.Usagef("--ab-rates: %w", err)
	}
	ab := suite.AB{A: suite.ParseEnv(f.a), B: suite.ParseEnv(f.b), Rates: rs, Dur: f.d, Warmup: f.warmup, Rounds: f.rounds}
	if err := suite.CheckAB(ctx, ab, voters, binDir); err != nil {
		return ab, err // a usage error, but for a batcher not built
	}
	return ab, nil
}

// conclude saves what a run measured (rep; nil if the run never got that
// far) into out, says so on w with the targets, and returns how the run
// ended, for cli.Main to print last and exit with. It is nil only for a run
// that got to its end, whatever it measured: a benchmark reports, it does
// not fail because the machine is slow. A run that a signal cut short
// (ctx's cause a cli.Interrupted) ends in an error wrapping it, whose
// status is the shell's for the signal (130 for SIGINT, 143 for SIGTERM),
// even if every phase took the cancellation in its stride (runErr nil);
// any other early end (runErr) in an error Main exits 1 for. Both name the
// partial report.
func conclude(ctx context.Context, w io.Writer, rep *report.Report, runErr error, out string) error {
	why := runErr
	var sig cli.Interrupted
	if errors.As(context.Cause(ctx), &sig) {
		why = sig
		if runErr != nil {
			why = fmt.Errorf("%w: %w", sig, runErr)
		}
	}
	if rep == nil {
		if why == nil {
			return nil
		}
		return fmt.Errorf("the run ended early, before it measured anything (no report written): %w", why)
	}
	if why != nil {
		rep.Notes = append(rep.Notes, "the run ended early: "+why.Error())
	}
	if err := rep.Save(out); err != nil {
		if why != nil {
			return fmt.Errorf("the run ended early: %w; and its partial report could not be saved: %w", why, err)
		}
		return err
	}
	md := filepath.Join(out, "report.md")
	what := "report"
	if why != nil {
		what = "partial report"
	}
	fmt.Fprintf(w, "\n%s: %s (and report.json, report.svg)\n", what, md)
	for _, t := range rep.Targets {
		fmt.Fprintf(w, "  %-45s %-12s %-50s %s\n", t.Name, t.Goal, t.Measured, t.Margin)
	}
	if why == nil {
		return nil
	}
	return fmt.Errorf("the run ended early: %w; partial report: %s", why, md)
}

// checkFreeSpace refuses a run that could fill the disk under dir.
func checkFreeSpace(dir string, minGB float64) error {
	if minGB <= 0 {
		return nil
	}
	for { // a fresh clone has no .run yet: the nearest folder that exists
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir)
	}
	free, err := measure.FreeBytes(dir)
	if err != nil {
		return err
	}
	if gb := float64(free) / 1e9; gb < minGB {
		return fmt.Errorf("only %.1f GB free under %s, and this run wants %.0f GB (--min-free-gb): delete old run data (.run/bench of other clones, the Go build cache) or pass a lower --min-free-gb", gb, dir, minGB)
	}
	return nil
}

// profileIntake CPU-profiles the gateway's vote intake (decode, HMAC, Lua
// dedup, XADD on a real redis-server) with the package's own benchmark, and
// keeps the profile and its top functions.
func profileIntake(ctx context.Context, dir string) (report.Profile, error) {
	tmp, err := os.MkdirTemp("", "benchrun-pprof-")
	if err != nil {
		return report.Profile{}, err
	}
	defer os.RemoveAll(tmp)
	prof, _ := filepath.Abs(filepath.Join(dir, "gateway-intake.pprof"))
	bin := filepath.Join(tmp, "httpapi.test")
	how := "go test ./gateway/httpapi -run '^$' -bench 'BenchmarkVoteIntake/redis-intake' -benchtime 20000x -cpuprofile"
	cmd := exec.CommandContext(ctx, "go", "test", "./gateway/httpapi", "-run", "^$", "-bench", "BenchmarkVoteIntake/redis-intake",
		"-benchtime", "20000x", "-cpuprofile", prof, "-o", bin)
	outb, err := cmd.CombinedOutput()
	if err != nil {
		return report.Profile{}, fmt.Errorf("%s: %w: %s", how, err, outb)
	}
	top, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-cum", "-nodecount=35", bin, prof).Output()
	if err != nil {
		return report.Profile{}, fmt.Errorf("go tool pprof: %w", err)
	}
	var bench string
	for _, l := range strings.Split(string(outb), "\n") {
		if strings.Contains(l, "votes/s") {
			bench = strings.Join(strings.Fields(l), " ")
		}
	}
	return report.Profile{Process: "gateway vote intake (in-process handler benchmark)",
		How: how + " (" + bench + ")", File: filepath.Base(prof), Top: string(top)}, nil
}

// serveBytes is the bare handler: a file's bytes with a content type and
// ETag, from net/http and nothing else, until ctx ends.
func serveBytes(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve-bytes", flag.ContinueOnError)
	file := fs.String("file", "", "file whose bytes every request gets")
	contentType := fs.String("content-type", "application/json", "Content-Type header")
	etag := fs.String("etag", "", "ETag header")
	listen := fs.String("listen", "127.0.0.1:0", "listen address")
	if err := cli.ParseFlags(fs, "", args); err != nil { // no variables: flags only
		return err
	}
	if *file == "" {
		return cli.Usagef("serve-bytes: no --file: give the file whose bytes to serve")
	}
	body, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	return loadgen.ServeBare(ctx, ln, loadgen.ReadSnapshot{Body: body, ContentType: *contentType, ETag: *etag})
}

// render is benchrun render DIR: it rewrites the Markdown and plot of the
// report in DIR from its JSON, which it never writes. No DIR, or more than
// one, is a usage error; a report.json that is not a bench report
// (report.Load) is an error naming it, and nothing is written.
func render(args []string) error {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: benchrun render DIR\n\nWrites DIR's report.md and report.svg again from its report.json, and nothing else.\nA report.json that is not a bench report (a field the report does not have,\nno date or machine) is refused; a report from before the scale-out phase is\nread, its Scaling out section saying it predates the phase.\n")
	}
	if err := cli.ParseArgs(fs, "", args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("render: give one report folder, as in benchrun render bench/reports/<date>-<machine>; got %d arguments", fs.NArg())
	}
	dir := fs.Arg(0)
	rep, err := report.Load(dir)
	if err != nil {
		return err
	}
	return rep.Render(dir)
}

// flagTemplate reads the election template a flag names; one that cannot
// be read, parsed or checked is a usage error naming the flag and the file.
func flagTemplate(flagName, path string) (ballot.Election, error) {
	e, err := election.Template(path)
	if err != nil {
		return e, cli.Usagef("--%s %s: %w", flagName, path, err)
	}
	return e, nil
}
