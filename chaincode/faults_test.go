package chaincode

import (
	"errors"
	"testing"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"github.com/votechain/votechain/ballot"
)

// TestLedgerFailuresPropagate checks that every ledger or identity failure
// makes the transaction fail (so endorsement fails) rather than being lost.
func TestLedgerFailuresPropagate(t *testing.T) {
	h := newHarness(t)
	h.open()
	inWindow := h.now
	good := h.commitFn(batch(t, "CA", 1, votes("CA", 0, 2)))
	getBatch := func(ctx contractapi.TransactionContextInterface) (string, error) { return h.cc.GetBatch(ctx, "CA", 1) }
	tests := []struct {
		name   string
		failOn string
		caller fakeIdentity
		fn     txFunc
	}{
		{"setup: caller cert", "", fakeIdentity{msp: CommissionMSP, failCert: true}, h.setupFn(testElection())},
		{"setup: no cert", "", fakeIdentity{msp: CommissionMSP, noCert: true}, h.setupFn(testElection())},
		{"setup: read", "GetState", commissionAdmin, h.setupFn(testElection())},
		{"setup: time", "GetTxTimestamp", commissionAdmin, h.setupFn(testElection())},
		{"setup: write", "PutState", commissionAdmin, h.setupFn(testElection())},
		{"setup: range", "GetStateByPartialCompositeKey", commissionAdmin, h.setupFn(testElection())},
		{"commit: read", "GetMultipleStates", commissionClient, good},
		{"commit: write", "PutState", commissionClient, good},
		{"commit: write batch", "FinishWriteBatch", commissionClient, good},
		{"commit: time", "GetTxTimestamp", commissionClient, good},
		{"commit: no time", "NoTimestamp", commissionClient, good},
		{"commit: event", "SetEvent", commissionClient, good},
		{"commit: caller MSP", "", fakeIdentity{msp: CommissionMSP, failMSP: true}, good},
		{"close: time", "GetTxTimestamp", commissionAdmin, h.cc.CloseElection},
		{"results: range", "GetStateByPartialCompositeKey", observerAdmin, h.cc.GetResults},
		{"results: next", "Next", observerAdmin, h.cc.GetResults},
		{"state results: read", "GetState", observerAdmin, stateResults(h, "CA")},
		{"state results: next", "Next", observerAdmin, stateResults(h, "NY")},
		{"batch: read", "GetState", observerAdmin, getBatch},
	}
	for _, tt := range tests { // set-up first: a committed batch freezes the election
		h.stub.failOn, h.now = "", inWindow
		if tt.name[:6] == "setup:" {
			h.now = opens.Add(-time.Minute) // still changeable
		} else if _, err := h.commit(batch(t, "NY", 1, votes("NY", 0, 1))); err != nil { // so ranges have something to read
			t.Fatal(err)
		}
		h.stub.failOn = tt.failOn
		if _, err := h.call(tt.caller, tt.fn); err == nil {
			t.Errorf("%s: failure was not reported", tt.name)
		} else if tt.failOn != "" && tt.failOn != "NoTimestamp" && tt.failOn != "Next" && !errors.Is(err, errInjected) {
			t.Errorf("%s: error %v does not wrap the ledger failure", tt.name, err)
		}
	}
}

// TestCorruptRecordsAreReported: a stored record that does not decode is an
// error, never silently treated as absent or empty.
func TestCorruptRecordsAreReported(t *testing.T) {
	tests := []struct {
		name   string
		key    string
		caller fakeIdentity
		fn     func(h *harness) txFunc
	}{
		{"election", ballot.ElectionKey, commissionAdmin, func(h *harness) txFunc { return h.cc.CloseElection }},
		{"batch", ballot.BatchKey("CA", 1), commissionClient, func(h *harness) txFunc { return h.commitFn(batch(t, "CA", 1, votes("CA", 0, 1))) }},
		{"batch in results", ballot.BatchKey("CA", 1), commissionAdmin, func(h *harness) txFunc { return h.cc.GetResults }},
	}
	for _, tt := range tests {
		h := newHarness(t)
		h.open()
		h.stub.state[tt.key] = []byte("{not json")
		_, err := h.call(tt.caller, tt.fn(h))
		wantErr(t, tt.name, err, "decode")
	}
}

// TestCorruptLogHeadStopsASetUp: an anchored head that does not decode
// stops a set-up (an error naming its key), never read as no head: the
// same set-up passes once the record is a head's.
func TestCorruptLogHeadStopsASetUp(t *testing.T) {
	h := newHarness(t)
	h.open()
	h.now = opens.Add(-time.Minute) // still changeable by the window
	h.stub.state[ballot.LogHeadKey("CA")] = []byte("{not json")
	_, err := h.call(commissionAdmin, h.setupFn(testElection()))
	wantErr(t, "a set-up over an undecodable head", err, "decode the anchored head")
	delete(h.stub.state, ballot.LogHeadKey("CA"))
	if _, err := h.call(commissionAdmin, h.setupFn(testElection())); err != nil {
		t.Errorf("the same set-up with no head anchored: %v", err)
	}
}
