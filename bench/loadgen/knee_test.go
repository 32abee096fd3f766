package loadgen

import (
	"testing"
	"time"
)

var crit = KneeCriteria{MinServed: 0.95, MaxFailed: 0.01, MaxP99: time.Second}

func step(offered, answered, failed float64, p99 time.Duration) KneeStep {
	return KneeStep{Offered: offered, Answered: answered, Accepted: answered * 0.9, Failed: failed, P99: p99}
}

func TestFindKnee(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name  string
		steps []KneeStep
		want  int
	}{
		{"latency takes off", []KneeStep{step(1000, 1000, 0, 5*ms), step(2000, 1990, 0, 20*ms), step(4000, 3990, 0, 2*time.Second)}, 1},
		{"throughput flattens", []KneeStep{step(1000, 1000, 0, 5*ms), step(2000, 1500, 0, 50*ms)}, 0},
		{"errors", []KneeStep{step(1000, 1000, 0, 5*ms), step(2000, 2000, 0, 5*ms), step(3000, 2900, 100, 5*ms)}, 1},
		{"all served", []KneeStep{step(1000, 1000, 0, 5*ms), step(2000, 2000, 0, 5*ms)}, 1},
		{"none served", []KneeStep{step(1000, 10, 990, 5*ms)}, -1},
		{"recovery after the knee is ignored", []KneeStep{step(1000, 1000, 0, 5*ms), step(2000, 100, 0, 5*ms), step(3000, 3000, 0, 5*ms)}, 0},
	}
	for _, c := range cases {
		if got := FindKnee(c.steps, crit); got != c.want {
			t.Errorf("%s: knee %d, want %d", c.name, got, c.want)
		}
	}
	if crit.Served(KneeStep{}) {
		t.Error("a step with nothing offered is not served")
	}
}
