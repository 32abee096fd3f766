// Command loadgen drives a running Votechain gateway over HTTP (its own client,
// open loop) with votes from the synthetic roll, spread over the election's
// states with a population skew and over its contests (each voter votes in
// one, picked by a hash of the voter id), plus a share of duplicate and
// ineligible attempts. Modes:
//
//	constant  offer --rate votes/s for --duration
//	ramp      offer --ramp-from, +--ramp-by, ... up to --ramp-to votes/s, --ramp-step each,
//	          until a step is not served; prints the knee
//	surge     offer --rate votes/s (far above the commit rate) for --duration,
//	          then wait until the queues drain onto the ledger; prints the drain time
//	          (the queues are read in Redis, --redis-*, reached before the surge)
//
// It prints progress every second, and says when the gateway stops answering
// (no answer for 5 s while requests wait) and when it answers again; it
// writes the vote id of every 202 to --ids (for the loss check) and a JSON
// summary of the phases to --summary.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/bench/loadgen"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/redisserver"
)

const synopsis = `Usage: loadgen [flags]

Drives the Votechain gateway with votes from the synthetic roll (make up
writes it to .run/roll/voters.csv). Modes: constant, ramp (finds the knee),
surge (burst, then waits for the drain onto the ledger, watching the queues
in Redis: --redis-addr and its user's password, reached before the surge).
Progress goes to stderr every second, with a line when the gateway stops answering (no answer
for 5 s while requests wait) and one when it answers again.

Flags:
`

func main() {
	cli.SilenceRedis() // the surge's wait for the queues' drain reports Redis's errors
	cli.Main("loadgen", run)
}

// summary is the JSON written to --summary.
type summary struct {
	Mode        string          `json:"mode"`
	Phases      []loadgen.Phase `json:"phases"`
	KneeIndex   *int            `json:"knee_index,omitempty"`
	DrainS      float64         `json:"drain_s,omitempty"`
	AcceptedIDs int             `json:"accepted_ids"`
	RepeatedIDs int             `json:"repeated_ids"`
	// PerContest is the vote ids answered 202 per contest of the election.
	PerContest map[string]int `json:"accepted_per_contest"`
}

// checkFlags refuses, before any request and as usage errors, settings
// that cannot make a run: a gateway URL without its scheme, an unknown
// mode, a rate, ramp step or duration that is not above zero (a ramp that
// never ends, a sender spinning a core, rates of 0/0, a drain never waited
// for), a ramp that ends below its start, a share outside 0..1 or a mix
// that leaves no fresh votes, no workers.
func checkFlags(fs *flag.FlagSet) error {
	value := func(name string) any { return fs.Lookup(name).Value.(flag.Getter).Get() }
	if err := cli.CheckGatewayURL("--url", value("url").(string)); err != nil {
		return err
	}
	if m := value("mode").(string); m != "constant" && m != "ramp" && m != "surge" {
		return cli.Usagef("--mode %q: want constant, ramp or surge", m)
	}
	for _, name := range []string{"rate", "ramp-from", "ramp-by", "ramp-to"} {
		if v := value(name).(float64); !(v > 0) {
			return cli.Usagef("--%s is %v: it must be above zero (votes/s)", name, v)
		}
	}
	if from, to := value("ramp-from").(float64), value("ramp-to").(float64); to < from {
		return cli.Usagef("--ramp-to %v is below --ramp-from %v", to, from)
	}
	for _, name := range []string{"knee-served", "knee-failed"} {
		if v := value(name).(float64); !(v >= 0 && v <= 1) {
			return cli.Usagef("--%s is %v: it is a share of the offered rate, from 0 to 1", name, v)
		}
	}
	if err := (loadgen.Mix{Duplicate: value("duplicates").(float64), Ineligible: value("ineligible").(float64)}).Validate(); err != nil {
		return cli.Usagef("--duplicates, --ineligible: %v", err)
	}
	if value("max-workers").(uint64) == 0 {
		return cli.Usagef("--max-workers is 0: it must be at least 1")
	}
	return cli.DurationsAtLeast(fs, time.Millisecond, "duration", "ramp-step", "knee-p99", "timeout", "drain-timeout")
}

// run is loadgen with the flags of os.Args; ctx ends the run (SIGINT,
// SIGTERM), which still writes what it measured.
func run(ctx context.Context) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	url := fs.String("url", "http://"+cli.DefaultGatewayAddr(), "gateway base URL")
	redisFlags := cli.RedisFlags(fs, redisserver.UserAdmin) // surge mode watches the queues drain
	rollPath := fs.String("roll", ".run/roll/voters.csv", "roll CSV with credentials (voter_id,credential,state)")
	mode := fs.String("mode", "constant", "constant, ramp or surge")
	rate := fs.Float64("rate", 1000, "offered votes/s (constant and surge)")
	duration := fs.Duration("duration", 30*time.Second, "how long to offer --rate (constant and surge)")
	rampFrom := fs.Float64("ramp-from", 1000, "ramp: first offered rate")
	rampBy := fs.Float64("ramp-by", 1000, "ramp: rate added per step")
	rampTo := fs.Float64("ramp-to", 30000, "ramp: last offered rate")
	rampStep := fs.Duration("ramp-step", 5*time.Second, "ramp: how long each step lasts")
	kneeServed := fs.Float64("knee-served", 0.95, "ramp: a step is served only if its answers (neither 503, timeout nor transport error) reach this share of the offered rate, and --knee-p99 and --knee-failed hold; the knee is the last step served before the first that is not")
	kneeP99 := fs.Duration("knee-p99", time.Second, "ramp: a step is served only if the p99 latency of its answers is at most this")
	kneeFailed := fs.Float64("knee-failed", 0.01, "ramp: a step is served only if its 503s, timeouts and transport errors are at most this share of the offered rate")
	dup := fs.Float64("duplicates", 0.02, "share of attempts re-sending a voter who already voted (expect 409)")
	inel := fs.Float64("ineligible", 0.01, "share of attempts by voter ids not on the roll (expect 403)")
	drainLimit := fs.Duration("drain-timeout", 10*time.Minute, "surge: longest wait for the drain")
	workers := fs.Uint64("max-workers", 1024, "most requests (and connections) in flight (bounded so an overloaded gateway is not buried in connections)")
	timeout := fs.Duration("timeout", 30*time.Second, "per-request timeout")
	procs := fs.Int("procs", 1, "GOMAXPROCS while votes are sent (one thread costs the machine under test the least CPU per request; negative: Go's default)")
	seed := fs.Uint64("seed", 0, "random seed of the attempts' states, choices, duplicates and ineligible voters (printed at the start; the same seed, roll and flags give the same attempts); 0, the default: seeded from the clock")
	idsPath := fs.String("ids", "loadgen-ids.txt", "file for the vote id of every 202, one a line")
	summaryPath := fs.String("summary", "", "file for the JSON summary (default: none)")
	fs.Usage = func() { fmt.Fprint(fs.Output(), synopsis); fs.PrintDefaults() }
	if err := cli.ParseFlags(fs, "", os.Args[1:]); err != nil { // no variables: flags only
		return err
	}
	if err := checkFlags(fs); err != nil {
		return err
	}
	// The surge's drain is watched in Redis: a Redis the flags do not
	// reach (an address without its port, a password file not readable,
	// no server) is refused now, before any vote, not after the surge.
	var queues redis.UniversalClient
	if *mode == "surge" {
		rdb, err := redisFlags.Connect(ctx)
		if err != nil {
			return err
		}
		defer rdb.Close()
		queues = rdb
	}

	election, err := fetchElection(ctx, *url, *timeout)
	if err != nil {
		return err
	}
	r, err := loadgen.ReadRoll(*rollPath, election.States)
	if err != nil {
		return err
	}
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}
	gen, err := loadgen.NewGenerator(r, election.Contests, loadgen.Mix{Duplicate: *dup, Ineligible: *inel}, *seed)
	if err != nil {
		return err
	}
	// The result files are created before the load, so one that cannot be
	// written is refused now, not after a run of many minutes.
	idsFile, err := os.Create(*idsPath)
	if err != nil {
		return fmt.Errorf("--ids: %w", err)
	}
	defer idsFile.Close()
	var summaryFile *os.File
	if *summaryPath != "" {
		if summaryFile, err = os.Create(*summaryPath); err != nil {
			return fmt.Errorf("--summary: %w", err)
		}
		defer summaryFile.Close()
	}
	rec := loadgen.NewRecorder(time.Now())
	runner := &loadgen.Runner{URL: *url + "/api/v1/vote", Gen: gen, Rec: rec, Progress: os.Stderr, Timeout: *timeout, MaxWorkers: *workers, Procs: *procs}
	fmt.Fprintf(os.Stderr, "loadgen: %s mode against %s; roll of %d voters over %d states; seed %d\n", *mode, *url, r.Size(), len(r.States), *seed)

	out := summary{Mode: *mode}
	var runErr error
	switch *mode {
	case "constant":
		var p loadgen.Phase
		p, runErr = runner.Constant(ctx, "constant", *rate, *duration)
		out.Phases = []loadgen.Phase{p}
	case "ramp":
		var rates []float64
		for x := *rampFrom; x <= *rampTo; x += *rampBy {
			rates = append(rates, x)
		}
		var k int
		out.Phases, k, runErr = runner.Ramp(ctx, rates, *rampStep, loadgen.KneeCriteria{MinServed: *kneeServed, MaxFailed: *kneeFailed, MaxP99: *kneeP99})
		out.KneeIndex = &k
		if k >= 0 {
			fmt.Fprintf(os.Stderr, "knee: %.0f votes/s offered, %.0f accepted/s, p99 %.1f ms\n",
				out.Phases[k].Offered, out.Phases[k].AcceptedPerS, out.Phases[k].AnswerLatency.P99ms)
		} else {
			fmt.Fprintln(os.Stderr, "knee: not even the first step was served")
		}
	case "surge":
		var p loadgen.Phase
		p, runErr = runner.Constant(ctx, "surge", *rate, *duration)
		out.Phases = []loadgen.Phase{p}
		if runErr == nil {
			d, err := loadgen.WaitDrained(ctx, queues, election.States, *drainLimit, os.Stderr, nil)
			out.DrainS = d.Seconds()
			runErr = err
			fmt.Fprintf(os.Stderr, "surge: %d accepted; queues drained %.1f s after the surge\n", p.Accepted, d.Seconds())
		}
	default:
		return fmt.Errorf("unknown --mode %q (constant, ramp or surge)", *mode)
	}
	if err := write(out, rec, idsFile, summaryFile); err != nil {
		return errors.Join(runErr, err)
	}
	for _, p := range out.Phases {
		fmt.Fprintf(os.Stderr, "%-12s offered %6.0f/s sent %6.0f/s accepted %6.0f/s  202 p50 %.1f p95 %.1f p99 %.1f ms  409 %d 403 %d 503 %d err %d\n",
			p.Name, p.Offered, p.SentPerS, p.AcceptedPerS, p.AcceptLatency.P50ms, p.AcceptLatency.P95ms, p.AcceptLatency.P99ms,
			p.Duplicates, p.Ineligible, p.Overloaded, p.Errors+p.OtherStatus)
	}
	return runErr
}

// fetchElection asks the gateway at base for its election, waiting at most
// timeout; a gateway that did not answer is an error naming it and the
// fixes (cli.AskGateway).
func fetchElection(ctx context.Context, base string, timeout time.Duration) (e *ballot.Election, err error) {
	err = cli.AskGateway(ctx, base, "--url", timeout, "--timeout", func(ctx context.Context) (err error) {
		e, err = loadgen.FetchElection(ctx, base)
		return err
	})
	return e, err
}

// write saves the accepted ids and the summary (if summaryFile is not nil)
// and closes the files.
func write(out summary, rec *loadgen.Recorder, idsFile, summaryFile *os.File) error {
	ids, _ := rec.AcceptedIDs()
	out.AcceptedIDs = len(ids)
	for _, n := range ids {
		if n > 1 {
			out.RepeatedIDs++
		}
	}
	out.PerContest = map[string]int{}
	for _, c := range rec.AcceptedContests() {
		out.PerContest[c]++
	}
	if err := loadgen.WriteIDs(idsFile, ids); err != nil {
		return err
	}
	if err := idsFile.Close(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s vote ids in %s; per contest: %v\n", strconv.Itoa(len(ids)), idsFile.Name(), out.PerContest)
	if summaryFile == nil {
		return nil
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	if _, err := summaryFile.Write(append(data, '\n')); err != nil {
		return err
	}
	return summaryFile.Close()
}
