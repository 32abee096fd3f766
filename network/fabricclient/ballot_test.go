package fabricclient

import (
	"errors"
	"strings"
	"testing"

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
