package chaincode

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/votechain/votechain/ballot"
)

func TestSetupElectionAuthorisation(t *testing.T) {
	h := newHarness(t)
	for _, caller := range []fakeIdentity{observerAdmin, commissionClient, {msp: CommissionMSP}} {
		_, err := h.call(caller, h.setupFn(testElection()))
		wantErr(t, "setup by "+caller.msp+" "+strings.Join(caller.ous, ","), err, CommissionMSP)
	}
	if _, err := h.call(commissionAdmin, h.cc.GetElection); err == nil {
		t.Fatal("a refused set-up left an election behind")
	}
	out := h.must(commissionAdmin, h.setupFn(testElection()))
	var e ballot.Election
	if err := json.Unmarshal([]byte(out), &e); err != nil || e.Status != ballot.StatusConfigured || e.ID != "general-2026" ||
		e.RollEntries == nil || *e.RollEntries != 0 || !strings.Contains(out, `"roll_entries":0`) { // the empty roll, stated
		t.Fatalf("stored election %s (%v)", out, err)
	}
	if got := h.must(observerAdmin, h.cc.GetElection); got != out {
		t.Fatalf("GetElection = %s, want %s", got, out)
	}
}

func TestSetupElectionRefusesBadRecords(t *testing.T) {
	h := newHarness(t)
	raw := func(s string) txFunc {
		return func(ctx contractapi.TransactionContextInterface) (string, error) { return h.cc.SetupElection(ctx, s) }
	}
	good, _ := json.Marshal(testElection())
	closed := testElection()
	closed.Status = ballot.StatusClosed
	stamped := testElection()
	stamped.ClosedAt = opens
	noContests := testElection()
	noContests.Contests = nil
	repeatedChoice := testElection()
	repeatedChoice.Contests[1].Choices = []string{"yes", "yes"}
	tests := []struct {
		name string
		fn   txFunc
		has  string
	}{
		{"not JSON", raw("{"), "decode election"},
		{"unknown field", raw(strings.Replace(string(good), `"name"`, `"admin":true,"name"`, 1)), "unknown field"},
		{"trailing data", raw(string(good) + "{}"), "trailing"},
		{"oversized", raw(strings.Repeat(" ", maxElectionBytes+1)), "exceeds"},
		{"closed status", h.setupFn(closed), "must be configured"},
		{"closed_at set", h.setupFn(stamped), "must be configured"},
		{"no contests", h.setupFn(noContests), "1..64 contests"},
		{"repeated choice", h.setupFn(repeatedChoice), `choice "yes" listed twice`},
		{"no roll size", raw(strings.Replace(string(good), `"roll_entries":0,`, "", 1)), `states no "roll_entries"`},
		{"negative roll size", raw(strings.Replace(string(good), `"roll_entries":0,`, `"roll_entries":-1,`, 1)), "roll_entries -1 is negative"},
	}
	for _, tt := range tests {
		_, err := h.call(commissionAdmin, tt.fn)
		wantErr(t, tt.name, err, tt.has)
	}
}

func TestSetupElectionChangesOnlyBeforeOpening(t *testing.T) {
	h := newHarness(t)
	h.must(commissionAdmin, h.setupFn(testElection()))

	changed := testElection()
	changed.Contests[0].Choices = append(changed.Contests[0].Choices, "carol")
	changed.ClosesAt = closes.Add(time.Hour)
	h.now = opens.Add(-time.Millisecond)
	h.must(commissionAdmin, h.setupFn(changed))

	h.now = opens
	changed.Contests[0].Choices = []string{"mallory"}
	_, err := h.call(commissionAdmin, h.setupFn(changed))
	wantErr(t, "change at opening", err, "opened at")

	var e ballot.Election
	json.Unmarshal([]byte(h.must(commissionAdmin, h.cc.GetElection)), &e)
	if c, _ := e.Contest(president); !c.HasChoice("carol") || c.HasChoice("mallory") || !e.ClosesAt.Equal(closes.Add(time.Hour)) {
		t.Fatalf("election after refused change: %+v", e)
	}
}

// TestSetupElectionMarksFinaliseTotals: every record SetupElection stores
// says its finalise must carry batch totals, whether the argument leaves
// the mark out or clears it, and closing and finalising keep it.
func TestSetupElectionMarksFinaliseTotals(t *testing.T) {
	h := newHarness(t)
	stored := func(what string, out string) {
		t.Helper()
		var e ballot.Election
		if err := json.Unmarshal([]byte(out), &e); err != nil || !e.FinaliseNeedsTotals {
			t.Fatalf("%s: record %s (%v); want finalise_needs_totals set", what, out, err)
		}
		if got := h.must(observerAdmin, h.cc.GetElection); got != out {
			t.Fatalf("%s: GetElection = %s, want %s", what, got, out)
		}
	}
	if testElection().FinaliseNeedsTotals {
		t.Fatal("the test election is marked already")
	}
	stored("set up unmarked", h.must(commissionAdmin, h.setupFn(testElection())))
	good, _ := json.Marshal(testElection())
	cleared := strings.Replace(string(good), `"name"`, `"finalise_needs_totals":false,"name"`, 1)
	stored("set up again, cleared", h.must(commissionAdmin, func(ctx contractapi.TransactionContextInterface) (string, error) {
		return h.cc.SetupElection(ctx, cleared)
	}))
	h.now = opens.Add(time.Hour)
	stored("closed", h.must(commissionAdmin, h.cc.CloseElection))
	stored("finalised", h.must(commissionAdmin, h.finalise()))
}

func TestCloseAndFinalise(t *testing.T) {
	h := newHarness(t)
	_, err := h.call(commissionAdmin, h.cc.CloseElection)
	wantErr(t, "close without election", err, "no election")
	h.open()

	_, err = h.call(commissionClient, h.cc.CloseElection)
	wantErr(t, "close by client", err, "admin")
	_, err = h.call(commissionAdmin, h.finalise())
	wantErr(t, "finalise while configured", err, "not closed")

	// Close early: a vote cast before the close still commits; one cast
	// after it does not; set-up is refused.
	closedAt := opens.Add(2 * time.Hour)
	h.now = closedAt
	var e ballot.Election
	json.Unmarshal([]byte(h.must(commissionAdmin, h.cc.CloseElection)), &e)
	if e.Status != ballot.StatusClosed || !e.ClosedAt.Equal(closedAt) {
		t.Fatalf("closed election %+v", e)
	}
	_, err = h.call(commissionAdmin, h.cc.CloseElection)
	wantErr(t, "close twice", err, "not configured")
	_, err = h.call(commissionAdmin, h.setupFn(testElection()))
	wantErr(t, "set-up after close", err, "no longer")

	h.now = closedAt.Add(time.Minute)
	if _, err := h.commit(batch(t, "CA", 1, votes("CA", 0, 2))); err != nil {
		t.Fatalf("drain after close: %v", err)
	}
	late := vote("CA", 5, "bob")
	late.CastAt = closedAt.UnixMilli()
	rec, err := h.commit(batch(t, "CA", 2, []ballot.Vote{late}))
	if err != nil || rec.Counted != 0 || rec.Reason(0) != ballot.RejectOutsideWindow {
		t.Fatalf("vote cast at close: %+v, %v; want it rejected %s", rec, err, ballot.RejectOutsideWindow)
	}

	json.Unmarshal([]byte(h.must(commissionAdmin, h.finalise())), &e)
	if e.Status != ballot.StatusFinalised || e.FinalisedAt.IsZero() {
		t.Fatalf("finalised election %+v", e)
	}
	_, err = h.commit(batch(t, "CA", 3, votes("CA", 10, 1)))
	wantErr(t, "commit after finalise", err, "finalised")
	// An idempotent retry of a committed batch still succeeds.
	if _, err := h.commit(batch(t, "CA", 1, votes("CA", 0, 2))); err != nil {
		t.Fatalf("retry after finalise: %v", err)
	}
}

// TestFinaliseChecksTheBatchTotals: FinaliseElection finalises only the
// batches its caller's check judged. A batch committed after the check (a
// batch and a vote more than judged) is refused as a changed ledger, and
// so are totals that leave a state out or are not totals at all, the
// election staying closed; the totals of a check run again finalise.
func TestFinaliseChecksTheBatchTotals(t *testing.T) {
	h := newHarness(t)
	h.open()
	if _, err := h.commit(batch(t, "CA", 1, votes("CA", 0, 3))); err != nil {
		t.Fatal(err)
	}
	dup := append(votes("CA", 10, 1), vote("CA", 0, "bob")) // voter 0 again: rejected
	if _, err := h.commit(batch(t, "CA", 2, dup)); err != nil {
		t.Fatal(err)
	}
	h.must(commissionAdmin, h.cc.CloseElection)
	judged := h.judged()
	if want := (ballot.BatchTotals{Batches: 2, Votes: 5}); judged.Batched["CA"] != want || judged.Batched["NY"] != (ballot.BatchTotals{}) {
		t.Fatalf("the ledger's totals %+v; want CA %+v and NY none", judged.Batched, want)
	}
	if _, err := h.commit(batch(t, "CA", 3, votes("CA", 20, 1))); err != nil { // after the check
		t.Fatal(err)
	}
	_, err := h.call(commissionAdmin, h.finaliseFn(judged))
	wantErr(t, "a batch committed after the check", err, "the ledger changed since the check: the CA batches are 3 holding 6 votes, the check judged 2 holding 5")
	wantErr(t, "a batch committed after the check", err, "if a batch was committed since the check, run finalise again")

	raw := func(arg string) txFunc {
		return func(ctx contractapi.TransactionContextInterface) (string, error) {
			return h.cc.FinaliseElection(ctx, arg)
		}
	}
	for name, c := range map[string]struct {
		fn   txFunc
		want string
	}{
		"NY left out":      {h.finaliseFn(ballot.FinaliseInput{Batched: map[string]ballot.BatchTotals{"CA": {Batches: 3, Votes: 6}}}), "lack state NY"},
		"a foreign state":  {h.finaliseFn(ballot.FinaliseInput{Batched: map[string]ballot.BatchTotals{"CA": {Batches: 3, Votes: 6}, "NY": {}, "TX": {}}}), `name "TX"`},
		"empty":            {raw(""), "decode the batch totals"},
		"an unknown field": {raw(`{"batched":{"CA":{"batches":3,"votes":6},"NY":{}},"force":true}`), "decode the batch totals"},
		"oversized":        {raw(strings.Repeat(" ", maxElectionBytes+1)), "exceed"},
	} {
		_, err := h.call(commissionAdmin, c.fn)
		wantErr(t, name, err, c.want)
	}
	if st := h.status(); st != ballot.StatusClosed {
		t.Fatalf("election %s after refused finalises; want closed", st)
	}
	h.must(commissionAdmin, h.finalise()) // a check run again
	if st := h.status(); st != ballot.StatusFinalised {
		t.Fatalf("election %s after the finalise; want finalised", st)
	}
}

// TestFinaliseInvalidatedByALateBatch: a batch committed between a
// finalise's endorsement and its commit invalidates the finalise (its
// range reads of the batch records no longer give the same keys), so it
// cannot freeze a ledger its check did not judge; a finalise with nothing
// committed in between is VALID, and a batch endorsed before it committed
// is then invalidated in turn (it read the election record it rewrote).
func TestFinaliseInvalidatedByALateBatch(t *testing.T) {
	h := newHarness(t)
	h.open()
	if _, err := h.commit(batch(t, "CA", 1, votes("CA", 0, 3))); err != nil {
		t.Fatal(err)
	}
	h.must(commissionAdmin, h.cc.CloseElection)
	fin := h.endorse(commissionAdmin, h.finalise())
	if _, err := h.commit(batch(t, "CA", 2, votes("CA", 10, 1))); err != nil {
		t.Fatal(err)
	}
	if code := h.stub.commitEndorsed(fin); code != "PHANTOM_READ_CONFLICT" {
		t.Fatalf("a finalise endorsed before a batch committed: %s; want PHANTOM_READ_CONFLICT", code)
	}
	if st := h.status(); st != ballot.StatusClosed {
		t.Fatalf("election %s after the invalidated finalise; want closed", st)
	}

	late := h.endorse(commissionClient, h.commitFn(batch(t, "CA", 3, votes("CA", 20, 1))))
	if code := h.stub.commitEndorsed(h.endorse(commissionAdmin, h.finalise())); code != "VALID" {
		t.Fatalf("a finalise with nothing committed in between: %s; want VALID", code)
	}
	if code := h.stub.commitEndorsed(late); code != "MVCC_READ_CONFLICT" {
		t.Fatalf("a batch endorsed before the finalise committed: %s; want MVCC_READ_CONFLICT", code)
	}
	if ca := results(t, h).States["CA"]; ca.Batches != 2 {
		t.Fatalf("CA results %+v after the finalise; want the 2 batches before it", ca)
	}
}

// TestFinaliseRefusesAReadCutShort: a peer ends a range query silently at
// its ledger.state.totalQueryLimit; a finalise whose read of a state's
// batches is cut so refuses the true totals as a changed ledger (the
// batches it read differ from those judged), naming the peers' limit as
// the cause to check if finalise is refused so again, and the election
// stays closed: never finalised with its results counted short. A state of as
// many batches as the chaincode's own limit (ballot.MaxStateBatches) is
// refused by results and finalise alike. Under the limit the same totals
// finalise.
func TestFinaliseRefusesAReadCutShort(t *testing.T) {
	h := newHarness(t)
	h.open()
	for seq := range uint64(5) {
		if _, err := h.commit(batch(t, "CA", seq+1, votes("CA", 10*int(seq), 2))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.commit(batch(t, "NY", 1, votes("NY", 0, 1))); err != nil {
		t.Fatal(err)
	}
	h.must(commissionAdmin, h.cc.CloseElection)
	judged := h.judged() // no limit yet: every batch, as the check's paged reads give them
	if want := (ballot.BatchTotals{Batches: 5, Votes: 10}); judged.Batched["CA"] != want {
		t.Fatalf("CA totals %+v; want %+v", judged.Batched["CA"], want)
	}

	h.stub.queryLimit = 3
	if ca := results(t, h).States["CA"]; ca.Batches != 3 {
		t.Fatalf("CA results %+v under a limit of 3 results; want the 3 batches a peer gives", ca)
	}
	_, err := h.call(commissionAdmin, h.finaliseFn(judged))
	if !errors.Is(err, ballot.ErrLedgerChanged) {
		t.Errorf("finalise of a state of 5 batches read 3: %v; want %v", err, ballot.ErrLedgerChanged)
	}
	wantErr(t, "finalise of a state of 5 batches read 3", err, "the CA batches are 3 holding 6 votes, the check judged 5 holding 10")
	// Running again reads the same 3: the refusal also names the peers' limit.
	wantErr(t, "finalise of a state of 5 batches read 3", err,
		fmt.Sprintf("the peer's range read of the batches was cut short: check that every peer's ledger.state.totalQueryLimit is at least %d", ballot.MaxStateBatches))
	if st := h.status(); st != ballot.StatusClosed {
		t.Fatalf("election %s after a finalise that read 3 of 5 batches; want closed", st)
	}

	// A state of as many batches as the chaincode's limit: the read cannot
	// tell a whole state from a cut one, so results and finalise refuse it.
	h.cc.maxBatches, h.stub.queryLimit = 5, 5
	_, err = h.call(observerAdmin, h.cc.GetResults)
	wantErr(t, "results of a state of 5 batches at a limit of 5", err, "CA has 5 batch records or more")
	_, err = h.call(commissionAdmin, h.finaliseFn(judged))
	wantErr(t, "finalise of a state of 5 batches at a limit of 5", err, "CA has 5 batch records or more")
	if st := h.status(); st != ballot.StatusClosed {
		t.Fatalf("election %s after a finalise of a state at the limit; want closed", st)
	}

	h.cc.maxBatches, h.stub.queryLimit = 6, 0
	h.must(commissionAdmin, h.finaliseFn(judged))
	if st := h.status(); st != ballot.StatusFinalised {
		t.Fatalf("election %s after a finalise without the limit; want finalised", st)
	}
}

// TestSetupElectionFrozenByBatch: once a batch is committed the election
// cannot change, even by a transaction timestamped before the opening (a
// client sets the timestamp; the peers only bound its skew).
func TestSetupElectionFrozenByBatch(t *testing.T) {
	h := newHarness(t)
	h.open()
	h.now = opens.Add(time.Millisecond)
	if _, err := h.commit(batch(t, "NY", 1, []ballot.Vote{vote("NY", 0, "alice")})); err != nil {
		t.Fatal(err)
	}
	h.now = opens.Add(-time.Minute)
	changed := testElection()
	changed.Contests[0].Choices = []string{"mallory"}
	_, err := h.call(commissionAdmin, h.setupFn(changed))
	wantErr(t, "set-up after a batch", err, "batch NY/1 is committed") // its id (Batch.ID), not its key's padded seq
	if got := h.must(observerAdmin, h.cc.GetElection); strings.Contains(got, "mallory") {
		t.Fatalf("election changed after a batch: %s", got)
	}
}

// TestSetupElectionFrozenByLogHead: once an intake log head is anchored
// (here by a gateway whose clock ran ahead, before the window opens) a
// set-up that would change the election, under a new id or the same, is
// refused saying why and what to do, and the record stays; setting up the
// same record again is still accepted. A set-up endorsed before the first
// head was anchored and ordered after it fails validation (its read of the
// heads' range no longer holds).
func TestSetupElectionFrozenByLogHead(t *testing.T) {
	h := newHarness(t)
	first := h.must(commissionAdmin, h.setupFn(testElection()))
	log := &logFixture{key: ed25519.NewKeyFromSeed(make([]byte, 32))}
	h.must(commissionAdmin, h.registerFn(log.key))

	renamed := testElection()
	renamed.ID = "general-2026-rerun"
	racing := h.endorse(commissionAdmin, h.setupFn(renamed))
	log.grow(t, 2)
	h.must(commissionClient, h.anchorFn(log.anchor(t, 0)))
	if code := h.stub.commitEndorsed(racing); code != "PHANTOM_READ_CONFLICT" {
		t.Fatalf("a set-up endorsed before the first head was anchored: %s; want PHANTOM_READ_CONFLICT", code)
	}

	moreChoices := testElection()
	moreChoices.Contests[0].Choices = append(moreChoices.Contests[0].Choices, "carol")
	for name, e := range map[string]ballot.Election{"a new id": renamed, "another choice": moreChoices} {
		_, err := h.call(commissionAdmin, h.setupFn(e))
		wantErr(t, name, err, "a head of the CA intake log of election general-2026 is anchored (size 2, transaction tx")
		wantErr(t, name, err, "the election can no longer be changed")
		wantErr(t, name, err, "keep the election as it is (setting up the same record again is allowed), or set the changed election up on a new ledger")
	}
	if got := h.must(observerAdmin, h.cc.GetElection); got != first {
		t.Fatalf("election after refused set-ups: %s; want %s", got, first)
	}
	if got := h.must(commissionAdmin, h.setupFn(testElection())); got != first {
		t.Fatalf("the same record set up again: %s; want %s", got, first)
	}
}
