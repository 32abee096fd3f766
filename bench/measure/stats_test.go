package measure

import (
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]int{50: 50, 95: 95, 99: 99, 100: 100, 0.1: 1} {
		if got := Percentile(s, p); got != time.Duration(want)*time.Millisecond {
			t.Errorf("p%v = %v, want %dms", p, got, want)
		}
	}
	if Percentile(nil, 50) != 0 {
		t.Error("empty percentile")
	}
	if got := Percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("single sample p99 = %v", got)
	}
}

func TestSummarizeSortsAndRounds(t *testing.T) {
	l := Summarize([]time.Duration{3 * time.Millisecond, 1234567 * time.Nanosecond, 2 * time.Millisecond})
	if l.N != 3 || l.P50ms != 2 || l.MaxMs != 3 || l.P99ms != 3 {
		t.Fatalf("%+v", l)
	}
	if got := Summarize([]time.Duration{1234567}).P50ms; got != 1.23 {
		t.Fatalf("rounding: %v", got)
	}
}

func TestSeriesRate(t *testing.T) {
	t0 := time.Unix(1000, 0)
	s := NewSeries(t0)
	s.Add(t0.Add(-time.Second), 99) // before the start: dropped
	s.Add(t0.Add(100*time.Millisecond), 10)
	s.Add(t0.Add(1900*time.Millisecond), 20)
	s.Add(t0.Add(3*time.Second), 30)
	if len(s.Count) != 4 || s.Count[0] != 10 || s.Count[1] != 20 || s.Count[2] != 0 {
		t.Fatalf("%v", s.Count)
	}
	if r := s.Rate(t0, t0.Add(2*time.Second)); r != 15 {
		t.Fatalf("rate %v", r)
	}
	if r := s.Rate(t0, t0.Add(10*time.Second)); r != 6 {
		t.Fatalf("rate over a longer window %v", r)
	}
}

func TestQuantilesPerSecond(t *testing.T) {
	t0 := time.Unix(1000, 0)
	q := NewQuantiles(t0)
	q.Add(t0, 5*time.Millisecond)
	q.Add(t0.Add(100*time.Millisecond), time.Millisecond)
	q.Add(t0.Add(2500*time.Millisecond), 8*time.Millisecond)
	got := q.PerSecond(100)
	if len(got) != 3 || got[0] != 5 || got[1] != 0 || got[2] != 8 {
		t.Fatalf("%v", got)
	}
}
