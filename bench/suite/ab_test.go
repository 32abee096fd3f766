package suite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/bench/report"
)

// fakeAB stands in for the run's system: it records each restart's
// environment and each probe, and answers a probe with its rate as
// 202→commit p50 (B's 10% lower) so the comparison can be checked; failAt
// names a probe that fails.
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

// TestRunABOrder is the A/B's dry wiring: at each rate the probes run A B
// B A, each after a restart of the batchers with its side's settings, for
// the A/B's duration, named after rate and probe; the report keeps the
// probes and compares them (B's p50 10% lower, beyond a noise of 0). A
// failing probe ends it with the probes before it kept and the complete
// rates compared.
func TestRunABOrder(t *testing.T) {
	a := AB{B: []string{"BATCHER_LEDGER_LAG=-1s"}, Rates: []float64{2000, 2500}, Dur: 60 * time.Second}
	f := &fakeAB{}
	var out report.AB
	if err := runAB(context.Background(), f, a, &out, func(string, ...any) {}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, rate := range a.Rates {
		for _, arm := range []string{"A1", "B1", "B2", "A2"} {
			env := ""
			if arm[0] == 'B' {
				env = "BATCHER_LEDGER_LAG=-1s"
			}
			name := fmt.Sprintf("ab-%.0f-%s", rate, arm)
			want = append(want, "restart "+env, fmt.Sprintf("probe %s %s %.0f 1m0s", name, name, rate))
		}
	}
	if !slices.Equal(f.calls, want) {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(f.calls, "\n"), strings.Join(want, "\n"))
	}
	if len(out.Probes) != 8 || out.Probes[1].Label() != "B1" || out.Probes[7].Label() != "A2" || out.Probes[7].Rate != 2500 {
		t.Errorf("probes kept: %+v", out.Probes)
	}
	if out.DurationS != 60 || !slices.Equal(out.B, a.B) || len(out.A) != 0 || !slices.Equal(out.Rates, a.Rates) {
		t.Errorf("the report's A/B: %+v", out)
	}
	var p50s int
	for _, c := range out.Compare {
		if c.Metric == "202→commit p50 ms" {
			p50s++
			if c.Ratio < 0.8999 || c.Ratio > 0.9001 || c.Verdict != "B 10% lower, beyond the ±0% noise" {
				t.Errorf("p50 at %.0f: B÷A %.4f, %q; want 0.9, 10%% lower", c.Rate, c.Ratio, c.Verdict)
			}
		}
	}
	if p50s != 2 {
		t.Errorf("%d p50 comparisons; want one per rate", p50s)
	}

	f = &fakeAB{failAt: "ab-2500-B2"}
	err := runAB(context.Background(), f, a, &out, func(string, ...any) {})
	if err == nil || !strings.Contains(err.Error(), "ab-2500-B2: the queue did not drain") {
		t.Fatalf("a failing probe: %v; want its name and error", err)
	}
	if len(out.Probes) != 6 || len(out.Compare) != 4 || out.Compare[0].Rate != 2000 {
		t.Errorf("after the failure: %d probes, %d comparisons; want 6 and the 4 of 2,000", len(out.Probes), len(out.Compare))
	}
}

// TestABCheck: what an A/B refuses before any system comes up.
func TestABCheck(t *testing.T) {
	good := AB{B: []string{"BATCHER_LEDGER_LAG=-1s"}, Rates: []float64{2000}, Dur: time.Minute}
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
		{"no duration", func(a *AB) { a.Dur = 0 }, nil, "duration"},
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

// TestParseRates: FormatRates writes what ParseRates reads; a rate of 0
// or none is refused.
func TestParseRates(t *testing.T) {
	rates, err := ParseRates(FormatRates([]float64{2000, 2500.5}))
	if err != nil || !slices.Equal(rates, []float64{2000, 2500.5}) {
		t.Errorf("round trip: %v, %v", rates, err)
	}
	if FormatRates(DefaultAB.Rates) != "2000,2500" {
		t.Errorf("default rates written %q", FormatRates(DefaultAB.Rates))
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
