package suite

import (
	"testing"

	"github.com/votechain/votechain/bench/report"
)

// probesAt are probes of the given offered rates; held says which held.
func probesAt(rates []float64, held []bool) []report.Probe {
	out := make([]report.Probe, len(rates))
	for i, r := range rates {
		out[i].Phase.Offered, out[i].Holds = r, held[i]
	}
	return out
}

// The search probes the goal first whenever the bracket holds it, then
// bisects on the grid until the bracket is a step wide.
func TestNextSearchRate(t *testing.T) {
	for _, c := range []struct {
		name   string
		rates  []float64
		held   []bool
		knee   float64
		goal   float64
		want   float64
		wantOK bool
	}{
		{"the goal first", []float64{5000}, []bool{true}, 0, 8000, 8000, true},
		{"no goal: the midpoint of 5,000 and twice it", []float64{5000}, []bool{true}, 0, 0, 7500, true},
		{"the goal held: bisect above it", []float64{5000, 8000}, []bool{true, true}, 0, 8000, 12000, true},
		{"the goal failed: bisect below it", []float64{5000, 8000}, []bool{true, false}, 0, 8000, 6500, true},
		{"the goal below the bracket", []float64{9000}, []bool{true}, 0, 8000, 13500, true},
		{"the goal above the bracket", []float64{5000}, []bool{false}, 0, 8000, 2500, true},
		{"the knee above twice the rate that held", []float64{8000}, []bool{true}, 20000, 8000, 14000, true},
		{"the goal probed, failed, then a lower rate failed", []float64{5000, 8000, 6500}, []bool{true, false, false}, 0, 8000, 5750, true},
		{"a step wide: found", []float64{7750, 8000}, []bool{true, false}, 0, 8000, 0, false},
	} {
		got, ok := nextSearchRate(probesAt(c.rates, c.held), c.knee, c.goal, 250)
		if got != c.want || ok != c.wantOK {
			t.Errorf("%s: nextSearchRate = %v, %v; want %v, %v", c.name, got, ok, c.want, c.wantOK)
		}
	}
}

// The sustainable rate is the highest rate that held, whatever the order
// the probes ran in.
func TestSearchBracket(t *testing.T) {
	lo, hi := searchBracket(probesAt([]float64{5000, 8000, 12000, 10000, 9000}, []bool{true, true, false, false, true}), 15000)
	if lo != 9000 || hi != 10000 {
		t.Errorf("bracket [%v, %v]; want [9000, 10000]", lo, hi)
	}
	if lo, hi := searchBracket(nil, 0); lo != 0 || hi != 0 {
		t.Errorf("no probes: bracket [%v, %v]; want [0, 0]", lo, hi)
	}
}
