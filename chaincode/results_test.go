package chaincode

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/votechain/votechain/ballot"
)

func results(t *testing.T, h *harness) ballot.Results {
	t.Helper()
	var res ballot.Results
	if err := json.Unmarshal([]byte(h.must(observerAdmin, h.cc.GetResults)), &res); err != nil {
		t.Fatal(err)
	}
	return res
}

func stateResults(h *harness, state string) txFunc {
	return func(ctx contractapi.TransactionContextInterface) (string, error) {
		return h.cc.GetStateResults(ctx, state)
	}
}

func TestResults(t *testing.T) {
	h := newHarness(t)
	_, err := h.call(observerAdmin, h.cc.GetResults)
	wantErr(t, "results without election", err, "no election")
	h.open()

	if res := results(t, h); res.Counted != 0 || len(res.States) != 2 || res.States["NY"].Tallies == nil {
		t.Fatalf("empty results %+v", res)
	}
	for seq, n := range []int{3, 4} {
		if _, err := h.commit(batch(t, "CA", uint64(seq+1), votes("CA", seq*10, n))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.commit(batch(t, "NY", 1, votes("NY", 100, 5))); err != nil {
		t.Fatal(err)
	}
	res := results(t, h)
	want := ballot.Results{ElectionID: "general-2026", Status: ballot.StatusConfigured, Counted: 12,
		National: ballot.Tally{president: {"alice": 7, "bob": 5}}}
	if res.ElectionID != want.ElectionID || res.Status != want.Status || res.Counted != want.Counted || !res.National.Equal(want.National) {
		t.Fatalf("results %+v, want %+v", res, want)
	}
	if ca := res.States["CA"]; ca.Batches != 2 || ca.Counted != 7 || !ca.Tallies.Equal(ballot.Tally{president: {"alice": 4, "bob": 3}}) {
		t.Fatalf("CA results %+v", ca)
	}

	var ny ballot.StateResult
	json.Unmarshal([]byte(h.must(observerAdmin, stateResults(h, "NY"))), &ny)
	if ny.State != "NY" || ny.Batches != 1 || ny.Counted != 5 || !ny.Tallies.Equal(ballot.Tally{president: {"alice": 3, "bob": 2}}) {
		t.Fatalf("NY results %+v", ny)
	}
	_, err = h.call(observerAdmin, stateResults(h, "TX"))
	wantErr(t, "unknown state results", err, "not in election")
}

func TestQueriesRefuseBadInput(t *testing.T) {
	h := newHarness(t)
	h.open()
	_, err := h.call(observerAdmin, func(ctx contractapi.TransactionContextInterface) (string, error) { return h.cc.GetBatch(ctx, "ca", 1) })
	wantErr(t, "GetBatch bad state", err, "invalid state")
	_, err = h.call(observerAdmin, func(ctx contractapi.TransactionContextInterface) (string, error) { return h.cc.GetBatch(ctx, "CA", 9) })
	wantErr(t, "GetBatch missing", err, "not committed")
	if !errors.Is(err, ballot.ErrNotFound) {
		t.Errorf("GetBatch missing: %v does not wrap ballot.ErrNotFound", err)
	}
	_, err = h.call(observerAdmin, locate(h, "CA", "xyz"))
	wantErr(t, "LocateNullifier bad", err, "invalid state")
	_, err = h.call(observerAdmin, locate(h, "CA", vote("CA", 1, "bob").Nullifier))
	wantErr(t, "LocateNullifier unused", err, "not used")
	if !errors.Is(err, ballot.ErrNotFound) {
		t.Errorf("LocateNullifier unused: %v does not wrap ballot.ErrNotFound", err)
	}
}

func TestKeysMatchShim(t *testing.T) {
	sum := sha256.Sum256([]byte("voter"))
	for _, c := range []struct {
		got    string
		object string
		attrs  []string
	}{
		{ballot.ElectionKey, "election", nil},
		{ballot.BatchKey("CA", 42), "batch", []string{"CA", "00000000000000000042"}},
		{ballot.NullifierKey("NY", ballot.HashHex(sum)), "n", []string{"NY", base64.RawURLEncoding.EncodeToString(sum[:])}},
	} {
		want, err := shim.CreateCompositeKey(c.object, c.attrs)
		if err != nil || c.got != want {
			t.Errorf("key %q, shim builds %q (%v)", c.got, want, err)
		}
	}
}

// TestContractRegisters checks that contractapi accepts the contract's
// signatures and that the evaluate list names real functions.
func TestContractRegisters(t *testing.T) {
	if _, err := contractapi.NewChaincode(NewBallotContract(), NewProbeContract(new(PeerLink))); err != nil {
		t.Fatal(err)
	}
	c := NewBallotContract()
	if c.GetName() != "ballot" {
		t.Fatalf("contract name %q", c.GetName())
	}
	for _, name := range c.GetEvaluateTransactions() {
		if _, ok := reflect.TypeOf(c).MethodByName(name); !ok {
			t.Errorf("evaluate transaction %s is not a method", name)
		}
	}
}
