package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
)

// AB is `benchrun --only ab`: the batchers with two environments, A and B,
// compared on the run's own system in one run. At each offered rate the
// probes run in rounds of four, A B B A in odd rounds and B A A B in even
// ones, the batchers restarted with the probe's environment before every
// probe, so a drift of the machine or the ledger over a round weighs on A
// and B alike and neither side always goes first; the probes of one
// setting at a rate measure how far its results stray from probe to probe.
type AB struct {
	// A and B are the NAME=value settings added to the batchers'
	// environment (the run's own, Settings.Environment) for each side;
	// A empty: the batchers' defaults.
	A         []string  `json:"a"`
	B         []string  `json:"b"`
	Rates     []float64 `json:"rates"`      // offered votes/s, in run order
	DurationS float64   `json:"duration_s"` // of each probe's intake
	// Rounds is how many rounds of four probes were asked for at each
	// rate (0 in reports from before --ab-rounds: one).
	Rounds int `json:"rounds,omitempty"`
	// WarmupS is the unmeasured intake at the probe's rate after each
	// restart, before the drain and the probe (0: none, as in reports from
	// before it); its CPU phase and mark are the probe's name with -warm,
	// and no figure of the comparison comes from it.
	WarmupS float64   `json:"warmup_s,omitempty"`
	Probes  []ABProbe `json:"probes"` // in run order
	// Compare is SummarizeAB(Probes): B÷A per rate and metric.
	Compare []ABCompare `json:"compare"`
}

// rounds is Rounds, one when unset.
func (ab *AB) rounds() int { return max(ab.Rounds, 1) }

// ABProbe is one probe of an A/B.
type ABProbe struct {
	Arm string `json:"arm"` // "A" or "B"
	// Round is the probe's round at its rate, from 1.
	Round int `json:"round"`
	// Nth is 1 for the arm's first probe of its round, 2 for its second.
	Nth   int     `json:"nth"`
	Rate  float64 `json:"rate"`
	Probe Probe   `json:"probe"`
}

// UnmarshalJSON reads reports from before --ab-rounds too, whose "round"
// was the arm's first or second probe and which had no "nth" and one round.
// Like Load, it refuses a field ABProbe does not have (a custom
// unmarshaler does not inherit its decoder's DisallowUnknownFields).
func (p *ABProbe) UnmarshalJSON(data []byte) error {
	type plain ABProbe // without this method
	var q plain
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		return err
	}
	if q.Nth == 0 {
		q.Nth, q.Round = q.Round, 1
	}
	*p = ABProbe(q)
	return nil
}

// Label is "A1", "B2"...: the arm and Nth, unique within a round.
func (p ABProbe) Label() string { return fmt.Sprintf("%s%d", p.Arm, p.Nth) }

// ABCompare is one metric at one rate, pooled over the rate's complete
// rounds: B÷A of the arms' means, the noise band it is judged by, and the
// rounds one by one.
type ABCompare struct {
	Rate   float64 `json:"rate"`
	Metric string  `json:"metric"`
	// A1, A2, B1, B2 are the first complete round's figures: with one
	// round, all of them.
	A1 float64 `json:"a1"`
	A2 float64 `json:"a2"`
	B1 float64 `json:"b1"`
	B2 float64 `json:"b2"`
	// MeanA and MeanB are the means of each arm's probes over the complete
	// rounds (two probes an arm a round).
	MeanA float64 `json:"mean_a"`
	MeanB float64 `json:"mean_b"`
	// Ratio is MeanB ÷ MeanA; 0 when MeanA is 0 (no ratio).
	Ratio float64 `json:"b_over_a"`
	// NoiseA and NoiseB are each arm's spread, (largest − smallest) ÷ mean
	// of its probes at the rate (0 when the mean is 0): how far apart two
	// repeats of one setting came. With one round it is |X2 − X1| ÷
	// mean(X1, X2). It widens as rounds add probes, so a difference beyond
	// it is beyond any pair of repeats; the paired view (RoundRatios,
	// Lower) is what sharpens with rounds. Band is the larger of the two.
	NoiseA float64 `json:"noise_a"`
	NoiseB float64 `json:"noise_b"`
	Band   float64 `json:"band"`
	// RoundRatios is each complete round's own B÷A (the mean of its two B
	// probes over its two A), in run order, 0 where A's is 0; Lower is how
	// many of them are below 1: B lower than A in Lower of
	// len(RoundRatios) rounds.
	RoundRatios []float64 `json:"round_ratios,omitempty"`
	Lower       int       `json:"b_lower_rounds"`
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

// abQuad is one round's figures of a metric.
type abQuad struct{ a1, a2, b1, b2 float64 }

// SummarizeAB compares B with A at each rate, in the order the rates first
// appear, for each metric (committed ÷ accepted, 202→commit p50 and p95,
// drain time), pooling the rate's complete rounds: those with all four
// probes (A1, A2, B1, B2). A round short of one, as in a run cut short, is
// left out; a rate with no complete round gets no row. A probe with the
// rate, round and label of an earlier one replaces it.
func SummarizeAB(probes []ABProbe) []ABCompare {
	type key struct {
		rate  float64
		round int
	}
	var rates []float64
	roundsAt := map[float64][]int{} // in run order
	byLabel := map[key]map[string]Probe{}
	for _, p := range probes {
		k := key{p.Rate, p.Round}
		if byLabel[k] == nil {
			if roundsAt[p.Rate] == nil {
				rates = append(rates, p.Rate)
			}
			roundsAt[p.Rate] = append(roundsAt[p.Rate], p.Round)
			byLabel[k] = map[string]Probe{}
		}
		byLabel[k][p.Label()] = p.Probe
	}
	var out []ABCompare
	for _, rate := range rates {
		var complete []map[string]Probe
		for _, round := range roundsAt[rate] {
			got := byLabel[key{rate, round}]
			if !slices.ContainsFunc([]string{"A1", "A2", "B1", "B2"}, func(l string) bool { _, ok := got[l]; return !ok }) {
				complete = append(complete, got)
			}
		}
		if len(complete) == 0 {
			continue
		}
		for _, m := range abMetrics {
			quads := make([]abQuad, len(complete))
			for i, got := range complete {
				quads[i] = abQuad{m.of(got["A1"]), m.of(got["A2"]), m.of(got["B1"]), m.of(got["B2"])}
			}
			out = append(out, compareAB(rate, m.name, quads))
		}
	}
	return out
}

// compareAB judges one metric's figures over one or more rounds.
func compareAB(rate float64, metric string, quads []abQuad) ABCompare {
	first := quads[0]
	c := ABCompare{Rate: rate, Metric: metric, A1: first.a1, A2: first.a2, B1: first.b1, B2: first.b2}
	var as, bs []float64
	for _, q := range quads {
		as, bs = append(as, q.a1, q.a2), append(bs, q.b1, q.b2)
		r := abRatio((q.b1+q.b2)/2, (q.a1+q.a2)/2)
		c.RoundRatios = append(c.RoundRatios, r)
		if r > 0 && r < 1 {
			c.Lower++
		}
	}
	c.MeanA, c.MeanB = abMean(as), abMean(bs)
	c.NoiseA, c.NoiseB = abSpread(as), abSpread(bs)
	c.Band = max(c.NoiseA, c.NoiseB)
	if c.MeanA <= 0 {
		c.Verdict = "no ratio: A's mean is 0"
		return c
	}
	c.Ratio = c.MeanB / c.MeanA
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

// abRatio is b ÷ a, 0 when a is not above 0.
func abRatio(b, a float64) float64 {
	if a <= 0 {
		return 0
	}
	return b / a
}

// abMean is the mean of xs (none: 0).
func abMean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// abSpread is (largest − smallest) ÷ mean of xs, 0 when the mean is not
// above 0.
func abSpread(xs []float64) float64 {
	m := abMean(xs)
	if m <= 0 {
		return 0
	}
	return (slices.Max(xs) - slices.Min(xs)) / m
}

// abMarkdown is the A/B's section: with one round the four probes'
// figures side by side, with more the arms' means and the rounds' own B÷A.
func (r *Report) abMarkdown(b *strings.Builder) {
	ab := r.AB
	n := ab.rounds()
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
	if n == 1 {
		p("A adds %s to the batchers' environment, B adds %s (on top of the run's own, above). At each of %s votes/s the probes ran in the order A B B A, each a %.0f s intake at that rate followed by the drain of the queue, the batchers restarted with the probe's environment before every probe. "+
			"B÷A is the mean of B's two probes over the mean of A's; the noise band is the larger relative difference between the two probes of one setting (|X2 − X1| ÷ their mean): a B÷A within ±band of 1 is **within noise**.\n\n",
			env(ab.A), env(ab.B), strings.Join(rates, " and "), ab.DurationS)
	} else {
		p("A adds %s to the batchers' environment, B adds %s (on top of the run's own, above). At each of %s votes/s %d rounds of four probes ran in a row (fewer in a run cut short), A B B A in odd rounds and B A A B in even ones (neither side always first), each probe a %.0f s intake at that rate followed by the drain of the queue, the batchers restarted with the probe's environment before every probe. "+
			"B÷A is the mean of all B's probes at a rate over the mean of A's, over the rounds that got all four probes; the noise band is the larger of the two settings' spreads, (largest − smallest) ÷ mean of one setting's probes at the rate, how far apart two repeats of one setting came: a B÷A within ±band of 1 is **within noise**. "+
			"*By round* is each round's own B÷A (its two B probes over its two A) and *B lower* the rounds where B came lower: with settings that do not differ, all of n rounds fall one way by chance alone with probability 2 ÷ 2^n, %g%% for n = %d.\n\n",
			env(ab.A), env(ab.B), strings.Join(rates, " and "), n, ab.DurationS, 200/math.Pow(2, float64(n)), n)
	}
	if ab.WarmupS > 0 {
		p("After each restart, before its probe, the batchers were warmed up: a %.0f s intake at the probe's rate, then the drain of the queue, unmeasured (the CPU table's and the timeline's `…-warm` and `drain-…-warm` phases); the probes' figures and the comparison leave the warm-ups out.\n\n", ab.WarmupS)
	} else {
		p("No warm-up: each probe's intake began on the batchers just restarted, whose first seconds count in its figures.\n\n")
	}
	round, head, sep := func(ABProbe) string { return "" }, "| rate | probe |", "|---|---|"
	if n > 1 {
		round, head, sep = func(x ABProbe) string { return fmt.Sprintf("%d | ", x.Round) }, "| rate | round | probe |", "|---|---|---|"
	}
	p("%s offered/s | accepted/s | committed/s | committed ÷ accepted | 202→commit p50 | p95 | drain | held? |\n%s---|---|---|---|---|---|---|---|\n", head, sep)
	for _, x := range ab.Probes {
		pr := x.Probe
		p("| %s | %s%s | %s | %s | %s | %.3f | %.0f ms | %.0f ms | %.1f s | %s |\n", num(x.Rate), round(x), x.Label(), num(pr.Phase.Offered), num(pr.Phase.AcceptedPerS),
			num(pr.CommittedPerS), pr.CommittedOverAccepted, pr.CommitLatency.P50ms, pr.CommitLatency.P95ms, pr.DrainS, pr.Why)
	}
	p("\n")
	if len(ab.Compare) == 0 {
		p("**No rate got all four probes of a round: no comparison.**\n\n")
		return
	}
	ratio := func(x float64) string {
		if x > 0 {
			return fmt.Sprintf("%.3f", x)
		}
		return "—"
	}
	if n == 1 {
		p("| rate | metric | A1 | B1 | B2 | A2 | B÷A | noise A | noise B | verdict |\n|---|---|---|---|---|---|---|---|---|---|\n")
	} else {
		p("| rate | metric | A | B | B÷A | noise A | noise B | by round | B lower | verdict |\n|---|---|---|---|---|---|---|---|---|---|\n")
	}
	for _, c := range ab.Compare {
		f := abFigure(c.Metric)
		if n == 1 {
			p("| %s | %s | %s | %s | %s | %s | %s | ±%.1f%% | ±%.1f%% | %s |\n", num(c.Rate), c.Metric, f(c.A1), f(c.B1), f(c.B2), f(c.A2), ratio(c.Ratio), c.NoiseA*100, c.NoiseB*100, c.Verdict)
			continue
		}
		byRound := make([]string, len(c.RoundRatios))
		for i, x := range c.RoundRatios {
			byRound[i] = ratio(x)
		}
		p("| %s | %s | %s | %s | %s | ±%.1f%% | ±%.1f%% | %s | %d of %d | %s |\n", num(c.Rate), c.Metric, f(c.MeanA), f(c.MeanB), ratio(c.Ratio), c.NoiseA*100, c.NoiseB*100,
			strings.Join(byRound, " / "), c.Lower, len(c.RoundRatios), c.Verdict)
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
