// The knee of a throughput ramp: the highest offered rate the system still
// serves in full before latency or errors take off.

package loadgen

import "time"

// KneeStep is one rung of a ramp: a constant offered rate held for a while.
type KneeStep struct {
	Offered  float64       `json:"offered_per_s"`  // requests per second sent
	Answered float64       `json:"answered_per_s"` // answered in time, neither 503 nor transport error
	Accepted float64       `json:"accepted_per_s"` // answered 202
	Failed   float64       `json:"failed_per_s"`   // 503s, timeouts and transport errors
	P99      time.Duration `json:"p99"`            // of answered requests
}

// KneeCriteria say when a step still counts as served.
type KneeCriteria struct {
	MinServed float64       // Answered / Offered at least this (e.g. 0.95)
	MaxFailed float64       // Failed / Offered at most this (e.g. 0.01)
	MaxP99    time.Duration // p99 at most this (e.g. 1 s)
}

// Served reports whether a step meets the criteria.
func (c KneeCriteria) Served(s KneeStep) bool {
	if s.Offered <= 0 {
		return false
	}
	return s.Answered >= c.MinServed*s.Offered && s.Failed <= c.MaxFailed*s.Offered && s.P99 <= c.MaxP99
}

// Find returns the index of the knee: the last step served before the first
// step (in ramp order) that is not. It returns -1 when even the first step is
// not served, and the last index when every step is.
func FindKnee(steps []KneeStep, c KneeCriteria) int {
	for i, s := range steps {
		if !c.Served(s) {
			return i - 1
		}
	}
	return len(steps) - 1
}
