package fabricclient

import (
	"errors"
	"fmt"
	"testing"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/votechain/votechain/ballot"
)

// endorseFailure is a failed endorsement as the Fabric Gateway reports it:
// one detail per peer that answered.
func endorseFailure(t *testing.T, peerMessages ...string) error {
	t.Helper()
	st := status.New(codes.Aborted, "failed to collect enough transaction endorsements, see attached details for more info")
	for _, m := range peerMessages {
		var err error
		if st, err = st.WithDetails(&gateway.ErrorDetail{Address: "127.0.0.1:7051", MspId: "ObserversMSP", Message: m}); err != nil {
			t.Fatal(err)
		}
	}
	return st.Err()
}

// TestPeersDisagree: only the peers' differing answers count as a
// disagreement that waiting can resolve; a chaincode refusal, a bare status
// and a plain error do not.
func TestPeersDisagree(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"answers differ", endorseFailure(t, "ProposalResponsePayloads do not match"), true},
		{"one of several peers", endorseFailure(t, "chaincode response 500, batch refused", "ProposalResponsePayloads do not match"), true},
		{"chaincode refusal", endorseFailure(t, "chaincode response 500, tallies do not match"), false},
		{"no details", status.Error(codes.Unavailable, "connection refused"), false},
		{"not a status", errors.New("ProposalResponsePayloads do not match"), false},
	} {
		if got := peersDisagree(tc.err); got != tc.want {
			t.Errorf("%s: peersDisagree = %t; want %t", tc.name, got, tc.want)
		}
	}
}

// TestFateUnknown: an ordering service's refusal and a lost commit status,
// bare or wrapped as CommitBatch returns them, leave a transaction's fate
// unknown; an endorsement refusal, a transaction committed invalid, a
// timeout and a plain error do not.
func TestFateUnknown(t *testing.T) {
	refused := &client.SubmitError{TransactionError: &client.TransactionError{TransactionID: "a"}}
	statusLost := &client.CommitStatusError{TransactionError: &client.TransactionError{TransactionID: "b"}}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"refused by the orderers", refused, true},
		{"refused, as submit reports it", submitError("batch CA/4", refused), true},
		{"commit status lost", statusLost, true},
		{"commit status lost, as Wait reports it", fmt.Errorf("commit status of batch CA/4 (tx b): %w", statusLost), true},
		{"endorsement refused", &client.EndorseError{TransactionError: &client.TransactionError{TransactionID: "c"}}, false},
		{"committed invalid (gateway)", &client.CommitError{TransactionID: "d", Code: peer.TxValidationCode_MVCC_READ_CONFLICT}, false},
		{"committed invalid (Wait)", &ballot.CommitError{TxID: "d", Code: "MVCC_READ_CONFLICT"}, false},
		{"plain error", errors.New("insufficient number of orderers"), false},
		{"none", nil, false},
	} {
		if got := FateUnknown(tc.err); got != tc.want {
			t.Errorf("%s: FateUnknown = %t; want %t", tc.name, got, tc.want) // (the fakes have no message)
		}
	}
}
