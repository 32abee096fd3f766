package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/network/fabricblock"
)

// The election record's checks. The chaincode writes the record in three
// ways only (chaincode/ballot.go): SetupElection stores a new record
// (ballot.Election.CheckNew: configured, neither closed_at nor
// finalised_at) that Validate accepts while no batch is committed, over none or over a
// configured one before that one's window opens (by transaction time;
// ballot.Election.SetUpRefusal),
// keeping the roll root (and stating the sealed size, roll_entries) once
// the roll is sealed, never dropping a stated size, and storing the record
// before again once an intake log head is anchored; CloseElection moves it
// from configured to closed and FinaliseElection from closed to
// finalised, stamping closed_at and finalised_at with the transaction's
// time (txTime: the channel header's timestamp, in UTC) and changing
// nothing else (ballot.Election.StepRefusal and Transition: the rules
// written once for the chaincode and the audit). It never deletes the record, and never writes it once the
// election is finalised: the results are frozen. The audit holds every
// VALID write of the record to those steps (checkElectionStep), then to
// the finalise's own rules (intakelog.go: checkTotalsMark,
// checkFinalise). A write that takes a finalised record back is flagged,
// yet the audit still holds the writes and batches after it to the
// finalise (blockHistory.finalised, History.ElectionFinalised).

// electionWrites checks what a VALID transaction wrote of the election
// record and records it, for the transactions after it and in the
// report. It fails only when the History does.
func (a Auditor) electionWrites(ctx context.Context, r *Report, tx fabricblock.Tx, h *blockHistory) error {
	var raw []byte
	wrote, deleted := false, false
	for _, w := range tx.Writes {
		if w.Namespace != a.Chaincode || w.Key != ballot.ElectionKey {
			continue
		}
		if w.Delete {
			deleted = true
		} else {
			raw, wrote = w.Value, true
		}
	}
	if !wrote && !deleted {
		return nil
	}
	h.need |= needAdmin
	if deleted {
		r.issue(KindElection, tx.ID, "the election record deleted: the chaincode never deletes it")
	}
	if !wrote {
		return nil
	}
	var e ballot.Election
	if err := json.Unmarshal(raw, &e); err != nil {
		r.issue(KindElection, tx.ID, fmt.Sprintf("the election record written is undecodable: %v", err))
		return nil
	}
	if err := checkElectionStep(ctx, r, tx, h, &e); err != nil {
		return err
	}
	checkTotalsMark(r, tx, h, &e)
	if e.Status == ballot.StatusFinalised && (h.election == nil || h.election.Status != ballot.StatusFinalised) {
		if err := checkFinalise(ctx, r, tx, h, &e); err != nil {
			return err
		}
	}
	h.election, r.Election = &e, &e
	if wasFinalised(&e) {
		h.finalised, r.ElectionFinalised = true, true
	}
	return nil
}

// wasFinalised reports whether the record e says its election was
// finalised: its status is, or it carries finalised_at, which only the
// chaincode's FinaliseElection stamps (SetupElection refuses it, and
// CloseElection writes a record without it). A record taken back from
// finalised by a write that kept the stamp thus still says so when read
// back from a History.
func wasFinalised(e *ballot.Election) bool {
	return e != nil && (e.Status == ballot.StatusFinalised || !e.FinalisedAt.IsZero())
}

// checkElectionStep checks a VALID write of the election record, e,
// against the record before it (h.election; with none, as before the
// first set-up, it must be a set-up, unless History did not keep the
// election's writes from the first block: then nothing is checked): it
// must be one of the chaincode's steps above, and none once the election
// was finalised (h.finalised, even if a flagged write took the record
// back since). It fails only when the History does.
func checkElectionStep(ctx context.Context, r *Report, tx fabricblock.Tx, h *blockHistory, e *ballot.Election) error {
	before := h.election
	if before == nil && !h.electionKept {
		return nil
	}
	over := "none"
	if before != nil {
		over = "a " + ballot.Clip(before.Status) + " one"
	}
	fail := func(format string, args ...any) {
		r.issue(KindElection, tx.ID, fmt.Sprintf("the election record written with status %s over %s: %s",
			ballot.Clip(e.Status), over, fmt.Sprintf(format, args...)))
	}
	switch {
	case h.finalised:
		fail("the chaincode writes it no more once the election is finalised, whose results are frozen")
		return nil
	case before == nil:
		return checkSetUp(ctx, r, tx, h, e, fail)
	}
	if err := before.StepRefusal(e.Status); err != nil {
		fail("the chaincode sets up a configured election again, closes a configured one and finalises a closed one, nothing else (%v)", err)
		return nil
	}
	if e.Status == ballot.StatusConfigured {
		return checkSetUp(ctx, r, tx, h, e, fail)
	}
	checkTransition(tx, before, e, fail)
	return nil
}

// stepNames names, by the status it leads to, a step of ballot.Election.Transition:
// the chaincode function that takes it and the field it stamps.
var stepNames = map[string]struct{ function, field string }{
	ballot.StatusClosed:    {"CloseElection", "closed_at"},
	ballot.StatusFinalised: {"FinaliseElection", "finalised_at"},
}

// checkTransition checks a record e written by a close or finalise over
// before (ballot.Election.StepRefusal allows the step) against the record
// the chaincode writes (ballot.Election.Transition): before changed in
// nothing but the status and the step's stamp, the mark
// finalise_needs_totals aside (checkTotalsMark's; SameElection ignores
// it), the stamp being the transaction's time, the instant of the channel
// header's timestamp to the nanosecond (the record's JSON keeps every
// digit).
func checkTransition(tx fabricblock.Tx, before, e *ballot.Election, fail func(format string, args ...any)) {
	names := stepNames[e.Status]
	stamp := e.StepTime()
	if want, err := before.Transition(e.Status, stamp); err != nil || !want.SameElection(e) {
		fail("%s changes nothing but the status and %s", names.function, names.field)
	}
	if !stamp.Equal(tx.Time) {
		fail("%s stamps %s with the transaction's time, %s, not %s", names.function, names.field,
			tx.Time.UTC().Format(time.RFC3339Nano), stamp.UTC().Format(time.RFC3339Nano))
	}
}

// checkSetUp checks a record e written over none or over a configured
// one, as SetupElection writes it: a new election (CheckNew) and a valid
// record (validSetUp: Validate, as every chaincode of the current ledger
// model held it), while no
// batch is committed (the blocks before, and this block's transactions
// before tx) and, over a record, before that record's window opens (by
// transaction time) and, once the roll is sealed, with that record's roll
// root (the seal's: SealRoll seals the root of the record, which no set-up
// may change after) and, if it states a size, the sealed roll's (not
// checked where History did not keep the chunks), stating a size if that
// record did (only a chaincode before roll_entries, a rollback, stores a
// record without), and, once an intake log head is anchored, storing the
// record before again (ballot.CheckSetUpAnchored; not checked where
// History did not keep the intake log). It fails only when the History
// does.
func checkSetUp(ctx context.Context, r *Report, tx fabricblock.Tx, h *blockHistory, e *ballot.Election, fail func(format string, args ...any)) error {
	if err := e.CheckNew(); err != nil {
		fail("SetupElection stores a configured record with neither closed_at nor finalised_at")
	}
	if err := validSetUp(e); err != nil {
		fail("SetupElection stores only a record ballot.Election.Validate accepts: %v", err)
	}
	if before := h.election; before != nil {
		if err := before.SetUpRefusal(tx.Time); err != nil { // before is configured (checkElectionStep): the window opened
			fail("SetupElection refuses once the window opened (at %s; the transaction's time is %s): %v",
				before.OpensAt.Format(time.RFC3339), tx.Time.UTC().Format(time.RFC3339Nano), err)
		}
		if h.sealed && e.RollRoot != before.RollRoot {
			fail("SetupElection keeps the roll root once the roll is sealed (with root %s), yet it became %s", ballot.Clip(before.RollRoot), ballot.Clip(e.RollRoot))
		}
		if before.RollEntries != nil && e.RollEntries == nil {
			fail("SetupElection stores roll_entries in every record, yet the record drops the record before's %d: only a chaincode before it was required (a rollback) stores one without", *before.RollEntries)
		}
		if h.sealed && e.RollEntries != nil {
			if err := h.loadChunks(ctx); err != nil {
				return err
			}
			if sealed := h.loadedEntries(); h.chunksKnown && *e.RollEntries != sealed {
				fail("SetupElection states the sealed roll's size once the roll is sealed (%d entries), yet roll_entries became %d", sealed, *e.RollEntries)
			}
		}
	}
	committed, err := h.committedBatches(ctx, r)
	if err != nil {
		return err
	}
	if committed > 0 {
		fail("SetupElection refuses once a batch is committed, and %d are", committed)
	}
	if err := h.loadLog(ctx); err != nil {
		return err
	}
	if h.logKnown {
		if err := ballot.CheckSetUpAnchored(h.election, e, h.firstHead()); err != nil {
			fail("SetupElection refuses a set-up that changes the election once an intake log head is anchored: %v", err)
		}
	}
	return nil
}

// firstHead returns the anchored head of the first state in key order as
// of the transaction being audited (the chaincode's anyLogHead), or nil if
// none is; h.log must be loaded.
func (h *blockHistory) firstHead() *ballot.AnchoredHead {
	if len(h.log.Heads) == 0 {
		return nil
	}
	head := h.log.Heads[slices.Min(slices.Collect(maps.Keys(h.log.Heads)))]
	return &head
}

// validSetUp is ballot.Election.Validate as every chaincode of the
// current ledger model (contests) applied it to the record SetupElection
// stored: a record naming no batchers passes, since the chaincode between
// contests and required batchers (2026-11-30, until the merge 1aa40d8)
// stored one, letting any Commission client commit. Every other rule of
// Validate has held since contests, and the ledgers of the model before
// them are not read by this code.
func validSetUp(e *ballot.Election) error {
	rec := *e
	if len(rec.Batchers) == 0 {
		rec.Batchers = []string{"any"} // a stand-in: only the rest of the record is judged
	}
	return rec.Validate()
}

// committedBatches counts the batches committed before the transaction
// being audited: the blocks before's (History.Batched) and the first
// commits of this block's transactions before it (r.Batches). It fails
// only when the History does.
func (h *blockHistory) committedBatches(ctx context.Context, r *Report) (int, error) {
	batched, err := h.History.Batched(ctx)
	if err != nil {
		return 0, err
	}
	committed := 0
	for _, t := range batched {
		committed += t.Batches
	}
	for _, b := range r.Batches {
		if b.First() {
			committed++
		}
	}
	return committed, nil
}
