package ballot

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// BatchTotals are what a state's committed batches add up to: how many
// there are and the votes they hold, counted or rejected. A batch is never
// removed or replaced and holds at least one vote, so a state's totals
// change with every batch committed in it: equal totals taken at two
// points of the ledger mean the same batches.
type BatchTotals struct {
	Batches int    `json:"batches"`
	Votes   uint64 `json:"votes"`
}

// Add adds a batch record of the state to the totals.
func (t *BatchTotals) Add(r BatchRecord) {
	t.Batches++
	t.Votes += uint64(r.Counted + len(r.Rejected))
}

// Totals are the batch totals of the state's result.
func (s StateResult) Totals() BatchTotals {
	return BatchTotals{Batches: s.Batches, Votes: s.Counted + s.Rejected}
}

// FinaliseInput is the argument of the chaincode's FinaliseElection (JSON
// {"batched":{"CA":{"batches":3,"votes":120},…}}): each of the election's
// states' batch totals as the check that decided to finalise judged them
// (votechain finalise: the intake log monitor's, every batch against the
// logs). The chaincode finalises only a ledger that still holds exactly
// those batches, so no batch escapes the check by landing after it.
type FinaliseInput struct {
	Batched map[string]BatchTotals `json:"batched"`
}

// ErrLedgerChanged marks a finalise refused because a state's batches as
// read are not those its check judged: a batch was committed since, or the
// chaincode's range read of them was cut short (a peer whose
// ledger.state.totalQueryLimit is below MaxStateBatches). The refusal's
// text names both, with what to do for each.
var ErrLedgerChanged = errors.New("the ledger changed since the check")

// Check is FinaliseElection's rule: in gives the totals of exactly e's
// states, and each state's totals on the ledger (onLedger) equal them. A
// state whose totals differ fails with an error wrapping ErrLedgerChanged;
// the states are compared in e's order.
func (in FinaliseInput) Check(e *Election, onLedger func(state string) (BatchTotals, error)) error {
	for _, st := range slices.Sorted(maps.Keys(in.Batched)) { // the first in order: the same text on every peer
		if !e.HasState(st) {
			return fmt.Errorf("the batch totals name %q, not a state of election %s", truncate(st), e.ID)
		}
	}
	for _, st := range e.States {
		judged, ok := in.Batched[st]
		if !ok {
			return fmt.Errorf("the batch totals lack state %s of election %s: every state's are needed", st, e.ID)
		}
		got, err := onLedger(st)
		if err != nil {
			return err
		}
		if got != judged {
			return fmt.Errorf("%w: the %s batches are %d holding %d votes, the check judged %d holding %d; refusing to finalise: "+
				"if a batch was committed since the check, run finalise again (it judges that batch too); "+
				"if finalise is refused so again, the peer's range read of the batches was cut short: "+
				"check that every peer's ledger.state.totalQueryLimit is at least %d (ballot.MaxStateBatches)",
				ErrLedgerChanged, st, got.Batches, got.Votes, judged.Batches, judged.Votes, MaxStateBatches)
		}
	}
	return nil
}
