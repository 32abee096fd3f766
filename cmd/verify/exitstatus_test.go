package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/logmonitor"
	"github.com/votechain/votechain/explorer/verify"
	"github.com/votechain/votechain/internal/cli"
)

// TestExitStatusTable: exitStatuses is the one account of the exit
// statuses: each code once, 0 to 4 and the signals' (--help prints each
// row); each verdict of explorer/verify has one row, which names it
// (Verdict's doc names its findings as the rows do), and the rows of the
// graver verdicts come first; a stopped run keeps a failure's 1, else a
// signal's status or 2.
func TestExitStatusTable(t *testing.T) {
	seen := map[int]bool{}
	row := map[verify.Verdict]int{}
	for i, s := range exitStatuses() {
		if seen[s.code] {
			t.Errorf("status %d twice", s.code)
		}
		seen[s.code] = true
		if _, twice := row[s.verdict]; s.has && twice {
			t.Errorf("verdict %v has two rows", s.verdict)
		}
		if s.has {
			row[s.verdict] = i
		}
	}
	for _, code := range []int{0, 1, 2, 3, 4, 130, 143} {
		if !seen[code] {
			t.Errorf("status %d not in exitStatuses", code)
		}
	}
	names := map[verify.Verdict]string{verify.Failed: "FAIL", verify.Unchecked: "UNCHECKED", verify.Duplicate: "DUPLICATE", verify.Pending: "PENDING", verify.Passed: "PASS"}
	for v := verify.Passed; v <= verify.Failed; v++ {
		i, ok := row[v]
		if !ok || !strings.Contains(exitStatuses()[i].means, names[v]) {
			t.Errorf("verdict %v: no row naming %s", v, names[v])
		}
		if graver, ok := row[v+1]; v < verify.Failed && ok && graver > i {
			t.Errorf("verdict %v's row comes before the graver %v's", v, v+1)
		}
	}
	keys, as := signedLog(t, 2)
	as[1].Vote.Choice = "bob" // not the vote the log accepted: it FAILs
	failed, err := verify.CheckAcceptances(context.Background(), io.Discard, as, keys, nil, nil, time.Minute, time.Now())
	if err != nil || exitCode(failed) != statusFailed || exitCode(verify.Outcomes{}) != statusGood {
		t.Fatalf("a FAIL: status %d (%v), nothing found: %d; want %d and %d", exitCode(failed), err, exitCode(verify.Outcomes{}), statusFailed, statusGood)
	}
	sigint := cli.Interrupted{Signal: syscall.SIGINT}
	for _, c := range []struct {
		found verify.Outcomes
		cause error
		want  int
	}{
		{failed, sigint, statusFailed},
		{failed, nil, statusFailed},
		{verify.Outcomes{}, sigint, 130},
		{verify.Outcomes{}, cli.Interrupted{Signal: syscall.SIGTERM}, 143},
		{verify.Outcomes{}, context.DeadlineExceeded, statusIncomplete}, // --timeout's end
		{verify.Outcomes{}, errors.New("a ledger error"), statusIncomplete},
	} {
		if got := stopped(c.found, c.cause); got != c.want {
			t.Errorf("%+v stopped by %v: status %d; want %d", c.found, c.cause, got, c.want)
		}
	}
}

// TestExitStatusCodes: the codes of the verdicts are 0 Passed, 1 Failed,
// 2 Unchecked, 3 Pending, 4 Duplicate, in exitStatuses (which --help
// prints) and in docs/ledger.md's paragraph of them, where each code's
// clause names its verdict's finding. README.md's passing mentions of
// statuses are not checked. Two codes swapped keep the table consistent in
// itself (TestExitStatusTable) but fail here.
func TestExitStatusCodes(t *testing.T) {
	want := map[verify.Verdict]int{verify.Passed: 0, verify.Pending: 3, verify.Duplicate: 4, verify.Unchecked: 2, verify.Failed: 1}
	got := map[verify.Verdict]int{}
	for _, s := range exitStatuses() {
		if s.has {
			got[s.verdict] = s.code
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("exitStatuses gives the verdicts the codes %v; want %v", got, want)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "ledger.md"))
	if err != nil {
		t.Fatal(err)
	}
	account := exitStatusAccount(t, string(doc))
	clauses := map[int]string{} // "N when ...", "N for ..." or "N if ...", to the next
	starts := regexp.MustCompile(`(?:^Exit status |[,;] )(\d) (?:when|for|if) `).FindAllStringSubmatchIndex(account, -1)
	for i, m := range starts {
		end := len(account)
		if i+1 < len(starts) {
			end = starts[i+1][0]
		}
		code, _ := strconv.Atoi(account[m[2]:m[3]])
		clauses[code] = account[m[0]:end]
	}
	names := map[verify.Verdict]string{verify.Passed: "every check passes", verify.Failed: "FAIL", verify.Unchecked: "UNCHECKED", verify.Duplicate: "DUPLICATE", verify.Pending: "PENDING"}
	for v, code := range want {
		if !strings.Contains(clauses[code], names[v]) {
			t.Errorf("docs/ledger.md: status %d's clause %q does not name %v's %s", code, clauses[code], v, names[v])
		}
	}
	if len(clauses) != len(want) {
		t.Errorf("docs/ledger.md: %d clauses %v; want one a verdict", len(clauses), clauses)
	}
}

// exitStatusAccount returns docs/ledger.md's paragraph of verify's exit
// statuses, doc's text with its spaces and line breaks made one space:
// from "Exit status 0 when" to "`bin/verify --help`", which follows it.
func exitStatusAccount(t *testing.T, doc string) string {
	t.Helper()
	const first, after = "Exit status 0 when", "`bin/verify --help`"
	_, rest, ok := strings.Cut(strings.Join(strings.Fields(doc), " "), first)
	if !ok {
		t.Fatalf("docs/ledger.md has no %q", first)
	}
	account, _, ok := strings.Cut(rest, after)
	if !ok {
		t.Fatalf("docs/ledger.md: no %q after %q", after, first)
	}
	return first + account
}

// TestLogAdviceNamesTheFlags: explorer/verify's errors of --log say what
// is wrong in its terms; verify adds the flags that fix it: --log-state
// for the heads' file (not one, another election's, one not read), --peer
// of the other organisations for a peer that stopped answering. Any other
// error is left as it is.
func TestLogAdviceNamesTheFlags(t *testing.T) {
	garbage := writeFile(t, "garbage")
	_, notState := verify.ReadLogState(garbage, nil)
	heads, err := json.Marshal(map[string]ballot.TreeHead{"CA": {Election: "f", State: "CA", Size: 1}})
	if err != nil {
		t.Fatal(err)
	}
	otherFile := writeFile(t, string(heads))
	foreign, err := verify.ReadLogState(otherFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, otherElection := verify.MonitorLog(context.Background(), io.Discard, nil, logmonitor.Gateway{}, headLedger{}, "Observers", time.Minute, foreign)
	down := &verify.PeerDownError{Peer: "Observers", Err: errors.New("connection refused"), Unchecked: 3, Others: []string{"Commission"}}
	other := errors.New("a ledger error")
	for _, c := range []struct {
		err  error
		want string
	}{
		{notState, "--log-state " + garbage + " is not a file of the heads a log check saw (invalid character 'g' looking for beginning of value): give the file an earlier run wrote, or a new one"},
		{otherElection, "--log-state " + otherFile + ` holds heads of election "f" (CA), not of this ledger's election "e"; a run against that election's ledger wrote it; keep a state file per election (give this election's runs another --log-state file), or delete ` + otherFile + " if its heads are no longer needed"},
		{&verify.LogStateError{Path: "h.json", Err: fs.ErrPermission}, "--log-state: " + fs.ErrPermission.Error()},
		{down, "the Observers peer did not answer a look-up of where a duplicate's nullifier was counted (connection refused), so no more were asked of it: 3 entries rejected as duplicates are UNCHECKED; once that peer answers, check again, or check through the other organisation's peer (--peer Commission)"},
		{other, other.Error()},
	} {
		cause := c.err // what the advice wraps: of the heads' file, the file's error
		if state := (*verify.LogStateError)(nil); errors.As(c.err, &state) {
			cause = state.Err
		}
		if got := logAdvice(c.err); got.Error() != c.want || !errors.Is(got, cause) {
			t.Errorf("%v: advice %q; want %q, wrapping %v", c.err, got, c.want, cause)
		}
	}
}
