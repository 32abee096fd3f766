package report

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/votechain/votechain/bench/measure"
)

// abProbe is a probe of round 1 with the figures an A/B compares; nth is
// the arm's first or second probe of the round.
func abProbe(arm string, nth int, rate, ratio, p50, p95, drain float64) ABProbe {
	return abRoundProbe(1, arm, nth, rate, ratio, p50, p95, drain)
}

// abRoundProbe is a probe of the given round.
func abRoundProbe(round int, arm string, nth int, rate, ratio, p50, p95, drain float64) ABProbe {
	var p Probe
	p.CommittedOverAccepted, p.DrainS = ratio, drain
	p.CommitLatency = measure.Latency{P50ms: p50, P95ms: p95}
	return ABProbe{Arm: arm, Round: round, Nth: nth, Rate: rate, Probe: p}
}

// TestSummarizeAB: per rate (in run order) and metric, B÷A of the means
// and the noise band from each arm's two probes, worked by hand:
//   - p50 at 2,000: A 400, 440 (mean 420, noise 40/420 = 9.5%), B 300, 310
//     (noise 3.2%): B÷A 305/420 = 0.726, 27% lower, beyond the noise;
//   - p95 at 2,000: A 1000, 1100 (9.5%), B 1050, 1060: 1.005, within;
//   - committed÷accepted at 2,000: A 1.00, 0.98 (2.0%), B 0.99, 0.99
//     (0): 0.99÷0.99 = 1, within;
//   - drain at 2,000: A 0, 0: no ratio;
//   - p95 at 2,500: A 2000, 2000 (0), B 2100, 2300 (9.1%): 1.1, 10%
//     higher, beyond the ±9% noise.
//
// A rate missing a probe (3,000: no A2, the run cut short) gets no row.
func TestSummarizeAB(t *testing.T) {
	probes := []ABProbe{
		abProbe("A", 1, 2000, 1.00, 400, 1000, 0),
		abProbe("B", 1, 2000, 0.99, 300, 1050, 1.5),
		abProbe("B", 2, 2000, 0.99, 310, 1060, 2.5),
		abProbe("A", 2, 2000, 0.98, 440, 1100, 0),
		abProbe("A", 1, 2500, 1, 900, 2000, 4),
		abProbe("B", 1, 2500, 1, 900, 2100, 4),
		abProbe("B", 2, 2500, 1, 900, 2300, 4),
		abProbe("A", 2, 2500, 1, 900, 2000, 4),
		abProbe("A", 1, 3000, 1, 900, 2000, 4),
		abProbe("B", 1, 3000, 1, 900, 2000, 4),
		abProbe("B", 2, 3000, 1, 900, 2000, 4),
	}
	got := SummarizeAB(probes)
	if len(got) != 2*len(abMetrics) {
		t.Fatalf("%d rows; want %d (two rates of four metrics)", len(got), 2*len(abMetrics))
	}
	find := func(rate float64, metric string) ABCompare {
		for i, c := range got {
			if c.Rate == rate && c.Metric == metric {
				if want := rate == 2500; (i >= len(abMetrics)) != want {
					t.Errorf("%s at %.0f is row %d: rates out of run order", metric, rate, i)
				}
				return c
			}
		}
		t.Fatalf("no row for %s at %.0f", metric, rate)
		return ABCompare{}
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 5e-4 }
	for _, tc := range []struct {
		rate                        float64
		metric                      string
		ratio, noiseA, noiseB, band float64
		within                      bool
		verdict                     string
	}{
		{2000, "202→commit p50 ms", 305.0 / 420, 40.0 / 420, 10.0 / 305, 40.0 / 420, false, "B 27% lower, beyond the ±10% noise"},
		{2000, "202→commit p95 ms", 1055.0 / 1050, 100.0 / 1050, 10.0 / 1055, 100.0 / 1050, true, "within noise"},
		{2000, "committed ÷ accepted", 1, 0.02 / 0.99, 0, 0.02 / 0.99, true, "within noise"},
		{2000, "drain s", 0, 0, 1.0 / 2, 0.5, false, "no ratio: A's mean is 0"},
		{2500, "202→commit p95 ms", 1.1, 0, 200.0 / 2200, 200.0 / 2200, false, "B 10% higher, beyond the ±9% noise"},
		{2500, "drain s", 1, 0, 0, 0, true, "within noise"},
	} {
		c := find(tc.rate, tc.metric)
		if !near(c.Ratio, tc.ratio) || !near(c.NoiseA, tc.noiseA) || !near(c.NoiseB, tc.noiseB) || !near(c.Band, tc.band) {
			t.Errorf("%s at %.0f: B÷A %.4f, noise A %.4f B %.4f, band %.4f; want %.4f, %.4f, %.4f, %.4f",
				tc.metric, tc.rate, c.Ratio, c.NoiseA, c.NoiseB, c.Band, tc.ratio, tc.noiseA, tc.noiseB, tc.band)
		}
		if c.Within() != tc.within || c.Verdict != tc.verdict {
			t.Errorf("%s at %.0f: within %v, %q; want %v, %q", tc.metric, tc.rate, c.Within(), c.Verdict, tc.within, tc.verdict)
		}
	}
	if c := find(2000, "202→commit p50 ms"); c.A1 != 400 || c.A2 != 440 || c.B1 != 300 || c.B2 != 310 || c.MeanA != 420 || c.MeanB != 305 ||
		len(c.RoundRatios) != 1 || !near(c.RoundRatios[0], 305.0/420) || c.Lower != 1 {
		t.Errorf("p50 at 2,000 keeps A1 %v A2 %v B1 %v B2 %v, means %v %v, rounds %v lower %d; want 400 440 300 310, 420 305, [0.726] 1",
			c.A1, c.A2, c.B1, c.B2, c.MeanA, c.MeanB, c.RoundRatios, c.Lower)
	}
	if rows := SummarizeAB(probes[:3]); rows != nil {
		t.Errorf("three probes: %d rows; want none", len(rows))
	}
}

// abRounds are three complete rounds at 3,750/s and a fourth cut short
// after its first probe, then a rate with no complete round (4,500: A1 and
// B1 only). Per round (A B B A, B A A B, A B B A) committed ÷ accepted,
// p95 ms:
//
//	round 1: A 1.00 1000, B 0.90 800, B 0.92 900, A 1.00 1200
//	round 2: B 0.91 1000, A 0.99 1300, A 1.01 1100, B 0.91 1100
//	round 3: A 1.00 900, B 0.92 1000, B 0.90 1000, A 1.00 1100
//
// p50 is 500 throughout, the drain 0 for A and 2 s for B.
func abRounds() []ABProbe {
	var ps []ABProbe
	for _, x := range []struct {
		round      int
		arm        string
		nth        int
		ratio, p95 float64
	}{
		{1, "A", 1, 1.00, 1000}, {1, "B", 1, 0.90, 800}, {1, "B", 2, 0.92, 900}, {1, "A", 2, 1.00, 1200},
		{2, "B", 1, 0.91, 1000}, {2, "A", 1, 0.99, 1300}, {2, "A", 2, 1.01, 1100}, {2, "B", 2, 0.91, 1100},
		{3, "A", 1, 1.00, 900}, {3, "B", 1, 0.92, 1000}, {3, "B", 2, 0.90, 1000}, {3, "A", 2, 1.00, 1100},
		{4, "B", 1, 0.10, 5000},
	} {
		drain := 0.0
		if x.arm == "B" {
			drain = 2
		}
		ps = append(ps, abRoundProbe(x.round, x.arm, x.nth, 3750, x.ratio, 500, x.p95, drain))
	}
	return append(ps, abRoundProbe(1, "A", 1, 4500, 1, 500, 1000, 0), abRoundProbe(1, "B", 1, 4500, 1, 500, 1000, 0))
}

// TestSummarizeABRounds: the complete rounds pooled (round 4, cut short,
// left out; 4,500/s, with no complete round, gets no row), worked by hand
// from abRounds:
//   - p95: A 1000 1200 1300 1100 900 1100, mean 6600/6 = 1100, spread
//     (1300 − 900)/1100 = 36.4%; B 800 900 1000 1100 1000 1000, mean
//     5800/6 = 966.7, spread 300/966.7 = 31.0%; B÷A 5800/6600 = 0.879,
//     within ±36.4%; by round 850/1100 = 0.773, 1050/1200 = 0.875,
//     1000/1000 = 1: B lower in 2 of 3;
//   - committed ÷ accepted: A mean 1.00, spread 0.02; B mean 0.91, spread
//     0.02/0.91 = 2.2%; B÷A 0.91, 9% lower, beyond the ±2% noise; 0.91 in
//     each round: lower in 3 of 3;
//   - p50: 500 everywhere: B÷A 1 within a noise of 0, lower in none;
//   - drain: A's mean 0, no ratio, no round's either.
func TestSummarizeABRounds(t *testing.T) {
	got := SummarizeAB(abRounds())
	if len(got) != len(abMetrics) {
		t.Fatalf("%d rows; want %d (3,750/s alone)", len(got), len(abMetrics))
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 5e-4 }
	for _, tc := range []struct {
		metric                              string
		meanA, meanB, ratio, noiseA, noiseB float64
		rounds                              []float64
		lower                               int
		verdict                             string
	}{
		{"202→commit p95 ms", 1100, 5800.0 / 6, 5800.0 / 6600, 400.0 / 1100, 300 / (5800.0 / 6), []float64{850.0 / 1100, 1050.0 / 1200, 1}, 2, "within noise"},
		{"committed ÷ accepted", 1, 0.91, 0.91, 0.02, 0.02 / 0.91, []float64{0.91, 0.91, 0.91}, 3, "B 9% lower, beyond the ±2% noise"},
		{"202→commit p50 ms", 500, 500, 1, 0, 0, []float64{1, 1, 1}, 0, "within noise"},
		{"drain s", 0, 2, 0, 0, 0, []float64{0, 0, 0}, 0, "no ratio: A's mean is 0"},
	} {
		i := slices.IndexFunc(got, func(c ABCompare) bool { return c.Metric == tc.metric })
		if i < 0 {
			t.Fatalf("no row for %s", tc.metric)
		}
		c := got[i]
		if c.Rate != 3750 || !near(c.MeanA, tc.meanA) || !near(c.MeanB, tc.meanB) || !near(c.Ratio, tc.ratio) || !near(c.NoiseA, tc.noiseA) || !near(c.NoiseB, tc.noiseB) ||
			!near(c.Band, max(tc.noiseA, tc.noiseB)) || c.Lower != tc.lower || c.Verdict != tc.verdict {
			t.Errorf("%s at %.0f: means %.4f %.4f, B÷A %.4f, noise %.4f %.4f band %.4f, lower %d, %q; want %.4f %.4f, %.4f, %.4f %.4f, %d, %q",
				tc.metric, c.Rate, c.MeanA, c.MeanB, c.Ratio, c.NoiseA, c.NoiseB, c.Band, c.Lower, c.Verdict, tc.meanA, tc.meanB, tc.ratio, tc.noiseA, tc.noiseB, tc.lower, tc.verdict)
		}
		if len(c.RoundRatios) != len(tc.rounds) {
			t.Errorf("%s: by round %v; want %v", tc.metric, c.RoundRatios, tc.rounds)
			continue
		}
		for j := range tc.rounds {
			if !near(c.RoundRatios[j], tc.rounds[j]) {
				t.Errorf("%s: by round %v; want %v", tc.metric, c.RoundRatios, tc.rounds)
			}
		}
	}
	if c := got[slices.IndexFunc(got, func(c ABCompare) bool { return c.Metric == "202→commit p95 ms" })]; c.A1 != 1000 || c.B1 != 800 || c.B2 != 900 || c.A2 != 1200 {
		t.Errorf("p95's A1 B1 B2 A2 %v %v %v %v; want round 1's, 1000 800 900 1200", c.A1, c.B1, c.B2, c.A2)
	}
}

// TestABRoundsMarkdown: a report of three rounds keeps them and the
// warm-up in report.json and its section says how the rounds ran and that
// the warm-ups are left out, gives each probe's round, and
// per rate and metric the arms' means, B÷A, the rounds' own B÷A and in
// how many B came lower.
func TestABRoundsMarkdown(t *testing.T) {
	probes := abRounds()
	r := &Report{Only: "ab", KneeIndex: -1, AB: &AB{B: []string{"BATCHER_LEDGER_LAG=-1s"}, Rates: []float64{3750, 4500}, DurationS: 60, Rounds: 4, WarmupS: 15, Probes: probes, Compare: SummarizeAB(probes)}}
	back := saved(t, r)
	if back.AB == nil || !reflect.DeepEqual(*back.AB, *r.AB) {
		t.Fatalf("report.json gave back %+v", back.AB)
	}
	md := back.Markdown()
	for _, want := range []string{"4 rounds of four probes ran in a row (fewer in a run cut short), A B B A in odd rounds and B A A B in even ones", "probability 2 ÷ 2^n, 12.5% for n = 4",
		"a 15 s intake at the probe's rate, then the drain of the queue, unmeasured (the CPU table's and the timeline's `…-warm` and `drain-…-warm` phases); the probes' figures and the comparison leave the warm-ups out",
		"| rate | round | probe |", "| 3,750 | 2 | B1 |", "| 3,750 | 4 | B1 |", "| 4,500 | 1 | B1 |",
		"| 3,750 | 202→commit p95 ms | 1100 | 967 | 0.879 | ±36.4% | ±31.0% | 0.773 / 0.875 / 1.000 | 2 of 3 | within noise |",
		"| 3,750 | committed ÷ accepted | 1.000 | 0.910 | 0.910 | ±2.0% | ±2.2% | 0.910 / 0.910 / 0.910 | 3 of 3 | B 9% lower, beyond the ±2% noise |",
		"| 3,750 | drain s | 0.0 | 2.0 | — | ±0.0% | ±0.0% | — / — / — | 0 of 3 | no ratio: A's mean is 0 |"} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "| A1 | B1 | B2 | A2 |") {
		t.Error("a report of rounds has the one-round table")
	}
}

// TestABOldReport: a report.json from before --ab-rounds (no "rounds", no
// "nth", "round" the arm's first or second probe) loads as one round, and
// its section is the one-round section it had.
func TestABOldReport(t *testing.T) {
	dir := t.TempDir()
	probe := func(arm string, n int, p50 float64) string {
		return fmt.Sprintf(`{"arm":%q,"round":%d,"rate":2000,"probe":{"commit_latency":{"p50_ms":%g},"committed_over_accepted":1,"drain_s":1}}`, arm, n, p50)
	}
	old := `{"date":"2026-12-01T10:00:00Z","machine":{"host":"box","cpus":2},"only":"ab","knee_index":-1,"ab":{"a":null,"b":["BATCHER_LEDGER_LAG=-1s"],"rates":[2000],"duration_s":60,"probes":[` +
		strings.Join([]string{probe("A", 1, 400), probe("B", 1, 300), probe("B", 2, 310), probe("A", 2, 440)}, ",") +
		`],"compare":[{"rate":2000,"metric":"202→commit p50 ms","a1":400,"a2":440,"b1":300,"b2":310,"b_over_a":0.7261904761904762,"noise_a":0.09523809523809523,"noise_b":0.03278688524590164,"band":0.09523809523809523,"verdict":"B 27% lower, beyond the ±10% noise"}]}}`
	if err := os.WriteFile(filepath.Join(dir, "report.json"), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, p := range r.AB.Probes {
		labels = append(labels, fmt.Sprintf("%d %s", p.Round, p.Label()))
	}
	if strings.Join(labels, ",") != "1 A1,1 B1,1 B2,1 A2" {
		t.Errorf("old probes read as %q; want round 1's A1 B1 B2 A2", labels)
	}
	if again := SummarizeAB(r.AB.Probes); len(again) != len(abMetrics) || again[1].Ratio != r.AB.Compare[0].Ratio || again[1].Band != r.AB.Compare[0].Band {
		t.Errorf("the old probes compared again: %+v; want the stored comparison's B÷A and band", again)
	}
	md := r.Markdown()
	for _, want := range []string{"the probes ran in the order A B B A", "No warm-up: each probe's intake began on the batchers just restarted", "| 2,000 | A1 |", "| 2,000 | 202→commit p50 ms | 400 | 300 | 310 | 440 | 0.726 | ±9.5% | ±3.3% | B 27% lower, beyond the ±10% noise |"} {
		if !strings.Contains(md, want) {
			t.Errorf("the old report's section lacks %q:\n%s", want, md)
		}
	}
}

// TestABMarkdown: an --only ab report keeps its A/B in report.json and has
// the A/B's section: both sides' settings, a row per probe, the
// comparisons with their verdicts; without a complete rate it says there
// is no comparison.
func TestABMarkdown(t *testing.T) {
	probes := []ABProbe{
		abProbe("A", 1, 2000, 1, 400, 1000, 1),
		abProbe("B", 1, 2000, 1, 300, 1000, 1),
		abProbe("B", 2, 2000, 1, 310, 1000, 1),
		abProbe("A", 2, 2000, 1, 440, 1000, 1),
	}
	r := &Report{Only: "ab", KneeIndex: -1, AB: &AB{B: []string{"BATCHER_LEDGER_LAG=-1s"}, Rates: []float64{2000}, DurationS: 60, Probes: probes, Compare: SummarizeAB(probes)}}
	back := saved(t, r) // report.json keeps the A/B, and render (Markdown from it) gives the same
	if back.AB == nil || !reflect.DeepEqual(*back.AB, *r.AB) {
		t.Fatalf("report.json gave back %+v", back.AB)
	}
	md := back.Markdown()
	if md != r.Markdown() {
		t.Error("the Markdown from report.json differs")
	}
	for _, want := range []string{"## A/B of the batchers' environment", "A adds nothing (the batchers' defaults) to the batchers' environment, B adds `BATCHER_LEDGER_LAG=-1s`",
		"| 2,000 | A1 |", "| 2,000 | A2 |", "| 2,000 | 202→commit p50 ms | 400 | 300 | 310 | 440 | 0.726 |", "B 27% lower, beyond the ±10% noise", "| 2,000 | drain s |", "within noise"} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "Every difference is within noise") {
		t.Error("says every difference is within noise, though p50's is not")
	}
	r.AB.Probes, r.AB.Compare = probes[:2], nil
	if md := r.Markdown(); !strings.Contains(md, "No rate got all four probes") {
		t.Errorf("a cut-short A/B does not say it has no comparison:\n%s", md)
	}
}
