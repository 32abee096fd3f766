package fabricclient

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/votechain/votechain/ballot"
)

// peerError is a failed query as the Fabric Gateway reports it: the
// chaincode's message inside the peer's own words.
func peerError(chaincodeMessage string) error {
	return status.Error(codes.Unknown, "evaluate call to endorser returned error: chaincode response 500, "+chaincodeMessage)
}

// TestEvaluateErrorNotFound: a chaincode answer made with ballot.NotFound
// becomes ballot.ErrNotFound here, keeping the peer's message; any other
// refusal does not.
func TestEvaluateErrorNotFound(t *testing.T) {
	missing := ballot.NotFound("batch CA/7 is not committed").Error()
	err := evaluateError("GetBatch", []string{"CA", "7"}, peerError(missing))
	if !errors.Is(err, ballot.ErrNotFound) || !strings.Contains(err.Error(), "batch CA/7 is not committed") {
		t.Errorf("not-found answer: %v", err)
	}
	for _, msg := range []string{`invalid state "ca"`, "no election is configured", "access denied"} {
		if err := evaluateError("GetBatch", nil, peerError(msg)); errors.Is(err, ballot.ErrNotFound) || !strings.Contains(err.Error(), msg) {
			t.Errorf("refusal %q: %v", msg, err)
		}
	}
}

// TestBlockOfTxErrorNotFound: the peer's "no such transaction" (qscc's
// GetBlockByTxID, Fabric's own words) becomes ballot.ErrNotFound, keeping
// the peer's message; any other failure does not.
func TestBlockOfTxErrorNotFound(t *testing.T) {
	missing := "Failed to get block for txID 1b64, error no such transaction ID [1b64] in index"
	if err := blockOfTxError("1b64", peerError(missing)); !errors.Is(err, ballot.ErrNotFound) || !strings.Contains(err.Error(), missing) {
		t.Errorf("no such transaction: %v", err)
	}
	for _, msg := range []string{"access denied: channel [ballots] creator org unknown", "connection refused", "context deadline exceeded"} {
		if err := blockOfTxError("1b64", peerError(msg)); errors.Is(err, ballot.ErrNotFound) || !strings.Contains(err.Error(), msg) {
			t.Errorf("failure %q: %v", msg, err)
		}
	}
}

// TestFinaliseError: the chaincode's refusal of a ledger that changed
// since the check and a read conflict at commit wrap
// ballot.ErrLedgerChanged; another refusal, another validation code and
// an unreachable peer do not. Every one wraps the cause and keeps its
// words.
func TestFinaliseError(t *testing.T) {
	judged := ballot.FinaliseInput{Batched: map[string]ballot.BatchTotals{"CA": {Batches: 2, Votes: 5}}}
	refusal := judged.Check(&ballot.Election{ID: "e", States: []string{"CA"}}, func(string) (ballot.BatchTotals, error) {
		return ballot.BatchTotals{Batches: 3, Votes: 6}, nil
	})
	if !errors.Is(refusal, ballot.ErrLedgerChanged) {
		t.Fatalf("the chaincode's rule: %v; want its refusal of a changed ledger", refusal)
	}
	changed := refusal.Error() // as the chaincode words it
	for _, tc := range []struct {
		name    string
		err     error
		changed bool
	}{
		{"refused as changed", endorseFailure(t, "chaincode response 500, "+changed), true},
		{"phantom read conflict", &client.CommitError{TransactionID: "d", Code: peer.TxValidationCode_PHANTOM_READ_CONFLICT}, true},
		{"read conflict", &client.CommitError{TransactionID: "c", Code: peer.TxValidationCode_MVCC_READ_CONFLICT}, true},
		{"another refusal", endorseFailure(t, "chaincode response 500, the CA intake log's anchored head says 12 votes were accepted, its batches hold 10"), false},
		{"invalid otherwise", &client.CommitError{TransactionID: "e", Code: peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE}, false},
		{"unreachable", context.DeadlineExceeded, false},
	} {
		err := finaliseError(tc.err)
		if errors.Is(err, ballot.ErrLedgerChanged) != tc.changed || !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.err.Error()) {
			t.Errorf("%s: %v; want the ledger changed: %v, wrapping the cause", tc.name, err, tc.changed)
		}
	}
}
