package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/network/fabricblock"
)

// The intake log's checks. The gateways anchor signed heads of each
// state's intake log on the ledger (AnchorLogHeads) under keys the
// election admin registered (RegisterLogKeys), and FinaliseElection
// refuses while a state's batches hold fewer votes than its anchored head
// says were accepted, or (since it carries them) other batch totals than
// those its caller's check of the logs judged. The audit recomputes what
// each of those transactions must write from its argument and the record
// the blocks before left, by the chaincode's own rules
// (ballot.LogKeys.Register, ballot.LogAnchorsInput.Anchor,
// ballot.AnchoredHead.Unaccounted, ballot.FinaliseInput.Check): so every
// anchored head is signed by a registered key and extends the head
// anchored before it (its consistency proof), and no election was
// finalised with accepted votes of an anchored head missing from its
// batches, or with batches its check did not judge. Who may write what
// they write (an admin the keys, a Commission client the heads) is
// checked with the other callers (caller.go), from the needs
// intakeLogWrites records.

// IntakeLog is the intake log's record on the ledger: the registered keys
// and each state's anchored head.
type IntakeLog struct {
	Keys  ballot.LogKeys
	Heads map[string]ballot.AnchoredHead // by state
}

// The chaincode's intake log functions, and the finalise that checks the
// log.
const (
	fnRegisterLogKeys  = "RegisterLogKeys"
	fnAnchorLogHeads   = "AnchorLogHeads"
	fnFinaliseElection = "FinaliseElection"
)

// logWrites is what one transaction wrote of the intake log's record.
type logWrites struct {
	keys      []byte // the keys record, if wroteKeys
	wroteKeys bool
	heads     map[string][]byte // anchored head records, by state
	deleted   int               // keys or head records deleted
}

// intakeLogWrites checks what a VALID transaction wrote of the intake
// log's record against what its function must write, and records it. It
// fails only when the History does.
func (a Auditor) intakeLogWrites(ctx context.Context, r *Report, tx fabricblock.Tx, h *blockHistory) error {
	var w logWrites
	for _, wr := range tx.Writes {
		if wr.Namespace != a.Chaincode {
			continue
		}
		if wr.Key == ballot.LogKeysKey {
			w.keys, w.wroteKeys = wr.Value, true
		} else if st, ok := ballot.ParseLogHeadKey(wr.Key); ok {
			if w.heads == nil {
				w.heads = map[string][]byte{}
			}
			w.heads[st] = wr.Value
		} else {
			continue
		}
		if wr.Delete {
			w.deleted++
		}
	}
	fn := a.logFunction(tx)
	if fn == "" && !w.wroteKeys && len(w.heads) == 0 {
		return nil
	}
	if w.wroteKeys {
		h.need |= needAdmin
	}
	if len(w.heads) > 0 {
		h.need |= needCommission
	}
	if err := h.loadLog(ctx); err != nil {
		return err
	}
	if h.logKnown {
		fail := func(kind, format string, args ...any) {
			r.issue(kind, tx.ID, fmt.Sprintf(format, args...))
		}
		if w.deleted > 0 {
			fail(KindLogAnchor, "the transaction deleted %d of the intake log's records", w.deleted)
		}
		switch fn {
		case fnRegisterLogKeys:
			checkLogKeys(fail, tx, w, h)
		case fnAnchorLogHeads:
			checkAnchors(fail, tx, w, h)
		default:
			fail(KindLogAnchor, "a %s transaction wrote the intake log's record (keys %v, heads of %d states); only %s and %s may",
				cmpFunction(tx), w.wroteKeys, len(w.heads), fnRegisterLogKeys, fnAnchorLogHeads)
		}
	}
	h.applyLog(r, w)
	return nil
}

// logFunction returns the chaincode's intake log function tx calls, or "".
func (a Auditor) logFunction(tx fabricblock.Tx) string {
	if tx.Chaincode != a.Chaincode || (tx.Contract != "" && tx.Contract != "ballot") {
		return ""
	}
	if tx.Function == fnRegisterLogKeys || tx.Function == fnAnchorLogHeads {
		return tx.Function
	}
	return ""
}

// cmpFunction names the function tx calls, for messages.
func cmpFunction(tx fabricblock.Tx) string {
	if tx.Function == "" {
		return tx.Type
	}
	return tx.Chaincode + " " + tx.Function
}

// logOpen says why the intake log's record may not change at this point
// of the ledger ("" if it may): the chaincode's logContext refuses with
// no election record, or once the election is finalised.
func (h *blockHistory) logOpen() string {
	switch {
	case h.election == nil:
		return "no election record is written"
	case h.election.Status == ballot.StatusFinalised:
		return fmt.Sprintf("election %s is finalised", h.election.ID)
	}
	return ""
}

// checkLogKeys checks a RegisterLogKeys transaction: it wrote the
// registered keys with its argument's new keys added, stamped with its
// time, or nothing if none was new.
func checkLogKeys(fail func(kind, format string, args ...any), tx fabricblock.Tx, w logWrites, h *blockHistory) {
	if len(w.heads) > 0 {
		fail(KindLogKeys, "%s wrote the anchored heads of %d states", fnRegisterLogKeys, len(w.heads))
	}
	if why := h.logOpen(); why != "" {
		fail(KindLogKeys, "VALID while %s: the chaincode refuses to register log keys", why)
		return
	}
	var in ballot.LogKeysInput
	if len(tx.Args) != 1 || ballot.DecodeStrict(tx.Args[0], &in) != nil {
		fail(KindLogKeys, "VALID with an argument that is no list of log keys")
		return
	}
	want, added, err := h.log.Keys.Register(in.Keys, tx.Time.UnixMilli())
	switch {
	case err != nil:
		fail(KindLogKeys, "VALID, yet the chaincode refuses its keys: %v", err)
	case added == 0 && w.wroteKeys:
		fail(KindLogKeys, "no key is new, yet the keys record was written")
	case added > 0 && !w.wroteKeys:
		fail(KindLogKeys, "%d keys are new, yet no keys record was written", added)
	case added > 0:
		var got ballot.LogKeys
		if err := json.Unmarshal(w.keys, &got); err != nil || !reflect.DeepEqual(got, want) {
			fail(KindLogKeys, "keys record %s; the keys registered before and the argument's give %s", w.keys, mustJSON(want))
		}
	}
}

// checkAnchors checks an AnchorLogHeads transaction: it wrote exactly the
// records ballot.LogAnchorsInput.Anchor gives for its argument against the
// heads anchored before and the registered keys.
func checkAnchors(fail func(kind, format string, args ...any), tx fabricblock.Tx, w logWrites, h *blockHistory) {
	if w.wroteKeys {
		fail(KindLogAnchor, "%s wrote the log keys record", fnAnchorLogHeads)
	}
	if why := h.logOpen(); why != "" {
		fail(KindLogAnchor, "VALID while %s: the chaincode refuses to anchor heads", why)
		return
	}
	var in ballot.LogAnchorsInput
	if len(tx.Args) != 1 || ballot.DecodeStrict(tx.Args[0], &in) != nil {
		fail(KindLogAnchor, "VALID with an argument that is no list of heads to anchor")
		return
	}
	want, err := in.Anchor(h.election, h.log.Keys, func(st string) (ballot.AnchoredHead, error) {
		return h.log.Heads[st], nil
	}, tx.ID, tx.Time.UnixMilli())
	if err != nil {
		fail(KindLogAnchor, "VALID, yet the chaincode refuses to anchor its heads: %v", err)
		return
	}
	anchored := map[string]bool{}
	for _, rec := range want {
		st := rec.Head.State
		anchored[st] = true
		raw, ok := w.heads[st]
		if !ok {
			fail(KindLogAnchor, "the %s head of size %d anchored, yet no record of it written", st, rec.Head.Size)
			continue
		}
		var got ballot.AnchoredHead
		if err := json.Unmarshal(raw, &got); err != nil || got != rec {
			fail(KindLogAnchor, "the %s head's record %s; the head anchored gives %s", st, raw, mustJSON(rec))
		}
	}
	for _, st := range slices.Sorted(maps.Keys(w.heads)) {
		if !anchored[st] {
			fail(KindLogAnchor, "a record of the %s head written, which the argument does not anchor (a repeat, or no head of it)", st)
		}
	}
}

// checkFinalise checks the transaction that finalises election e: no
// state's committed batches, this block's before it included, hold fewer
// votes than its anchored head says were accepted; a FinaliseElection
// with the batch totals its check judged (ballot.FinaliseInput) gives
// those of exactly those batches (ballot.FinaliseInput.Check); and one
// with none (an earlier chaincode's) finalises an election whose record
// before it (h.election) does not require them
// (ballot.Election.FinaliseNeedsTotals). It fails only when the History
// does.
func checkFinalise(ctx context.Context, r *Report, tx fabricblock.Tx, h *blockHistory, e *ballot.Election) error {
	batched, err := h.History.Batched(ctx)
	if err != nil {
		return err
	}
	batched = maps.Clone(batched)
	if batched == nil {
		batched = map[string]ballot.BatchTotals{}
	}
	for _, b := range r.Batches {
		if b.First() {
			t := batched[b.Batch.State]
			t.Add(ballot.BatchRecord{Counted: b.Counted(), Rejected: b.Rejected}) // as recounted
			batched[b.Batch.State] = t
		}
	}
	if isFinalise(tx) {
		var in ballot.FinaliseInput
		switch {
		case len(tx.Args) == 0:
			if h.election != nil && h.election.FinaliseNeedsTotals {
				r.issue(KindLogAnchor, tx.ID, "the election finalised VALID with no batch totals, yet its record requires them (finalise_needs_totals): a chaincode that accepts a finalise without totals committed it, freezing batches no check judged")
			}
		case len(tx.Args) != 1 || ballot.DecodeStrict(tx.Args[0], &in) != nil:
			r.issue(KindLogAnchor, tx.ID, "the election finalised VALID with an argument that is no batch totals")
		default:
			if err := in.Check(e, func(st string) (ballot.BatchTotals, error) { return batched[st], nil }); err != nil {
				r.issue(KindLogAnchor, tx.ID, fmt.Sprintf("the election finalised VALID, yet the chaincode refuses its batch totals against the batches before it: %v", err))
			}
		}
	}
	if err := h.loadLog(ctx); err != nil {
		return err
	}
	if !h.logKnown || len(h.log.Heads) == 0 {
		return nil
	}
	for _, st := range slices.Sorted(maps.Keys(h.log.Heads)) {
		head, votes := h.log.Heads[st], batched[st].Votes
		if n := head.Unaccounted(ballot.StateResult{Counted: votes}); n > 0 {
			r.issue(KindLogAnchor, tx.ID, fmt.Sprintf("the election finalised while the %s intake log's anchored head says %d votes were accepted and its batches hold %d: at least %d accepted votes are not on the ledger",
				st, head.Head.Size, votes, n))
		}
	}
	return nil
}

// isFinalise reports whether tx calls the ballot contract's
// FinaliseElection.
func isFinalise(tx fabricblock.Tx) bool {
	return tx.Function == fnFinaliseElection && (tx.Contract == "" || tx.Contract == "ballot")
}

// checkTotalsMark checks a VALID write of the election record, e, against
// the record before it (h.election): once a record requires its finalise
// to carry batch totals (ballot.Election.FinaliseNeedsTotals), every
// record written after it does, as this chaincode writes them; a record
// that drops the mark was written by a chaincode that does not know it (a
// rollback to an earlier version), whose finalise need not carry totals. A
// FinaliseElection without totals that finalises the election is left to
// checkFinalise, which flags the finalise itself.
func checkTotalsMark(r *Report, tx fabricblock.Tx, h *blockHistory, e *ballot.Election) {
	finalising := e.Status == ballot.StatusFinalised && h.election != nil && h.election.Status != ballot.StatusFinalised
	if finalising && isFinalise(tx) && len(tx.Args) == 0 {
		return
	}
	if h.election != nil && h.election.FinaliseNeedsTotals && !e.FinaliseNeedsTotals {
		r.issue(KindLogAnchor, tx.ID, fmt.Sprintf("the election record written (status %s) drops finalise_needs_totals, which the record before it carries: a chaincode that does not know the mark wrote it (rolled back during the election), whose finalise need not carry batch totals", e.Status))
	}
}

// loadLog reads the intake log's record of the blocks before from
// History, once a block.
func (h *blockHistory) loadLog(ctx context.Context) error {
	if h.log != nil {
		return nil
	}
	log, known, err := kept(ctx, h.History.IntakeLog)
	if err != nil {
		return err
	}
	h.log, h.logKnown = &log, known
	if h.log.Heads == nil {
		h.log.Heads = map[string]ballot.AnchoredHead{}
	} else {
		h.log.Heads = maps.Clone(h.log.Heads)
	}
	return nil
}

// applyLog records what a transaction wrote of the intake log's record,
// as the ledger now holds it, for the transactions after it and in the
// report.
func (h *blockHistory) applyLog(r *Report, w logWrites) {
	if w.wroteKeys {
		var keys ballot.LogKeys
		if json.Unmarshal(w.keys, &keys) == nil {
			h.log.Keys, r.LogKeys = keys, &keys
		}
	}
	for _, st := range slices.Sorted(maps.Keys(w.heads)) {
		var rec ballot.AnchoredHead
		if json.Unmarshal(w.heads[st], &rec) == nil && rec.Head.State == st {
			h.log.Heads[st] = rec
			r.LogHeads = append(r.LogHeads, rec)
		}
	}
}

// mustJSON encodes a ledger record for a message.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil { // unreachable for the ledger's record types
		panic(err)
	}
	return b
}
