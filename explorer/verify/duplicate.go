package verify

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/network/fabricclient"
)

// NullifierLocator finds where the ledger counted the vote that used a
// nullifier (*fabricclient.Ballot).
type NullifierLocator interface {
	LocateNullifier(ctx context.Context, state, nullifier string) (ballot.NullifierRecord, error)
}

// errOtherCounted marks a receipt whose vote the ledger rejected as a
// duplicate because another vote (another vote id) with its nullifier, the
// voter's credentials, was counted first: the receipt checks out, and the
// voter's vote does not count (Duplicate, Outcomes.otherCounted).
var errOtherCounted = errors.New("another vote with this voter's credentials was counted first")

// whyDuplicate says, of vote v that the ledger rejected as a duplicate,
// where the ledger counted its nullifier, with one read (LocateNullifier):
// the same vote id there is a re-send of the vote, harmless (other false);
// another vote id means someone else voted with the voter's credentials
// (other true), and the text says so and what to do. A nullifier the
// ledger does not hold as used contradicts the rejection: an error, a
// FAIL line's reason, which ends with the fix (checkOtherPeer, naming
// --peer as the findings' lines do). An error reading the ledger wraps
// errLedger and that error.
func whyDuplicate(ctx context.Context, l NullifierLocator, v ballot.Vote) (why string, other bool, err error) {
	rec, err := l.LocateNullifier(ctx, v.State, v.Nullifier)
	switch {
	case errors.Is(err, ballot.ErrNotFound):
		return "", false, fmt.Errorf("the ledger rejected vote %s as a duplicate, yet holds its nullifier %s as unused in %s: its records contradict each other; %s",
			v.ID, v.Nullifier, v.State, checkOtherPeer)
	case err != nil:
		return "", false, fmt.Errorf("%w: where nullifier %s of vote %s was counted: %w", errLedger, v.Nullifier, v.ID, err)
	}
	at := fmt.Sprintf("index %d of batch %s/%d", rec.Index, rec.State, rec.Seq)
	if rec.VoteID == v.ID {
		return fmt.Sprintf("its nullifier was counted with this same vote %s (%s): this copy was a re-send of it, which is harmless, and the vote counts once", v.ID, at), false, nil
	}
	return fmt.Sprintf("%v: its nullifier was counted with vote %s (%s), not with this vote %s; if the voter cast only this vote, someone else voted with their credentials: contact the election's officials",
		errOtherCounted, rec.VoteID, at, v.ID), true, nil
}

// placeDuplicate is the reason of vote v, whose standing on the ledger is
// standing with reason, said in full: for a vote rejected as a duplicate,
// reason and where its nullifier was counted (whyDuplicate, one read of l;
// other and err as its), for any other vote reason as it is, with no read.
// --acceptance and --log say it of their votes alike.
func placeDuplicate(ctx context.Context, l NullifierLocator, v ballot.Vote, standing, reason string) (full string, other bool, err error) {
	if standing != ballot.StandingRejected || reason != ballot.RejectDuplicate {
		return reason, false, nil
	}
	why, other, err := whyDuplicate(ctx, l, v)
	if err != nil {
		return reason, false, err
	}
	return reason + "; " + why, other, nil
}

// onceLocator is a NullifierLocator that reads where each nullifier of a
// state was counted once: the log's entries rejected as duplicates of one
// nullifier (a voter's tries, re-sends of a vote) share one read.
type onceLocator struct {
	NullifierLocator
	read map[[2]string]located
}

// located is one answer of LocateNullifier.
type located struct {
	rec ballot.NullifierRecord
	err error
}

func (l *onceLocator) LocateNullifier(ctx context.Context, state, nullifier string) (ballot.NullifierRecord, error) {
	k := [2]string{state, nullifier}
	a, ok := l.read[k]
	if !ok {
		a.rec, a.err = l.NullifierLocator.LocateNullifier(ctx, state, nullifier)
		if l.read == nil {
			l.read = map[[2]string]located{}
		}
		l.read[k] = a
	}
	return a.rec, a.err
}

// ledgerUnanswered reports whether err, a ledger read's made in the run
// whose context is ctx, got no answer: the peer not reachable
// (fabricclient.Unreachable: no connection to it, worded naming the peer,
// its address and, for a refused connection, how to start the network) or
// not answering in time (DeadlineExceeded, the peer's or gRPC's, while the
// run goes on). An answer, "not found" (ballot.ErrNotFound), a reachable
// peer's own Unavailable (no peers to evaluate with, a GOAWAY as it
// restarts) or any other refusal, is not; nor is any error once the run's
// context has ended (--timeout, a signal): the run, not the peer, stopped.
func ledgerUnanswered(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	if fabricclient.Unreachable(err) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	s, ok := status.FromError(err)
	return ok && s.Code() == codes.DeadlineExceeded
}

// errNotLookedUp is stopLocator's error for a look-up it did not make.
var errNotLookedUp = errors.New("not looked up, the peer having not answered an earlier look-up")

// stopLocator is a NullifierLocator that stops asking once a look-up got
// no answer (ledgerUnanswered; down holds its error): a peer that is down
// would fail each look-up after it in turn, each after its own wait. The
// look-ups after it fail at once with errNotLookedUp; an answer, "not
// found" or a failure included, changes nothing.
type stopLocator struct {
	NullifierLocator
	down error
}

func (l *stopLocator) LocateNullifier(ctx context.Context, state, nullifier string) (ballot.NullifierRecord, error) {
	if l.down != nil {
		return ballot.NullifierRecord{}, errNotLookedUp
	}
	rec, err := l.NullifierLocator.LocateNullifier(ctx, state, nullifier)
	if ledgerUnanswered(ctx, err) {
		l.down = err
	}
	return rec, err
}

// unansweredError is the error of a run whose look-ups of duplicates'
// nullifiers stopped at down, the first that got no answer from peer's
// peer (the organisation's name), unchecked entries being left UNCHECKED:
// its text names the peer; its Others, the other organisations, are the
// peers to read through, for the command to name.
func unansweredError(peer string, down error, unchecked int) *PeerDownError {
	var others []string
	for _, o := range network.PeerOrgs() {
		if o.Name != peer {
			others = append(others, o.Name)
		}
	}
	return &PeerDownError{Peer: peer, Err: down, Unchecked: unchecked, Others: others}
}

// PeerDownError is MonitorLog's error when Peer's peer (the
// organisation's name) did not answer a look-up of where a duplicate's
// nullifier was counted (Err, no connection or no answer in time): no
// more were asked of it, and Unchecked entries rejected as duplicates are
// UNCHECKED. Once that peer answers, a new run checks them; or a run
// through the peer of one of Others, the other organisations, does. Its
// text ends advising the other organisation's peer without naming it, for
// a command to add how its users choose that peer (verify: --peer).
type PeerDownError struct {
	Peer      string
	Err       error
	Unchecked int
	Others    []string
}

func (e *PeerDownError) Error() string {
	return fmt.Sprintf("the %s peer did not answer a look-up of where a duplicate's nullifier was counted (%v), so no more were asked of it: %d entries rejected as duplicates are UNCHECKED; once that peer answers, check again, or check through the other organisation's peer",
		e.Peer, e.Err, e.Unchecked)
}

func (e *PeerDownError) Unwrap() error { return e.Err }
