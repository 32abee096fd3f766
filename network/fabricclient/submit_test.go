package fabricclient

import (
	"errors"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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
