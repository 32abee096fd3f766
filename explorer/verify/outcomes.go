package verify

import (
	"errors"
	"slices"
	"syscall"

	"github.com/votechain/votechain/internal/cli"
)

// verify's exit statuses; ExitStatuses says what each means.
const (
	StatusGood       = 0
	StatusFailed     = 1
	StatusIncomplete = 2
	StatusPending    = 3
	StatusDuplicate  = 4
)

// ExitStatus is one of verify's exit statuses: its code, what gives it
// (the help's text), and, for the statuses a finished run's findings give,
// whether outcomes t give it (found; nil for the statuses of a run an
// error or a signal stopped, and for StatusGood, which is what is left).
type ExitStatus struct {
	Code  int
	Means string
	found func(t Outcomes) bool
}

// exitStatuses are verify's exit statuses, the first that applies in
// order: the one account of them, which Outcomes.Exit follows for a
// finished run and Outcomes.Stopped for a stopped one (ExitStatuses gives
// a copy to print).
var exitStatuses = []ExitStatus{
	{StatusFailed, "some FAIL, FORK, BAD-PROOF, MISSING or UNLOGGED (or an inconsistent log, an anchored head the log cannot be checked against: not validly signed, or of another election or state, or a batch record that does not describe its transaction's votes), whatever else the run found or could not check (an error, --timeout or a signal that stopped it included)",
		func(t Outcomes) bool { return t.fail+t.fork+t.badProof+t.missing+t.unlogged > 0 }},
	{cli.Interrupted{Signal: syscall.SIGINT}.ExitStatus(), "SIGINT (Ctrl-C) stopped the run, nothing failed before it (stderr says what it was doing and what it had found)", nil},
	{cli.Interrupted{Signal: syscall.SIGTERM}.ExitStatus(), "SIGTERM stopped the run, as SIGINT above", nil},
	{StatusIncomplete, "a usage, file, gateway or ledger error, the run past --timeout, or some UNCHECKED (--acceptance --gateway: no verdict on a head; --log: where a duplicate's nullifier was counted not read): the run is not complete",
		func(t Outcomes) bool { return t.unchecked > 0 }},
	{StatusDuplicate, "some DUPLICATE (a vote rejected because another vote with the voter's credentials was counted first: the voter should contact the election's officials)",
		func(t Outcomes) bool { return t.otherCounted > 0 }},
	{StatusPending, "some still PENDING (not on the ledger yet, or in a block the peer has not reached; for --log also a head seen before past the peer's anchored head)",
		func(t Outcomes) bool { return t.pending > 0 }},
	{StatusGood, "all PASS, COUNTED, REJECTED or VALID (--offline)", nil},
}

// ExitStatuses returns verify's exit statuses, the first that applies in
// order, as a copy: the one account of them, which verify's --help prints.
func ExitStatuses() []ExitStatus { return slices.Clone(exitStatuses) }

// Exit is verify's exit status for a finished run's outcomes t: the first
// of ExitStatuses t gives, else StatusGood.
func (t Outcomes) Exit() int {
	for _, s := range exitStatuses {
		if s.found != nil && s.found(t) {
			return s.Code
		}
	}
	return StatusGood
}

// Stopped is verify's exit status for a run stopped by an error, t being
// what it found before and cause its context's cause (context.Cause): a
// failure found stands (StatusFailed); else a signal's status (a
// cli.Interrupted's), or StatusIncomplete.
func (t Outcomes) Stopped(cause error) int {
	var sig cli.Interrupted
	switch {
	case t.Exit() == StatusFailed:
		return StatusFailed
	case errors.As(cause, &sig):
		return sig.ExitStatus()
	}
	return StatusIncomplete
}

// Outcomes counts the outcomes of checks (of receipts or acceptance
// receipts) for the summary and exit status, each check in one outcome
// only, so that they add up to the checks (total). Of acceptance receipts,
// fork are those whose heads are not of the anchored log by two signed heads
// of one size (FORK), badProof those whose heads the gateway's consistency
// proof did not show to be (BAD-PROOF), unchecked those whose heads got no
// verdict (UNCHECKED, forkCheck: no consistency proof). otherCounted are
// those whose vote the ledger rejected as a duplicate because another vote
// with its nullifier was counted first (DUPLICATE, errOtherCounted). A
// receipt with several findings counts in the first of fail, fork,
// badProof, missing, unchecked, otherCounted, pending, ok: a failure
// first, as in Exit. missingUnchecked is a cross-cut, not an outcome: the
// missing whose heads got no verdict.
type Outcomes struct {
	ok, fail, fork, badProof, missing, unlogged, pending, unchecked, otherCounted int
	missingUnchecked                                                              int
}

// total is the number of checks t counts.
func (t Outcomes) total() int {
	return t.ok + t.fail + t.fork + t.badProof + t.missing + t.unlogged + t.pending + t.unchecked + t.otherCounted
}

// otherCountedSummary counts DUPLICATE receipts in the summaries.
const otherCountedSummary = "duplicate of another vote counted first"

// Plus is the outcomes of t's checks and u's together.
func (t Outcomes) Plus(u Outcomes) Outcomes {
	return Outcomes{ok: t.ok + u.ok, fail: t.fail + u.fail, fork: t.fork + u.fork, badProof: t.badProof + u.badProof,
		missing: t.missing + u.missing, unlogged: t.unlogged + u.unlogged, pending: t.pending + u.pending,
		unchecked: t.unchecked + u.unchecked, otherCounted: t.otherCounted + u.otherCounted,
		missingUnchecked: t.missingUnchecked + u.missingUnchecked}
}
