package suite

import "time"

// quickWarmupSlices bounds each extra network's warm-up in a quick plan:
// two slices (10 s of the default plan's 5 s slices) where the full plan
// allows 45 s. A quick run tries the benchmark out, so it keeps every
// phase, the warm-up included: two slices still show whether the page
// faults' share falls from one slice to the next and reach both of the
// rule's ends (warm, or its bound passed). At 45 s the four extra networks'
// warm-ups (other consensus, roll sealed, no roll, contests) could take
// over 3 minutes, longer than the quick ceilings they precede (3 + 6 s
// each) many times over, and the eligibility pair's roll, which covers a
// warm-up to its bound, grew by 1.5 M entries instead of 0.63 M (at the
// default drive rates and the sweep's largest setting, 2,000 votes × 32 in
// flight).
const quickWarmupSlices = 2

// Quick is p with every phase shortened, for trying the benchmark out
// (benchrun --quick): fewer, shorter sweep settings and shorter drives,
// intake phases and probes, and the extra networks' warm-ups bounded at
// quickWarmupSlices slices (a plan without a warm-up keeps none).
func (p Plan) Quick() Plan {
	p.SweepVotes, p.SweepFlights, p.SweepDur = []int{500, 2000}, []int{16, 32}, 3*time.Second
	p.CeilingDur, p.NaiveDur, p.FillLimit = 6*time.Second, 5*time.Second, time.Minute
	p.ReferendumDur, p.SustainedDur, p.SearchProbes, p.ProbeDur = 5*time.Second, 15*time.Second, 1, 15*time.Second
	p.RampStep, p.FixedDur, p.SurgeDur, p.StormDur, p.ReadDur = 3*time.Second, 5*time.Second, 5*time.Second, 5*time.Second, 3*time.Second
	if p.ExtraWarmup.Limit > 0 {
		p.ExtraWarmup.Limit = min(p.ExtraWarmup.Limit, quickWarmupSlices*p.ExtraWarmup.Slice)
	}
	return p
}
