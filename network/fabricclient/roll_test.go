package fabricclient

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"

	"github.com/votechain/votechain/ballot"
)

// TestUntilOrdered: a roll chunk is submitted again while its fate is
// unknown (refused by the ordering service, commit status lost) or it lost
// a read conflict to its own earlier submission, at most rollSubmitAttempts
// times; any other failure, and success, end it at once.
func TestUntilOrdered(t *testing.T) {
	refused := &client.SubmitError{TransactionError: &client.TransactionError{TransactionID: "a"}}
	statusLost := &client.CommitStatusError{TransactionError: &client.TransactionError{TransactionID: "b"}}
	conflict := &client.CommitError{TransactionID: "c", Code: peer.TxValidationCode_MVCC_READ_CONFLICT}
	phantom := &client.CommitError{TransactionID: "d", Code: peer.TxValidationCode_PHANTOM_READ_CONFLICT}
	badSignature := &client.CommitError{TransactionID: "e", Code: peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE}
	refusal := endorseFailure(t, "chaincode response 500, roll chunk 3 is already loaded with root x")
	for _, tc := range []struct {
		name  string
		errs  []error // submit's results in turn; nil after the last
		calls int
		want  error
	}{
		{"committed", nil, 1, nil},
		{"refused, then committed", []error{refused, statusLost}, 3, nil},
		{"read conflicts, then committed", []error{conflict, phantom}, 3, nil},
		{"refused every time", []error{refused, refused, refused, refused, refused, refused}, rollSubmitAttempts, refused},
		{"chaincode refusal", []error{refusal}, 1, refusal},
		{"invalid otherwise", []error{badSignature}, 1, badSignature},
		{"refused, then invalid otherwise", []error{refused, badSignature}, 2, badSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := untilOrdered(context.Background(), 0, func() error {
				calls++
				if calls <= len(tc.errs) {
					return tc.errs[calls-1]
				}
				return nil
			})
			if calls != tc.calls || !errors.Is(err, tc.want) {
				t.Fatalf("%d submits, error %T; want %d, %T", calls, err, tc.calls, tc.want) // (the fakes have no message)
			}
		})
	}

	t.Run("stops when the context ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		err := untilOrdered(ctx, time.Hour, func() error {
			calls++
			cancel()
			return refused
		})
		if calls != 1 || !errors.Is(err, refused) {
			t.Fatalf("%d submits, error %T; want 1 and the refusal", calls, err)
		}
	})
}

// TestAnchorError: the chaincode's head-conflict refusal and a read
// conflict at commit wrap ballot.ErrHeadConflict; its refusal of a head
// stamped before the anchored one wraps ballot.ErrHeadStale, of a head
// signed by a key not registered ballot.ErrUnknownLogKey (by its mark, or
// an older chaincode's text), of this client's clock ballot.ErrClockSkew;
// another refusal, another validation code and an unreachable peer wrap
// none. Every one keeps the peers' messages.
func TestAnchorError(t *testing.T) {
	for _, tc := range []struct {
		name                            string
		err                             error
		conflict, stale, clock, unknown bool
	}{
		{"head conflict refusal", endorseFailure(t, "chaincode response 500, head of CA, size 15: "+ballot.HeadConflictMark+" ballot: ..."), true, false, false, false},
		{"read conflict", &client.CommitError{TransactionID: "c", Code: peer.TxValidationCode_MVCC_READ_CONFLICT}, true, false, false, false},
		{"phantom read conflict", &client.CommitError{TransactionID: "d", Code: peer.TxValidationCode_PHANTOM_READ_CONFLICT}, true, false, false, false},
		{"stale head refusal", endorseFailure(t, "chaincode response 500, head of CA, size 15: "+ballot.HeadStaleMark+" ballot: ..."), false, true, false, false},
		{"clock refusal", endorseFailure(t, "chaincode response 500, "+ballot.ClockSkewMark+" ballot: ...: proposal timestamp ... is 3m0s from this peer's clock"), false, false, true, false},
		{"key refusal", endorseFailure(t, "chaincode response 500, "+ballot.UnknownLogKeyMark+" head of CA, size 15: ballot: ..."), false, false, false, true},
		{"key refusal of an older chaincode", endorseFailure(t, "chaincode response 500, head of CA, size 15: ballot: tree head signed by a key not registered on the ledger: key id \"8839\""), false, false, false, true},
		{"another refusal", endorseFailure(t, "chaincode response 500, head of CA, size 15: ballot: tree head signature does not verify"), false, false, false, false},
		{"invalid otherwise", &client.CommitError{TransactionID: "e", Code: peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE}, false, false, false, false},
		{"unreachable", context.DeadlineExceeded, false, false, false, false},
	} {
		err := anchorError(2, tc.err)
		if errors.Is(err, ballot.ErrHeadConflict) != tc.conflict || errors.Is(err, ballot.ErrHeadStale) != tc.stale ||
			errors.Is(err, ballot.ErrClockSkew) != tc.clock || errors.Is(err, ballot.ErrUnknownLogKey) != tc.unknown || !errors.Is(err, tc.err) {
			t.Errorf("%s: %v; want a head conflict: %v, a stale head: %v, a clock refused: %v, a key not registered: %v, wrapping the cause", tc.name, err, tc.conflict, tc.stale, tc.clock, tc.unknown)
		}
		if msgs := peerMessages(tc.err); !strings.HasSuffix(err.Error(), msgs) {
			t.Errorf("%s: %v lacks the peers' messages %q", tc.name, err, msgs)
		}
	}
}

// TestSealIsNotRetriedForTheClock: a refusal of the client's clock ends the
// seal at once, wrapping ballot.ErrClockSkew; another refusal (a peer that
// has not yet committed the last chunks) is tried again.
func TestSealIsNotRetriedForTheClock(t *testing.T) {
	calls := 0
	_, err := retrySeal(context.Background(), func() ([]byte, error) {
		calls++
		return nil, errors.New("chaincode response 500, [clock-skew] proposal timestamp is 3m0s from this peer's clock")
	})
	if !errors.Is(err, ballot.ErrClockSkew) || calls != 1 {
		t.Fatalf("clock refusal: %v after %d calls; want ErrClockSkew after 1", err, calls)
	}
	calls = 0
	out, err := retrySeal(context.Background(), func() ([]byte, error) {
		if calls++; calls == 1 {
			return nil, errors.New("roll holds 10 of 12 entries")
		}
		return []byte("sealed"), nil
	})
	if err != nil || string(out) != "sealed" || calls != 2 {
		t.Fatalf("lagging peer: %q, %v after %d calls; want sealed after 2", out, err, calls)
	}
}
