package fabricclient

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/votechain/votechain/ballot"
)

// peerTimewindowRefusal is the message a Fabric 3.1 peer's TimeWindowCheck
// filter gives a proposal stamped outside peer.authentication.timewindow,
// as the gateway service hands it on in an ErrorDetail.
const peerTimewindowRefusal = "rpc error: code = Unknown desc = request unauthorized due to incorrect timestamp 2026-12-06T21:40:00Z, peer time 2026-12-06T21:10:00Z, peer.authentication.timewindow 15m0s"

// TestClockRefusalsWrapErrClockSkew: a refusal of the client's clock wraps
// ballot.ErrClockSkew for an anchor, a batch, the admin's transactions
// (txError: set-up, close, roll, log keys), a finalise and a query alike,
// whether the chaincode refused it (more than ballot.MaxClockSkew off, its
// mark) or the peer did before the chaincode ran (more than its 15 min
// timewindow off, no mark); another refusal and an unreachable peer do
// not. Each keeps the cause and the peers' messages.
func TestClockRefusalsWrapErrClockSkew(t *testing.T) {
	for _, tc := range []struct {
		name  string
		err   error
		clock bool
	}{
		{"chaincode's refusal", endorseFailure(t, "chaincode response 500, "+ballot.ClockSkewMark+" ballot: ...: proposal timestamp ... is 3m0s from this peer's clock"), true},
		{"peer's timewindow refusal", endorseFailure(t, peerTimewindowRefusal), true},
		{"peer's timewindow refusal by one of two", endorseFailure(t, "chaincode response 500, ballot: batch CA/3 already committed", peerTimewindowRefusal), true},
		{"another refusal", endorseFailure(t, "chaincode response 500, ballot: tree head signed by a key not registered on the ledger"), false},
		{"unreachable", context.DeadlineExceeded, false},
	} {
		for what, err := range map[string]error{
			"anchor":   anchorError(1, tc.err),
			"batch":    submitError("batch CA/3", tc.err),
			"close":    txError("CloseElection", tc.err),
			"finalise": finaliseError(txError("FinaliseElection", tc.err)),
			"query":    evaluateError("GetElection", nil, tc.err),
		} {
			if errors.Is(err, ballot.ErrClockSkew) != tc.clock || !errors.Is(err, tc.err) {
				t.Errorf("%s, %s: %v; want a clock refused: %v, wrapping the cause", tc.name, what, err, tc.clock)
			}
			if msgs := peerMessages(tc.err); tc.clock && !strings.HasSuffix(err.Error(), msgs) {
				t.Errorf("%s, %s: %v lacks the peers' messages %q", tc.name, what, err, msgs)
			}
		}
	}
}
