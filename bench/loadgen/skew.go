// Population skew: voters and votes spread over states the way a national
// election does, large states getting more. Weights come from a table of
// state populations; states not in the table get Zipf weights below the
// smallest known one, so any election template works.

package loadgen

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"

	"github.com/votechain/votechain/gateway/roll"
)

// population is the 2020 US census population (millions) of the states the
// demo election uses, and a few more; only the ratios matter.
var population = map[string]float64{
	"CA": 39.5, "TX": 29.1, "FL": 21.5, "NY": 20.2, "PA": 13.0, "IL": 12.8,
	"OH": 11.8, "GA": 10.7, "NC": 10.4, "MI": 10.1, "NJ": 9.3, "VA": 8.6,
	"WA": 7.7, "AZ": 7.2, "MA": 7.0, "TN": 6.9, "IN": 6.8, "MD": 6.2,
}

// Weights returns one weight per state, summing to 1: the state's
// population share when it is known; unknown states get Zipf weights
// (1/rank) scaled below the smallest known population.
func Weights(states []string) []float64 {
	w := make([]float64, len(states))
	floor := 0.0
	for _, s := range states {
		if p, ok := population[s]; ok && (floor == 0 || p < floor) {
			floor = p
		}
	}
	if floor == 0 {
		floor = 1
	}
	rank := 1.0
	var sum float64
	for i, s := range states {
		if p, ok := population[s]; ok {
			w[i] = p
		} else {
			w[i] = floor / (1 + rank)
			rank++
		}
		sum += w[i]
	}
	for i := range w {
		w[i] /= sum
	}
	return w
}

// Picker draws an index with probability proportional to its weight.
type Picker struct {
	cum []float64 // cumulative weights, last one 1
}

// NewPicker returns a picker over weights (non-negative, not all zero).
func NewPicker(weights []float64) (*Picker, error) {
	var sum float64
	for _, w := range weights {
		if w < 0 {
			return nil, fmt.Errorf("skew: negative weight %v", w)
		}
		sum += w
	}
	if sum == 0 {
		return nil, errors.New("skew: no positive weight")
	}
	cum := make([]float64, len(weights))
	var acc float64
	for i, w := range weights {
		acc += w / sum
		cum[i] = acc
	}
	cum[len(cum)-1] = 1
	return &Picker{cum: cum}, nil
}

// Pick maps u in [0,1) to an index: the first whose cumulative weight
// exceeds u.
func (p *Picker) Pick(u float64) int {
	i := sort.SearchFloat64s(p.cum, u)
	if i < len(p.cum) && p.cum[i] == u {
		i++
	}
	return min(i, len(p.cum)-1)
}

// Counts splits n into len(weights) whole counts proportional to the
// weights, by largest remainder, so they sum to exactly n.
func Counts(n int, weights []float64) []int {
	counts := make([]int, len(weights))
	rem := make([]float64, len(weights))
	given := 0
	for i, w := range weights {
		exact := w * float64(n)
		counts[i] = int(exact)
		rem[i] = exact - float64(counts[i])
		given += counts[i]
	}
	order := make([]int, len(weights))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return rem[order[a]] > rem[order[b]] })
	for k := 0; given < n; k++ {
		counts[order[k%len(order)]]++
		given++
	}
	return counts
}

// WriteRoll writes a synthetic roll CSV (roll.Header(); voter ids
// roll.VoterID(i); credentials from roll.NewCredential, crypto/rand) of n
// voters whose states follow weights exactly (Counts), interleaved so any
// prefix of the roll is skewed alike; seed fixes the order of the states.
func WriteRoll(w io.Writer, n int, states []string, weights []float64, seed uint64) error {
	if len(states) == 0 || len(states) != len(weights) {
		return errors.New("skew: write roll: need one weight per state")
	}
	picker, err := NewPicker(weights)
	if err != nil {
		return err
	}
	left := Counts(n, weights)
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	rng := rand.New(rand.NewChaCha8(s))
	bw := bufio.NewWriterSize(w, 1<<16)
	cw := csv.NewWriter(bw)
	if err := cw.Write(roll.Header()); err != nil {
		return fmt.Errorf("skew: write roll: %w", err)
	}
	for i := range n {
		st := picker.Pick(rng.Float64())
		for left[st] == 0 { // this state is full: take the next one with room
			st = (st + 1) % len(states)
		}
		left[st]--
		cred, err := roll.NewCredential()
		if err != nil {
			return err
		}
		if err := cw.Write([]string{roll.VoterID(i), cred, states[st]}); err != nil {
			return fmt.Errorf("skew: write roll: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("skew: write roll: %w", err)
	}
	return bw.Flush()
}
