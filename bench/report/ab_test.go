package report

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/votechain/votechain/bench/measure"
)

// abProbe is a probe with the figures an A/B compares.
func abProbe(arm string, round int, rate, ratio, p50, p95, drain float64) ABProbe {
	var p Probe
	p.CommittedOverAccepted, p.DrainS = ratio, drain
	p.CommitLatency = measure.Latency{P50ms: p50, P95ms: p95}
	return ABProbe{Arm: arm, Round: round, Rate: rate, Probe: p}
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
	if c := find(2000, "202→commit p50 ms"); c.A1 != 400 || c.A2 != 440 || c.B1 != 300 || c.B2 != 310 {
		t.Errorf("p50 at 2,000 keeps A1 %v A2 %v B1 %v B2 %v; want 400 440 300 310", c.A1, c.A2, c.B1, c.B2)
	}
	if rows := SummarizeAB(probes[:3]); rows != nil {
		t.Errorf("three probes: %d rows; want none", len(rows))
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
