package main

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/votechain/votechain/explorer/verify"
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
// (the help's text), and, for the statuses of a finished run's findings,
// the verdict of its outcomes that gives it (verdict; has false for the
// statuses of a run an error or a signal stopped).
type exitStatus struct {
	code    int
	means   string
	verdict verify.Verdict
	has     bool
}

// exitStatuses are verify's exit statuses, the first that applies in
// order: the one account of them, which exitCode follows for a finished
// run, stopped for a stopped one, and --help prints. Each call makes
// them anew.
func exitStatuses() []exitStatus {
	return []exitStatus{
		{statusFailed, "some FAIL, FORK, BAD-PROOF, MISSING or UNLOGGED (or an inconsistent log, an anchored head the log cannot be checked against: not validly signed, or of another election or state, or a batch record that does not describe its transaction's votes), whatever else the run found or could not check (an error, --timeout or a signal that stopped it included)",
			verify.Failed, true},
		{cli.Interrupted{Signal: syscall.SIGINT}.ExitStatus(), "SIGINT (Ctrl-C) stopped the run, nothing failed before it (stderr says what it was doing and what it had found)", 0, false},
		{cli.Interrupted{Signal: syscall.SIGTERM}.ExitStatus(), "SIGTERM stopped the run, as SIGINT above", 0, false},
		{statusIncomplete, "a usage, file, gateway or ledger error, the run past --timeout, or some UNCHECKED (--acceptance --gateway: no verdict on a head; --log: where a duplicate's nullifier was counted not read): the run is not complete",
			verify.Unchecked, true},
		{statusDuplicate, "some DUPLICATE (a vote rejected because another vote with the voter's credentials was counted first: the voter should contact the election's officials)",
			verify.Duplicate, true},
		{statusPending, "some still PENDING (not on the ledger yet, or in a block the peer has not reached; for --log also a head seen before past the peer's anchored head)",
			verify.Pending, true},
		{statusGood, "all PASS, COUNTED, REJECTED or VALID (--offline)", verify.Passed, true},
	}
}

// exitCode is verify's exit status for a finished run's outcomes t: the
// status of their verdict.
func exitCode(t verify.Outcomes) int {
	v := t.Verdict()
	for _, s := range exitStatuses() {
		if s.has && s.verdict == v {
			return s.code
		}
	}
	return statusIncomplete // no verdict lacks a row (TestExitStatusTable)
}

// stopped is verify's exit status for a run stopped by an error, t being
// what it found before and cause its context's cause (context.Cause): a
// failure found stands (statusFailed); else a signal's status (a
// cli.Interrupted's), or statusIncomplete.
func stopped(t verify.Outcomes, cause error) int {
	var sig cli.Interrupted
	switch {
	case t.Verdict() == verify.Failed:
		return statusFailed
	case errors.As(cause, &sig):
		return sig.ExitStatus()
	}
	return statusIncomplete
}

// exitStatusHelp is the help's account of the exit statuses, from
// exitStatuses.
func exitStatusHelp() string {
	var b strings.Builder
	b.WriteString("Exit status, the first that applies:")
	for _, s := range exitStatuses() {
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
