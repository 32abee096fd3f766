package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/logmonitor"
	"github.com/votechain/votechain/internal/cli"
	"github.com/votechain/votechain/internal/logprogress"
	"github.com/votechain/votechain/internal/privatefile"
)

// readKeys reads log keys from a file: the ledger's record as GetLogKeys
// returns it ({"keys":[...]}), or Ed25519 public keys, 64 hex each, one a
// line.
func readKeys(path string) (ballot.LogKeys, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return ballot.LogKeys{}, err
	}
	noKey := fmt.Errorf("%s holds no log key: want the ledger's GetLogKeys record {\"keys\":[...]} or one 64-hex public key a line", path)
	var keys ballot.LogKeys
	if json.Unmarshal(data, &keys) == nil {
		if len(keys.Keys) == 0 {
			return ballot.LogKeys{}, noKey
		}
		return keys, nil
	}
	var pubs []ballot.LogKey
	for _, line := range strings.Fields(string(data)) {
		raw, err := hex.DecodeString(line)
		if err != nil || len(raw) != ed25519.PublicKeySize {
			return ballot.LogKeys{}, fmt.Errorf("%s: want {\"keys\":[...]} or one 64-hex public key a line", path)
		}
		pubs = append(pubs, ballot.NewLogKey(raw))
	}
	if len(pubs) == 0 {
		return ballot.LogKeys{}, noKey
	}
	keys, _, err = ballot.LogKeys{}.Register(pubs, 0)
	if err != nil {
		return ballot.LogKeys{}, fmt.Errorf("%s: %w", path, err)
	}
	return keys, nil
}

// standingLedger is what checking acceptance receipts against the ledger
// needs.
type standingLedger interface {
	logmonitor.Ledger
	nullifierLocator
}

// outcomes counts the outcomes of checks (of receipts or acceptance
// receipts) for the summary and exit status, each check in one outcome
// only, so that they add up to the checks (total). Of acceptance receipts,
// fork are those whose heads are not of the anchored log by two signed heads
// of one size (FORK), badProof those whose heads the gateway's consistency
// proof did not show to be (BAD-PROOF), unchecked those whose heads got no
// verdict (UNCHECKED, forkCheck: no consistency proof). otherCounted are
// those whose vote the ledger rejected as a duplicate because another vote
// with its nullifier was counted first (DUPLICATE, errOtherCounted). A
// receipt with several findings counts in the first of fail, fork,
// badProof, missing, unchecked, otherCounted, pending, ok: a failure
// first, as in exit. missingUnchecked is a cross-cut, not an outcome: the
// missing whose heads got no verdict.
type outcomes struct {
	ok, fail, fork, badProof, missing, unlogged, pending, unchecked, otherCounted int
	missingUnchecked                                                              int
}

// total is the number of checks t counts.
func (t outcomes) total() int {
	return t.ok + t.fail + t.fork + t.badProof + t.missing + t.unlogged + t.pending + t.unchecked + t.otherCounted
}

// otherCountedSummary counts DUPLICATE receipts in the summaries.
const otherCountedSummary = "duplicate of another vote counted first"

// checkAcceptances verifies each receipt with keys and, with a ledger,
// reports where its vote stands: COUNTED, REJECTED (reason; a duplicate's
// says where its nullifier was counted, whyDuplicate, and is DUPLICATE
// when another vote was counted with it), PENDING
// (within the deadline) or MISSING (past it: the signed head proves the
// vote was accepted, and the ledger does not hold it). Without a ledger
// (offline) a receipt that verifies is VALID. With a ledger, a receipt
// whose head is of another election than the ledger's FAILs saying so: the
// ledger holds neither its vote nor its log. With a ledger and proofs (the
// gateway's consistency proofs), a receipt whose head is not of the log
// anchored on the ledger (forks.check) is FORK when the two heads prove it
// (one size, two roots), BAD-PROOF when the gateway's proof between them
// did not verify (a fork, or a gateway serving a bad proof for heads of one
// log), both failures, and one whose head could not be compared (no proof)
// is UNCHECKED, its standing given and the other receipts still checked; a
// MISSING vote does not rest on the heads' comparison, and its receipt is
// MISSING whatever that gave (counted in missing only, and in the
// cross-cut missingUnchecked), its line saying why its head has no verdict when it
// has none. A receipt whose state's anchored head does not verify with keys,
// or is of another election or state (forkCheck.verifyAnchored), FAILs
// saying so (anchorMeans): its head is not compared with it. With a ledger,
// a receipt whose state has a batch record that does not describe its
// transaction's votes (logmonitor.ErrRecordMismatch) FAILs saying so
// (recordMismatchMeans): where its vote stands cannot be read. Each
// receipt is counted in one outcome (outcomes). A failure to read the
// ledger ends the check (errLedger) with the outcomes so far.
func checkAcceptances(ctx context.Context, w io.Writer, as []ballot.Acceptance, keys ballot.LogKeys, ledger standingLedger, proofs logmonitor.Proofs, deadline time.Duration, now time.Time) (outcomes, error) {
	var t outcomes
	var election *ballot.Election
	placed := map[string]*logmonitor.Placed{}
	unplaced := map[string]error{} // by state: why its votes cannot be placed (a batch record that does not describe its transaction)
	if ledger != nil {
		var err error
		if election, err = ledger.Election(ctx); err != nil {
			return t, fmt.Errorf("%w: %v", errLedger, err)
		}
	}
	var forks *forkCheck
	if ledger != nil && proofs != nil {
		forks = &forkCheck{ledger: ledger, gateway: proofs, keys: keys, election: election.ID,
			anchored: map[string]*ballot.AnchoredHead{}, unsound: map[string]error{}, found: map[ballot.TreeHead]error{}}
		forks.heads, _ = proofs.(headSource)
	}
	for _, a := range as {
		if ledger == nil {
			if err := a.Verify(keys); err != nil {
				t.fail++
				failAcceptance(w, a, err)
				continue
			}
			t.ok++
			fmt.Fprintf(w, "VALID %s: accepted as entry %d of the %s log of election %s under a head of %d entries signed by key %s\n", a.VoteID, a.Index, a.Head.State, a.Head.Election, a.Head.Size, a.Head.KeyID)
			continue
		}
		if a.Head.Election != election.ID {
			t.fail++
			failAcceptance(w, a, otherElection(a.Head.Election, election.ID))
			continue
		}
		if _, ok := placed[a.Head.State]; !ok && ballot.ValidState(a.Head.State) {
			p, err := logmonitor.Placements(ctx, ledger, a.Head.State)
			if errors.Is(err, logmonitor.ErrRecordMismatch) { // a finding, not a read to try again
				unplaced[a.Head.State] = fmt.Errorf("where its vote stands cannot be read from this ledger: %v; %s", err, recordMismatchMeans)
			} else if err != nil {
				return t, fmt.Errorf("%w: %v", errLedger, err)
			}
			placed[a.Head.State] = p // nil on a mismatch: the state's batches are not read again
		}
		standing, reason, err := logmonitor.Standing(a, keys, placed[a.Head.State], now, deadline, election.Status == ballot.StatusFinalised)
		if err == nil {
			err = unplaced[a.Head.State]
		}
		var anchored *ballot.AnchoredHead
		var fork error
		if err == nil && forks != nil {
			if anchored, fork, err = forks.check(ctx, a.Head); errors.Is(err, errLedger) {
				return t, err
			}
		}
		otherCounted := false
		if (err == nil || errors.Is(err, errNoVerdict)) && fork == nil {
			full, other, derr := placeDuplicate(ctx, ledger, a.Vote, standing, reason)
			switch {
			case errors.Is(derr, errLedger):
				return t, derr
			case derr != nil:
				err = derr
			default:
				reason, otherCounted = full, other
			}
		}
		unchecked := "" // the head against the anchored one, and why that has no verdict
		if errors.Is(err, errNoVerdict) {
			unchecked = fmt.Sprintf("its head of the %s log (%d entries, signed by key %s) against the one anchored on the ledger (%d entries, tx %.16s…): %v",
				a.Head.State, a.Head.Size, a.Head.KeyID, anchored.Head.Size, anchored.TxID, err)
			err = nil
		}
		switch {
		case err != nil:
			t.fail++
			failAcceptance(w, a, err)
		case errors.Is(fork, errBadProof):
			t.badProof++
			printBadProof(w, a.VoteID, "its "+signedHead(a.Head), *anchored, shownAnotherLog, fork)
		case fork != nil:
			t.fork++
			printFork(w, a.VoteID, "its "+signedHead(a.Head), *anchored, forkBySize, shownAnotherLog, fork)
		case standing == ballot.StandingMissing:
			t.missing++
			line := fmt.Sprintf("MISSING %s: accepted (entry %d of the %s log, cast %s) under the head of %d entries signed by key %s at %s, and not on the ledger %s after",
				a.VoteID, a.Index, a.Head.State, time.UnixMilli(a.Vote.CastAt).UTC().Format(time.RFC3339), a.Head.Size, a.Head.KeyID,
				time.UnixMilli(a.Head.Timestamp).UTC().Format(time.RFC3339), deadline)
			if unchecked != "" {
				t.missingUnchecked++
				line += "; whether its head is a fork is UNCHECKED: " + unchecked
			}
			fmt.Fprintln(w, line)
		case unchecked != "":
			t.unchecked++
			if reason != "" {
				standing += " (" + reason + ")"
			}
			fmt.Fprintf(w, "UNCHECKED %s: its vote stands %s on the ledger; %s\n", a.VoteID, standing, unchecked)
		case otherCounted:
			t.otherCounted++
			fmt.Fprintf(w, "DUPLICATE %s: on the ledger, rejected: %s\n", a.VoteID, reason)
		case standing == ballot.StandingPending:
			t.pending++
			fmt.Fprintf(w, "PENDING %s: accepted, not on the ledger yet (within %s of its cast time)\n", a.VoteID, deadline)
		case standing == ballot.StandingRejected:
			t.ok++
			fmt.Fprintf(w, "REJECTED %s: on the ledger, rejected: %s\n", a.VoteID, reason)
		default:
			t.ok++
			fmt.Fprintf(w, "COUNTED %s: accepted as entry %d of the %s log and counted on the ledger\n", a.VoteID, a.Index, a.Head.State)
		}
	}
	return t, nil
}

// otherElection is the failure of a receipt whose head is of election
// receipt's, checked against the ledger of election ledger's: the ledger
// holds neither its vote nor its log's anchored head, so it can say
// neither where the vote stands nor whether the head is a fork (a log key
// registered in both elections still verifies its signature).
func otherElection(receipt, ledger string) error {
	return fmt.Errorf("a receipt of election %q (its signed head says so), and this ledger is election %q's: it holds neither the receipt's vote nor its log, so the receipt cannot be checked here; check it against election %q's ledger (--profile of that election's network)", receipt, ledger, receipt)
}

// signedHead names a signed head h on a FORK or BAD-PROOF line.
func signedHead(h ballot.TreeHead) string {
	return fmt.Sprintf("head of the %s log (%d entries, signed by key %s at %s)", h.State, h.Size, h.KeyID, time.UnixMilli(h.Timestamp).UTC().Format(time.RFC3339))
}

// forkBySize is what proves a FORK of two heads of one size, on the lines
// of --acceptance and --log alike.
const forkBySize = "two signed heads of one size with different roots prove it"

// printFork prints the FORK line of subject (a receipt's vote id, a log's
// state): head, a signed head described, is not of the log anchored on the
// ledger as anchored, which proof proves; fork says what that means there,
// err is the finding. FORK is a failure (outcomes.fork).
func printFork(w io.Writer, subject, head string, anchored ballot.AnchoredHead, proof, fork string, err error) {
	fmt.Fprintf(w, "FORK %s: %s is not of the log anchored on the ledger (%d entries, tx %.16s…): %s, %s: %v\n",
		subject, head, anchored.Head.Size, anchored.TxID, proof, fork, err)
}

// printBadProof prints the BAD-PROOF line of subject: head is not shown to
// be of the log anchored on the ledger as anchored, because the proof the
// gateway served, err, did not verify. Either fork, what a fork means
// there, or a bad proof: the line says both, that the gateway cannot show
// its log is append-only, and how the head is cleared. BAD-PROOF is a
// failure as FORK is (outcomes.badProof).
func printBadProof(w io.Writer, subject, head string, anchored ballot.AnchoredHead, fork string, err error) {
	fmt.Fprintf(w, "BAD-PROOF %s: %s is not shown to be of the log anchored on the ledger (%d entries, tx %.16s…): %v; either %s (a fork) or the gateway serves a bad proof for heads of one log, and either way it cannot show its log is append-only; a proof that verifies, from another gateway of this election (--gateway), clears the head, and none exists for a fork\n",
		subject, head, anchored.Head.Size, anchored.TxID, err, fork)
}

// acceptanceSummary is --acceptance's summary line of t (without a
// newline): the receipts counted and the outcomes the mode can give, which
// add up to them, "N receipts: " and the counts. Offline a receipt is
// VALID or FAILs (no ledger, no heads compared): "a valid, b failed".
// Against the ledger it is good (COUNTED, REJECTED), failed, missing or
// pending and, only when the heads are compared (forks: --gateway), also
// forked, bad proof or unchecked, in the order of outcomes, then, only
// when there are any, "duplicate of another vote counted first"
// (DUPLICATE); "missing" says, when there are any, how many of the
// MISSING are under a head with no verdict (UNCHECKED on their lines).
func acceptanceSummary(t outcomes, offline, forks bool) string {
	var counts []string
	count := func(n int, what string) { counts = append(counts, fmt.Sprintf("%d %s", n, what)) }
	switch {
	case offline:
		count(t.ok, "valid")
		count(t.fail, "failed")
	default:
		count(t.ok, "good")
		count(t.fail, "failed")
		if forks {
			count(t.fork, "forked")
			count(t.badProof, "bad proof")
		}
		missing := "missing"
		if t.missingUnchecked > 0 {
			missing += fmt.Sprintf(" (%d of them under an unchecked head)", t.missingUnchecked)
		}
		count(t.missing, missing)
		count(t.pending, "pending")
		if forks {
			count(t.unchecked, "unchecked")
		}
		if t.otherCounted > 0 {
			count(t.otherCounted, otherCountedSummary)
		}
	}
	return fmt.Sprintf("%d receipts: %s", t.total(), strings.Join(counts, ", "))
}

// shownAnotherLog is what a receipt's head not of the anchored log means:
// its FORK, or the fork side of its BAD-PROOF.
const shownAnotherLog = "the signer showed the voter another log"

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
	// (cli.ErrGatewayNoAnswer: its time up, the connection refused), nil
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
// ledger's election and h's state (verifyAnchored; checkAcceptances fails
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
	if f.silent == nil && errors.Is(err, cli.ErrGatewayNoAnswer) {
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

// acceptanceRoute is where the gateway serves a vote's acceptance receipt:
// the acceptance_url of its answer to the vote (openapi.yaml).
const acceptanceRoute = "GET /api/v1/votes/{vote_id}/acceptance"

// failAcceptance prints the FAIL line of acceptance receipt a, which err
// fails: "FAIL <vote id>: <err>". A receipt whose vote id (its own or its
// vote's) is not one was damaged, or is not an acceptance receipt at all,
// and no check can pass it: the line also says where to get a good one.
func failAcceptance(w io.Writer, a ballot.Acceptance, err error) {
	fix := ""
	if !ballot.ValidVoteID(a.VoteID) || !ballot.ValidVoteID(a.Vote.ID) {
		fix = "; the file is damaged or is not an acceptance receipt: fetch the vote's again from the gateway, " + acceptanceRoute +
			"?state=STATE&index=N (the acceptance_url of the gateway's answer to the vote), or use the file the voter page saved when the vote was cast"
	}
	fmt.Fprintf(w, "FAIL %s: %v%s\n", a.VoteID, err, fix)
}

// logState is --log-state's file: the heads of the logs a run of --log
// saw, by state, which the next run checks the logs still give.
type logState struct {
	path string
	seen map[string]ballot.TreeHead
}

// readLogState reads --log-state's file at path: nil for none (""), no
// heads for a file not written yet (a first run). A file that cannot be
// read, or that is not one --log wrote, is an error naming the flag.
func readLogState(path string) (*logState, error) {
	if path == "" {
		return nil, nil
	}
	s := &logState{path: path, seen: map[string]ballot.TreeHead{}}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("--log-state: %w", err)
	}
	err = json.Unmarshal(data, &s.seen)
	if err == nil && s.seen == nil {
		err = errors.New("it holds null")
	}
	if err != nil {
		return nil, fmt.Errorf("--log-state %s is not a file of the heads verify --log saw (%v): give the file an earlier run wrote, or a new one", path, err)
	}
	return s, nil
}

// save writes the heads seen to the file, whose flag an error names,
// whole or not at all (privatefile.Write: a temporary file beside it,
// fsynced, renamed over it), so that a run killed or failing while it
// writes leaves the heads the file held, the evidence of a fork, as they
// were; a temporary file an earlier run killed outright left is removed
// first (privatefile.RemoveStale, logged). The file is mode 0600.
func (s *logState) save() error {
	data, err := json.MarshalIndent(s.seen, "", "  ")
	if err == nil {
		privatefile.RemoveStale(s.path, slog.Default())
		err = privatefile.WriteData(s.path, data)
	}
	if err != nil {
		return fmt.Errorf("--log-state: %w", err)
	}
	return nil
}

// checkElection refuses a file holding heads of another election than
// the ledger's (an error, status 2, naming the file, the elections and the
// fix): a run against that election's ledger wrote it, and its heads say
// nothing of this election's logs. A file is written only from anchored
// heads, each naming its election under its signature, and an election's
// record cannot change once a head is anchored (SetupElection,
// ballot.CheckSetUpAnchored): such a file is another ledger's, not a
// finding against this one.
func (s *logState) checkElection(ctx context.Context, ledger logmonitor.Ledger) error {
	if len(s.seen) == 0 {
		return nil
	}
	e, err := ledger.Election(ctx)
	if err != nil {
		return err
	}
	others := map[string][]string{} // states, by election
	for _, st := range slices.Sorted(maps.Keys(s.seen)) {
		if id := s.seen[st].Election; id != e.ID {
			others[id] = append(others[id], st)
		}
	}
	if len(others) == 0 {
		return nil
	}
	var of []string
	for _, id := range slices.Sorted(maps.Keys(others)) {
		of = append(of, fmt.Sprintf("election %q (%s)", id, strings.Join(others[id], ", ")))
	}
	return fmt.Errorf("--log-state %s holds heads of %s, not of this ledger's election %q: a run against that election's ledger wrote it; keep a state file per election (give this election's runs another --log-state file), or delete %s if its heads are no longer needed",
		s.path, strings.Join(of, " and "), e.ID, s.path)
}

// monitorLog runs the log monitor and prints its findings, checking the
// heads of state (--log-state; nil: none), which must be of the ledger's
// election (checkElection), and saving the ones it saw there; a log
// inconsistent with a signed head is one line, FORK, BAD-PROOF or FAIL
// (printInconsistent). A head seen before past its state's anchored head
// is not checked and stays in the file, PENDING (printSeenAhead). An
// anchored head the log cannot be checked against (unsoundAnchor: not
// validly signed, or of another election or state), or a batch record
// that does not describe its transaction's votes
// (logmonitor.ErrRecordMismatch), is a FAIL line saying what it means
// (anchorMeans, recordMismatchMeans), nothing else checked or saved. The
// exit status is 1 on an inconsistent log, such a head or record, or a
// MISSING or UNLOGGED vote, 3 with pending votes or heads (outcomes.exit);
// an error (the ledger or the gateway not read, the file not written) is
// 2. An entry the ledger rejected as a duplicate says where its nullifier
// was counted (entryLine: one read of dups a nullifier), DUPLICATE when
// another vote was counted with it (status 4 when nothing failed), and
// UNCHECKED when that read failed (status 2 unless something failed): the
// run goes on, and the heads are saved all the same, since Check verified
// them before any entry was placed and where a nullifier was counted says
// nothing of the log's consistency (the next run lists every entry not
// counted again, so it places the UNCHECKED ones). Once such a read gets
// no answer (stopLocator: peer's peer, the organisation named, is not
// reachable or does not answer a read in time), no other is made: the
// duplicates after it are UNCHECKED too, and the error returned with the
// status says so once, naming the peer and the fixes (unansweredError). A
// read the peer answered with a failure, its own Unavailable included, is
// UNCHECKED alone. Reads left UNCHECKED once ctx has ended (--timeout, a
// signal) are the run's doing, not the peer's: the error returned is ctx's
// cause (context.Cause), which the caller words. With progress not nil, the check
// of the states draws its progress there, and so does the reading of the
// duplicates' nullifiers when there are more than progressFrom.
func monitorLog(ctx context.Context, w, progress io.Writer, m *logmonitor.Monitor, dups nullifierLocator, peer string, state *logState) (int, error) {
	seen := map[string]ballot.TreeHead{}
	if state != nil {
		if err := state.checkElection(ctx, m.Ledger); err != nil {
			return statusIncomplete, err
		}
		seen = state.seen
	}
	bar := logprogress.Show(progress, m)
	rep, err := m.Check(ctx, seen)
	bar.Finish()
	var inconsistent *logmonitor.InconsistentError
	if errors.As(err, &inconsistent) { // every ErrInconsistent of Check
		return printInconsistent(w, inconsistent).exit(), nil
	}
	if unsoundAnchor(err) {
		fmt.Fprintf(w, "FAIL %v; %s\n", err, anchorMeans(err))
		return outcomes{fail: 1}.exit(), nil
	}
	if errors.Is(err, logmonitor.ErrRecordMismatch) {
		fmt.Fprintf(w, "FAIL %v; %s\n", err, recordMismatchMeans)
		return outcomes{fail: 1}.exit(), nil
	}
	if err != nil {
		return statusIncomplete, err
	}
	var t outcomes
	stop := &stopLocator{nullifierLocator: dups}
	dups = &onceLocator{nullifierLocator: stop}
	located := duplicatesProgress(progress, rep)
	defer located.Finish()
	for _, s := range rep.States {
		t.unlogged += s.Unlogged
		if s.SeenAhead {
			t.pending++
		}
		if s.Head == nil {
			fmt.Fprintf(w, "%s: no head anchored yet\n", s.State)
			printSeenAhead(w, s, seen[s.State])
			printUnlogged(w, s)
			continue
		}
		printStateEntries(ctx, w, dups, s, &t, located)
		printSeenAhead(w, s, seen[s.State])
		printUnlogged(w, s)
		t.missing += s.Counts[ballot.StandingMissing]
		t.pending += s.Counts[ballot.StandingPending]
		if !s.SeenAhead { // a larger head seen before is kept till it is checked
			seen[s.State] = s.Head.Head
		}
	}
	if state != nil {
		if err := state.save(); err != nil {
			return statusIncomplete, err
		}
	}
	if stop.down != nil {
		return t.exit(), unansweredError(peer, stop.down, t.unchecked)
	}
	if t.unchecked > 0 && ctx.Err() != nil { // the run's end, not the peer, left them unchecked
		return t.exit(), context.Cause(ctx)
	}
	return t.exit(), nil
}

// duplicate reports whether the ledger rejected entry e as a duplicate.
func duplicate(e logmonitor.Entry) bool {
	return e.Standing == ballot.StandingRejected && e.Reason == ballot.RejectDuplicate
}

// duplicatesProgress is the bar of the reads of where the nullifiers of
// rep's entries rejected as duplicates were counted, drawn on progress
// when there are more than progressFrom of them (as for receipts); nil
// (no bar) otherwise.
func duplicatesProgress(progress io.Writer, rep logmonitor.Report) *cli.Progress {
	n := 0
	for _, s := range rep.States {
		for _, e := range s.Entries {
			if duplicate(e) {
				n++
			}
		}
	}
	if progress == nil || n <= progressFrom {
		return nil
	}
	return cli.NewProgress(progress, "locating duplicates' nullifiers", int64(n))
}

// entryLine is the line of entry e, one the ledger has not counted,
// "  LABEL VOTE-ID: entry N, cast TIME[, REASON]", and its label. One
// rejected as a duplicate says where its nullifier was counted, as
// --acceptance does (placeDuplicate, with dups; bar told of it): the
// standing's line when with this same vote (a re-send), DUPLICATE when
// with another, FAIL when the ledger holds the nullifier as unused, and
// UNCHECKED, with the error, when the ledger could not be read (errLedger),
// or saying it was not looked up (errNotLookedUp: the run's message says
// why and what to do). Any other entry's label is its standing.
func entryLine(ctx context.Context, dups nullifierLocator, e logmonitor.Entry, bar *cli.Progress) (label, line string) {
	reason, other, err := placeDuplicate(ctx, dups, e.Vote, e.Standing, e.Reason)
	if duplicate(e) {
		bar.Add(1)
	}
	label = e.Standing
	switch {
	case errors.Is(err, errNotLookedUp):
		label, reason = "UNCHECKED", reason+": whether another vote was counted with its nullifier is not known: "+errNotLookedUp.Error()+" (verify's message at the end says what to do)"
	case errors.Is(err, errLedger):
		label, reason = "UNCHECKED", reason+": whether another vote was counted with its nullifier is not known: "+err.Error()+"; run verify again"
	case err != nil:
		label, reason = "FAIL", reason+": "+err.Error()
	case other:
		label = "DUPLICATE"
	}
	line = fmt.Sprintf("  %s %s: entry %d, cast %s", label, e.Vote.ID, e.Index, time.UnixMilli(e.Vote.CastAt).UTC().Format(time.RFC3339))
	if reason != "" {
		line += ", " + reason
	}
	return label, line
}

// printStateEntries prints state s's summary line and then its entries'
// lines (entryLine), counting their DUPLICATE, FAIL and UNCHECKED lines in
// t. The summary counts those apart from the entries plainly rejected (a
// re-send, or another reason), FAIL and UNCHECKED only when there are any.
func printStateEntries(ctx context.Context, w io.Writer, dups nullifierLocator, s logmonitor.StateReport, t *outcomes, bar *cli.Progress) {
	lines := make([]string, 0, len(s.Entries))
	labels := map[string]int{}
	for _, e := range s.Entries {
		label, line := entryLine(ctx, dups, e, bar)
		labels[label]++
		lines = append(lines, line)
	}
	t.otherCounted += labels["DUPLICATE"]
	t.fail += labels["FAIL"]
	t.unchecked += labels["UNCHECKED"]
	rejected := s.Counts[ballot.StandingRejected] - labels["DUPLICATE"] - labels["FAIL"] - labels["UNCHECKED"]
	summary := fmt.Sprintf("%s: %d entries under the head anchored in tx %.16s… (signed by key %s at %s): %d counted, %d rejected, %d DUPLICATE, %d pending, %d MISSING",
		s.State, s.Head.Head.Size, s.Head.TxID, s.Head.Head.KeyID, time.UnixMilli(s.Head.Head.Timestamp).UTC().Format(time.RFC3339),
		s.Counts[ballot.StandingCounted], rejected, labels["DUPLICATE"], s.Counts[ballot.StandingPending], s.Counts[ballot.StandingMissing])
	for _, label := range []string{"FAIL", "UNCHECKED"} {
		if labels[label] > 0 {
			summary += fmt.Sprintf(", %d %s", labels[label], label)
		}
	}
	fmt.Fprintln(w, summary)
	for _, line := range lines {
		fmt.Fprintln(w, line)
	}
}

// unsoundAnchor reports whether err, Monitor.Check's, is of an anchored
// head that does not verify with the registered keys (malformed, signed by
// a key not registered, or a signature that does not verify) or that is
// not of its state's log in the ledger's election (ErrForeignHead): a head
// the log cannot be checked against (logmonitor.VerifyAnchored), a failure
// (FAIL), not a ledger that cannot be read (try again).
func unsoundAnchor(err error) bool {
	return errors.Is(err, ballot.ErrBadHead) || errors.Is(err, ballot.ErrUnknownLogKey) ||
		errors.Is(err, ballot.ErrBadSignature) || errors.Is(err, logmonitor.ErrForeignHead)
}

// printInconsistent prints the line of a log the monitor found
// inconsistent with a signed head, worded as --acceptance words heads, and
// returns its outcome, a failure: FORK when the head seen before
// (--log-state) and the anchored head prove it by themselves (of one size,
// two roots) or the log's entries that give the anchored head's root give
// the smaller seen head another root; BAD-PROOF when the entries the
// gateway serves do not give a signed head's root (the log rewritten, or a
// gateway serving bad entries); FAIL when the head seen before is not one
// of the state's signed by a registered key (a damaged file; nothing proven
// of the log).
func printInconsistent(w io.Writer, e *logmonitor.InconsistentError) outcomes {
	var t outcomes
	seenHead := "the " + signedHead(e.Seen) + " seen before (--log-state)"
	const rewritten = "the log was rewritten after it was signed"
	switch e.Evidence {
	case logmonitor.HeadsDiffer:
		t.fork++
		printFork(w, e.State, seenHead, e.Anchored, forkBySize, rewritten, e)
	case logmonitor.PrefixDiffers:
		t.fork++
		printFork(w, e.State, seenHead, e.Anchored, "the log's entries, which give the anchored head's root, give another root at its size, which proves it", rewritten, e)
	case logmonitor.SeenNotSigned: // of this election (checkElection): the file was damaged or edited
		t.fail++
		fmt.Fprintf(w, "FAIL %s: %v; the head seen before (--log-state) is not a head of this election's %s log signed by a registered key (the file was damaged or edited: a run writes only heads it verified), so this proves nothing of the log: give --log-state the file an earlier run wrote, or a new one\n",
			e.State, e, e.State)
	default: // logmonitor.EntriesDiffer
		t.badProof++
		printBadProof(w, e.State, "what the gateway serves of the "+e.State+" log", e.Anchored, "the log was rewritten after the anchored head was signed", e)
	}
	return t
}

// printSeenAhead says of a state whose head seen before (--log-state) is
// past its anchored head (StateReport.SeenAhead) that it is PENDING: not
// checked this run, kept in the file, checked once the anchored head
// reaches it. The chaincode never anchors a smaller head than it holds,
// and the file holds heads anchored when an earlier run read them, so the
// peer read now is behind the one that run read (another --peer, or a peer
// catching up), as a receipt's block can be; one that stays behind has
// lost blocks.
func printSeenAhead(w io.Writer, s logmonitor.StateReport, seen ballot.TreeHead) {
	if !s.SeenAhead {
		return
	}
	anchored := "none"
	if s.Head != nil {
		anchored = fmt.Sprintf("%d entries", s.Head.Head.Size)
	}
	fmt.Fprintf(w, "  PENDING the %s seen before (--log-state): past the head this peer has anchored (%s), so not checked this run; kept in the file, it is checked once the anchored head reaches it. The ledger never anchors a smaller head, so this peer (--peer) is behind the one an earlier run read; should it stay behind, it lost blocks: compare with the other organisation's peer\n",
		signedHead(seen), anchored)
}

// printUnlogged lists the state's votes the ledger counts that its log does
// not hold, if any.
func printUnlogged(w io.Writer, s logmonitor.StateReport) {
	if s.Unlogged == 0 {
		return
	}
	fmt.Fprintf(w, "  %d UNLOGGED: votes the ledger counts that the %s log does not hold (no gateway accepted them); the earliest cast:\n", s.Unlogged, s.State)
	for _, u := range s.UnloggedVotes {
		fmt.Fprintf(w, "  UNLOGGED %s\n", u.Where(s.State))
	}
}
