package ballot

import (
	"fmt"
	"slices"
	"time"
)

// Reasons CommitBatch gives for rejecting a vote, recorded beside its index
// in BatchRecord.Reasons. A rejected vote stays in its batch (it is a leaf
// of the root) but is not counted and uses no nullifier; the rest of the
// batch is counted. These are the vocabulary of receipts and audits too.
const (
	// RejectDuplicate: the vote's nullifier was used before, on the ledger
	// or by an earlier vote of the same batch.
	RejectDuplicate = "duplicate"
	// RejectUnknownContest: the vote's contest is not on the election's
	// ballot.
	RejectUnknownContest = "unknown_contest"
	// RejectUnknownChoice: the vote's choice is not one of its contest's.
	RejectUnknownChoice = "unknown_choice"
	// RejectOutsideWindow: cast_at is outside the election's voting window.
	RejectOutsideWindow = "outside_window"
	// RejectCastAfterTx: cast_at is after the time of the transaction that
	// commits the batch, so the vote cannot have been cast when claimed.
	RejectCastAfterTx = "cast_after_tx"
	// RejectNotOnRoll: the roll on the ledger is sealed and the vote's
	// nullifier is not on the roll of its state and contest.
	RejectNotOnRoll = "not_on_roll"
)

// Refusal returns why the election refuses vote v in a batch committed by a
// transaction of time txTime, or "" if the vote may be counted (unless it
// is a duplicate, which only the ledger can tell). It is deterministic: the
// chaincode and every auditor's recount decide alike.
func (e *Election) Refusal(v Vote, txTime time.Time) string {
	cast := time.UnixMilli(v.CastAt)
	c, ok := e.Contest(v.Contest)
	switch {
	case !ok:
		return RejectUnknownContest
	case !c.HasChoice(v.Choice):
		return RejectUnknownChoice
	case !e.InWindow(cast):
		return RejectOutsideWindow
	case v.CastAt > txTime.UnixMilli():
		return RejectCastAfterTx
	}
	return ""
}

// BatchRefusal returns why the election refuses batch b whole in a
// transaction of time txTime, or nil: the election is finalised, has not
// opened by txTime (OpensAt), or does not list b's state, checked in that
// order. The chaincode refuses such a batch (it writes nothing of it), and
// an auditor flags a VALID transaction that committed one. It is
// deterministic, as Refusal is.
func (e *Election) BatchRefusal(b Batch, txTime time.Time) error {
	switch {
	case e.Status == StatusFinalised:
		return fmt.Errorf("election %s is finalised; batch %s refused", e.ID, b.ID())
	case txTime.Before(e.OpensAt):
		return fmt.Errorf("election %s opens at %s; batch %s refused", e.ID, e.OpensAt.Format(time.RFC3339), b.ID())
	case !e.HasState(b.State):
		return fmt.Errorf("state %s is not in election %s", b.State, e.ID)
	}
	return nil
}

// Reject records vote index i as rejected for reason. Indices must be
// rejected in ascending order.
func (r *BatchRecord) Reject(i int, reason string) {
	r.Rejected = append(r.Rejected, i)
	r.Reasons = append(r.Reasons, reason)
}

// Reason returns why the record rejected vote index i, or "" if the vote was
// counted. Records written before reasons were recorded rejected only
// duplicates.
func (r BatchRecord) Reason(i int) string {
	k := slices.Index(r.Rejected, i)
	switch {
	case k < 0:
		return ""
	case k < len(r.Reasons):
		return r.Reasons[k]
	}
	return RejectDuplicate
}
