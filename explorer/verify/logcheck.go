package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/logmonitor"
)

// MonitorLog checks the logs read through log against ledger, read
// through peer's peer (the organisation named, for messages), deadline
// being how long after its cast time an entry may take to reach the
// ledger before it is MISSING; it prints the findings on w (monitorLog),
// draws the progress of its steps on the bars of bars (nil: none), and
// reads and saves the heads seen before in state (nil: none). It returns
// the outcomes of the findings (their Verdict) and the error that stopped
// the check, or that it must report once it ended (a peer that did not
// answer, ctx ended); an error that stopped it before any finding comes
// with no outcomes, Outcomes{}, whose Verdict reads Passed: check the
// error first. How to word the error, and what a stopped check comes to,
// are the caller's.
func MonitorLog(ctx context.Context, w io.Writer, bars Bars, log logmonitor.Log, ledger StandingLedger, peer string, deadline time.Duration, state *LogState) (Outcomes, error) {
	m := &logmonitor.Monitor{Log: log, Ledger: ledger, Deadline: deadline}
	return monitorLog(ctx, w, bars, m, ledger, peer, state)
}

// monitorLog runs the log monitor and prints its findings, checking the
// heads of state (--log-state; nil: none), which must be of the ledger's
// election (checkElection), and saving the ones it saw there; a log
// inconsistent with a signed head is one line, FORK, BAD-PROOF or FAIL
// (printInconsistent). A head seen before past its state's anchored head
// is not checked and stays in the file, PENDING (printSeenAhead). An
// anchored head the log cannot be checked against (unsoundAnchor: not
// validly signed, or of another election or state), or a batch record that
// does not describe its transaction's votes, logmonitor.ErrRecordMismatch,
// is a FAIL line saying what it means (anchorMeans, recordMismatchMeans),
// nothing else checked or saved. The verdict is Failed on an inconsistent
// log, such a head or record, or a MISSING or UNLOGGED vote, Pending with
// pending votes or heads (Outcomes.Verdict); an error (the ledger or the
// gateway not read, the file not written) is returned with the outcomes
// found before it: none, but for the file not written after the findings,
// which stand. An entry the ledger rejected as a duplicate says where its
// nullifier was counted (entryLine: one read of dups a nullifier),
// DUPLICATE when another vote was counted with it (Duplicate when nothing
// failed), and UNCHECKED when that read failed (Unchecked unless something
// failed): the run goes on, and the heads are saved all the same, since
// Check verified them before any entry was placed and where a nullifier
// was counted says nothing of the log's consistency (the next run lists
// every entry not counted again, so it places the UNCHECKED ones). Once
// such a read gets no answer (stopLocator: peer's peer, the organisation
// named, is not reachable or does not answer a read in time), no other is
// made: the duplicates after it are UNCHECKED too, and the error returned
// with the outcomes says so once, naming the peer (a *PeerDownError). A
// read the peer answered with a failure, its own Unavailable included, is
// UNCHECKED alone. Reads left UNCHECKED once ctx has ended (--timeout, a
// signal) are the run's doing, not the peer's: the error returned is ctx's
// cause (context.Cause), which the caller words. With bars not nil, the
// check of the states draws its progress (CheckingLogs), and so does the
// reading of the duplicates' nullifiers when there are more than
// ProgressFrom (LocatingDuplicates). Whenever the error is not nil, the
// check did not complete: the outcomes returned with it are what it found
// before, a failure among them standing.
func monitorLog(ctx context.Context, w io.Writer, bars Bars, m *logmonitor.Monitor, dups NullifierLocator, peer string, state *LogState) (Outcomes, error) {
	seen := map[string]ballot.TreeHead{}
	if state != nil {
		if err := state.checkElection(ctx, m.Ledger); err != nil {
			return Outcomes{}, err
		}
		seen = state.seen
	}
	checking := bars.start(CheckingLogs, 0)
	if bars != nil {
		m.Progressed = func(read uint64) { checking.Set(int64(read), 0) }
	}
	rep, err := m.Check(ctx, seen)
	checking.Finish()
	var inconsistent *logmonitor.InconsistentError
	if errors.As(err, &inconsistent) { // every ErrInconsistent of Check
		return printInconsistent(w, inconsistent), nil
	}
	if unsoundAnchor(err) {
		fmt.Fprintf(w, "FAIL %v; %s\n", err, anchorMeans(err))
		return Outcomes{fail: 1}, nil
	}
	if errors.Is(err, logmonitor.ErrRecordMismatch) {
		fmt.Fprintf(w, "FAIL %v; %s\n", err, recordMismatchMeans)
		return Outcomes{fail: 1}, nil
	}
	if err != nil {
		return Outcomes{}, err
	}
	var t Outcomes
	stop := &stopLocator{NullifierLocator: dups}
	dups = &onceLocator{NullifierLocator: stop}
	located := duplicatesProgress(bars, rep)
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
			return t, err // a failure found stands
		}
	}
	if stop.down != nil { // the look-up it did not answer is UNCHECKED
		return t, unansweredError(peer, stop.down, t.unchecked)
	}
	if t.unchecked > 0 && ctx.Err() != nil { // the run's end, not the peer, left them unchecked
		return t, context.Cause(ctx)
	}
	return t, nil
}

// duplicate reports whether the ledger rejected entry e as a duplicate.
func duplicate(e logmonitor.Entry) bool {
	return e.Standing == ballot.StandingRejected && e.Reason == ballot.RejectDuplicate
}

// duplicatesProgress is the bar of the reads of where the nullifiers of
// rep's entries rejected as duplicates were counted, one of bars
// (LocatingDuplicates) when there are more than ProgressFrom of them; one
// that draws nothing otherwise.
func duplicatesProgress(bars Bars, rep logmonitor.Report) Bar {
	n := 0
	for _, s := range rep.States {
		for _, e := range s.Entries {
			if duplicate(e) {
				n++
			}
		}
	}
	if n <= ProgressFrom {
		return noBar{}
	}
	return bars.start(LocatingDuplicates, int64(n))
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
func entryLine(ctx context.Context, dups NullifierLocator, e logmonitor.Entry, bar Bar) (label, line string) {
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
func printStateEntries(ctx context.Context, w io.Writer, dups NullifierLocator, s logmonitor.StateReport, t *Outcomes, bar Bar) {
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
func printInconsistent(w io.Writer, e *logmonitor.InconsistentError) Outcomes {
	var t Outcomes
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
