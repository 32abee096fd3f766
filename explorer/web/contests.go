package web

import (
	"slices"

	"github.com/votechain/votechain/ballot"
)

// contestResults are one contest's recounted results: the contest as the
// election record states it, with its votes nationally and per state.
type contestResults struct {
	ballot.Contest
	// Recorded is false for a contest the recount found but the indexed
	// election record does not name (or no record is indexed): its title
	// is then its id and its kind is empty.
	Recorded bool                `json:"recorded"`
	Counted  uint64              `json:"counted"` // votes counted in the contest, nationally
	National ballot.Counts       `json:"national"`
	States   []stateContestCount `json:"states"`
}

// stateContestCount is one state's votes in a contest.
type stateContestCount struct {
	State   string        `json:"state"`
	Counted uint64        `json:"counted"`
	Votes   ballot.Counts `json:"votes"`
}

// resultsByContest arranges the recount by contest: the election's
// contests in ballot order, then any other contest the recount holds, by id.
// A contest's Choices are the election's, in ballot order, then any other
// choice the recount counted, sorted, so nothing counted goes unshown.
// Every state of the recount is listed under every contest.
func resultsByContest(e *ballot.Election, r ballot.Results) []contestResults {
	var contests []ballot.Contest
	if e != nil {
		contests = slices.Clone(e.Contests)
	}
	recorded := len(contests)
	known := func(id string) bool {
		return slices.ContainsFunc(contests, func(c ballot.Contest) bool { return c.ID == id })
	}
	tallies := []map[string]ballot.Counts{r.National}
	for _, st := range r.States {
		tallies = append(tallies, st.Tallies)
	}
	for _, id := range sortedKeys(tallies...) {
		if !known(id) {
			contests = append(contests, ballot.Contest{ID: id, Title: id})
		}
	}
	states := sortedKeys(r.States)
	out := make([]contestResults, len(contests))
	for i, c := range contests {
		counts := []map[string]uint64{r.National[c.ID]}
		for _, st := range states {
			counts = append(counts, r.States[st].Tallies[c.ID])
		}
		c.Choices = slices.Clone(c.Choices)
		for _, choice := range sortedKeys(counts...) {
			if !c.HasChoice(choice) {
				c.Choices = append(c.Choices, choice)
			}
		}
		cr := contestResults{Contest: c, Recorded: i < recorded, National: orEmpty(r.National[c.ID]),
			Counted: r.National[c.ID].Total(), States: []stateContestCount{}}
		for _, st := range states {
			votes := r.States[st].Tallies[c.ID]
			cr.States = append(cr.States, stateContestCount{State: st, Counted: votes.Total(), Votes: orEmpty(votes)})
		}
		out[i] = cr
	}
	return out
}

// orEmpty returns c, or an empty Counts for nil (JSON {} rather than null).
func orEmpty(c ballot.Counts) ballot.Counts {
	if c == nil {
		return ballot.Counts{}
	}
	return c
}
