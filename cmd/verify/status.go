package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/votechain/votechain/internal/cli"
)

// verify's exit statuses; exitStatuses says what each means.
const (
	statusGood       = 0
	statusFailed     = 1
	statusIncomplete = 2
	statusPending    = 3
	statusDuplicate  = 4
)

// exitStatus is one of verify's exit statuses: its code, what gives it
// (the help's text), and, for the statuses a finished run's findings give,
// whether outcomes t give it (found; nil for the statuses of a run an
// error or a signal stopped, and for statusGood, which is what is left).
type exitStatus struct {
	code  int
	means string
	found func(t outcomes) bool
}

// exitStatuses are verify's exit statuses, the first that applies in
// order: the one account of them, which --help prints (exitStatusHelp),
// outcomes.exit follows for a finished run and outcomes.stopped for a
// stopped one.
var exitStatuses = []exitStatus{
	{statusFailed, "some FAIL, FORK, BAD-PROOF, MISSING or UNLOGGED (or an inconsistent log, an anchored head the log cannot be checked against: not validly signed, or of another election or state, or a batch record that does not describe its transaction's votes), whatever else the run found or could not check (an error, --timeout or a signal that stopped it included)",
		func(t outcomes) bool { return t.fail+t.fork+t.badProof+t.missing+t.unlogged > 0 }},
	{cli.Interrupted{Signal: syscall.SIGINT}.ExitStatus(), "SIGINT (Ctrl-C) stopped the run, nothing failed before it (stderr says what it was doing and what it had found)", nil},
	{cli.Interrupted{Signal: syscall.SIGTERM}.ExitStatus(), "SIGTERM stopped the run, as SIGINT above", nil},
	{statusIncomplete, "a usage, file, gateway or ledger error, the run past --timeout, or some UNCHECKED (--acceptance --gateway: no verdict on a head; --log: where a duplicate's nullifier was counted not read): the run is not complete",
		func(t outcomes) bool { return t.unchecked > 0 }},
	{statusDuplicate, "some DUPLICATE (a vote rejected because another vote with the voter's credentials was counted first: the voter should contact the election's officials)",
		func(t outcomes) bool { return t.otherCounted > 0 }},
	{statusPending, "some still PENDING (not on the ledger yet, or in a block the peer has not reached; for --log also a head seen before past the peer's anchored head)",
		func(t outcomes) bool { return t.pending > 0 }},
	{statusGood, "all PASS, COUNTED, REJECTED or VALID (--offline)", nil},
}

// exitStatusHelp is the help's account of the exit statuses, from
// exitStatuses.
func exitStatusHelp() string {
	var b strings.Builder
	b.WriteString("Exit status, the first that applies:")
	for _, s := range exitStatuses {
		fmt.Fprintf(&b, "\n  %-3d  %s", s.code, wrap(s.means, helpWidth, "\n       "))
	}
	return b.String()
}

// helpWidth is the width the help's exit statuses are wrapped to.
const helpWidth = 80

// wrap breaks text into lines of at most width characters (a longer word
// alone on its line), joined by sep.
func wrap(text string, width int, sep string) string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			lines, line = append(lines, line), ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	return strings.Join(append(lines, line), sep)
}

// exit is verify's exit status for a finished run's outcomes t: the first
// of exitStatuses t gives, else statusGood.
func (t outcomes) exit() int {
	for _, s := range exitStatuses {
		if s.found != nil && s.found(t) {
			return s.code
		}
	}
	return statusGood
}

// stopped is verify's exit status for a run stopped by an error, t being
// what it found before and cause its context's cause (context.Cause): a
// failure found stands (statusFailed); else a signal's status (a
// cli.Interrupted's), or statusIncomplete.
func (t outcomes) stopped(cause error) int {
	var sig cli.Interrupted
	switch {
	case t.exit() == statusFailed:
		return statusFailed
	case errors.As(cause, &sig):
		return sig.ExitStatus()
	}
	return statusIncomplete
}

// runTimedOut is the cause of the run's context once --timeout has ended
// it.
type runTimedOut struct{ limit time.Duration }

func (r runTimedOut) Error() string {
	return fmt.Sprintf("took longer than %s: give --timeout more time", r.limit)
}

// whileDoing words err, which stopped the run while it was doing step
// ("checking receipts"), when the end of the run's context ctx caused it,
// by that end alone (err, its consequence, would mislead: a gateway "not
// answering"): --timeout ("took longer than 10m0s: give --timeout more
// time (it was checking receipts)") or a signal ("interrupted by SIGINT
// while checking receipts"). Any other error is returned as it is.
func whileDoing(ctx context.Context, step string, err error) error {
	var limit runTimedOut
	var sig cli.Interrupted
	switch cause := context.Cause(ctx); {
	case err == nil:
		return nil
	case errors.As(cause, &limit):
		return fmt.Errorf("%w (it was %s)", limit, step)
	case errors.As(cause, &sig):
		return fmt.Errorf("%w while %s", sig, step)
	}
	return err
}
