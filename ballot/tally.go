package ballot

// Tally counts votes per candidate. Its JSON form is an object with keys in
// sorted order (encoding/json sorts map keys), so it is deterministic.
//
// A zero count and an absent candidate mean the same; Equal treats them
// alike. Add and Merge need a non-nil Tally.
type Tally map[string]uint64

// Add adds n votes for candidate.
func (t Tally) Add(candidate string, n uint64) { t[candidate] += n }

// Merge adds every count of o to t.
func (t Tally) Merge(o Tally) {
	for c, n := range o {
		t.Add(c, n)
	}
}

// Equal reports whether t and o hold the same non-zero counts.
func (t Tally) Equal(o Tally) bool {
	return t.within(o) && o.within(t)
}

// within reports whether every non-zero count of t is in o.
func (t Tally) within(o Tally) bool {
	for c, n := range t {
		if n != 0 && o[c] != n {
			return false
		}
	}
	return true
}

// Total returns the number of votes counted over all candidates.
func (t Tally) Total() uint64 {
	var sum uint64
	for _, n := range t {
		sum += n
	}
	return sum
}

// TallyOf counts votes per candidate.
func TallyOf(votes []Vote) Tally {
	t := make(Tally)
	for _, v := range votes {
		t.Add(v.Candidate, 1)
	}
	return t
}
