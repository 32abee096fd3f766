package verify

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/votechain/votechain/internal/cli"
)

// TestExitStatusTable: exitStatuses is the one account of the exit
// statuses: each code once, 0 to 4 and the signals' (cmd/verify's --help
// prints each row); a finished run's outcomes give the status whose row names their
// verdict, and two verdicts the status of the earlier row; a stopped run
// keeps a failure's 1, else a signal's status or 2.
func TestExitStatusTable(t *testing.T) {
	seen := map[int]bool{}
	for _, s := range exitStatuses {
		if seen[s.Code] {
			t.Errorf("status %d twice", s.Code)
		}
		seen[s.Code] = true
	}
	for _, code := range []int{0, 1, 2, 3, 4, 130, 143} {
		if !seen[code] {
			t.Errorf("status %d not in exitStatuses", code)
		}
	}
	verdicts := []struct {
		name string
		o    Outcomes
	}{
		{"FAIL", Outcomes{fail: 1}}, {"FORK", Outcomes{fork: 1}}, {"BAD-PROOF", Outcomes{badProof: 1}},
		{"MISSING", Outcomes{missing: 1}}, {"UNLOGGED", Outcomes{unlogged: 1}}, {"UNCHECKED", Outcomes{unchecked: 1}},
		{"DUPLICATE", Outcomes{otherCounted: 1}}, {"PENDING", Outcomes{pending: 1}}, {"PASS", Outcomes{ok: 1}},
	}
	row := func(code int) int {
		for i, s := range exitStatuses {
			if s.Code == code {
				return i
			}
		}
		return -1
	}
	for _, v := range verdicts {
		code := v.o.Exit()
		if i := row(code); i < 0 || !strings.Contains(exitStatuses[i].Means, v.name) {
			t.Errorf("%s: status %d, whose row does not name it", v.name, code)
		}
		for _, w := range verdicts {
			both := v.o.Plus(w.o)
			if first := exitStatuses[min(row(v.o.Exit()), row(w.o.Exit()))].Code; both.Exit() != first {
				t.Errorf("%s and %s: status %d; want %d, the earlier row's", v.name, w.name, both.Exit(), first)
			}
		}
	}
	shown := ExitStatuses() // a copy: what a caller does with it changes no status
	shown[0].Code = 99
	if got := (Outcomes{fail: 1}).Exit(); got != StatusFailed {
		t.Errorf("a FAIL exits %d once a caller changed the copy of ExitStatuses(); want %d", got, StatusFailed)
	}
	sigint := cli.Interrupted{Signal: syscall.SIGINT}
	for _, c := range []struct {
		o     Outcomes
		cause error
		want  int
	}{
		{Outcomes{fail: 1}, sigint, StatusFailed},
		{Outcomes{pending: 1}, sigint, 130},
		{Outcomes{pending: 1}, context.DeadlineExceeded, StatusIncomplete}, // --timeout's end
		{Outcomes{otherCounted: 1}, errors.New("a ledger error"), StatusIncomplete},
	} {
		if got := c.o.Stopped(c.cause); got != c.want {
			t.Errorf("%+v stopped by %v: status %d; want %d", c.o, c.cause, got, c.want)
		}
	}
}

// TestExitStatus: the one rule of verify's status, for a run that ends
// (exit) and one an error stops (stopped): a failure found is 1 whatever
// else; a run stopped with none is 2 (not complete), as is one that ended
// with a receipt UNCHECKED; a vote rejected as a duplicate of another
// vote counted first 4, before pending (3 alone); all passed 0.
func TestExitStatus(t *testing.T) {
	for _, c := range []struct {
		o             Outcomes
		exit, stopped int
	}{
		{Outcomes{ok: 2}, 0, 2},
		{Outcomes{ok: 1, pending: 1}, 3, 2},
		{Outcomes{pending: 1, unchecked: 1}, 2, 2},
		{Outcomes{fail: 1, unchecked: 1, pending: 1}, 1, 1},
		{Outcomes{missing: 1, unchecked: 1}, 1, 1},
		{Outcomes{unlogged: 1}, 1, 1},
		{Outcomes{fork: 1, unchecked: 1}, 1, 1},
		{Outcomes{badProof: 1, pending: 1}, 1, 1},
		{Outcomes{unchecked: 1, missingUnchecked: 1}, 2, 2}, // a cross-cut, no outcome: no weight of its own
		{Outcomes{ok: 1, otherCounted: 1, pending: 1}, 4, 2},
		{Outcomes{otherCounted: 1, unchecked: 1}, 2, 2},
		{Outcomes{otherCounted: 1, fail: 1}, 1, 1},
	} {
		if exit, stopped := c.o.Exit(), c.o.Stopped(nil); exit != c.exit || stopped != c.stopped {
			t.Errorf("%+v: exit %d, stopped %d; want %d and %d", c.o, exit, stopped, c.exit, c.stopped)
		}
	}
}
