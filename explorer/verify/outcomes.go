package verify

import "fmt"

// Verdict is what a check's Outcomes come to: the gravest finding among
// them, Failed first. A command maps it to its exit status (cmd/verify's
// table); an error or the context's end that stopped a check is the
// caller's to weigh besides it. Check the error first: the Outcomes{} a
// check returns with an error that stopped it before any finding read
// Passed, which the check did not find.
type Verdict int

// The verdicts, from the mildest: a value compares with another by its
// gravity (Failed > Unchecked > Duplicate > Pending > Passed).
const (
	// Passed: every check PASS, COUNTED, REJECTED or VALID.
	Passed Verdict = iota
	// Pending: some still PENDING (not on the ledger yet, or in a block
	// the peer has not reached; of a log check, also a head seen before
	// past the peer's anchored head).
	Pending
	// Duplicate: some DUPLICATE, a vote rejected because another vote with
	// the voter's credentials was counted first.
	Duplicate
	// Unchecked: some UNCHECKED, no verdict on a head or not known where a
	// duplicate's nullifier was counted: the check is not complete.
	Unchecked
	// Failed: some FAIL, FORK, BAD-PROOF, MISSING or UNLOGGED, whatever else.
	Failed
)

// String is the verdict's name, as its constant's ("Failed").
func (v Verdict) String() string {
	if v < Passed || v > Failed {
		return fmt.Sprintf("Verdict(%d)", int(v))
	}
	return [...]string{"Passed", "Pending", "Duplicate", "Unchecked", "Failed"}[v]
}

// Verdict is the verdict of outcomes t: the gravest of their findings,
// Passed when there is none (Outcomes{} included, which a check returns
// with an error that stopped it before any finding: check the error
// first).
func (t Outcomes) Verdict() Verdict {
	switch {
	case t.fail+t.fork+t.badProof+t.missing+t.unlogged > 0:
		return Failed
	case t.unchecked > 0:
		return Unchecked
	case t.otherCounted > 0:
		return Duplicate
	case t.pending > 0:
		return Pending
	}
	return Passed
}

// Outcomes counts the outcomes of checks (of receipts or acceptance
// receipts) for the summary and verdict, each check in one outcome
// only, so that they add up to the checks (total). Of acceptance receipts,
// fork are those whose heads are not of the anchored log by two signed heads
// of one size (FORK), badProof those whose heads the gateway's consistency
// proof did not show to be (BAD-PROOF), unchecked those whose heads got no
// verdict (UNCHECKED, forkCheck: no consistency proof). otherCounted are
// those whose vote the ledger rejected as a duplicate because another vote
// with its nullifier was counted first (DUPLICATE, errOtherCounted). A
// receipt with several findings counts in the first of fail, fork,
// badProof, missing, unchecked, otherCounted, pending, ok: a failure
// first, as in Verdict. missingUnchecked is a cross-cut, not an outcome: the
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
