package verify

import (
	"context"
	"errors"
	"fmt"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/logmonitor"
)

// errNoVerdict marks a head forkCheck could not compare with the anchored
// one: no fork found, none ruled out.
var errNoVerdict = errors.New("no verdict")

// errBadProof marks a fork forkCheck found by a consistency proof of the
// gateway that did not verify, not by the two heads alone (one size, two
// roots): the heads may be of two logs, or the gateway served a bad proof
// for heads of one.
var errBadProof = errors.New("the gateway's consistency proof between them did not verify")

// forkCheck checks acceptance receipts' signed heads against the heads
// anchored on the ledger: both signed by registered keys (the receipt's
// verified before, the anchored one by check), they must be of one log, the smaller head's log a prefix of the larger's
// (logmonitor.Extends, with a consistency proof from the gateway). A
// receipt's head that is not is a fork: the log's signer showed the voter a
// log other than the one it anchored; proven when the two heads are of one
// size, and when they are not, only as far as the gateway's proof goes
// (errBadProof: it may be a bad proof for heads of one log).
type forkCheck struct {
	ledger  logmonitor.Ledger
	gateway logmonitor.Proofs
	// keys are the ledger's registered log keys; heads, if the gateway
	// can also give its own head (logmonitor.Gateway), is that.
	keys     ballot.LogKeys
	heads    headSource
	election string                          // the ledger's election's id
	anchored map[string]*ballot.AnchoredHead // by state; nil: none anchored
	unsound  map[string]error                // by state: why its anchored head cannot be compared with (verifyAnchored)
	found    map[ballot.TreeHead]error       // each head checked: nil, its fork, or why it has no verdict
	// silent is the first request of the run the gateway did not answer
	// (logmonitor.ErrNoAnswer: its time up, the connection refused), nil
	// while it answers: once it is set the gateway is asked nothing more,
	// so that a stuck gateway costs one --gateway-timeout a run, not one
	// a head.
	silent error
}

// check compares h, a head verified with the registered keys, with the head
// anchored for its state, and returns that (nil if none: nothing to compare
// with) and, if the two are not of one log, the fork (an error wrapping
// logmonitor.ErrInconsistent, and errBadProof too when it rests on the
// gateway's consistency proof, not on two heads of one size). The anchored
// head is compared only once it verifies with the registered keys and is
// of the ledger's election and h's state (logmonitor.VerifyAnchored): one
// that is not is no evidence against the log's signer, and err is then
// the receipt's failure, saying what the head is (anchorMeans), not a
// fork. Otherwise err wraps errLedger for a failure to read the ledger, or
// errNoVerdict, with the reason and the fix, when the heads could not be
// compared: the gateway gave no consistency proof, or did not answer a
// request earlier in the run (Consistency). Each head is checked, and
// asked a proof for, once a run: a head with no verdict keeps it, not
// asking again.
func (f *forkCheck) check(ctx context.Context, h ballot.TreeHead) (anchored *ballot.AnchoredHead, fork, err error) {
	anchored, ok := f.anchored[h.State]
	if !ok {
		a, err := f.ledger.LogHead(ctx, h.State)
		if err != nil && !errors.Is(err, ballot.ErrNotFound) {
			return nil, nil, fmt.Errorf("%w: the anchored %s head: %v", errLedger, h.State, err)
		}
		if err == nil {
			anchored = &a
			f.unsound[h.State] = f.verifyAnchored(a, h.State)
		}
		f.anchored[h.State] = anchored
	}
	if anchored == nil {
		return nil, nil, nil
	}
	if err := f.unsound[h.State]; err != nil {
		return anchored, nil, err
	}
	found, ok := f.found[h]
	if !ok {
		found = f.compare(ctx, anchored.Head, h)
		f.found[h] = found
	}
	if errors.Is(found, errNoVerdict) {
		return anchored, nil, found
	}
	return anchored, found, nil
}

// verifyAnchored is nil when a, the head the ledger holds anchored for
// state, is one a receipt's head can be compared with: signed by a
// registered key and of state's log in the ledger's election
// (logmonitor.VerifyAnchored, as --log checks it). Else it is the failure
// of a receipt whose head would be compared with it.
func (f *forkCheck) verifyAnchored(a ballot.AnchoredHead, state string) error {
	if err := logmonitor.VerifyAnchored(a.Head, f.keys, f.election, state); err != nil {
		return fmt.Errorf("the ledger served an anchored %s head (tx %.16s…) that is not a validly signed head of this election's %s log (%v), so the receipt's head is not compared with it, and this is no fork of the log's signer; %s",
			state, a.TxID, state, err, anchorMeans(err))
	}
	return nil
}

// anchoredUnsound is what an anchored head that does not verify with the
// registered keys (malformed, signed by a key not registered, a signature
// that does not verify) means.
const anchoredUnsound = "the chaincode anchors only heads signed by a registered key (ballot.LogAnchor.Check), so the ledger should never hold it: the peer read serves a record the ledger's rules do not write"

// checkOtherPeer is the fix of a FAIL for what the peer read serves of
// the ledger: a head or record the ledger's rules do not write there.
const checkOtherPeer = "check again through the other organisation's peer (--peer)"

// anchorMeans is what err, logmonitor.VerifyAnchored's for a state's
// anchored head, means, and the fix, on the FAIL lines of --acceptance and
// --log alike: a head that does not verify is anchoredUnsound; a head of
// another election or state (logmonitor.ErrForeignHead) says itself what
// may have put it there.
func anchorMeans(err error) string {
	if errors.Is(err, logmonitor.ErrForeignHead) {
		return checkOtherPeer
	}
	return anchoredUnsound + "; " + checkOtherPeer
}

// recordMismatchMeans is what a batch record that does not describe its
// transaction's votes (logmonitor.ErrRecordMismatch) means, and the fix,
// on the FAIL lines of --acceptance and --log alike.
const recordMismatchMeans = "the chaincode writes a batch's record in the transaction that commits its votes, from those votes, so the peer read serves a record or transaction the ledger's rules do not write, and the state's votes cannot be placed by it: a failure, which running again does not clear; " + checkOtherPeer

// compare is check's verdict on h against the anchored head, both of the
// ledger's election and h's state (verifyAnchored; CheckAcceptances fails
// a receipt of another election first): nil, the fork (wrapping
// errBadProof when heads of two sizes, the gateway's proof between them
// did not verify), or an error wrapping errNoVerdict.
func (f *forkCheck) compare(ctx context.Context, anchored, h ballot.TreeHead) error {
	err := logmonitor.Extends(ctx, f, anchored, h)
	if err != nil && !errors.Is(err, logmonitor.ErrInconsistent) {
		return fmt.Errorf("%w: %v; run verify again later, or check that --gateway is the URL of a running gateway of this election", errNoVerdict, err)
	}
	if err != nil && anchored.Size != h.Size {
		if other := f.otherLog(ctx, h); other != nil {
			return other
		}
		return fmt.Errorf("%w: %w", errBadProof, err)
	}
	return err
}

// Consistency is the gateway's consistency proof of state's log from size
// first to second, unless it did not answer a request earlier in the run:
// then it is not asked, and the error says so, with that request's error
// (its fixes). A request it does not answer is the run's first such
// (silent); one it answers with an error (a status: it is not stuck) is
// not.
func (f *forkCheck) Consistency(ctx context.Context, state string, first, second uint64) ([][32]byte, error) {
	if f.silent != nil {
		return nil, fmt.Errorf("not asked: the gateway did not answer earlier in this run (%w)", f.silent)
	}
	proof, err := f.gateway.Consistency(ctx, state, first, second)
	f.noteNoAnswer(err, fmt.Sprintf("the consistency proof of the %s log from %d to %d", state, first, second))
	return proof, err
}

// noteNoAnswer notes err, the error of the request for what, as the run's
// first request the gateway did not answer (silent), if it is one.
func (f *forkCheck) noteNoAnswer(err error, what string) {
	if f.silent == nil && errors.Is(err, logmonitor.ErrNoAnswer) {
		f.silent = fmt.Errorf("%s: %w", what, err)
	}
}

// headSource gives a gateway's latest signed head of a state's log.
type headSource interface {
	Head(ctx context.Context, state string) (ballot.TreeHead, error)
}

// otherLog, for a proof that did not verify, asks the gateway that gave it
// for its own head of h's state: a proof judges the two heads only if the
// gateway serves this election's log, its head signed by a registered key.
// A gateway that does not (another election's, or a wrong --gateway) is
// no verdict, not a fork; nil when it does, or when its head cannot be had
// (the proof then stands as given), the gateway silent since an earlier
// request included.
func (f *forkCheck) otherLog(ctx context.Context, h ballot.TreeHead) error {
	if f.heads == nil || f.silent != nil {
		return nil
	}
	g, err := f.heads.Head(ctx, h.State)
	if err != nil {
		f.noteNoAnswer(err, "the gateway's own head of the "+h.State+" log")
		return nil
	}
	if err := g.Verify(f.keys); err != nil { // its election read only once its signature verifies
		return fmt.Errorf("%w: its consistency proof did not verify, and the gateway that gave it signs its %s head with no key registered for this election (%v): give --gateway a gateway of this election",
			errNoVerdict, h.State, err)
	}
	if g.Election != h.Election {
		return fmt.Errorf("%w: its consistency proof did not verify, and the gateway that gave it serves the %s log of election %q, not of this election %q: give --gateway a gateway of this election",
			errNoVerdict, h.State, g.Election, h.Election)
	}
	return nil
}
