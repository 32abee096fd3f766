package ballot

// Tally counts votes per contest and choice. Its JSON form is an object of
// contest ids, each an object of choices, keys in sorted order
// (encoding/json sorts map keys), so it is deterministic:
//
//	{"president":{"alice":3,"bob":1},"prop-1":{"no":2,"yes":2}}
//
// A zero count and an absent choice or contest mean the same; Equal treats
// them alike. Add and Merge need a non-nil Tally.
type Tally map[string]Counts

// Counts counts the votes of one contest per choice.
type Counts map[string]uint64

// Add adds n votes for choice in contest.
func (t Tally) Add(contest, choice string, n uint64) {
	c := t[contest]
	if c == nil {
		c = Counts{}
		t[contest] = c
	}
	c[choice] += n
}

// Merge adds every count of o to t.
func (t Tally) Merge(o Tally) {
	for contest, counts := range o {
		for choice, n := range counts {
			t.Add(contest, choice, n)
		}
	}
}

// Equal reports whether t and o hold the same non-zero counts.
func (t Tally) Equal(o Tally) bool {
	return t.within(o) && o.within(t)
}

// within reports whether every non-zero count of t is in o.
func (t Tally) within(o Tally) bool {
	for contest, counts := range t {
		for choice, n := range counts {
			if n != 0 && o[contest][choice] != n {
				return false
			}
		}
	}
	return true
}

// Total returns the number of votes counted over all contests and choices.
func (t Tally) Total() uint64 {
	var sum uint64
	for _, c := range t {
		sum += c.Total()
	}
	return sum
}

// Total returns the number of votes counted over all choices.
func (c Counts) Total() uint64 {
	var sum uint64
	for _, n := range c {
		sum += n
	}
	return sum
}

// TallyOf counts votes per contest and choice.
func TallyOf(votes []Vote) Tally {
	t := make(Tally)
	for _, v := range votes {
		t.Add(v.Contest, v.Choice, 1)
	}
	return t
}
