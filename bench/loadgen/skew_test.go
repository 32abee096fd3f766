package loadgen

import (
	"bytes"
	"encoding/csv"
	"math"
	"strings"
	"testing"

	"github.com/votechain/votechain/gateway/roll"
)

func TestWeightsFollowPopulation(t *testing.T) {
	w := Weights([]string{"CA", "MI", "ZZ", "YY"})
	var sum float64
	for _, x := range w {
		sum += x
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Fatalf("weights sum to %v", sum)
	}
	if !(w[0] > w[1] && w[1] > w[2] && w[2] > w[3]) {
		t.Fatalf("want CA > MI > unknown states in rank order, got %v", w)
	}
	if r := w[0] / w[1]; math.Abs(r-39.5/10.1) > 1e-9 {
		t.Fatalf("CA/MI = %v, want the population ratio", r)
	}
}

func TestPickerFollowsWeights(t *testing.T) {
	p, err := NewPicker([]float64{3, 1, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	got := make([]int, 4)
	const n = 10000
	for i := range n { // evenly spaced u: a deterministic histogram
		got[p.Pick((float64(i)+0.5)/n)]++
	}
	want := []int{6000, 2000, 0, 2000}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("picks %v, want %v", got, want)
		}
	}
	if p.Pick(0) != 0 || p.Pick(0.9999999) != 3 {
		t.Fatal("edges of [0,1) map to the first and last index")
	}
	if _, err := NewPicker([]float64{0, 0}); err == nil {
		t.Fatal("all-zero weights accepted")
	}
}

func TestCountsSumExactly(t *testing.T) {
	c := Counts(10, []float64{1.0 / 3, 1.0 / 3, 1.0 / 3})
	if c[0]+c[1]+c[2] != 10 || c[0] != 4 {
		t.Fatalf("counts %v", c)
	}
}

func TestWriteRollIsSkewedAndReadable(t *testing.T) {
	states := []string{"CA", "MI"}
	var buf bytes.Buffer
	if err := WriteRoll(&buf, 1000, states, Weights(states), 7); err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	err := roll.ReadCSV(strings.NewReader(buf.String()), func(_ int, e roll.Entry) error {
		per[e.State]++
		if len(e.Credential) != 32 {
			t.Fatalf("credential %q", e.Credential)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Counts(1000, Weights(states))
	if per["CA"] != want[0] || per["MI"] != want[1] {
		t.Fatalf("per state %v, want %v", per, want)
	}
	var again bytes.Buffer
	_ = WriteRoll(&again, 1000, states, Weights(states), 7)
	a, b := csvRows(t, buf.String()), csvRows(t, again.String())
	for i := 1; i < len(a); i++ { // after the header
		if a[i][2] != b[i][2] {
			t.Fatalf("row %d: same seed gave state %s, then %s", i, a[i][2], b[i][2])
		}
		if a[i][1] == b[i][1] {
			t.Fatalf("row %d: credential %s generated twice (not from crypto/rand)", i, a[i][1])
		}
	}
}

func csvRows(t *testing.T, s string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(s)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
