package verify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
)

// fakeLedger holds batch records, on a peer at height fakeHeight (past
// the block the test's receipts name), of an election not finalised; like
// the chaincode, it refuses an invalid state (not ErrNotFound).
type fakeLedger map[string]ballot.BatchRecord

const fakeHeight = 4

func (f fakeLedger) Batch(_ context.Context, state string, seq uint64) (ballot.BatchRecord, error) {
	if !ballot.ValidState(state) {
		return ballot.BatchRecord{}, fmt.Errorf("invalid state %q", state)
	}
	r, ok := f[fmt.Sprintf("%s/%d", state, seq)]
	if !ok {
		return r, ballot.ErrNotFound
	}
	return r, nil
}

func (f fakeLedger) Height(context.Context) (uint64, error) { return fakeHeight, nil }

// LocateNullifier finds no nullifier: a vote rejected as a duplicate
// contradicts it (locatingLedger locates one).
func (f fakeLedger) LocateNullifier(context.Context, string, string) (ballot.NullifierRecord, error) {
	return ballot.NullifierRecord{}, ballot.ErrNotFound
}

// countedAt is a ledger's nullifiers, every one counted with the vote of
// at; reads counts the reads of them.
type countedAt struct {
	at    ballot.NullifierRecord
	reads int
}

func (c *countedAt) LocateNullifier(context.Context, string, string) (ballot.NullifierRecord, error) {
	c.reads++
	return c.at, nil
}

// locatingLedger is a fakeLedger whose nullifiers are countedAt's.
type locatingLedger struct {
	fakeLedger
	*countedAt
}

func (l locatingLedger) LocateNullifier(ctx context.Context, state, nullifier string) (ballot.NullifierRecord, error) {
	return l.countedAt.LocateNullifier(ctx, state, nullifier)
}

func (f fakeLedger) Election(context.Context) (*ballot.Election, error) {
	return &ballot.Election{ID: "e1", Status: ballot.StatusClosed}, nil
}

// finalisedLedger is a fakeLedger whose election is finalised. Reading the
// election record also brings the batches of late, committed in the blocks
// before the finalise (after a checker's first read of the batch); reads
// counts the reads of the record.
type finalisedLedger struct {
	fakeLedger
	late  fakeLedger
	reads int
}

func (l *finalisedLedger) Election(context.Context) (*ballot.Election, error) {
	l.reads++
	maps.Copy(l.fakeLedger, l.late)
	return &ballot.Election{ID: "e1", Status: ballot.StatusFinalised}, nil
}

// laggingLedger is a peer at height 3, short of the block (3) of the
// test's receipts; it commits that block, and with it the batch, when
// asked its height for the catchUp-th time (never if 0).
type laggingLedger struct {
	fakeLedger
	batch   ballot.BatchRecord
	catchUp int
	asked   int
}

func (l *laggingLedger) Height(context.Context) (uint64, error) {
	l.asked++
	if l.asked == l.catchUp {
		l.fakeLedger["CA/7"] = l.batch
		return fakeHeight, nil
	}
	return 3, nil
}

// contests are the contests the test votes name, in turn.
var contests = []struct{ id, choice string }{{"president", "alice"}, {"L2025-001", "yes"}}

// committed returns the receipts of a 5-vote batch over two contests whose
// vote 2 was a duplicate and vote 3 rejected as not on the roll, and the
// ledger holding its record.
func committed(t *testing.T) ([]ballot.Receipt, fakeLedger) {
	t.Helper()
	var votes []ballot.Vote
	for i := 0; i < 5; i++ {
		id, _ := ballot.NewVoteID()
		c := contests[i%2]
		votes = append(votes, ballot.Vote{ID: id, State: "CA", Contest: c.id, Nullifier: ballot.HashHex(ballot.NullifierOf([32]byte{byte(i)}, c.id)), Choice: c.choice, CastAt: 1})
	}
	b, err := ballot.BuildBatch("CA", 7, votes)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := b.Receipts()
	if err != nil {
		t.Fatal(err)
	}
	rec := ballot.BatchRecord{State: "CA", Seq: 7, Root: b.Root, Votes: 5, Counted: 3, Rejected: []int{2, 3},
		Reasons: []string{ballot.RejectDuplicate, ballot.RejectNotOnRoll}, TxID: "tx7"}
	for i := range rs {
		rs[i] = rs[i].Committed(rec, 3)
		rs[i].Vote = &votes[i]
	}
	if rs[2].Status != ballot.ReceiptDuplicate || rs[3].Status != ballot.ReceiptRejected {
		t.Fatalf("receipts of rejected votes say %s and %s", rs[2].Status, rs[3].Status)
	}
	return rs, fakeLedger{"CA/7": rec}
}

// TestGenuineReceiptsPass: each passes (the duplicate a re-send of a vote
// counted before), and the summary names the status, the reason of a
// rejection other than a duplicate, the choice and the contest.
func TestGenuineReceiptsPass(t *testing.T) {
	rs, ledger := committed(t)
	c := NewChecker(locatingLedger{ledger, &countedAt{at: ballot.NullifierRecord{State: "CA", Seq: 6, VoteID: rs[2].VoteID}}})
	want := []string{
		"counted for alice in contest president,",
		"counted for yes in contest L2025-001,",
		"duplicate for alice in contest president,",
		"rejected (not_on_roll) for yes in contest L2025-001,",
		"counted for alice in contest president,",
	}
	for i, r := range rs {
		if summary, err := c.check(context.Background(), r); err != nil || !strings.HasPrefix(summary, want[i]) {
			t.Errorf("receipt %d: %q, %v; want it to start %q", r.Index, summary, err, want[i])
		}
	}
	if got := label(rs[1]); got != rs[1].VoteID+" (contest L2025-001)" {
		t.Errorf("label %q", got)
	}
	if got := label(ballot.Receipt{VoteID: "v"}); got != "v" {
		t.Errorf("label of a receipt without its vote: %q", got)
	}
}

// hasLine reports whether out holds line, a whole line with its "\n".
func hasLine(out, line string) bool {
	return slices.Contains(strings.SplitAfter(out, "\n"), line)
}

// flip changes one hex digit.
func flip(s string) string {
	if s[0] == '0' {
		return "1" + s[1:]
	}
	return "0" + s[1:]
}

func TestTamperedReceiptsFailWithTheReason(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(r *ballot.Receipt, l fakeLedger)
		reason string
	}{
		{"choice changed", func(r *ballot.Receipt, _ fakeLedger) { v := *r.Vote; v.Choice = "bob"; r.Vote = &v }, "is not the leaf"},
		{"contest changed", func(r *ballot.Receipt, _ fakeLedger) { v := *r.Vote; v.Contest = "L2025-001"; r.Vote = &v }, "is not the leaf"},
		{"nullifier byte", func(r *ballot.Receipt, _ fakeLedger) { v := *r.Vote; v.Nullifier = flip(v.Nullifier); r.Vote = &v }, "is not the leaf"},
		{"proof byte", func(r *ballot.Receipt, _ fakeLedger) { r.Proof[0] = flip(r.Proof[0]) }, "root"},
		{"proof shortened", func(r *ballot.Receipt, _ fakeLedger) { r.Proof = r.Proof[1:] }, "proof"},
		{"root byte", func(r *ballot.Receipt, _ fakeLedger) { r.Root = flip(r.Root) }, "root"},
		{"index moved", func(r *ballot.Receipt, _ fakeLedger) { r.Index = 1 }, ""},
		{"other vote id", func(r *ballot.Receipt, _ fakeLedger) { r.VoteID = flip(r.VoteID) }, "receipt is for vote"},
		{"no vote", func(r *ballot.Receipt, _ fakeLedger) { r.Vote = nil }, "no vote"},
		{"ledger root differs", func(_ *ballot.Receipt, l fakeLedger) { rec := l["CA/7"]; rec.Root = flip(rec.Root); l["CA/7"] = rec }, "the ledger recorded"},
		{"batch not on the ledger", func(_ *ballot.Receipt, l fakeLedger) { delete(l, "CA/7") }, "has no batch"},
		{"other transaction", func(r *ballot.Receipt, _ fakeLedger) { r.TxID = "forged" }, "transaction"},
		{"duplicate claimed counted", func(r *ballot.Receipt, l fakeLedger) { rec := l["CA/7"]; rec.Rejected = []int{0}; l["CA/7"] = rec }, "the ledger says duplicate"},
		{"unknown status", func(r *ballot.Receipt, _ fakeLedger) { r.Status = "approved" }, "receipt says approved"},
		// not receipts at all: failed without asking the ledger (which refuses the state)
		{"empty object", func(r *ballot.Receipt, _ fakeLedger) { *r = ballot.Receipt{} }, `not a receipt: its vote_id "" is not`},
		{"invalid state", func(r *ballot.Receipt, _ fakeLedger) { r.State = "ca/1" }, `not a receipt: its state "ca/1" is not a state code`},
		{"invalid vote id", func(r *ballot.Receipt, _ fakeLedger) { r.VoteID = "../../healthz" }, "not a receipt: its vote_id"},
		// pending, but no vote has such an id: never reported PENDING
		{"pending, vote id short", func(r *ballot.Receipt, _ fakeLedger) { r.Status = ballot.ReceiptPending; r.VoteID = r.VoteID[:31] }, "not a receipt: its vote_id"},
		{"pending, vote id long", func(r *ballot.Receipt, _ fakeLedger) { r.Status = ballot.ReceiptPending; r.VoteID += "0" }, "not a receipt: its vote_id"},
		{"pending, vote id upper-case", func(r *ballot.Receipt, _ fakeLedger) {
			r.Status = ballot.ReceiptPending
			r.VoteID = strings.ToUpper(r.VoteID)
		}, "is not 32 lower-case hex characters"},
		{"pending, vote id not hex", func(r *ballot.Receipt, _ fakeLedger) { r.Status = ballot.ReceiptPending; r.VoteID = "g" + r.VoteID[1:] }, "not a receipt: its vote_id"},
		{"pending, no vote id", func(r *ballot.Receipt, _ fakeLedger) { *r = ballot.Receipt{Status: ballot.ReceiptPending} }, `not a receipt: its vote_id "" is not`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs, ledger := committed(t)
			r := rs[0]
			c.tamper(&r, ledger)
			_, err := NewChecker(ledger).check(context.Background(), r)
			if err == nil || !strings.Contains(err.Error(), c.reason) {
				t.Fatalf("tampered receipt: %v; want a failure mentioning %q", err, c.reason)
			}
		})
	}
}

// TestPendingIsNotAFailure: a pending receipt as the gateway serves it (a
// vote id, and a state or none) is pending, whatever else it lacks.
func TestPendingIsNotAFailure(t *testing.T) {
	id, _ := ballot.NewVoteID()
	for _, r := range []ballot.Receipt{
		{VoteID: id, Status: ballot.ReceiptPending},
		{VoteID: id, State: "CA", Status: ballot.ReceiptPending},
	} {
		if _, err := NewChecker(fakeLedger{}).check(context.Background(), r); err != errPending {
			t.Errorf("pending receipt %+v: %v; want errPending", r, err)
		}
	}
}

// TestReceiptAheadOfThePeer: a receipt whose block the peer has not yet
// committed is not a failure: the check waits for the peer and passes once
// the batch is there; one the peer stays short of is errAhead (pending, no
// verdict) after the wait, which is the checker's for all its receipts: a
// receipt ahead of the peer after it is errAhead at once.
func TestReceiptAheadOfThePeer(t *testing.T) {
	rs, ledger := committed(t)
	l := &laggingLedger{fakeLedger: fakeLedger{}, batch: ledger["CA/7"], catchUp: 3}
	if _, err := NewChecker(l).check(context.Background(), rs[0]); err != nil {
		t.Fatalf("receipt of a block the peer commits a moment later: %v", err)
	}
	if l.asked != 3 {
		t.Errorf("the peer was asked its height %d times; want 3 (it reached the block then)", l.asked)
	}

	l = &laggingLedger{fakeLedger: fakeLedger{}, batch: ledger["CA/7"]}
	c := NewChecker(l)
	c.peerWait = 50 * time.Millisecond
	_, err := c.check(context.Background(), rs[0])
	if !errors.Is(err, errAhead) || !strings.Contains(err.Error(), "the receipt names block 3 for batch CA/7, and the peer is at height 3") {
		t.Fatalf("receipt of a block the peer never reaches: %v; want errAhead naming the block and the height", err)
	}
	other := rs[0]
	other.Seq = 8
	asked := l.asked
	if _, err := c.check(context.Background(), other); !errors.Is(err, errAhead) || l.asked != asked+1 {
		t.Fatalf("a second receipt ahead of the peer, after the wait: %v, the height asked %d times; want errAhead at once (asked once)", err, l.asked-asked)
	}
}

// TestReceiptOfNoBatchInAFinalisedElection: once the election is
// finalised no batch can be committed, so a receipt whose batch the ledger
// lacks FAILs at once, whatever block it names (the largest here), with
// no wait for the peer; the election record, once finalised, is not read
// again. A batch committed before the finalise, which the checker's first
// read missed, is read again after the finalised record, and passes.
func TestReceiptOfNoBatchInAFinalisedElection(t *testing.T) {
	rs, ledger := committed(t)
	l := &finalisedLedger{fakeLedger: ledger}
	c := NewChecker(l)
	c.peerWait = 100 * time.Millisecond // then errAhead: a wait fails the test
	for seq := uint64(8); seq <= 9; seq++ {
		forged := rs[1]
		forged.Seq, forged.Block = seq, math.MaxUint64
		_, err := c.check(context.Background(), forged)
		want := fmt.Sprintf("the ledger has no batch CA/%d, and its election is finalised: no batch can be committed any more (the receipt names block %d, the peer is at height %d)", seq, uint64(math.MaxUint64), fakeHeight)
		if err == nil || errors.Is(err, errAhead) || errors.Is(err, errLedger) || err.Error() != want {
			t.Fatalf("a receipt of batch CA/%d, which the finalised ledger lacks: %v; want the failure %q", seq, err, want)
		}
	}
	if l.reads != 1 {
		t.Errorf("the election record was read %d times; want once (finalised for good)", l.reads)
	}
	if _, err := c.check(context.Background(), rs[0]); err != nil {
		t.Errorf("a genuine receipt in the finalised election: %v", err)
	}

	late := rs[0]
	late.Block = fakeHeight // the peer has not reached it when first asked
	l = &finalisedLedger{fakeLedger: fakeLedger{}, late: ledger}
	if _, err := NewChecker(l).check(context.Background(), late); err != nil {
		t.Errorf("a receipt whose batch the peer commits before the finalised record it reads next: %v; want it read again, and PASS", err)
	}
}

// TestReceiptsAheadOfThePeerArePending: receipts ahead of the peer are
// PENDING (exit status 3) and the receipts after them are still checked
// (the first ended verify with "cannot read the ledger"); in a finalised
// election the same receipts FAIL (exit status 1).
func TestReceiptsAheadOfThePeerArePending(t *testing.T) {
	rs, ledger := committed(t)
	ahead := func(r ballot.Receipt, seq uint64) ballot.Receipt {
		r.Seq, r.Block = seq, math.MaxUint64 // a batch the ledger lacks, in a block far ahead
		return r
	}
	var read []Decoded[ballot.Receipt]
	for _, r := range []ballot.Receipt{ahead(rs[1], 8), ahead(rs[3], 9), rs[0]} {
		read = append(read, Decoded[ballot.Receipt]{V: r, At: "test"})
	}
	for _, c := range []struct {
		ledger            BatchRecords
		pending, fail, ok int
		exit              Verdict
		line              string
	}{
		{ledger, 2, 0, 1, Pending, "PENDING " + label(read[0].V) + ": not on the peer yet: the receipt names block 18446744073709551615 for batch CA/8, and the peer is at height 4"},
		{&finalisedLedger{fakeLedger: ledger}, 0, 2, 1, Failed, "FAIL " + label(read[0].V) + ": the ledger has no batch CA/8, and its election is finalised"},
	} {
		chk := NewChecker(c.ledger)
		chk.peerWait = 50 * time.Millisecond
		var out bytes.Buffer
		tally, err := CheckReceipts(context.Background(), &out, chk, read, false, nil)
		if err != nil || tally.pending != c.pending || tally.fail != c.fail || tally.ok != c.ok || tally.Verdict() != c.exit || !strings.Contains(out.String(), c.line) ||
			!strings.Contains(out.String(), "PASS "+label(rs[0])) {
			t.Errorf("tally %+v (verdict %v), %v:\n%s\nwant %d pending, %d failed, %d passed (verdict %v), a line %q and the genuine receipt's PASS",
				tally, tally.Verdict(), err, out.String(), c.pending, c.fail, c.ok, c.exit, c.line)
		}
	}
}

// counted is a Progress that counts the units it is told of.
type counted struct{ n int64 }

func (c *counted) Add(n int64) { c.n += n }

// TestCheckReceiptsTellsProgress: CheckReceipts tells its Progress of each
// receipt it checks, one that FAILs included.
func TestCheckReceiptsTellsProgress(t *testing.T) {
	rs, ledger := committed(t)
	bad := rs[1]
	bad.State = "??"
	read := []Decoded[ballot.Receipt]{{V: rs[0], At: "test"}, {V: bad, At: "test"}, {V: rs[2], At: "test"}}
	var progress counted
	tally, err := CheckReceipts(context.Background(), io.Discard, NewChecker(ledger), read, false, &progress)
	if err != nil || progress.n != int64(len(read)) || tally.total() != len(read) || tally.fail == 0 {
		t.Errorf("progress told of %d receipts, tally %+v, %v; want %d, each counted, the bad one failed", progress.n, tally, err, len(read))
	}
}

// TestQuietLeavesOutPassOnly: -q (quiet) leaves a receipt check's PASS
// lines out and prints its FAIL and PENDING lines as without it, with the
// same tally.
func TestQuietLeavesOutPassOnly(t *testing.T) {
	rs, ledger := committed(t)
	bad := rs[1]
	bad.State = "??"
	id, _ := ballot.NewVoteID()
	var read []Decoded[ballot.Receipt]
	for _, r := range []ballot.Receipt{rs[0], bad, {VoteID: id, Status: ballot.ReceiptPending}, rs[3]} {
		read = append(read, Decoded[ballot.Receipt]{V: r, At: "test"})
	}
	lines := func(quiet bool) ([]string, Outcomes) {
		var out bytes.Buffer
		tally, err := CheckReceipts(context.Background(), &out, NewChecker(ledger), read, quiet, nil)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n"), tally
	}
	all, tally := lines(false)
	quiet, quietTally := lines(true)
	var want []string
	for _, l := range all {
		if !strings.HasPrefix(l, "PASS ") {
			want = append(want, l)
		}
	}
	if len(all) != 4 || len(want) != 2 || strings.Join(quiet, "\n") != strings.Join(want, "\n") || quietTally != tally {
		t.Errorf("-q printed (tally %+v):\n%s\nwithout -q (tally %+v):\n%s\nwant the same lines but the PASS ones (one FAIL, one PENDING)", quietTally, strings.Join(quiet, "\n"), tally, strings.Join(all, "\n"))
	}
}

// TestDuplicateReceiptSaysWhereCounted: a receipt of a vote the ledger
// rejected as a duplicate says where the ledger counted its nullifier (one
// read, none for the other receipts): with the same vote id, a re-send,
// harmless, it PASSes (status 0); with another vote id it is DUPLICATE,
// even with -q, saying another vote with the voter's credentials was
// counted first and to contact the election's officials (status 4, in the
// summary); a nullifier the ledger does not hold as used FAILs, the line
// saying to check again through the other organisation's peer (--peer).
// The old code passed all three without a word.
func TestDuplicateReceiptSaysWhereCounted(t *testing.T) {
	rs, records := committed(t)
	dup := rs[2] // rejected as a duplicate
	other, _ := ballot.NewVoteID()
	read := []Decoded[ballot.Receipt]{{V: rs[0]}, {V: dup}, {V: rs[3]}}
	cases := []struct {
		name   string
		ledger BatchRecords
		line   string
		tally  Outcomes
		exit   Verdict
	}{
		{"same vote id", locatingLedger{records, &countedAt{at: ballot.NullifierRecord{State: "CA", Seq: 6, Index: 4, VoteID: dup.VoteID}}},
			"PASS " + label(dup) + ": duplicate for alice in contest president, leaf 2 of 5 in batch CA/7, root on the ledger (tx tx7…, block 3); its nullifier was counted with this same vote " +
				dup.VoteID + " (index 4 of batch CA/6): this copy was a re-send of it, which is harmless, and the vote counts once\n",
			Outcomes{ok: 3}, Passed},
		{"another vote id", locatingLedger{records, &countedAt{at: ballot.NullifierRecord{State: "CA", Seq: 6, Index: 4, VoteID: other}}},
			"DUPLICATE " + label(dup) + ": duplicate for alice in contest president, leaf 2 of 5 in batch CA/7, root on the ledger (tx tx7…, block 3); another vote with this voter's credentials was counted first: its nullifier was counted with vote " +
				other + " (index 4 of batch CA/6), not with this vote " + dup.VoteID + "; if the voter cast only this vote, someone else voted with their credentials: contact the election's officials\n",
			Outcomes{ok: 2, otherCounted: 1}, Duplicate},
		{"nullifier not located", records,
			"FAIL " + label(dup) + ": the ledger rejected vote " + dup.VoteID + " as a duplicate, yet holds its nullifier " + dup.Vote.Nullifier + " as unused in CA: its records contradict each other; check again through the other organisation's peer (--peer)\n",
			Outcomes{ok: 2, fail: 1}, Failed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, quiet := range []bool{false, true} {
				var out bytes.Buffer
				tally, err := CheckReceipts(context.Background(), &out, NewChecker(c.ledger), read, quiet, nil)
				if err != nil || tally != c.tally || tally.Verdict() != c.exit {
					t.Fatalf("quiet %t: tally %+v (verdict %v), %v; want %+v, verdict %v:\n%s", quiet, tally, tally.Verdict(), err, c.tally, c.exit, out.String())
				}
				if shown := !quiet || !strings.HasPrefix(c.line, "PASS "); shown != hasLine(out.String(), c.line) {
					t.Errorf("quiet %t: output has the line %q: %t, want %t:\n%s", quiet, c.line, !shown, shown, out.String())
				}
			}
			if l, ok := c.ledger.(locatingLedger); ok && l.reads != 2 { // once a run, for the duplicate only
				t.Errorf("%d nullifier reads in two runs, want 2", l.reads)
			}
		})
	}
	if got, want := ReceiptSummary(Outcomes{ok: 2, otherCounted: 1}), "2 passed, 0 failed, 0 pending, 1 duplicate of another vote counted first"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	if got, want := ReceiptSummary(Outcomes{ok: 2}), "2 passed, 0 failed, 0 pending"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}
