package suite

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/votechain/votechain/bench/report"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/stack"
)

// OnlyAB is Config.Only for an A/B of the batchers' environment on the
// run's own system (Config.AB, report.AB): at each rate, rounds of probes in
// the order A B B A, then B A A B, alternating, the batchers restarted with
// the probe's environment and warmed up (AB.Warmup) before each.
const OnlyAB = "ab"

// AB is what an A/B compares and how.
type AB struct {
	// A and B are NAME=value settings (BATCHER_…) added to the batchers'
	// environment for each side; A empty: the batchers' defaults.
	A, B  []string
	Rates []float64     // offered votes/s, each once; Rounds × four probes each
	Dur   time.Duration // of each probe's intake, before its drain
	// Rounds is how many rounds of four probes run in a row at each rate,
	// 1 or more.
	Rounds int
	// Warmup is the unmeasured intake at the probe's rate after each
	// restart of the batchers, before the drain and the probe (0: none):
	// batchers just started commit in fits for their first seconds, which
	// would otherwise land in the probe's figures.
	Warmup time.Duration
}

// DefaultAB returns the A/B's default schedule: 10 minutes of intake (8
// measured), plus the drains and restarts. Each call returns a new AB with
// slices of its own, so a caller that changes its schedule changes no one
// else's.
func DefaultAB() AB {
	return AB{Rates: []float64{2000, 2500}, Dur: 60 * time.Second, Rounds: 1, Warmup: 15 * time.Second}
}

// ParseEnv splits NAME=value settings separated by white space ("" gives
// none).
func ParseEnv(s string) []string { return strings.Fields(s) }

// ParseRates reads comma-separated votes/s, each above 0.
func ParseRates(s string) ([]float64, error) {
	var rates []float64
	for _, f := range strings.Split(s, ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || x <= 0 {
			return nil, fmt.Errorf("rate %q: give votes/s above 0, comma-separated (2000,2500)", f)
		}
		rates = append(rates, x)
	}
	return rates, nil
}

// FormatRates writes rates as ParseRates reads them.
func FormatRates(rates []float64) string {
	fs := make([]string, len(rates))
	for i, x := range rates {
		fs[i] = strconv.FormatFloat(x, 'f', -1, 64)
	}
	return strings.Join(fs, ",")
}

// Check returns an error for an A/B that could not tell its sides apart or
// would not set what it says: no B, an entry not NAME=value with a name
// BATCHER_…, a name twice on one side, A the same as B, a rate of 0 or no
// rate, a rate twice (its probes would not pool with the first's: repeats
// are rounds), a duration of 0, a warm-up below 0, fewer than one round,
// or a name one side sets that environ (the run's own environment,
// os.Environ's form) sets and the other side does not, so that side would
// run with environ's value rather than the batchers' default.
func (a AB) Check(environ []string) error {
	if len(a.B) == 0 {
		return errors.New("no B: give the batcher settings to compare with A, e.g. BATCHER_LEDGER_LAG=-1s")
	}
	names := func(side string, env []string) ([]string, error) {
		var ns []string
		for _, kv := range env {
			name, _, ok := strings.Cut(kv, "=")
			if !ok || !strings.HasPrefix(name, stack.BatcherEnvPrefix+"_") {
				return nil, fmt.Errorf("%s's %q: give NAME=value with a name %s_… (the batcher's flag, as its --help says)", side, kv, stack.BatcherEnvPrefix)
			}
			if slices.Contains(ns, name) {
				return nil, fmt.Errorf("%s sets %s twice", side, name)
			}
			ns = append(ns, name)
		}
		return ns, nil
	}
	aNames, err := names("A", a.A)
	if err != nil {
		return err
	}
	bNames, err := names("B", a.B)
	if err != nil {
		return err
	}
	if slices.Equal(slices.Sorted(slices.Values(a.A)), slices.Sorted(slices.Values(a.B))) {
		return errors.New("A and B are the same settings")
	}
	if len(a.Rates) == 0 || slices.ContainsFunc(a.Rates, func(x float64) bool { return x <= 0 }) {
		return fmt.Errorf("rates %v: give one or more above 0", a.Rates)
	}
	for i, x := range a.Rates {
		if slices.Contains(a.Rates[:i], x) {
			return fmt.Errorf("rate %s given twice: to repeat the probes at a rate, give more rounds (--ab-rounds) and the rate once", FormatRates([]float64{x}))
		}
	}
	if a.Dur <= 0 {
		return fmt.Errorf("probe duration %s: give one above 0", a.Dur)
	}
	if a.Warmup < 0 {
		return fmt.Errorf("warm-up %s: give 0 (none) or more", a.Warmup)
	}
	if a.Rounds < 1 {
		return fmt.Errorf("%d rounds: give 1 or more", a.Rounds)
	}
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		for _, side := range []struct {
			name        string
			sets, other []string
		}{{"A", bNames, aNames}, {"B", aNames, bNames}} {
			if slices.Contains(side.sets, name) && !slices.Contains(side.other, name) {
				return fmt.Errorf("%s is set in this environment (%s), so %s would run with it rather than the batchers' default: unset it, or give %s's value too", name, kv, side.name, side.name)
			}
		}
	}
	return nil
}

// Offered is the votes a's probes and warm-ups offer in all: each rate ×
// four probes × Rounds × (Dur + Warmup). Each may be a fresh roll voter's
// (none is when the intake mixes in duplicates or ineligible voters, or
// refuses some), so it bounds the roll voters the A/B casts.
func (a AB) Offered() int {
	var n float64
	for _, rate := range a.Rates {
		n += rate * 4 * float64(a.Rounds) * (a.Dur + a.Warmup).Seconds()
	}
	return int(math.Ceil(n))
}

// CheckVoters returns an error when a's probes and warm-ups may need more
// roll voters than voters (the intake's, --voters): a probe that found the
// roll exhausted would end the run.
func (a AB) CheckVoters(voters int) error {
	if need := a.Offered(); need > voters {
		return fmt.Errorf("the probes and warm-ups offer up to %d votes (rates %s/s × 4 probes × %d rounds × (%s + %s warm-up)), each a roll voter's at most, and the intake has %d: give --voters %d or more, or fewer rates, rounds or seconds",
			need, FormatRates(a.Rates), a.Rounds, a.Dur, a.Warmup, voters, need)
	}
	return nil
}

// abSystem is what the A/B needs of the run's system: batchers restarted
// with an environment, an unmeasured intake at rate for d and the drain of
// its queue, booked (CPU, marks) as phases name and drain-name, and a probe
// (run.probe: the queue drained, an intake at rate for d, the drain, the
// figures).
type abSystem interface {
	restartBatchers(ctx context.Context, env []string) error
	warm(ctx context.Context, name string, rate float64, d time.Duration) error
	drainWarm(ctx context.Context, name string) error
	probe(ctx context.Context, name, cpuPhase string, rate float64, d time.Duration) (report.Probe, error)
}

// abOrders are the arms' order in a round, with the nth probe of its arm
// each is: A B B A in odd rounds, B A A B in even ones.
var abOrders = [2][]struct {
	arm string
	nth int
}{{{"A", 1}, {"B", 1}, {"B", 2}, {"A", 2}}, {{"B", 1}, {"A", 1}, {"A", 2}, {"B", 2}}}

// runAB runs a's probes on sys into out (which keeps the probes so far when
// one fails) and compares them; say reports progress. A probe is named
// ab-RATE-LABEL (ab-2000-B1), with more than one round ab-RATE-rROUND-LABEL
// (ab-2000-r2-B1); its warm-up, which the comparison leaves out, is the
// probe's name with -warm (ab-2000-B1-warm).
func runAB(ctx context.Context, sys abSystem, a AB, out *report.AB, say func(string, ...any)) error {
	*out = report.AB{A: a.A, B: a.B, Rates: a.Rates, DurationS: a.Dur.Seconds(), Rounds: a.Rounds, WarmupS: a.Warmup.Seconds()}
	defer func() { out.Compare = report.SummarizeAB(out.Probes) }()
	for _, rate := range a.Rates {
		for round := 1; round <= a.Rounds; round++ {
			for _, o := range abOrders[(round-1)%2] {
				x := report.ABProbe{Arm: o.arm, Round: round, Nth: o.nth, Rate: rate}
				env := a.A
				if x.Arm == "B" {
					env = a.B
				}
				name := fmt.Sprintf("ab-%.0f-%s", rate, x.Label())
				if a.Rounds > 1 {
					name = fmt.Sprintf("ab-%.0f-r%d-%s", rate, round, x.Label())
				}
				say("%s: restarting the batchers with %s", name, describeEnv(env))
				if err := sys.restartBatchers(ctx, env); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				if a.Warmup > 0 {
					warm := name + "-warm"
					if err := sys.warm(ctx, warm, rate, a.Warmup); err != nil {
						return fmt.Errorf("%s: %w", warm, err)
					}
					if err := sys.drainWarm(ctx, warm); err != nil {
						return fmt.Errorf("%s: %w", warm, err)
					}
				}
				var err error
				if x.Probe, err = sys.probe(ctx, name, name, rate, a.Dur); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				out.Probes = append(out.Probes, x)
			}
		}
	}
	return nil
}

// describeEnv names settings for the progress output.
func describeEnv(env []string) string {
	if len(env) == 0 {
		return "the run's environment alone"
	}
	return strings.Join(env, " ")
}

// restartBatchers is abSystem's for the run's system; the CPU book
// follows the restarted batchers.
func (r *run) restartBatchers(ctx context.Context, env []string) error {
	if err := r.st.RestartBatchers(ctx, env...); err != nil {
		return err
	}
	followBatchers(r.book, r.st.Status())
	return nil
}

// watcher follows a process by name to its PID: measure.CPUBook.Watch.
type watcher interface{ Watch(name string, pid int) }

// followBatchers points w at the PIDs of the running batchers in status,
// those a restart gave new PIDs included; it is called between the book's
// windows.
func followBatchers(w watcher, status []stack.ServiceStatus) {
	for _, s := range status {
		if strings.HasPrefix(s.Name, "batcher") && s.Running {
			w.Watch(s.Name, s.PID)
		}
	}
}

// warm is abSystem's for the run's system: the intake, booked as name.
func (r *run) warm(ctx context.Context, name string, rate float64, d time.Duration) error {
	_, err := r.intake(ctx, name, name, rate, d)
	return err
}

// drainWarm is abSystem's for the run's system: the drain (run.settle),
// booked as drain-name.
func (r *run) drainWarm(ctx context.Context, name string) error {
	_, _, err := r.settle(ctx, "drain-"+name)
	return err
}

// abOnly runs OnlyAB's probes and books what the report shows of them.
func (r *run) abOnly(ctx context.Context) error {
	r.rep.Only, r.rep.AB = OnlyAB, &report.AB{}
	err := runAB(ctx, r, r.cfg.AB, r.rep.AB, r.say)
	for _, c := range r.rep.AB.Compare {
		paired := ""
		if n := len(c.RoundRatios); n > 1 {
			paired = fmt.Sprintf("; B lower in %d of %d rounds", c.Lower, n)
		}
		r.say("%s at %.0f/s: B÷A %.3f (noise ±%.1f%%): %s%s", c.Metric, c.Rate, c.Ratio, c.Band*100, c.Verdict, paired)
	}
	r.series()
	r.bookCPU()
	return err
}

// CheckAB refuses an A/B that could not work, before any system comes up:
// a.Check against this process's environment (which the batchers inherit),
// a.CheckVoters against the intake's roll voters, and the names against
// the flags of the batcher in binDir (stack.CheckBatcherEnv). Settings that
// cannot work are usage errors (cli.ErrUsage); a batcher it cannot ask
// (not built) is not.
func CheckAB(ctx context.Context, a AB, voters int, binDir string) error {
	if err := a.Check(os.Environ()); err != nil {
		return cli.Usagef("A/B: %w", err)
	}
	if err := a.CheckVoters(voters); err != nil {
		return cli.Usagef("A/B: %w", err)
	}
	if err := stack.CheckBatcherEnv(ctx, binDir, append(slices.Clone(a.A), a.B...)); err != nil {
		return fmt.Errorf("A/B: %w", err)
	}
	return nil
}
