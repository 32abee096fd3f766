package ballot

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestBatchTotals: totals added up record by record are those of the
// state's result summed from the same records.
func TestBatchTotals(t *testing.T) {
	recs := []BatchRecord{
		{Votes: 4, Counted: 3, Rejected: []int{1}, Reasons: []string{RejectDuplicate}},
		{Votes: 2, Counted: 2, Rejected: []int{}},
	}
	var got BatchTotals
	sr := StateResult{Tallies: Tally{}}
	for _, r := range recs {
		got.Add(r)
		sr.Add(r)
	}
	if want := (BatchTotals{Batches: 2, Votes: 6}); got != want || sr.Totals() != want {
		t.Fatalf("totals %+v, of the state result %+v; want %+v", got, sr.Totals(), want)
	}
}

// TestFinaliseInputCheck: the totals must name exactly the election's
// states and equal the ledger's; a difference of one vote or one batch
// is a changed ledger.
func TestFinaliseInputCheck(t *testing.T) {
	e := &Election{ID: "e1", States: []string{"CA", "NY"}}
	ledger := map[string]BatchTotals{"CA": {Batches: 2, Votes: 7}}
	onLedger := func(st string) (BatchTotals, error) { return ledger[st], nil }
	judged := func(ca BatchTotals) FinaliseInput {
		return FinaliseInput{Batched: map[string]BatchTotals{"CA": ca, "NY": {}}}
	}
	if err := judged(BatchTotals{Batches: 2, Votes: 7}).Check(e, onLedger); err != nil {
		t.Fatalf("the ledger's own totals: %v", err)
	}
	for name, ca := range map[string]BatchTotals{"a vote more": {2, 6}, "a batch more": {1, 7}, "a vote fewer": {2, 8}} {
		err := judged(ca).Check(e, onLedger)
		if !errors.Is(err, ErrLedgerChanged) || !strings.Contains(err.Error(), "the CA batches are 2 holding 7 votes, the check judged") ||
			!strings.Contains(err.Error(), "if a batch was committed since the check, run finalise again") ||
			!strings.HasSuffix(err.Error(), fmt.Sprintf("check that every peer's ledger.state.totalQueryLimit is at least %d (ballot.MaxStateBatches)", MaxStateBatches)) {
			t.Errorf("%s on the ledger: %v; want ErrLedgerChanged naming CA's totals and both causes: a batch since (run again), a read cut short (the peers' limit)", name, err)
		}
	}
	for name, in := range map[string]FinaliseInput{
		"a state left out": {Batched: map[string]BatchTotals{"CA": {2, 7}}},
		"no totals":        {},
		"a foreign state":  {Batched: map[string]BatchTotals{"CA": {2, 7}, "NY": {}, "TX": {}}},
	} {
		if err := in.Check(e, onLedger); err == nil || errors.Is(err, ErrLedgerChanged) {
			t.Errorf("%s: %v; want refused, not as a changed ledger", name, err)
		}
	}
	// Of several foreign states the first in order is named, the same on
	// every peer (map order would differ between runs).
	many := FinaliseInput{Batched: map[string]BatchTotals{"CA": {2, 7}, "NY": {}}}
	for _, st := range []string{"ZZ", "TX", "WY", "AK", "OR", "ME", "KS", "DE"} {
		many.Batched[st] = BatchTotals{}
	}
	for range 20 {
		if err := many.Check(e, onLedger); err == nil || !strings.Contains(err.Error(), `name "AK"`) {
			t.Fatalf("eight foreign states: %v; want the first in order, AK, named", err)
		}
	}
	failing := errors.New("ledger unreadable")
	if err := judged(BatchTotals{2, 7}).Check(e, func(string) (BatchTotals, error) { return BatchTotals{}, failing }); !errors.Is(err, failing) {
		t.Errorf("an unreadable ledger: %v", err)
	}
}
