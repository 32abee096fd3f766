package report

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// AB is `benchrun --only ab`: the batchers with two environments, A and B,
// compared on the run's own system in one run. At each offered rate the
// probes run in the order A B B A, the batchers restarted with the probe's
// environment before every probe, so a drift of the machine or the ledger
// over the run weighs on A and B alike; A's two probes (and B's) measure
// how far one setting's results stray from probe to probe.
type AB struct {
	// A and B are the NAME=value settings added to the batchers'
	// environment (the run's own, Settings.Environment) for each side;
	// A empty: the batchers' defaults.
	A         []string  `json:"a"`
	B         []string  `json:"b"`
	Rates     []float64 `json:"rates"`      // offered votes/s, in run order
	DurationS float64   `json:"duration_s"` // of each probe's intake
	Probes    []ABProbe `json:"probes"`     // in run order
	// Compare is SummarizeAB(Probes): B÷A per rate and metric.
	Compare []ABCompare `json:"compare"`
}

// ABProbe is one probe of an A/B: Arm "A" or "B", Round 1 (before the
// other arm's probes at the rate) or 2 (after).
type ABProbe struct {
	Arm   string  `json:"arm"`
	Round int     `json:"round"`
	Rate  float64 `json:"rate"`
	Probe Probe   `json:"probe"`
}

// Label is "A1", "B2"...
func (p ABProbe) Label() string { return fmt.Sprintf("%s%d", p.Arm, p.Round) }

// ABCompare is one metric at one rate: the four probes' figures, B÷A of
// their means, and the noise band the comparison is judged by.
type ABCompare struct {
	Rate   float64 `json:"rate"`
	Metric string  `json:"metric"`
	A1     float64 `json:"a1"`
	A2     float64 `json:"a2"`
	B1     float64 `json:"b1"`
	B2     float64 `json:"b2"`
	// Ratio is mean(B1, B2) ÷ mean(A1, A2); 0 when A's mean is 0 (no ratio).
	Ratio float64 `json:"b_over_a"`
	// NoiseA and NoiseB are |X2 − X1| ÷ mean(X1, X2) of each arm (0 when
	// the mean is 0); Band is the larger of the two.
	NoiseA float64 `json:"noise_a"`
	NoiseB float64 `json:"noise_b"`
	Band   float64 `json:"band"`
	// Verdict is "within noise" when |Ratio − 1| ≤ Band, else which way B
	// differs and by how much ("B 12% higher, beyond the ±5% noise"), or
	// why there is no ratio.
	Verdict string `json:"verdict"`
}

// Within says whether B differs from A by no more than the noise band.
func (c ABCompare) Within() bool { return c.Ratio > 0 && math.Abs(c.Ratio-1) <= c.Band }

// abMetrics are the figures of a probe an A/B compares.
var abMetrics = []struct {
	name string
	of   func(Probe) float64
}{
	{"committed ÷ accepted", func(p Probe) float64 { return p.CommittedOverAccepted }},
	{"202→commit p50 ms", func(p Probe) float64 { return p.CommitLatency.P50ms }},
	{"202→commit p95 ms", func(p Probe) float64 { return p.CommitLatency.P95ms }},
	{"drain s", func(p Probe) float64 { return p.DrainS }},
}

// SummarizeAB compares B with A at each rate that has all four probes
// (A1, B1, B2, A2; a rate short of one, as in a run cut short, gets no
// row), in the order the rates first appear, for each metric: committed ÷
// accepted, 202→commit p50 and p95, drain time.
func SummarizeAB(probes []ABProbe) []ABCompare {
	var rates []float64
	byLabel := map[float64]map[string]Probe{}
	for _, p := range probes {
		if byLabel[p.Rate] == nil {
			rates = append(rates, p.Rate)
			byLabel[p.Rate] = map[string]Probe{}
		}
		byLabel[p.Rate][p.Label()] = p.Probe
	}
	var out []ABCompare
	for _, rate := range rates {
		got := byLabel[rate]
		a1, okA1 := got["A1"]
		a2, okA2 := got["A2"]
		b1, okB1 := got["B1"]
		b2, okB2 := got["B2"]
		if !okA1 || !okA2 || !okB1 || !okB2 {
			continue
		}
		for _, m := range abMetrics {
			out = append(out, compareAB(rate, m.name, m.of(a1), m.of(a2), m.of(b1), m.of(b2)))
		}
	}
	return out
}

// compareAB judges one metric's four figures.
func compareAB(rate float64, metric string, a1, a2, b1, b2 float64) ABCompare {
	c := ABCompare{Rate: rate, Metric: metric, A1: a1, A2: a2, B1: b1, B2: b2}
	spread := func(x1, x2 float64) float64 {
		if m := (x1 + x2) / 2; m > 0 {
			return math.Abs(x2-x1) / m
		}
		return 0
	}
	c.NoiseA, c.NoiseB = spread(a1, a2), spread(b1, b2)
	c.Band = max(c.NoiseA, c.NoiseB)
	a, b := (a1+a2)/2, (b1+b2)/2
	if a <= 0 {
		c.Verdict = "no ratio: A's mean is 0"
		return c
	}
	c.Ratio = b / a
	d := c.Ratio - 1
	switch {
	case c.Within():
		c.Verdict = "within noise"
	case d > 0:
		c.Verdict = fmt.Sprintf("B %.0f%% higher, beyond the ±%.0f%% noise", d*100, c.Band*100)
	default:
		c.Verdict = fmt.Sprintf("B %.0f%% lower, beyond the ±%.0f%% noise", -d*100, c.Band*100)
	}
	return c
}

// abMarkdown is the A/B's section.
func (r *Report) abMarkdown(b *strings.Builder) {
	ab := r.AB
	p := func(format string, a ...any) { fmt.Fprintf(b, format, a...) }
	env := func(kv []string) string {
		if len(kv) == 0 {
			return "nothing (the batchers' defaults)"
		}
		return "`" + strings.Join(kv, " ") + "`"
	}
	rates := make([]string, len(ab.Rates))
	for i, x := range ab.Rates {
		rates[i] = num(x)
	}
	p("## A/B of the batchers' environment\n\n")
	p("A adds %s to the batchers' environment, B adds %s (on top of the run's own, above). At each of %s votes/s the probes ran in the order A B B A, each a %.0f s intake at that rate followed by the drain of the queue, the batchers restarted with the probe's environment before every probe. "+
		"B÷A is the mean of B's two probes over the mean of A's; the noise band is the larger relative difference between the two probes of one setting (|X2 − X1| ÷ their mean): a B÷A within ±band of 1 is **within noise**.\n\n",
		env(ab.A), env(ab.B), strings.Join(rates, " and "), ab.DurationS)
	p("| rate | probe | offered/s | accepted/s | committed/s | committed ÷ accepted | 202→commit p50 | p95 | drain | held? |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, x := range ab.Probes {
		pr := x.Probe
		p("| %s | %s | %s | %s | %s | %.3f | %.0f ms | %.0f ms | %.1f s | %s |\n", num(x.Rate), x.Label(), num(pr.Phase.Offered), num(pr.Phase.AcceptedPerS),
			num(pr.CommittedPerS), pr.CommittedOverAccepted, pr.CommitLatency.P50ms, pr.CommitLatency.P95ms, pr.DrainS, pr.Why)
	}
	p("\n")
	if len(ab.Compare) == 0 {
		p("**No rate got all four probes: no comparison.**\n\n")
		return
	}
	p("| rate | metric | A1 | B1 | B2 | A2 | B÷A | noise A | noise B | verdict |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range ab.Compare {
		ratio := "—"
		if c.Ratio > 0 {
			ratio = fmt.Sprintf("%.3f", c.Ratio)
		}
		f := abFigure(c.Metric)
		p("| %s | %s | %s | %s | %s | %s | %s | ±%.1f%% | ±%.1f%% | %s |\n", num(c.Rate), c.Metric, f(c.A1), f(c.B1), f(c.B2), f(c.A2), ratio, c.NoiseA*100, c.NoiseB*100, c.Verdict)
	}
	within := slices.IndexFunc(ab.Compare, func(c ABCompare) bool { return !c.Within() }) < 0
	if within {
		p("\nEvery difference is within noise: this run does not tell B from A.\n")
	}
	p("\n")
}

// abFigure formats a metric's figure.
func abFigure(metric string) func(float64) string {
	switch {
	case strings.HasPrefix(metric, "committed"):
		return func(x float64) string { return fmt.Sprintf("%.3f", x) }
	case strings.HasSuffix(metric, " s"):
		return func(x float64) string { return fmt.Sprintf("%.1f", x) }
	default:
		return func(x float64) string { return fmt.Sprintf("%.0f", x) }
	}
}
