package report

import (
	"fmt"
	"math"
	"strings"
)

// plot geometry.
const (
	plotW     = 1000
	panelH    = 240
	marginL   = 70
	marginR   = 20
	marginTop = 30
	gap       = 60
)

type line struct {
	name  string
	color string
	data  []float64
}

// Plot draws two panels over the run's seconds: votes per second (sent,
// accepted, committed by the batcher, committed by the drivers) and 202
// latency p50/p99 (log scale), with the phases shaded and named.
func Plot(s Series) []byte {
	n := 0
	for _, d := range [][]float64{s.Sent, s.Accepted, s.Committed, s.DriverCommitted, s.AcceptP99ms} {
		n = max(n, len(d))
	}
	n = max(n, 1)
	for _, m := range s.Marks {
		n = max(n, int(math.Ceil(m.EndS)))
	}
	height := marginTop + 2*panelH + gap + 40
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", plotW, height, plotW, height)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	x := func(sec float64) float64 { return marginL + sec/float64(n)*(plotW-marginL-marginR) }

	top, bottom := float64(marginTop), float64(marginTop+panelH+gap)
	for i, m := range s.Marks { // phase bands across both panels
		fill := "#f2f2f2"
		if i%2 == 1 {
			fill = "#e6eef7"
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s"/>`+"\n", x(m.StartS), top, math.Max(x(m.EndS)-x(m.StartS), 1), 2*panelH+gap, fill)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" transform="rotate(-90 %.1f %.1f)" text-anchor="end" fill="#555">%s</text>`+"\n",
			x(m.StartS)+10, top+4, x(m.StartS)+10, top+4, escape(m.Name))
	}

	rate := []line{{"sent/s", "#999999", s.Sent}, {"accepted (202)/s", "#1f77b4", s.Accepted},
		{"committed/s batcher (5 s avg)", "#2ca02c", MovingMean(s.Committed, 5)},
		{"committed/s drivers (5 s avg)", "#ff7f0e", MovingMean(s.DriverCommitted, 5)}}
	ymax := 1.0
	for _, l := range rate {
		for _, v := range l.data {
			ymax = math.Max(ymax, v)
		}
	}
	ymax = niceCeil(ymax)
	panel(&b, top, "votes per second", n, x)
	for k := 0; k <= 4; k++ {
		v := ymax * float64(k) / 4
		y := top + panelH - v/ymax*panelH
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n",
			marginL, plotW-marginR, y, y, marginL-5, y+4, num(v))
	}
	for i, l := range rate {
		path(&b, l, x, func(v float64) float64 { return top + panelH - v/ymax*panelH })
		legend(&b, l, marginL+10+i*225, int(top)-8)
	}

	// A second without 202s has no latency: leave a gap, not a dip to 0.
	lat := []line{{"202 latency p50 (ms)", "#9467bd", gaps(s.AcceptP50ms)}, {"202 latency p99 (ms)", "#d62728", gaps(s.AcceptP99ms)}}
	lo, hi := 0.1, 10000.0 // log scale 0.1 ms .. 10 s
	ly := func(v float64) float64 {
		v = math.Min(math.Max(v, lo), hi)
		return bottom + panelH - (math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))*panelH
	}
	panel(&b, bottom, "accept latency (ms, log)", n, x)
	for v := lo; v <= hi; v *= 10 {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%g</text>`+"\n",
			marginL, plotW-marginR, ly(v), ly(v), marginL-5, ly(v)+4, v)
	}
	for i, l := range lat {
		path(&b, l, x, ly)
		legend(&b, l, marginL+10+i*200, int(bottom)-8)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">seconds since the start of the run</text>`+"\n", (plotW+marginL)/2, height-8)
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

func panel(b *strings.Builder, top float64, title string, n int, x func(float64) float64) {
	fmt.Fprintf(b, `<rect x="%d" y="%.1f" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", marginL, top, plotW-marginL-marginR, panelH)
	fmt.Fprintf(b, `<text x="14" y="%.1f" transform="rotate(-90 14 %.1f)" text-anchor="middle">%s</text>`+"\n", top+panelH/2, top+panelH/2, escape(title))
	step := niceCeil(float64(n) / 10)
	for t := 0.0; t <= float64(n); t += step {
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%g</text>`+"\n", x(t), top+panelH+14, t)
	}
}

func path(b *strings.Builder, l line, x func(float64) float64, y func(float64) float64) {
	if len(l.data) == 0 {
		return
	}
	var d strings.Builder
	pen := false // whether the line is drawing (NaN lifts it)
	for i, v := range l.data {
		if math.IsNaN(v) {
			pen = false
			continue
		}
		cmd := "L"
		if !pen {
			cmd, pen = "M", true
		}
		fmt.Fprintf(&d, "%s%.1f %.1f ", cmd, x(float64(i)+0.5), y(v))
	}
	if d.Len() == 0 {
		return
	}
	fmt.Fprintf(b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.5"/>`+"\n", strings.TrimSpace(d.String()), l.color)
}

func legend(b *strings.Builder, l line, x, y int) {
	fmt.Fprintf(b, `<rect x="%d" y="%d" width="12" height="3" fill="%s"/><text x="%d" y="%d">%s</text>`+"\n", x, y-4, l.color, x+16, y, escape(l.name))
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}

// MovingMean is the centred mean of each value with its neighbours over a
// window of w values (commits arrive in blocks, so per-second counts spike).
func MovingMean(v []float64, w int) []float64 {
	out := make([]float64, len(v))
	half := w / 2
	for i := range v {
		lo, hi := max(i-half, 0), min(i+half+1, len(v))
		var sum float64
		for _, x := range v[lo:hi] {
			sum += x
		}
		out[i] = sum / float64(hi-lo)
	}
	return out
}

// gaps turns zeros (seconds without samples) into NaN, which path skips.
func gaps(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = x
		if x <= 0 {
			out[i] = math.NaN()
		}
	}
	return out
}
