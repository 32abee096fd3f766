package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/peer"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/network/fabricblock"
	"github.com/votechain/votechain/network/fabricblock/ledgertest"
)

// logFixture is a CA intake log of nine votes, signed by a registered key,
// and the times of the transactions that register and anchor it.
type logFixture struct {
	*ledgertest.LogSigner
	votes  []ballot.Vote
	at     time.Time // the first transaction's time; each next one a second later
	nextTx int
}

func newLogFixture() *logFixture {
	var votes []ballot.Vote
	for i := range 9 {
		votes = append(votes, vote("CA", 100+i, "alice"))
	}
	return &logFixture{LogSigner: ledgertest.NewLogSigner('k', "e", "CA", votes), votes: votes, at: time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)}
}

// time returns the next transaction's time.
func (f *logFixture) time() time.Time {
	f.nextTx++
	return f.at.Add(time.Duration(f.nextTx) * time.Second)
}

// register is the transaction that registers the fixture's key.
func (f *logFixture) register(id string) ledgertest.Tx {
	return ledgertest.RegisterLogKeys(id, f.time(), ballot.LogKeys{}, f.Key)
}

// The times of the tests' closes and finalises, after the test
// election's window.
var (
	closeTime    = time.Date(2026, 11, 3, 21, 0, 0, 123456789, time.UTC)
	finaliseTime = time.Date(2026, 11, 3, 22, 0, 0, 987654321, time.UTC)
)

// statusTx is the transaction that moves the election to status, stamped
// as the chaincode stamps it: a close's closed_at at closeTime, a
// finalise's finalised_at at finaliseTime (and closed_at, if e lacks it,
// at closeTime), each its transaction's time.
func statusTx(t *testing.T, id, function string, e ballot.Election, status string) ledgertest.Tx {
	e.Status = status
	at := closeTime
	if e.ClosedAt.IsZero() && status != ballot.StatusConfigured {
		e.ClosedAt = closeTime
	}
	if status == ballot.StatusFinalised {
		e.FinalisedAt, at = finaliseTime, finaliseTime
	}
	return ledgertest.Tx{ID: id, Function: function, Time: at, Writes: []fabricblock.Write{{Namespace: "ballot", Key: ballot.ElectionKey, Value: mustJSON(t, e)}}}
}

// TestIntakeLogAnchors: an honest intake log (a key registered, heads of
// 4 and then 9 entries anchored, a repeat that writes nothing, the nine
// votes committed, the election closed and finalised) is not flagged and
// its record is reported; each way a record can differ from what the
// chaincode's rules give is flagged at its transaction.
func TestIntakeLogAnchors(t *testing.T) {
	f := newLogFixture()
	e := stored(t, testElection())
	reg := f.register("reg")
	a4, a9 := ledgertest.AnchorLogHeads("a4", f.time(), f.Anchor(0, 4)), ledgertest.AnchorLogHeads("a9", f.time(), f.Anchor(4, 9))
	repeat := ledgertest.AnchorLogHeads("again", f.time(), f.Anchor(0, 9))
	repeat.Writes = nil
	commit := commitTx(t, "c1", build(t, "CA", 1, f.votes...))
	closeTx := statusTx(t, "close", "CloseElection", e, ballot.StatusClosed)
	final := finaliseTx(t, "final", e, totalsArg(t, map[string]ballot.BatchTotals{"CA": {Batches: 1, Votes: uint64(len(f.votes))}}))
	honest := [][]ledgertest.Tx{{{ID: "g", Config: true}}, {setupTx(t, "s", e), reg}, {a4}, {a9, repeat}, {commit}, {closeTx, final}}
	reports := auditChain(t, honest)
	if ks := kinds(reports); len(ks) != 0 {
		t.Fatalf("honest intake log flagged: %+v", issuesOf(reports))
	}
	if k := reports[1].LogKeys; k == nil || len(k.Keys) != 1 || k.Keys[0].ID != f.Key.ID || k.Keys[0].RegisteredAt != reg.Time.UnixMilli() {
		t.Fatalf("keys reported %+v", k)
	}
	if h := reports[3].LogHeads; len(h) != 1 || h[0].Head.Size != 9 || h[0].TxID != "a9" || h[0].AnchoredAt != a9.Time.UnixMilli() {
		t.Fatalf("heads reported %+v", h)
	}

	other := ledgertest.NewLogSigner('o', "e", "CA", f.votes)
	foreign := ledgertest.AnchorLogHeads("a4", a4.Time, other.Anchor(0, 4))
	rewrittenVotes := slices.Clone(f.votes)
	rewrittenVotes[1] = vote("CA", 200, "bob") // under the anchored head of 4
	rewritten := ledgertest.AnchorLogHeads("a9", a9.Time, ledgertest.NewLogSigner('k', "e", "CA", rewrittenVotes).Anchor(4, 9))
	stamped := edited(a9, func(rec *ballot.AnchoredHead) { rec.AnchoredAt++ })
	unwritten := a9
	unwritten.Writes = nil
	regAgain := reg // another transaction registering the same keys (not a replay: another id)
	regAgain.ID = "reg-again"
	extraKey := reg
	var keys ballot.LogKeys
	json.Unmarshal(reg.Writes[0].Value, &keys)
	keys.Keys = append(keys.Keys, other.Key)
	extraKey.Writes = []fabricblock.Write{{Namespace: "ballot", Key: ballot.LogKeysKey, Value: mustJSON(t, keys)}}
	smuggled := commit
	smuggled.Writes = append(slices.Clone(commit.Writes), a9.Writes...)
	late := ledgertest.AnchorLogHeads("late", f.time(), f.Anchor(9, 9))
	late.Args = ledgertest.AnchorLogHeads("", time.Time{}, f.Anchor(0, 9)).Args
	short := build(t, "CA", 1, f.votes[:5]...)
	shortFinal := finaliseTx(t, "final", e, totalsArg(t, map[string]ballot.BatchTotals{"CA": {Batches: 1, Votes: uint64(len(short.Votes))}})) // judged the short batch

	cases := map[string]struct {
		blocks [][]ledgertest.Tx
		want   []string // kind and transaction of each issue
	}{
		"keys record with a key not registered": {replace(honest, reg, extraKey), []string{"log_keys reg"}},
		"keys registered again":                 {replace(honest, a4, regAgain, a4), []string{"log_keys reg-again"}},
		"head signed by a key not registered":   {replace(honest, a4, foreign), []string{"log_anchor a4"}},
		"log rewritten under the anchored head": {replace(honest, a9, rewritten), []string{"log_anchor a9", "log_anchor again"}}, // then the honest head is no repeat
		"record stamped with another time":      {replace(honest, a9, stamped), []string{"log_anchor a9"}},
		"head anchored, no record written":      {replace(honest, a9, unwritten), []string{"log_anchor a9", "log_anchor again"}},
		"head record written by a batch":        {replace(honest, commit, smuggled), []string{"log_anchor c1"}},
		"anchored once finalised":               {append(slices.Clone(honest), []ledgertest.Tx{late}), []string{"log_anchor late"}},
		"finalised with anchored votes missing": {replace(replace(honest, commit, commitTx(t, "c1", short)), final, shortFinal), []string{"log_anchor final"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, is := range issuesOf(auditChain(t, c.blocks)) {
				got = append(got, is.Kind+" "+is.TxID)
			}
			if !slices.Equal(got, c.want) {
				t.Fatalf("issues %q; want %q", got, c.want)
			}
		})
	}

	// A history that kept no record of the log (an index written before
	// it did) checks none of it.
	if ks := kinds(auditChainWith(t, logNotRecorded{newHistory()}, replace(honest, a9, rewritten))); len(ks) != 0 {
		t.Fatalf("flagged without the log's record: %v", ks)
	}
}

// edited is tx with the record of its (one) anchored head edited.
func edited(tx ledgertest.Tx, edit func(*ballot.AnchoredHead)) ledgertest.Tx {
	var rec ballot.AnchoredHead
	if err := json.Unmarshal(tx.Writes[0].Value, &rec); err != nil {
		panic(err)
	}
	edit(&rec)
	raw, _ := json.Marshal(rec)
	tx.Writes = []fabricblock.Write{{Namespace: "ballot", Key: tx.Writes[0].Key, Value: raw}}
	return tx
}

// replace returns blocks with the transaction of old's id replaced by txs.
func replace(blocks [][]ledgertest.Tx, old ledgertest.Tx, txs ...ledgertest.Tx) [][]ledgertest.Tx {
	out := make([][]ledgertest.Tx, len(blocks))
	for i, blk := range blocks {
		for _, tx := range blk {
			if tx.ID == old.ID {
				out[i] = append(out[i], txs...)
			} else {
				out[i] = append(out[i], tx)
			}
		}
	}
	return out
}

func issuesOf(reports []audit.Report) []audit.Issue {
	var out []audit.Issue
	for _, r := range reports {
		out = append(out, r.Issues...)
	}
	return out
}

// logNotRecorded is a History that kept no record of the intake log.
type logNotRecorded struct{ *memHistory }

func (logNotRecorded) IntakeLog(context.Context) (audit.IntakeLog, error) {
	return audit.IntakeLog{}, fmt.Errorf("index of 2026-12-03: %w", audit.ErrNotRecorded)
}

// TestFinaliseBatchTotals: a finalise carrying the batch totals its check
// judged gives those of exactly the batches before it, this block's
// included, or is flagged (log_anchor) with the chaincode's refusal; one
// carrying none of an election an earlier chaincode set up (before the
// chaincode took them, its record unmarked) is audited as before; the
// totals are checked with no intake log recorded.
func TestFinaliseBatchTotals(t *testing.T) {
	e := stored(t, testElection()) // CA only
	c1 := commitTx(t, "c1", build(t, "CA", 1, vote("CA", 1, "alice"), vote("CA", 2, "bob")))
	c2 := commitTx(t, "c2", build(t, "CA", 2, vote("CA", 3, "alice"), vote("CA", 1, "bob")), 1) // voter 1 again: rejected
	totals := func(batched map[string]ballot.BatchTotals) string { return totalsArg(t, batched) }
	for name, c := range map[string]struct {
		earlier bool   // the election set up, closed and finalised by an earlier chaincode: records unmarked
		arg     string // the finalise's argument, "" for none
		want    string // the issue's message, "" for none
	}{
		"the batches' totals":           {false, totals(map[string]ballot.BatchTotals{"CA": {Batches: 2, Votes: 4}}), ""},
		"no totals (earlier)":           {true, "", ""},
		"judged before this block's":    {false, totals(map[string]ballot.BatchTotals{"CA": {Batches: 1, Votes: 2}}), "the ledger changed since the check: the CA batches are 2 holding 4 votes, the check judged 1 holding 2"},
		"a vote more":                   {false, totals(map[string]ballot.BatchTotals{"CA": {Batches: 2, Votes: 5}}), "the check judged 2 holding 5"},
		"a state left out":              {false, totals(map[string]ballot.BatchTotals{}), "lack state CA"},
		"an argument that is no totals": {false, `{"force":true}`, "an argument that is no batch totals"},
	} {
		t.Run(name, func(t *testing.T) {
			rec, setup := e, setupTx(t, "s", e)
			if c.earlier {
				rec.FinaliseNeedsTotals = false
				setup = ledgertest.SetupElectionUnmarked("s", e)
			}
			closeTx := statusTx(t, "close", "CloseElection", rec, ballot.StatusClosed)
			final := finaliseTx(t, "final", rec, c.arg)
			issues := issuesOf(auditChain(t, [][]ledgertest.Tx{{{ID: "g", Config: true}}, {setup}, {c1}, {c2, closeTx, final}}))
			switch {
			case c.want == "" && len(issues) > 0:
				t.Fatalf("flagged: %+v", issues)
			case c.want != "" && (len(issues) != 1 || issues[0].Kind != audit.KindLogAnchor || issues[0].TxID != "final" || !strings.Contains(issues[0].Message, c.want)):
				t.Fatalf("issues %+v; want one log_anchor at the finalise saying %q", issues, c.want)
			}
		})
	}
}

// TestFinaliseTotalsRequired: an election whose record before the
// finalise requires batch totals (finalise_needs_totals, as this chaincode
// sets it) is flagged (log_anchor) when a VALID FinaliseElection carries
// none, once, at the finalise, whether it keeps the mark or drops it (an
// earlier chaincode writes the record without it); with the right totals
// it is not; an election whose record lacks the mark (an earlier
// chaincode's) is finalised without totals unflagged; a record that drops
// the mark before the finalise (an earlier chaincode's close) is flagged
// at itself.
func TestFinaliseTotalsRequired(t *testing.T) {
	marked := stored(t, testElection()) // CA only
	plain := marked
	plain.FinaliseNeedsTotals = false
	right := totalsArg(t, map[string]ballot.BatchTotals{"CA": {Batches: 1, Votes: 2}})
	const missing = "with no batch totals, yet its record requires them (finalise_needs_totals)"
	for name, c := range map[string]struct {
		set, closed, final ballot.Election // the records the set-up, close and finalise write
		arg                string          // the finalise's argument, "" for none
		want               []string        // "kind tx: message part" of each issue
	}{
		"marked, no totals":               {marked, marked, marked, "", []string{"log_anchor final: " + missing}},
		"marked, no totals, mark dropped": {marked, marked, plain, "", []string{"log_anchor final: " + missing}},
		"marked, the right totals":        {marked, marked, marked, right, nil},
		"unmarked, no totals (earlier)":   {plain, plain, plain, "", nil},
		"mark dropped at the close": {marked, plain, plain, "",
			[]string{"log_anchor close: the election record written (status closed) drops finalise_needs_totals"}},
	} {
		t.Run(name, func(t *testing.T) {
			c1 := commitTx(t, "c1", build(t, "CA", 1, vote("CA", 1, "alice"), vote("CA", 2, "bob")))
			setup := ledgertest.SetupElectionUnmarked // by an earlier chaincode
			if c.set.FinaliseNeedsTotals {
				setup = ledgertest.SetupElection
			}
			blocks := [][]ledgertest.Tx{{{ID: "g", Config: true}}, {setup("s", c.set)}, {c1},
				{statusTx(t, "close", "CloseElection", c.closed, ballot.StatusClosed), finaliseTx(t, "final", c.final, c.arg)}}
			wantIssues(t, issuesOf(auditChain(t, blocks)), c.want)
		})
	}
}

// finaliseTx is the FinaliseElection of e with argument arg (none if ""),
// as the chaincode writes it.
func finaliseTx(t *testing.T, id string, e ballot.Election, arg string) ledgertest.Tx {
	tx := statusTx(t, id, "FinaliseElection", e, ballot.StatusFinalised)
	if arg != "" {
		tx.Args = [][]byte{[]byte(arg)}
	}
	return tx
}

// totalsArg is the FinaliseElection argument carrying batched as the
// totals its check judged.
func totalsArg(t *testing.T, batched map[string]ballot.BatchTotals) string {
	return string(mustJSON(t, ballot.FinaliseInput{Batched: batched}))
}

// TestFinaliseMarkedInvalid: a FinaliseElection the peers marked invalid
// (its check judged the batches before one committed ahead of it, so its
// range read of them conflicts) is not audited however wrong its totals,
// and leaves the election as it was: a VALID finalise after it with the
// right totals, in its block or a later one, is checked and accepted, and
// one with wrong totals is flagged at itself only; the same wrong totals
// marked VALID are flagged (log_anchor) with the chaincode's refusal.
func TestFinaliseMarkedInvalid(t *testing.T) {
	e := stored(t, testElection()) // CA only
	c1 := commitTx(t, "c1", build(t, "CA", 1, vote("CA", 1, "alice"), vote("CA", 2, "bob")))
	c2 := commitTx(t, "c2", build(t, "CA", 2, vote("CA", 3, "alice"), vote("CA", 1, "bob")), 1) // voter 1 again: rejected
	stale := func(code peer.TxValidationCode) ledgertest.Tx {
		tx := finaliseTx(t, "stale", e, totalsArg(t, map[string]ballot.BatchTotals{"CA": {Batches: 1, Votes: 2}})) // before c2
		tx.Code = code
		return tx
	}
	right := finaliseTx(t, "final", e, totalsArg(t, map[string]ballot.BatchTotals{"CA": {Batches: 2, Votes: 4}}))
	wrong := finaliseTx(t, "final", e, totalsArg(t, map[string]ballot.BatchTotals{"CA": {Batches: 2, Votes: 5}}))
	before := [][]ledgertest.Tx{{{ID: "g", Config: true}}, {setupTx(t, "s", e)}, {c1}, {statusTx(t, "close", "CloseElection", e, ballot.StatusClosed)}}
	for name, c := range map[string]struct {
		blocks [][]ledgertest.Tx // after before
		want   []string          // "kind tx: message part" of each issue
	}{
		"invalid, the right totals in the next block": {[][]ledgertest.Tx{{c2, stale(peer.TxValidationCode_PHANTOM_READ_CONFLICT)}, {right}}, nil},
		"invalid, the right totals in its block":      {[][]ledgertest.Tx{{c2, stale(peer.TxValidationCode_MVCC_READ_CONFLICT), right}}, nil},
		"invalid, then wrong totals VALID": {[][]ledgertest.Tx{{c2, stale(peer.TxValidationCode_PHANTOM_READ_CONFLICT)}, {wrong}},
			[]string{"log_anchor final: the check judged 2 holding 5"}},
		"the wrong totals marked VALID": {[][]ledgertest.Tx{{c2, stale(peer.TxValidationCode_VALID)}},
			[]string{"log_anchor stale: the ledger changed since the check: the CA batches are 2 holding 4 votes, the check judged 1 holding 2"}},
	} {
		t.Run(name, func(t *testing.T) {
			reports := auditChain(t, append(slices.Clone(before), c.blocks...))
			wantIssues(t, issuesOf(reports), c.want)
			var finalised []uint64 // the blocks whose election record is finalised
			for _, r := range reports {
				if r.Election != nil && r.Election.Status == ballot.StatusFinalised {
					finalised = append(finalised, r.Block.Number)
				}
			}
			if want := uint64(len(reports) - 1); !slices.Equal(finalised, []uint64{want}) {
				t.Fatalf("election finalised in blocks %v; want in block %d only (the VALID finalise's)", finalised, want)
			}
		})
	}
}

// electionChain is an honest election e of CA, block by block: set up, a
// batch committed, closed, a batch of votes cast in the window committed
// after the close, and finalised with those batches' totals.
type electionChain struct {
	e                             ballot.Election
	setup, c1, closeTx, c2, final ledgertest.Tx
	blocks                        [][]ledgertest.Tx
	early, later                  time.Time // before the window opens; 30 s later, still before
}

func newElectionChain(t *testing.T) electionChain {
	e := stored(t, testElection()) // CA only
	c := electionChain{e: e, setup: setupTx(t, "s", e),
		c1:      commitTx(t, "c1", build(t, "CA", 1, vote("CA", 1, "alice"), vote("CA", 2, "bob"))),
		closeTx: statusTx(t, "close", "CloseElection", e, ballot.StatusClosed),
		c2:      commitTx(t, "c2", build(t, "CA", 2, vote("CA", 3, "alice"))),
		early:   e.OpensAt.Add(-time.Minute), later: e.OpensAt.Add(-30 * time.Second)}
	c.final = finaliseTx(t, "final", e, totalsArg(t, map[string]ballot.BatchTotals{"CA": {Batches: 2, Votes: 3}}))
	c.blocks = [][]ledgertest.Tx{{{ID: "g", Config: true}}, {c.setup}, {c.c1}, {c.closeTx}, {c.c2}, {c.final}}
	return c
}

// earlyCommit is the commit of batch b by a transaction at time at, before
// the window opens, as a chaincode that does not refuse it whole counts
// it: every vote (cast in the window) rejected as cast after the
// transaction.
func earlyCommit(t *testing.T, id string, b ballot.Batch, at time.Time) ledgertest.Tx {
	rejects := map[int]string{}
	for i := range b.Votes {
		rejects[i] = ballot.RejectCastAfterTx
	}
	tx := commitTxWith(t, id, b, rejects)
	tx.Time = at
	return tx
}

// wantIssues fails t unless issues are exactly want, each "kind tx:
// message part".
func wantIssues(t *testing.T, issues []audit.Issue, want []string) {
	t.Helper()
	if len(issues) != len(want) {
		t.Fatalf("issues %+v; want %q", issues, want)
	}
	for i, is := range issues {
		if kind, msg, _ := strings.Cut(want[i], ": "); is.Kind+" "+is.TxID != kind || !strings.Contains(is.Message, msg) {
			t.Fatalf("issue %+v; want %q", is, want[i])
		}
	}
}

// TestBatchRefusedWhole: a VALID batch the chaincode refuses whole
// (ballot.Election.BatchRefusal) is flagged batch_refused at its
// transaction, by the election record as the chain left it at that
// transaction: committed after the finalise (in a later block or later in
// the finalise's block), before the window opens (by the transaction's
// time), or of a state not on the ballot. The honest election, with a
// batch committed after the close, is not flagged.
func TestBatchRefusedWhole(t *testing.T) {
	c := newElectionChain(t)
	late := commitTx(t, "c3", build(t, "CA", 3, vote("CA", 4, "bob")))
	ny := commitTx(t, "ny1", build(t, "NY", 1, vote("NY", 5, "alice")))
	early := earlyCommit(t, "c1", build(t, "CA", 1, vote("CA", 1, "alice"), vote("CA", 2, "bob")), c.early)
	for name, tc := range map[string]struct {
		blocks  [][]ledgertest.Tx
		refused string // the transaction of the refused batch
		want    string // its issue's message
	}{
		"honest": {c.blocks, "", ""},
		"a batch after the finalise": {append(slices.Clone(c.blocks), []ledgertest.Tx{late}),
			"c3", "batch CA/3 committed VALID, yet the chaincode refuses it whole: election e is finalised; batch CA/3 refused"},
		"a batch after the finalise, in its block": {replace(c.blocks, c.final, c.final, late), "c3", "election e is finalised"},
		"a batch before the window opens": {replace(c.blocks, c.c1, early),
			"c1", "election e opens at 2026-11-03T07:00:00Z; batch CA/1 refused"},
		"a batch of a state not on the ballot": {replace(c.blocks, c.c1, c.c1, ny), "ny1", "state NY is not in election e"},
	} {
		t.Run(name, func(t *testing.T) {
			reports := auditChain(t, tc.blocks)
			if tc.refused == "" {
				wantIssues(t, issuesOf(reports), nil)
				return
			}
			wantIssues(t, issuesOf(reports), []string{audit.KindBatchRefused + " " + tc.refused + ": " + tc.want})
			// The batch is on the ledger and the chaincode's results count
			// it: the recount counts it too, the issue saying it should
			// not be there.
			if !slices.ContainsFunc(reports, func(r audit.Report) bool {
				return slices.ContainsFunc(r.Batches, func(b audit.Batch) bool { return b.TxID == tc.refused && b.First() })
			}) {
				t.Fatal("the refused batch is not recounted")
			}
		})
	}
}

// TestBatchRefusedAfterUnfinalise: a (flagged) write that takes the
// finalised record back to closed does not make the chaincode accept
// batches again: a batch after it is flagged batch_refused, whether in a
// later block (the History remembers the finalise, even where the write
// cleared finalised_at) or in the write's own block.
func TestBatchRefusedAfterUnfinalise(t *testing.T) {
	c := newElectionChain(t)
	late := commitTx(t, "c3", build(t, "CA", 3, vote("CA", 4, "bob")))
	stampKept := c.e
	stampKept.ClosedAt, stampKept.FinalisedAt = closeTime, finaliseTime
	const reopened = "election reopen: the election record written with status closed over a finalised one"
	const refused = "batch_refused c3: batch CA/3 committed VALID after election e was finalised (its record taken back to closed since)"
	for name, blocks := range map[string][][]ledgertest.Tx{
		"in a later block, the stamp kept":    append(slices.Clone(c.blocks), []ledgertest.Tx{statusTx(t, "reopen", "CloseElection", stampKept, ballot.StatusClosed)}, []ledgertest.Tx{late}),
		"in a later block, the stamp cleared": append(slices.Clone(c.blocks), []ledgertest.Tx{statusTx(t, "reopen", "CloseElection", c.e, ballot.StatusClosed)}, []ledgertest.Tx{late}),
		"in its block, the stamp cleared":     append(slices.Clone(c.blocks), []ledgertest.Tx{statusTx(t, "reopen", "CloseElection", c.e, ballot.StatusClosed), late}),
	} {
		t.Run(name, func(t *testing.T) {
			wantIssues(t, issuesOf(auditChain(t, blocks)), []string{reopened, refused})
		})
	}
}

// TestElectionSteps: every VALID write of the election record is one of
// the chaincode's steps (a set-up, first or again before the window opens,
// of a configured record with neither closed_at nor finalised_at, while no
// batch is committed, keeping a sealed roll's root and, once an intake log
// head is anchored, storing the record before again; configured →
// closed, closed → finalised, changing nothing but the status and its
// stamp, the transaction's time), and none comes after the finalise, even
// once a flagged write took it back; any other is flagged (election) at
// its transaction.
func TestElectionSteps(t *testing.T) {
	c := newElectionChain(t)
	reopened := statusTx(t, "reopen", "CloseElection", c.e, ballot.StatusClosed)
	otherStates := c.e
	otherStates.States = []string{"CA", "NY"}
	moved := c.e
	moved.ClosesAt = moved.ClosesAt.Add(time.Hour)
	setUpAt := func(id string, e ballot.Election, at time.Time) ledgertest.Tx {
		tx := ledgertest.SetupElection(id, e)
		tx.Time = at
		return tx
	}
	// setUpStamped is a set-up again of the record stamped so, before the
	// window opens.
	setUpStamped := func(stamp func(*ballot.Election)) ledgertest.Tx {
		rec := c.e
		stamp(&rec)
		return ledgertest.Tx{ID: "s2", Function: "SetupElection", Time: c.early,
			Writes: []fabricblock.Write{{Namespace: "ballot", Key: ballot.ElectionKey, Value: mustJSON(t, rec)}}}
	}
	rc := newTwoChunkRoll(t)
	sealed := [][]ledgertest.Tx{{{ID: "g", Config: true}}, {rc.setup}, {rc.loads[0]}, {rc.loads[1], rc.seal}}
	renamed, rerooted, resized, unsized := rc.e, rc.e, rc.e, rc.e
	renamed.Name, rerooted.RollRoot = "E2", testElection().RollRoot
	resized.RollEntries, unsized.RollEntries = new(len(rc.entries)+1), nil
	refinal := finaliseTx(t, "refinal", c.e, string(c.final.Args[0]))
	deleted := ledgertest.Tx{ID: "del", Function: "SetupElection",
		Writes: []fabricblock.Write{{Namespace: "ballot", Key: ballot.ElectionKey, Delete: true}}}
	undecodable := ledgertest.Tx{ID: "bad", Function: "SetupElection",
		Writes: []fabricblock.Write{{Namespace: "ballot", Key: ballot.ElectionKey, Value: []byte(`{"status":`)}}}
	early := earlyCommit(t, "c1", build(t, "CA", 1, vote("CA", 1, "alice")), c.early)
	opened := [][]ledgertest.Tx{{{ID: "g", Config: true}}, {c.setup}}
	onlyOne := finaliseTx(t, "final", c.e, totalsArg(t, map[string]ballot.BatchTotals{"CA": {Batches: 1, Votes: 2}}))
	const finalised = "the chaincode writes it no more once the election is finalised"
	f := newLogFixture()
	f.at = c.early.Add(-time.Hour) // a gateway's clock ahead: votes accepted and anchored before the window
	register, anchor := f.register("reg"), ledgertest.AnchorLogHeads("a2", f.time(), f.Anchor(0, 2))
	anchored := append(slices.Clone(opened), []ledgertest.Tx{register, anchor})
	rerun := c.e
	rerun.ID = "e2"
	const changedAfterAnchor = "election s2: SetupElection refuses a set-up that changes the election once an intake log head is anchored: ballot: a head of the CA intake log of election e is anchored (size 2, transaction a2)"
	retimed := func(tx ledgertest.Tx, by time.Duration) ledgertest.Tx {
		tx.Time = tx.Time.Add(by)
		return tx
	}
	for name, tc := range map[string]struct {
		blocks [][]ledgertest.Tx
		want   []string
	}{
		"honest":                               {c.blocks, nil},
		"set up again before the window opens": {append(slices.Clone(opened), []ledgertest.Tx{setUpAt("s2", testElection(), c.early)}), nil},
		"un-finalised": {append(slices.Clone(c.blocks), []ledgertest.Tx{reopened}),
			[]string{"election reopen: the election record written with status closed over a finalised one: " + finalised}},
		"the finalised record rewritten": {append(slices.Clone(c.blocks), []ledgertest.Tx{statusTx(t, "rewrite", "FinaliseElection", otherStates, ballot.StatusFinalised)}),
			[]string{"election rewrite: " + finalised}},
		"set up again once finalised": {append(slices.Clone(c.blocks), []ledgertest.Tx{setUpAt("s2", testElection(), c.early)}),
			[]string{"election s2: the election record written with status configured over a finalised one"}},
		"set up again once closed": {[][]ledgertest.Tx{{{ID: "g", Config: true}}, {c.setup}, {c.c1}, {c.closeTx}, {setUpAt("s2", testElection(), c.early)}},
			[]string{"election s2: the election record written with status configured over a closed one"}},
		"finalised without a close": {[][]ledgertest.Tx{{{ID: "g", Config: true}}, {c.setup}, {c.c1}, {onlyOne}},
			[]string{"election final: the election record written with status finalised over a configured one"}},
		"a close that moves the window": {[][]ledgertest.Tx{{{ID: "g", Config: true}}, {c.setup}, {c.c1}, {statusTx(t, "close", "CloseElection", moved, ballot.StatusClosed)}},
			[]string{"election close: CloseElection changes nothing but the status and closed_at"}},
		"a finalise that moves the window": {replace(c.blocks, c.final, finaliseTx(t, "final", moved, string(c.final.Args[0]))),
			[]string{"election final: FinaliseElection changes nothing but the status and finalised_at"}},
		"a close stamped a second before its time": {replace(c.blocks, c.closeTx, retimed(c.closeTx, time.Second)),
			[]string{"election close: CloseElection stamps closed_at with the transaction's time, 2026-11-03T21:00:01.123456789Z, not 2026-11-03T21:00:00.123456789Z"}},
		"a finalise stamped a nanosecond after its time": {replace(c.blocks, c.final, retimed(c.final, -time.Nanosecond)),
			[]string{"election final: FinaliseElection stamps finalised_at with the transaction's time, 2026-11-03T22:00:00.98765432Z, not 2026-11-03T22:00:00.987654321Z"}},
		"set up again once the window opened": {append(slices.Clone(opened), []ledgertest.Tx{setUpAt("s2", testElection(), c.e.OpensAt)}),
			[]string{"election s2: SetupElection refuses once the window opened (at 2026-11-03T07:00:00Z"}},
		"set up again once a batch is committed": {append(slices.Clone(opened), []ledgertest.Tx{early, setUpAt("s2", testElection(), c.later)}),
			[]string{"batch_refused c1: opens at", "election s2: SetupElection refuses once a batch is committed, and 1 are"}},
		"set up again under a new id once a head is anchored": {append(slices.Clone(anchored), []ledgertest.Tx{setUpAt("s2", rerun, c.later)}),
			[]string{changedAfterAnchor}},
		"set up again under a new id in the anchor's block": {append(slices.Clone(opened), []ledgertest.Tx{register}, []ledgertest.Tx{anchor, setUpAt("s2", rerun, c.later)}),
			[]string{changedAfterAnchor}},
		"set up again with another window once a head is anchored": {append(slices.Clone(anchored), []ledgertest.Tx{setUpAt("s2", moved, c.later)}),
			[]string{changedAfterAnchor}},
		"the same set up again once a head is anchored": {append(slices.Clone(anchored), []ledgertest.Tx{setUpAt("s2", testElection(), c.later)}), nil},
		"finalised again after an un-finalise": {append(slices.Clone(c.blocks), []ledgertest.Tx{reopened}, []ledgertest.Tx{refinal}),
			[]string{"election reopen: " + finalised, "election refinal: the election record written with status finalised over a closed one: " + finalised}},
		"a close first": {[][]ledgertest.Tx{{{ID: "g", Config: true}}, {c.closeTx}},
			[]string{"election close: the election record written with status closed over none: SetupElection stores a configured record with neither closed_at nor finalised_at"}},
		"set up again with closed_at": {append(slices.Clone(opened), []ledgertest.Tx{setUpStamped(func(e *ballot.Election) { e.ClosedAt = c.early })}),
			[]string{"election s2: the election record written with status configured over a configured one: SetupElection stores a configured record with neither closed_at nor finalised_at"}},
		"set up again with finalised_at": {append(slices.Clone(opened), []ledgertest.Tx{setUpStamped(func(e *ballot.Election) { e.FinalisedAt = c.early })}),
			[]string{"election s2: the election record written with status configured over a configured one: SetupElection stores a configured"}},
		"set up again once the roll is sealed, its root kept": {append(slices.Clone(sealed), []ledgertest.Tx{setUpAt("s2", renamed, c.early)}), nil},
		"set up again once the roll is sealed, another root": {append(slices.Clone(sealed), []ledgertest.Tx{setUpAt("s2", rerooted, c.early)}),
			[]string{"election s2: SetupElection keeps the roll root once the roll is sealed (with root " + rc.root + "), yet it became " + rerooted.RollRoot}},
		"set up again once the roll is sealed, another size": {append(slices.Clone(sealed), []ledgertest.Tx{setUpAt("s2", resized, c.early)}),
			[]string{fmt.Sprintf("election s2: SetupElection states the sealed roll's size once the roll is sealed (%d entries), yet roll_entries became %d", len(rc.entries), len(rc.entries)+1)}},
		"set up again without the size": {append(slices.Clone(opened), []ledgertest.Tx{setUpAt("s2", unsized, c.early)}),
			[]string{"election s2: SetupElection stores roll_entries in every record, yet the record drops the record before's 0"}},
		"the record deleted":     {append(slices.Clone(c.blocks), []ledgertest.Tx{deleted}), []string{"election del: the election record deleted"}},
		"the record undecodable": {append(slices.Clone(opened), []ledgertest.Tx{undecodable}), []string{"election bad: the election record written is undecodable"}},
	} {
		t.Run(name, func(t *testing.T) {
			wantIssues(t, issuesOf(auditChain(t, tc.blocks)), tc.want)
		})
	}
}

// electionUnkept is a History that did not keep the election's writes
// from the first block (an index written before it did).
type electionUnkept struct{ *memHistory }

func (electionUnkept) ElectionFinalised(context.Context) (bool, error) {
	return false, fmt.Errorf("index of 2026-12-05: %w", audit.ErrNotRecorded)
}

// TestElectionWriteOverNone: with no election record before, a VALID
// write of it must be a set-up, so a close is flagged; where History did
// not keep the election's writes from the first block, it may have missed
// the set-up, and the same close is not flagged.
func TestElectionWriteOverNone(t *testing.T) {
	c := newElectionChain(t)
	blocks := [][]ledgertest.Tx{{{ID: "g", Config: true}}, {c.closeTx}}
	wantIssues(t, issuesOf(auditChain(t, blocks)), []string{"election close: the election record written with status closed over none"})
	wantIssues(t, issuesOf(auditChainWith(t, electionUnkept{newHistory()}, blocks)), nil)
}

// TestBatchRefusedWithoutElection: the chaincode refuses every batch
// while no election record exists, so a VALID commit then is flagged
// batch_refused at its transaction, each batch of a CommitBatches, and a
// batch before the set-up in the set-up's own block too (the set-up after
// it is flagged for following a batch); where History did not keep the
// election's writes from the first block, it may have missed the set-up,
// and the same commit is not flagged.
func TestBatchRefusedWithoutElection(t *testing.T) {
	c := newElectionChain(t)
	both := ledgertest.CommitBatches("cs", []ballot.Batch{build(t, "CA", 1, vote("CA", 1, "alice")), build(t, "NY", 1, vote("NY", 2, "bob"))}, nil)
	const refused = " committed VALID while no election record exists: the chaincode refuses every batch before SetupElection"
	for name, tc := range map[string]struct {
		blocks [][]ledgertest.Tx
		want   []string
	}{
		"a batch before any set-up": {[][]ledgertest.Tx{{{ID: "g", Config: true}}, {c.c1}},
			[]string{"batch_refused c1: batch CA/1" + refused}},
		"two batches of one transaction": {[][]ledgertest.Tx{{{ID: "g", Config: true}}, {both}},
			[]string{"batch_refused cs: batch CA/1" + refused, "batch_refused cs: batch NY/1" + refused}},
		"a batch before the set-up, in its block": {[][]ledgertest.Tx{{{ID: "g", Config: true}}, {c.c1, c.setup}},
			[]string{"batch_refused c1: batch CA/1" + refused, "election s: SetupElection refuses once a batch is committed, and 1 are"}},
		"a batch after the set-up, in its block": {[][]ledgertest.Tx{{{ID: "g", Config: true}}, {c.setup, c.c1}}, nil},
	} {
		t.Run(name, func(t *testing.T) {
			wantIssues(t, issuesOf(auditChain(t, tc.blocks)), tc.want)
		})
	}
	unkept := [][]ledgertest.Tx{{{ID: "g", Config: true}}, {c.c1}}
	wantIssues(t, issuesOf(auditChainWith(t, electionUnkept{newHistory()}, unkept)), nil)
}

// TestSetUpValid: SetupElection stores only a record
// ballot.Election.Validate accepts, so a set-up, first or again, writing
// one it refuses is flagged election; one naming no batchers is not (the
// chaincode of contests before batchers were required stored it), yet the
// rest of such a record is still judged. Where History did not keep the
// election's writes from the first block, a write over none is not.
func TestSetUpValid(t *testing.T) {
	e := stored(t, testElection())
	early := e.OpensAt.Add(-time.Hour)
	setUp := func(id string, edit func(*ballot.Election)) ledgertest.Tx {
		rec := e
		rec.States = slices.Clone(e.States)
		edit(&rec)
		return ledgertest.Tx{ID: id, Function: "SetupElection", Time: early,
			Writes: []fabricblock.Write{{Namespace: "ballot", Key: ballot.ElectionKey, Value: mustJSON(t, rec)}}}
	}
	first := func(tx ledgertest.Tx) [][]ledgertest.Tx { return [][]ledgertest.Tx{{{ID: "g", Config: true}}, {tx}} }
	again := func(tx ledgertest.Tx) [][]ledgertest.Tx {
		return [][]ledgertest.Tx{{{ID: "g", Config: true}}, {setUp("s", func(*ballot.Election) {})}, {tx}}
	}
	const refuses = "SetupElection stores only a record ballot.Election.Validate accepts: "
	badRoot := setUp("s", func(r *ballot.Election) { r.RollRoot = "not-hex" })
	for name, tc := range map[string]struct {
		blocks [][]ledgertest.Tx
		want   []string
	}{
		"honest, then again": {again(setUp("s2", func(r *ballot.Election) { r.Name = "E2" })), nil},
		"first, the roll root not hex": {first(badRoot),
			[]string{"election s: the election record written with status configured over none: " + refuses + `ballot: roll_root "not-hex"`}},
		"first, a state twice": {first(setUp("s", func(r *ballot.Election) { r.States = []string{"CA", "CA"} })),
			[]string{"election s: " + refuses + `ballot: election: state "CA" listed twice`}},
		"again, the window empty": {again(setUp("s2", func(r *ballot.Election) { r.ClosesAt = r.OpensAt })),
			[]string{"election s2: the election record written with status configured over a configured one: " + refuses + "ballot: election opens_at"}},
		"first, naming no batchers": {first(setUp("s", func(r *ballot.Election) { r.Batchers = nil })), nil},
		"first, naming no batchers nor a name": {first(setUp("s", func(r *ballot.Election) { r.Batchers, r.Name = nil, "" })),
			[]string{"election s: " + refuses + "ballot: election name must be 1..256 bytes, got 0"}},
	} {
		t.Run(name, func(t *testing.T) {
			wantIssues(t, issuesOf(auditChain(t, tc.blocks)), tc.want)
		})
	}
	wantIssues(t, issuesOf(auditChainWith(t, electionUnkept{newHistory()}, first(badRoot))), nil)
}
