package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/logmonitor"
	"github.com/votechain/votechain/internal/privatefile"
)

// LogState is a file of the heads of the logs a run of MonitorLog saw,
// by state, which the next run checks the logs still give (verify's
// --log-state).
type LogState struct {
	path string
	seen map[string]ballot.TreeHead
	log  *slog.Logger // where a stale temporary file's removal is logged; nil: nowhere
}

// ReadLogState reads the LogState file at path: nil for none (""), no
// heads for a file not written yet (a first run). A file that cannot be
// read, or that is not one a LogState saved (ErrNotLogState), is a
// *LogStateError. log is where saving it logs a temporary file an earlier
// run left (nil: not logged).
func ReadLogState(path string, log *slog.Logger) (*LogState, error) {
	if path == "" {
		return nil, nil
	}
	s := &LogState{path: path, seen: map[string]ballot.TreeHead{}, log: log}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, &LogStateError{Path: path, Err: err}
	}
	err = json.Unmarshal(data, &s.seen)
	if err == nil && s.seen == nil {
		err = errors.New("it holds null")
	}
	if err != nil {
		return nil, &LogStateError{Path: path, Err: fmt.Errorf("%w (%v)", ErrNotLogState, err)}
	}
	return s, nil
}

// save writes the heads seen to the file, an error a *LogStateError,
// whole or not at all (privatefile.Write: a temporary file beside it,
// fsynced, renamed over it), so that a run killed or failing while it
// writes leaves the heads the file held, the evidence of a fork, as they
// were; a temporary file an earlier run killed outright left is removed
// first (privatefile.RemoveStale, logged on the state's log). The file is
// mode 0600.
func (s *LogState) save() error {
	data, err := json.MarshalIndent(s.seen, "", "  ")
	if err == nil {
		privatefile.RemoveStale(s.path, s.log)
		err = privatefile.WriteData(s.path, data)
	}
	if err != nil {
		return &LogStateError{Path: s.path, Err: err}
	}
	return nil
}

// checkElection refuses a file holding heads of another election than
// the ledger's (a *LogStateError wrapping ErrOtherElection, naming the
// elections): a run against that election's ledger wrote it, and its
// heads say nothing of this election's logs. A file is written only from
// anchored heads, each naming its election under its signature, and an
// election's record cannot change once a head is anchored (SetupElection,
// ballot.CheckSetUpAnchored): such a file is another ledger's, not a
// finding against this one.
func (s *LogState) checkElection(ctx context.Context, ledger logmonitor.Ledger) error {
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
	return &LogStateError{Path: s.path, Err: otherElectionError{of: strings.Join(of, " and "), ledger: e.ID}}
}

// otherElectionError is ErrOtherElection (errors.Is) naming the elections:
// of, those of the file's heads with their states, and ledger, the
// ledger's.
type otherElectionError struct{ of, ledger string }

func (e otherElectionError) Error() string {
	return fmt.Sprintf("holds heads of %s, not of this ledger's election %q; a run against that election's ledger wrote it", e.of, e.ledger)
}

func (e otherElectionError) Is(target error) bool { return target == ErrOtherElection }

// The errors of a LogState file a *LogStateError wraps, besides those of
// reading and writing it.
var (
	// ErrNotLogState: the file holds no heads a LogState saved (another
	// file, or one damaged).
	ErrNotLogState = errors.New("not a file of the heads a log check saw")
	// ErrOtherElection: the file holds heads of another election than the
	// ledger's, which say nothing of this election's logs.
	ErrOtherElection = errors.New("holds heads of another election")
)

// LogStateError is an error of the LogState file at Path: it cannot be
// read or written (Err, the file system's error), holds no heads
// (ErrNotLogState) or holds another election's (ErrOtherElection). A
// command adds what to do with the file, which it names its own way.
type LogStateError struct {
	Path string
	Err  error
}

func (e *LogStateError) Error() string { return "log state " + e.Path + ": " + e.Err.Error() }

func (e *LogStateError) Unwrap() error { return e.Err }
