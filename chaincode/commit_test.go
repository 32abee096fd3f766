package chaincode

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/votechain/votechain/ballot"
)

func TestCommitBatch(t *testing.T) {
	h := newHarness(t)
	h.open()
	b := batch(t, "CA", 1, votes("CA", 0, 5))
	rec, err := h.commit(b)
	if err != nil {
		t.Fatal(err)
	}
	want := ballot.BatchRecord{State: "CA", Seq: 1, Root: b.Root, Votes: 5, Counted: 5,
		Tallies: ballot.Tally{president: {"alice": 3, "bob": 2}}, Rejected: []int{}, Reasons: []string{}, TxID: "tx2", CommittedAt: h.now.UnixMilli()}
	if !recordsEqual(rec, want) {
		t.Fatalf("record %+v, want %+v", rec, want)
	}
	// One read exchange for every nullifier (whose key also holds the
	// roll's mark), the batch key, the election and the roll seal; one
	// write exchange for every
	// nullifier and the batch record. No range reads.
	s := h.stub
	if s.gets != 0 || s.multiGets != 1 || s.keysRead != 5+3 || s.puts != 5+1 || s.writeExchanges != 1 || s.ranges != 0 {
		t.Fatalf("ledger calls: %d GetState, %d GetMultipleStates of %d keys, %d PutState in %d exchanges, %d ranges",
			s.gets, s.multiGets, s.keysRead, s.puts, s.writeExchanges, s.ranges)
	}
	ev := h.stub.event
	wantEvent := `{"state":"CA","seq":1,"root":"` + b.Root + `","counted":5,"rejected":[],"reasons":[],"tallies":{"president":{"alice":3,"bob":2}}}`
	if ev == nil || ev.name != "BatchCommitted" || string(ev.payload) != wantEvent {
		t.Fatalf("event %+v, want BatchCommitted %s", ev, wantEvent)
	}

	got := h.must(observerAdmin, func(ctx contractapi.TransactionContextInterface) (string, error) { return h.cc.GetBatch(ctx, "CA", 1) })
	var stored ballot.BatchRecord
	if err := json.Unmarshal([]byte(got), &stored); err != nil || !recordsEqual(stored, want) {
		t.Fatalf("GetBatch = %s (%v)", got, err)
	}
	loc := h.must(observerAdmin, locate(h, "CA", b.Votes[3].Nullifier))
	if wantLoc := `{"state":"CA","contest":"president","seq":1,"index":3,"vote_id":"` + b.Votes[3].ID + `"}`; loc != wantLoc {
		t.Fatalf("LocateNullifier = %s, want %s", loc, wantLoc)
	}
	// The ledger holds the record's compact value, the state left to the key.
	stored3 := s.state[ballot.NullifierKey("CA", b.Votes[3].Nullifier)]
	if want, _ := (ballot.NullifierRecord{State: "CA", Contest: president, Seq: 1, Index: 3, VoteID: b.Votes[3].ID}).Value(); !bytes.Equal(stored3, want) {
		t.Fatalf("nullifier value %x, want %x", stored3, want)
	}
}

func recordsEqual(a, b ballot.BatchRecord) bool {
	return a.State == b.State && a.Seq == b.Seq && a.Root == b.Root && a.Votes == b.Votes && a.Counted == b.Counted &&
		a.Tallies.Equal(b.Tallies) && slices.Equal(a.Rejected, b.Rejected) && a.Rejected != nil &&
		slices.Equal(a.Reasons, b.Reasons) && a.Reasons != nil &&
		a.TxID == b.TxID && a.CommittedAt == b.CommittedAt
}

func locate(h *harness, state, nullifier string) txFunc {
	return func(ctx contractapi.TransactionContextInterface) (string, error) {
		return h.cc.LocateNullifier(ctx, state, nullifier)
	}
}

func TestCommitBatchRefusals(t *testing.T) {
	good := votes("CA", 0, 3)
	forgedRoot := batch(t, "CA", 1, good)
	forgedRoot.Root = batch(t, "CA", 1, good[:2]).Root
	forgedTally := batch(t, "CA", 1, good)
	forgedTally.Tallies = ballot.Tally{president: {"alice": 3}}

	tests := []struct {
		name   string
		caller fakeIdentity
		batch  ballot.Batch
		raw    string // used instead of batch when set
		before bool   // submit before the window opens
		has    string
	}{
		{"observer caller", observerAdmin, batch(t, "CA", 1, good), "", false, "not a CommissionMSP client"},
		{"malformed", commissionClient, ballot.Batch{}, `{"state":`, false, "decode batch"},
		{"forged root", commissionClient, forgedRoot, "", false, "root does not match"},
		{"forged tally", commissionClient, forgedTally, "", false, "tallies do not match"},
		{"unknown state", commissionClient, batch(t, "TX", 1, votes("TX", 0, 1)), "", false, "state TX is not in election"},
		{"committed before opening", commissionClient, batch(t, "CA", 1, good), "", true, "opens at"},
	}
	for _, tt := range tests {
		h := newHarness(t)
		h.open()
		if tt.before {
			h.now = opens.Add(-time.Second)
		}
		fn := h.commitFn(tt.batch)
		if tt.raw != "" {
			fn = func(ctx contractapi.TransactionContextInterface) (string, error) {
				return h.cc.CommitBatch(ctx, tt.raw)
			}
		}
		_, err := h.call(tt.caller, fn)
		wantErr(t, tt.name, err, tt.has)
		if _, err := h.call(observerAdmin, locate(h, "CA", good[0].Nullifier)); err == nil {
			t.Errorf("%s: refused batch left a nullifier behind", tt.name)
		}
	}
}

// TestCommitBatchRejectsVotesByRule: votes the election refuses are recorded
// as rejected with their reasons, use no nullifier, and the rest of the
// batch is counted.
func TestCommitBatchRejectsVotesByRule(t *testing.T) {
	h := newHarness(t)
	h.open()
	vs := votes("CA", 0, 10)
	vs[1].Choice = "carol"               // unknown choice
	vs[2].CastAt = opens.UnixMilli() - 1 // before opening
	vs[3].CastAt = closes.UnixMilli()    // at closing
	vs[5].CastAt = h.now.UnixMilli() + 1 // after the transaction
	vs[6] = vote("CA", 0, "alice")       // duplicate of vote 0
	vs[7] = vote("CA", 2, "bob")         // same voter as the refused vote 2: counts
	vs[8].Contest = "senate"             // unknown contest
	vs[9].Contest = prop                 // "bob" is not an answer to the proposition
	rec, err := h.commit(batch(t, "CA", 1, vs))
	if err != nil {
		t.Fatalf("a batch with refused votes was refused: %v", err)
	}
	if h.stub.writeExchanges != 1 {
		t.Errorf("%d write exchanges, want 1", h.stub.writeExchanges)
	}
	wantRejected := []int{1, 2, 3, 5, 6, 8, 9}
	wantReasons := []string{ballot.RejectUnknownChoice, ballot.RejectOutsideWindow, ballot.RejectOutsideWindow,
		ballot.RejectCastAfterTx, ballot.RejectDuplicate, ballot.RejectUnknownContest, ballot.RejectUnknownChoice}
	if !slices.Equal(rec.Rejected, wantRejected) || !slices.Equal(rec.Reasons, wantReasons) ||
		rec.Counted != 3 || !rec.Tallies.Equal(ballot.Tally{president: {"alice": 2, "bob": 1}}) {
		t.Fatalf("record %+v; want rejected %v for %v, 3 counted", rec, wantRejected, wantReasons)
	}
	var ev ballot.BatchEvent
	json.Unmarshal(h.stub.event.payload, &ev)
	if !slices.Equal(ev.Reasons, wantReasons) {
		t.Errorf("event reasons %v, want %v", ev.Reasons, wantReasons)
	}
	for _, i := range []int{1, 3, 5, 8, 9} { // refused votes use no nullifier
		if _, err := h.call(observerAdmin, locate(h, "CA", vs[i].Nullifier)); err == nil {
			t.Errorf("refused vote %d used its nullifier", i)
		}
	}
	loc := h.must(observerAdmin, locate(h, "CA", vs[7].Nullifier))
	if !strings.Contains(loc, `"index":7`) {
		t.Errorf("vote 7 (its voter's first vote refused) located at %s", loc)
	}
}

// TestClockSkew: each peer refuses a transaction whose time is more than
// MaxClockSkew from its own clock, either way, with ballot.ClockSkewMark
// (the client's clock to fix).
func TestClockSkew(t *testing.T) {
	h := newHarness(t)
	h.open()
	b := batch(t, "CA", 1, votes("CA", 0, 2))
	for _, skew := range []time.Duration{MaxClockSkew + time.Millisecond, -MaxClockSkew - time.Millisecond} {
		h.skew = skew
		for name, fn := range map[string]txFunc{"commit": h.commitFn(b), "close": h.cc.CloseElection} {
			caller := commissionClient
			if name == "close" {
				caller = commissionAdmin
			}
			_, err := h.call(caller, fn)
			wantErr(t, fmt.Sprintf("%s with the peer %s off", name, skew), err, "from this peer's clock")
			wantErr(t, fmt.Sprintf("%s with the peer %s off", name, skew), err, ballot.ClockSkewMark)
		}
	}
	h.skew = MaxClockSkew
	if _, err := h.commit(b); err != nil {
		t.Fatalf("commit at the skew bound: %v", err)
	}
}

// TestCommitBatchOnlyByBatchers: only the batchers the election record
// names may commit; another Commission client (the gateway's, the
// explorer's) cannot commit a batch, nor even retry a committed one.
func TestCommitBatchOnlyByBatchers(t *testing.T) {
	h := newHarness(t)
	e := testElection()
	second := fakeIdentity{msp: CommissionMSP, ous: []string{"client"}, cn: "User3@commission.votechain.test"}
	e.Batchers = append(e.Batchers, second.cn)
	h.must(commissionAdmin, h.setupFn(e))
	h.now = opens.Add(time.Hour)
	b := batch(t, "CA", 1, votes("CA", 0, 2))
	for _, c := range []fakeIdentity{gatewayClient, {msp: CommissionMSP, ous: []string{"client"}}} {
		_, err := h.call(c, h.commitFn(b))
		wantErr(t, "commit by "+c.cn, err, "is not a batcher")
	}
	h.must(commissionClient, h.commitFn(b))
	_, err := h.call(gatewayClient, h.commitFn(b))
	wantErr(t, "retry by the gateway", err, "is not a batcher")
	h.must(second, h.commitFn(batch(t, "CA", 2, votes("CA", 2, 2))))
	outsider := fakeIdentity{msp: "ObserversMSP", ous: []string{"client"}, cn: batcherCN}
	_, err = h.call(outsider, h.commitFn(b))
	wantErr(t, "commit by another MSP", err, "not a CommissionMSP client")
}

// TestSetupElectionRequiresBatchers: a record that names no batcher, which
// would leave CommitBatch open to any Commission client or to none, is
// refused at set-up with the fix in the message.
func TestSetupElectionRequiresBatchers(t *testing.T) {
	h := newHarness(t)
	for _, batchers := range [][]string{nil, {}} {
		e := testElection()
		e.Batchers = batchers
		_, err := h.call(commissionAdmin, h.setupFn(e))
		wantErr(t, "set-up without batchers", err, `names no batchers: list the certificate common names`)
	}
	if _, err := h.call(commissionAdmin, h.cc.GetElection); err == nil {
		t.Fatal("a refused set-up left an election record")
	}
}

func TestCommitBatchWithoutElection(t *testing.T) {
	h := newHarness(t)
	_, err := h.commit(batch(t, "CA", 1, votes("CA", 0, 1)))
	wantErr(t, "no election", err, "no election")
}

func TestCommitBatchBound(t *testing.T) {
	h := newHarness(t)
	h.open()
	_, err := h.commit(batch(t, "CA", 1, votes("CA", 0, MaxBatchVotes+1)))
	wantErr(t, "oversized batch", err, "exceeds the bound")
}

func TestCommitBatchDuplicates(t *testing.T) {
	h := newHarness(t)
	h.open()
	// Inside one batch: voter 0 votes three times, only the first counts.
	first := append(votes("CA", 0, 3), vote("CA", 0, "bob"), vote("CA", 0, "alice"))
	rec, err := h.commit(batch(t, "CA", 1, first))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Counted != 3 || !slices.Equal(rec.Rejected, []int{3, 4}) || !rec.Tallies.Equal(ballot.Tally{president: {"alice": 2, "bob": 1}}) {
		t.Fatalf("in-batch duplicates: %+v", rec)
	}
	if h.stub.keysRead != 3+3 || h.stub.puts != 3+1 {
		t.Fatalf("in-batch duplicates: %d keys read, %d written; want each nullifier read and written once", h.stub.keysRead, h.stub.puts)
	}
	// Across batches: voters 1 and 2 again, with voter 3 new.
	second := append([]ballot.Vote{vote("CA", 1, "alice")}, vote("CA", 3, "bob"), vote("CA", 2, "bob"))
	rec, err = h.commit(batch(t, "CA", 2, second))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Counted != 1 || !slices.Equal(rec.Rejected, []int{0, 2}) || !rec.Tallies.Equal(ballot.Tally{president: {"bob": 1}}) {
		t.Fatalf("cross-batch duplicates: %+v", rec)
	}
	var ev ballot.BatchEvent
	json.Unmarshal(h.stub.event.payload, &ev)
	if ev.Counted != 1 || !slices.Equal(ev.Rejected, []int{0, 2}) || !ev.Tallies.Equal(ballot.Tally{president: {"bob": 1}}) {
		t.Fatalf("event %+v", ev)
	}
	// The nullifier still locates the first, counted vote.
	loc := h.must(observerAdmin, locate(h, "CA", second[0].Nullifier))
	if !strings.Contains(loc, `"seq":1,"index":1`) {
		t.Fatalf("duplicate moved the nullifier: %s", loc)
	}
	res := results(t, h)
	if res.Counted != 4 || res.Rejected != 4 || !res.National.Equal(ballot.Tally{president: {"alice": 2, "bob": 2}}) {
		t.Fatalf("results %+v", res)
	}
}

func TestCommitBatchIdempotent(t *testing.T) {
	h := newHarness(t)
	h.open()
	b := batch(t, "NY", 7, votes("NY", 0, 4))
	first := h.must(commissionClient, h.commitFn(b))

	h.now = h.now.Add(time.Minute)
	again := h.must(commissionClient, h.commitFn(b))
	if again != first {
		t.Fatalf("resubmission returned %s, want %s", again, first)
	}
	if h.stub.puts != 0 || h.stub.event != nil {
		t.Fatalf("resubmission wrote %d keys, event %v", h.stub.puts, h.stub.event)
	}

	other := batch(t, "NY", 7, votes("NY", 100, 4))
	_, err := h.call(commissionClient, h.commitFn(other))
	wantErr(t, "different root, same id", err, "already committed with root")
	if res := results(t, h); res.Counted != 4 {
		t.Fatalf("counted %d after resubmissions, want 4", res.Counted)
	}
}

func TestCommitBatchReadFailure(t *testing.T) {
	h := newHarness(t)
	h.open()
	h.stub.failOn = "GetMultipleStates"
	_, err := h.commit(batch(t, "CA", 1, votes("CA", 0, 1)))
	wantErr(t, "read failure", err, "injected")
}

// TestCommitBatchContests: one-person-one-vote is per voter and contest. A
// voter's votes in two contests both count, in one batch and across
// batches; a second vote in the same contest is a duplicate; each nullifier
// record names its contest; the tallies are per contest.
func TestCommitBatchContests(t *testing.T) {
	h := newHarness(t)
	h.open()
	first := []ballot.Vote{
		voteIn("CA", 0, president, "alice"), voteIn("CA", 0, prop, "yes"), // voter 0 in both contests
		voteIn("CA", 1, president, "bob"),
		voteIn("CA", 0, prop, "no"), // voter 0 again on the proposition
	}
	rec, err := h.commit(batch(t, "CA", 1, first))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Counted != 3 || !slices.Equal(rec.Rejected, []int{3}) || !slices.Equal(rec.Reasons, []string{ballot.RejectDuplicate}) ||
		!rec.Tallies.Equal(ballot.Tally{president: {"alice": 1, "bob": 1}, prop: {"yes": 1}}) {
		t.Fatalf("first batch: %+v", rec)
	}
	for i, contest := range []string{president, prop} {
		var loc ballot.NullifierRecord
		json.Unmarshal([]byte(h.must(observerAdmin, locate(h, "CA", first[i].Nullifier))), &loc)
		if loc != (ballot.NullifierRecord{State: "CA", Contest: contest, Seq: 1, Index: i, VoteID: first[i].ID}) {
			t.Errorf("nullifier of voter 0 for %s: %+v", contest, loc)
		}
	}
	// Across batches: voter 1 on the proposition counts, voter 0 again for
	// president and voter 1 again for president are duplicates.
	second := []ballot.Vote{voteIn("CA", 1, prop, "no"), voteIn("CA", 0, president, "bob"), voteIn("CA", 1, president, "alice")}
	rec, err = h.commit(batch(t, "CA", 2, second))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Counted != 1 || !slices.Equal(rec.Rejected, []int{1, 2}) || !slices.Equal(rec.Reasons, []string{ballot.RejectDuplicate, ballot.RejectDuplicate}) ||
		!rec.Tallies.Equal(ballot.Tally{prop: {"no": 1}}) {
		t.Fatalf("second batch: %+v", rec)
	}
	var ev ballot.BatchEvent
	json.Unmarshal(h.stub.event.payload, &ev)
	if !ev.Tallies.Equal(ballot.Tally{prop: {"no": 1}}) {
		t.Errorf("event tallies %v", ev.Tallies)
	}
	res := results(t, h)
	if want := (ballot.Tally{president: {"alice": 1, "bob": 1}, prop: {"yes": 1, "no": 1}}); res.Counted != 4 || res.Rejected != 3 || !res.National.Equal(want) {
		t.Fatalf("results %d counted, %d rejected, %v; want 4, 3, %v", res.Counted, res.Rejected, res.National, want)
	}
}
