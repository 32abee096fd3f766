package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/votechain/votechain/ballot"
)

// nullifierLocator finds where the ledger counted the vote that used a
// nullifier (*fabricclient.Ballot).
type nullifierLocator interface {
	LocateNullifier(ctx context.Context, state, nullifier string) (ballot.NullifierRecord, error)
}

// errOtherCounted marks a receipt whose vote the ledger rejected as a
// duplicate because another vote (another vote id) with its nullifier, the
// voter's credentials, was counted first: the receipt checks out, and the
// voter's vote does not count (exit status 4, outcomes.otherCounted).
var errOtherCounted = errors.New("another vote with this voter's credentials was counted first")

// whyDuplicate says, of vote v that the ledger rejected as a duplicate,
// where the ledger counted its nullifier, with one read (LocateNullifier):
// the same vote id there is a re-send of the vote, harmless (other false);
// another vote id means someone else voted with the voter's credentials
// (other true), and the text says so and what to do. A nullifier the
// ledger does not hold as used contradicts the rejection: an error, a
// failure. An error reading the ledger wraps errLedger.
func whyDuplicate(ctx context.Context, l nullifierLocator, v ballot.Vote) (why string, other bool, err error) {
	rec, err := l.LocateNullifier(ctx, v.State, v.Nullifier)
	switch {
	case errors.Is(err, ballot.ErrNotFound):
		return "", false, fmt.Errorf("the ledger rejected vote %s as a duplicate, yet holds its nullifier %s as unused in %s: its records contradict each other; check through the other organisation's peer (--peer)",
			v.ID, v.Nullifier, v.State)
	case err != nil:
		return "", false, fmt.Errorf("%w: where nullifier %s of vote %s was counted: %v", errLedger, v.Nullifier, v.ID, err)
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
func placeDuplicate(ctx context.Context, l nullifierLocator, v ballot.Vote, standing, reason string) (full string, other bool, err error) {
	if standing != ballot.StandingRejected || reason != ballot.RejectDuplicate {
		return reason, false, nil
	}
	why, other, err := whyDuplicate(ctx, l, v)
	if err != nil {
		return reason, false, err
	}
	return reason + "; " + why, other, nil
}

// onceLocator is a nullifierLocator that reads where each nullifier of a
// state was counted once: the log's entries rejected as duplicates of one
// nullifier (a voter's tries, re-sends of a vote) share one read.
type onceLocator struct {
	nullifierLocator
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
		a.rec, a.err = l.nullifierLocator.LocateNullifier(ctx, state, nullifier)
		if l.read == nil {
			l.read = map[[2]string]located{}
		}
		l.read[k] = a
	}
	return a.rec, a.err
}
