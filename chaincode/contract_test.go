package chaincode

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/votechain/votechain/ballot"
)

var (
	opens  = time.Date(2026, 11, 3, 7, 0, 0, 0, time.UTC)
	closes = time.Date(2026, 11, 3, 20, 0, 0, 0, time.UTC)
)

func testElection() ballot.Election {
	return ballot.Election{
		ID: "general-2026", Name: "General election 2026",
		States: []string{"CA", "NY"},
		Contests: []ballot.Contest{
			{ID: president, Title: "President", Kind: ballot.ContestRace, Choices: []string{"alice", "bob"}},
			{ID: prop, Title: "Proposition 1", Kind: ballot.ContestQuestion, Choices: []string{"yes", "no"}},
		},
		OpensAt: opens, ClosesAt: closes,
		RollRoot: strings.Repeat("0", 64), RollEntries: new(0),
		Batchers: []string{batcherCN},
	}
}

// harness runs contract calls as transactions on a fake ledger: a call
// that succeeds is committed, one that fails leaves no trace.
type harness struct {
	t    testing.TB
	cc   *BallotContract
	stub *fakeStub
	now  time.Time
	skew time.Duration // how far the peer's clock is ahead of the transaction time
	txs  int
}

// newHarness returns a harness whose peer clock is the transaction time
// (h.now) plus h.skew.
func newHarness(t testing.TB) *harness {
	h := &harness{t: t, cc: NewBallotContract(), stub: newFakeStub(), now: opens.Add(-time.Hour)}
	h.cc.clock = func() time.Time { return h.now.Add(h.skew) }
	return h
}

type txFunc func(contractapi.TransactionContextInterface) (string, error)

func (h *harness) call(caller fakeIdentity, fn txFunc) (string, error) {
	h.txs++
	h.stub.begin(fmt.Sprintf("tx%d", h.txs), h.now)
	out, err := fn(txContext(h.stub, caller))
	if err == nil {
		h.stub.commit()
	}
	return out, err
}

// endorse simulates fn as caller, as an endorsing peer does, recording
// its reads; the stub's commitEndorsed validates and commits it later,
// after whatever commits meanwhile.
func (h *harness) endorse(caller fakeIdentity, fn txFunc) endorsed {
	h.t.Helper()
	h.txs++
	h.stub.begin(fmt.Sprintf("tx%d", h.txs), h.now)
	h.stub.trackReads()
	if _, err := fn(txContext(h.stub, caller)); err != nil {
		h.t.Fatal(err)
	}
	return h.stub.endorse()
}

// must runs fn as caller and fails the test on error.
func (h *harness) must(caller fakeIdentity, fn txFunc) string {
	h.t.Helper()
	out, err := h.call(caller, fn)
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

// jsonArg returns a call of fn with v encoded as its JSON argument.
func (h *harness) jsonArg(v any, fn func(contractapi.TransactionContextInterface, string) (string, error)) txFunc {
	data, err := json.Marshal(v)
	if err != nil {
		h.t.Fatal(err)
	}
	return func(ctx contractapi.TransactionContextInterface) (string, error) { return fn(ctx, string(data)) }
}

func (h *harness) setupFn(e ballot.Election) txFunc { return h.jsonArg(e, h.cc.SetupElection) }

func (h *harness) commitFn(b ballot.Batch) txFunc { return h.jsonArg(b, h.cc.CommitBatch) }

// finaliseFn is a FinaliseElection whose caller's check judged the batch
// totals in.
func (h *harness) finaliseFn(in ballot.FinaliseInput) txFunc {
	return h.jsonArg(in, h.cc.FinaliseElection)
}

// finalise is a FinaliseElection whose caller's check judged the ledger
// as it is now.
func (h *harness) finalise() txFunc { return h.finaliseFn(h.judged()) }

// status returns the election record's status.
func (h *harness) status() string {
	h.t.Helper()
	var e ballot.Election
	if err := json.Unmarshal([]byte(h.must(observerAdmin, h.cc.GetElection)), &e); err != nil {
		h.t.Fatal(err)
	}
	return e.Status
}

// judged returns every state's batch totals on the ledger now, as
// FinaliseElection's argument.
func (h *harness) judged() ballot.FinaliseInput {
	h.t.Helper()
	var res ballot.Results
	if err := json.Unmarshal([]byte(h.must(observerAdmin, h.cc.GetResults)), &res); err != nil {
		h.t.Fatal(err)
	}
	in := ballot.FinaliseInput{Batched: map[string]ballot.BatchTotals{}}
	for st, sr := range res.States {
		in.Batched[st] = sr.Totals()
	}
	return in
}

// open sets up the test election and moves time inside its window.
func (h *harness) open() {
	h.t.Helper()
	h.must(commissionAdmin, h.setupFn(testElection()))
	h.now = opens.Add(time.Hour)
}

// commit commits b as a Commission client and decodes the record.
func (h *harness) commit(b ballot.Batch) (ballot.BatchRecord, error) {
	out, err := h.call(commissionClient, h.commitFn(b))
	if err != nil {
		return ballot.BatchRecord{}, err
	}
	var rec ballot.BatchRecord
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		h.t.Fatalf("CommitBatch returned undecodable %q: %v", out, err)
	}
	return rec, nil
}

// The contests of testElection.
const (
	president = "president"
	prop      = "prop-1"
)

// vote returns a valid vote of state for president whose id and nullifier
// derive from voter, cast one millisecond per voter after the window opens.
func vote(state string, voter int, choice string) ballot.Vote {
	return voteIn(state, voter, president, choice)
}

// voteIn returns a valid vote of state in contest: its nullifier is the
// voter's for the contest (ballot.NullifierOf), its id derives from all of
// its fields.
func voteIn(state string, voter int, contest, choice string) ballot.Vote {
	id := sha256.Sum256(fmt.Appendf(nil, "vote-%s-%d-%s-%s", state, voter, contest, choice))
	return ballot.Vote{ID: hex.EncodeToString(id[:16]), State: state, Contest: contest, Nullifier: nullifier(voter, contest),
		Choice: choice, CastAt: opens.UnixMilli() + int64(voter)}
}

// nullifier returns the test voter's nullifier for contest.
func nullifier(voter int, contest string) string {
	return ballot.HashHex(ballot.NullifierOf(sha256.Sum256(fmt.Appendf(nil, "voter-%d", voter)), contest))
}

// votes returns n votes of state for president by voters first..,
// alternating alice and bob.
func votes(state string, first, n int) []ballot.Vote {
	vs := make([]ballot.Vote, n)
	for i := range vs {
		vs[i] = vote(state, first+i, []string{"alice", "bob"}[i%2])
	}
	return vs
}

func batch(t testing.TB, state string, seq uint64, vs []ballot.Vote) ballot.Batch {
	t.Helper()
	b, err := ballot.BuildBatch(state, seq, vs)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantErr(t *testing.T, what string, err error, has string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), has) {
		t.Errorf("%s: error %v, want one mentioning %q", what, err, has)
	}
}
