package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/logmonitor"
)

// CheckAcceptances verifies each receipt with keys and, with a ledger,
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
func CheckAcceptances(ctx context.Context, w io.Writer, as []ballot.Acceptance, keys ballot.LogKeys, ledger StandingLedger, proofs logmonitor.Proofs, deadline time.Duration, now time.Time) (Outcomes, error) {
	var t Outcomes
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
// err is the finding. FORK is a failure (Outcomes.fork).
func printFork(w io.Writer, subject, head string, anchored ballot.AnchoredHead, proof, fork string, err error) {
	fmt.Fprintf(w, "FORK %s: %s is not of the log anchored on the ledger (%d entries, tx %.16s…): %s, %s: %v\n",
		subject, head, anchored.Head.Size, anchored.TxID, proof, fork, err)
}

// printBadProof prints the BAD-PROOF line of subject: head is not shown to
// be of the log anchored on the ledger as anchored, because the proof the
// gateway served, err, did not verify. Either fork, what a fork means
// there, or a bad proof: the line says both, that the gateway cannot show
// its log is append-only, and how the head is cleared. BAD-PROOF is a
// failure as FORK is (Outcomes.badProof).
func printBadProof(w io.Writer, subject, head string, anchored ballot.AnchoredHead, fork string, err error) {
	fmt.Fprintf(w, "BAD-PROOF %s: %s is not shown to be of the log anchored on the ledger (%d entries, tx %.16s…): %v; either %s (a fork) or the gateway serves a bad proof for heads of one log, and either way it cannot show its log is append-only; a proof that verifies, from another gateway of this election (--gateway), clears the head, and none exists for a fork\n",
		subject, head, anchored.Head.Size, anchored.TxID, err, fork)
}

// AcceptanceSummary is --acceptance's summary line of t (without a
// newline): the receipts counted and the outcomes the mode can give, which
// add up to them, "N receipts: " and the counts. Offline a receipt is
// VALID or FAILs (no ledger, no heads compared): "a valid, b failed".
// Against the ledger it is good (COUNTED, REJECTED), failed, missing or
// pending and, only when the heads are compared (forks: --gateway), also
// forked, bad proof or unchecked, in the order of outcomes, then, only
// when there are any, "duplicate of another vote counted first"
// (DUPLICATE); "missing" says, when there are any, how many of the
// MISSING are under a head with no verdict (UNCHECKED on their lines).
func AcceptanceSummary(t Outcomes, offline, forks bool) string {
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

// SplitAcceptances returns the acceptance receipts of decoded, the values
// ReadJSON read, in order, and prints on w a FAIL line for each value that
// is not one, with why (its Err) and where to get one; the Outcomes
// returned count those values failed, for the caller to add (Plus) to
// CheckAcceptances' of the receipts.
func SplitAcceptances(w io.Writer, decoded []Decoded[ballot.Acceptance]) ([]ballot.Acceptance, Outcomes) {
	var as []ballot.Acceptance
	var t Outcomes
	for _, d := range decoded {
		if d.Err != nil {
			t.fail++
			fmt.Fprintf(w, "FAIL %s: not an acceptance receipt: %v; one is the body of the gateway's %s\n", d.At, d.Err, AcceptanceRoute)
			continue
		}
		as = append(as, d.V)
	}
	return as, t
}

// failAcceptance prints the FAIL line of acceptance receipt a, which err
// fails: "FAIL <vote id>: <err>". A receipt whose vote id (its own or its
// vote's) is not one was damaged, or is not an acceptance receipt at all,
// and no check can pass it: the line also says where to get a good one.
func failAcceptance(w io.Writer, a ballot.Acceptance, err error) {
	fix := ""
	if !ballot.ValidVoteID(a.VoteID) || !ballot.ValidVoteID(a.Vote.ID) {
		fix = "; the file is damaged or is not an acceptance receipt: fetch the vote's again from the gateway, " + AcceptanceRoute +
			"?state=STATE&index=N (the acceptance_url of the gateway's answer to the vote), or use the file the voter page saved when the vote was cast"
	}
	fmt.Fprintf(w, "FAIL %s: %v%s\n", a.VoteID, err, fix)
}

// StandingLedger is what checking acceptance receipts against the ledger
// needs.
type StandingLedger interface {
	logmonitor.Ledger
	NullifierLocator
}
