package suite

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/bench/report"
	"github.com/votechain/votechain/internal/stack"
)

// fakeAB stands in for the run's system: it records each restart's
// environment, each warm-up and its drain, and each probe, and answers a probe with its rate as
// 202→commit p50 (B's 10% lower) so the comparison can be checked; failAt
// names a probe or warm-up that fails.
type fakeAB struct {
	calls  []string
	env    []string // of the last restart
	failAt string
}

func (f *fakeAB) restartBatchers(_ context.Context, env []string) error {
	f.env = env
	f.calls = append(f.calls, "restart "+strings.Join(env, " "))
	return nil
}

func (f *fakeAB) warm(_ context.Context, name string, rate float64, d time.Duration) error {
	f.calls = append(f.calls, fmt.Sprintf("warm %s %.0f %s", name, rate, d))
	if name == f.failAt {
		return errors.New("the roll ran out")
	}
	return nil
}

func (f *fakeAB) drainWarm(_ context.Context, name string) error {
	f.calls = append(f.calls, "drain "+name)
	return nil
}

func (f *fakeAB) probe(_ context.Context, name, cpuPhase string, rate float64, d time.Duration) (report.Probe, error) {
	f.calls = append(f.calls, fmt.Sprintf("probe %s %s %.0f %s", name, cpuPhase, rate, d))
	if name == f.failAt {
		return report.Probe{}, errors.New("the queue did not drain")
	}
	var p report.Probe
	p.CommittedOverAccepted, p.DrainS = 1, 2
	p.CommitLatency.P50ms, p.CommitLatency.P95ms = rate, rate
	if len(f.env) > 0 {
		p.CommitLatency.P50ms *= 0.9
	}
	return p, nil
}

// TestRunABOrder is the A/B's dry wiring: at each rate the rounds run in a
// row, A B B A then B A A B, each probe after a restart of the batchers
// with its side's settings and, with a warm-up, an intake at the probe's
// rate for the warm-up named after the probe with -warm and its drain,
// for the A/B's duration, named after rate, round (with more than one)
// and probe; the report keeps the probes (not the warm-ups) and compares
// them pooled (B's p50 10% lower, beyond a noise of 0, in every round). A
// failing probe ends it with the probes before it kept and the complete
// rounds compared.
func TestRunABOrder(t *testing.T) {
	for _, tc := range []struct {
		rounds int
		warmup time.Duration
	}{{1, 15 * time.Second}, {2, 15 * time.Second}, {1, 0}} {
		rounds := tc.rounds
		a := AB{B: []string{"BATCHER_LEDGER_LAG=-1s"}, Rates: []float64{2000, 2500}, Dur: 60 * time.Second, Rounds: rounds, Warmup: tc.warmup}
		f := &fakeAB{}
		var out report.AB
		if err := runAB(context.Background(), f, a, &out, func(string, ...any) {}); err != nil {
			t.Fatal(err)
		}
		var want, labels []string
		for _, rate := range a.Rates {
			for round := 1; round <= rounds; round++ {
				order := []string{"A1", "B1", "B2", "A2"}
				if round == 2 {
					order = []string{"B1", "A1", "A2", "B2"}
				}
				for _, label := range order {
					env := ""
					if label[0] == 'B' {
						env = "BATCHER_LEDGER_LAG=-1s"
					}
					name := fmt.Sprintf("ab-%.0f-%s", rate, label)
					if rounds > 1 {
						name = fmt.Sprintf("ab-%.0f-r%d-%s", rate, round, label)
					}
					want = append(want, "restart "+env)
					if tc.warmup > 0 {
						want = append(want, fmt.Sprintf("warm %s-warm %.0f 15s", name, rate), "drain "+name+"-warm")
					}
					want = append(want, fmt.Sprintf("probe %s %s %.0f 1m0s", name, name, rate))
					labels = append(labels, fmt.Sprintf("%.0f %d %s", rate, round, label))
				}
			}
		}
		if !slices.Equal(f.calls, want) {
			t.Errorf("%d rounds, warm-up %s: calls:\n%s\nwant:\n%s", rounds, tc.warmup, strings.Join(f.calls, "\n"), strings.Join(want, "\n"))
		}
		var got []string
		for _, p := range out.Probes {
			got = append(got, fmt.Sprintf("%.0f %d %s", p.Rate, p.Round, p.Label()))
		}
		if !slices.Equal(got, labels) {
			t.Errorf("%d rounds: probes kept %q; want %q", rounds, got, labels)
		}
		if out.DurationS != 60 || out.WarmupS != tc.warmup.Seconds() || out.Rounds != rounds || !slices.Equal(out.B, a.B) || len(out.A) != 0 || !slices.Equal(out.Rates, a.Rates) {
			t.Errorf("%d rounds: the report's A/B: %+v", rounds, out)
		}
		var p50s int
		for _, c := range out.Compare {
			if c.Metric == "202→commit p50 ms" {
				p50s++
				if c.Ratio < 0.8999 || c.Ratio > 0.9001 || c.Verdict != "B 10% lower, beyond the ±0% noise" || len(c.RoundRatios) != rounds || c.Lower != rounds {
					t.Errorf("%d rounds: p50 at %.0f: B÷A %.4f, %q, lower in %d of %v; want 0.9, 10%% lower, in every round", rounds, c.Rate, c.Ratio, c.Verdict, c.Lower, c.RoundRatios)
				}
			}
		}
		if p50s != 2 {
			t.Errorf("%d rounds: %d p50 comparisons; want one per rate", rounds, p50s)
		}
	}

	a := AB{B: []string{"BATCHER_LEDGER_LAG=-1s"}, Rates: []float64{2000, 2500}, Dur: 60 * time.Second, Rounds: 2}
	f := &fakeAB{failAt: "ab-2500-r2-A1"}
	var out report.AB
	err := runAB(context.Background(), f, a, &out, func(string, ...any) {})
	if err == nil || !strings.Contains(err.Error(), "ab-2500-r2-A1: the queue did not drain") {
		t.Fatalf("a failing probe: %v; want its name and error", err)
	}
	if len(out.Probes) != 13 || len(out.Compare) != 8 {
		t.Fatalf("after the failure: %d probes, %d comparisons; want 13 and the 4 of each rate", len(out.Probes), len(out.Compare))
	}
	if c := out.Compare[0]; c.Rate != 2000 || len(c.RoundRatios) != 2 {
		t.Errorf("2,000's first comparison: %+v; want both rounds pooled", c)
	}
	if c := out.Compare[4]; c.Rate != 2500 || len(c.RoundRatios) != 1 {
		t.Errorf("2,500's first comparison: %+v; want the complete round alone", c)
	}

	a.Warmup = 15 * time.Second
	f = &fakeAB{failAt: "ab-2000-r1-B1-warm"}
	err = runAB(context.Background(), f, a, &out, func(string, ...any) {})
	if err == nil || !strings.Contains(err.Error(), "ab-2000-r1-B1-warm: the roll ran out") {
		t.Fatalf("a failing warm-up: %v; want its name and error", err)
	}
	if len(out.Probes) != 1 || f.calls[len(f.calls)-1] != "warm ab-2000-r1-B1-warm 2000 15s" {
		t.Errorf("after the failing warm-up: %d probes, last call %q; want A1's alone, and neither drain nor probe after it", len(out.Probes), f.calls[len(f.calls)-1])
	}
}

// TestABCheck: what an A/B refuses before any system comes up.
func TestABCheck(t *testing.T) {
	good := AB{B: []string{"BATCHER_LEDGER_LAG=-1s"}, Rates: []float64{2000}, Dur: time.Minute, Rounds: 1}
	if err := good.Check([]string{"HOME=/root", "BATCHER_TICK=50ms"}); err != nil {
		t.Errorf("a good A/B: %v", err)
	}
	withA := good
	withA.A = []string{"BATCHER_LEDGER_LAG=1s"}
	if err := withA.Check([]string{"BATCHER_LEDGER_LAG=2s"}); err != nil {
		t.Errorf("A gives the value the environment sets too: %v", err)
	}
	for _, tc := range []struct {
		name    string
		change  func(*AB)
		environ []string
		want    string
	}{
		{"no B", func(a *AB) { a.B = nil }, nil, "no B"},
		{"not NAME=value", func(a *AB) { a.B = []string{"BATCHER_LEDGER_LAG"} }, nil, `B's "BATCHER_LEDGER_LAG"`},
		{"not a batcher's", func(a *AB) { a.B = []string{"GATEWAY_MAX_INFLIGHT=10"} }, nil, "BATCHER_…"},
		{"A not a batcher's", func(a *AB) { a.A = []string{"LAG=1s"} }, nil, `A's "LAG=1s"`},
		{"twice", func(a *AB) { a.B = append(a.B, "BATCHER_LEDGER_LAG=2s") }, nil, "B sets BATCHER_LEDGER_LAG twice"},
		{"the same", func(a *AB) { a.A = a.B }, nil, "the same settings"},
		{"no rate", func(a *AB) { a.Rates = nil }, nil, "rates"},
		{"a rate of 0", func(a *AB) { a.Rates = []float64{2000, 0} }, nil, "rates"},
		{"a rate twice", func(a *AB) { a.Rates = []float64{3750, 4500, 3750} }, nil, "rate 3750 given twice: to repeat the probes at a rate, give more rounds (--ab-rounds)"},
		{"no duration", func(a *AB) { a.Dur = 0 }, nil, "duration"},
		{"a warm-up below 0", func(a *AB) { a.Warmup = -time.Second }, nil, "warm-up -1s: give 0 (none) or more"},
		{"no round", func(a *AB) { a.Rounds = 0 }, nil, "0 rounds: give 1 or more"},
		{"A not the default", func(*AB) {}, []string{"BATCHER_LEDGER_LAG=3s"}, "so A would run with it"},
		{"B not the default", func(a *AB) { a.A = []string{"BATCHER_TICK=20ms"} }, []string{"BATCHER_TICK=50ms"}, "so B would run with it"},
	} {
		a := good
		a.B = slices.Clone(good.B)
		tc.change(&a)
		if err := a.Check(tc.environ); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want an error saying %q", tc.name, err, tc.want)
		}
	}
}

// watched records what followBatchers watches.
type watched map[string]int

func (w watched) Watch(name string, pid int) { w[name] = pid }

// TestFollowBatchers: after a restart the book follows each running
// batcher to its PID in the stack's status, and nothing else: not another
// service, nor a batcher that does not run.
func TestFollowBatchers(t *testing.T) {
	w := watched{"batcher0": 100, "gateway": 200}
	followBatchers(w, []stack.ServiceStatus{
		{Name: "gateway", PID: 201, Running: true},
		{Name: "batcher0", PID: 101, Running: true},
		{Name: "batcher1", PID: 0, Note: "not started"},
	})
	if want := (watched{"batcher0": 101, "gateway": 200}); !maps.Equal(w, want) {
		t.Errorf("watched %v; want %v", w, want)
	}
}

// TestABVoters: the votes an A/B offers count every probe and warm-up at
// its rate; fewer roll voters than that are refused with the number
// needed.
func TestABVoters(t *testing.T) {
	a := AB{B: []string{"BATCHER_LEDGER_LAG=-1s"}, Rates: []float64{4000, 5000}, Dur: time.Minute, Rounds: 2, Warmup: 15 * time.Second}
	if got := a.Offered(); got != 5_400_000 { // 9,000/s × 4 × 2 × 75 s
		t.Errorf("offered %d; want 5400000", got)
	}
	if err := a.CheckVoters(5_400_000); err != nil {
		t.Errorf("just enough voters: %v", err)
	}
	err := a.CheckVoters(3_000_000)
	if err == nil || !strings.Contains(err.Error(), "offer up to 5400000 votes (rates 4000,5000/s × 4 probes × 2 rounds × (1m0s + 15s warm-up))") ||
		!strings.Contains(err.Error(), "the intake has 3000000: give --voters 5400000 or more") {
		t.Errorf("too few voters: %v; want the votes offered and the voters needed", err)
	}
	a.Warmup = 0
	if got := a.Offered(); got != 4_320_000 {
		t.Errorf("offered without warm-up %d; want 4320000", got)
	}
}

// TestParseRates: FormatRates writes what ParseRates reads; a rate of 0
// or none is refused.
func TestParseRates(t *testing.T) {
	rates, err := ParseRates(FormatRates([]float64{2000, 2500.5}))
	if err != nil || !slices.Equal(rates, []float64{2000, 2500.5}) {
		t.Errorf("round trip: %v, %v", rates, err)
	}
	if FormatRates(DefaultAB().Rates) != "2000,2500" {
		t.Errorf("default rates written %q", FormatRates(DefaultAB().Rates))
	}
	for _, bad := range []string{"", "2000,0", "2000,x", "-5"} {
		if _, err := ParseRates(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if got := ParseEnv("  BATCHER_A=1 \tBATCHER_B=2 "); !slices.Equal(got, []string{"BATCHER_A=1", "BATCHER_B=2"}) {
		t.Errorf("ParseEnv: %q", got)
	}
}
