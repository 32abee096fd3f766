package election

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
)

// answersSource answers its errors in turn, then its record.
type answersSource struct {
	errs []error
	e    *ballot.Election
}

func (s *answersSource) Election(context.Context) (*ballot.Election, error) {
	if len(s.errs) == 0 {
		return s.e, nil
	}
	err := s.errs[0]
	s.errs = s.errs[1:]
	return nil, err
}

var testWait = Wait{Every: time.Millisecond, NotSetUp: "not set up", Failed: "read failed", FailedLevel: slog.LevelWarn}

// TestAwaitLogsHowItWaits: Await tries again after each failed read until
// the record comes, logging a missing record at info and any other failure
// at the level it is given, each with the error.
func TestAwaitLogsHowItWaits(t *testing.T) {
	want := &ballot.Election{ID: "e1"}
	src := &answersSource{errs: []error{fmt.Errorf("record: %w", ballot.ErrNotFound), errors.New("peer down")}, e: want}
	h := &recordingHandler{}
	got, err := Await(context.Background(), src, testWait, slog.New(h))
	if err != nil || got != want {
		t.Fatalf("Await: %v, %v; want the record", got, err)
	}
	if recs := h.take(""); len(recs) != 2 ||
		recs[0] != "INFO not set up err=record: not on the ledger" || recs[1] != "WARN read failed err=peer down" {
		t.Errorf("logged %q; want the missing record at info, then the failure at warn", recs)
	}
}

// TestAwaitEndsWithItsContext: while the record never comes, Await returns
// the context's error once the context ends.
func TestAwaitEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	src := &countingSource{err: ballot.ErrNotFound}
	done := make(chan error, 1)
	go func() { _, err := Await(ctx, src, testWait, slog.New(&recordingHandler{})); done <- err }()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Await after cancel: %v; want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Await still waiting 5 s after its context ended")
	}
}

// cutSource is a read that lasts until its context ends, as a ledger
// read cut by the command's stop.
type cutSource struct{}

func (cutSource) Election(ctx context.Context) (*ballot.Election, error) {
	<-ctx.Done()
	return nil, fmt.Errorf("evaluate: %w", ctx.Err())
}

// TestAwaitCutByTheStopLogsNothing: a read cut by the context's end is the
// stop, not a failure to warn of: Await returns the context's error and
// logs nothing.
func TestAwaitCutByTheStopLogsNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	h := &recordingHandler{}
	if _, err := Await(ctx, cutSource{}, testWait, slog.New(h)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Await: %v; want the context's error", err)
	}
	if recs := h.take(""); len(recs) != 0 {
		t.Errorf("logged %q for a read the stop cut", recs)
	}
}

// TestStopIsNoFailure: the ended context's own error, wrapped or not, is
// no failure and is logged as a stop; any other error, whether or not the
// context has ended, is returned as it is, unlogged.
func TestStopIsNoFailure(t *testing.T) {
	h := &recordingHandler{}
	log := slog.New(h)
	failed := errors.New("access denied")
	if err := StopIsNoFailure(context.Background(), failed, "gateway", log); err != failed {
		t.Errorf("context live: %v; want the error itself", err)
	}
	if recs := h.take(""); len(recs) != 0 {
		t.Errorf("context live: logged %q; want nothing", recs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := StopIsNoFailure(ctx, ctx.Err(), "gateway", log); err != nil {
		t.Errorf("context ended: %v; want nil", err)
	}
	if recs := h.take(""); len(recs) != 1 || recs[0] != "INFO gateway stopped before the election record was read" {
		t.Errorf("context ended: logged %q; want the stop at info", recs)
	}
	if err := StopIsNoFailure(ctx, fmt.Errorf("dial peer: %w", ctx.Err()), "gateway", log); err != nil {
		t.Errorf("context ended, its error wrapped: %v; want nil", err)
	}
	h.take("")
	if err := StopIsNoFailure(ctx, failed, "gateway", log); err != failed {
		t.Errorf("context ended, a failure of its own: %v; want the error itself", err)
	}
	if recs := h.take(""); len(recs) != 0 {
		t.Errorf("context ended, a failure of its own: logged %q; want nothing (the caller logs the error)", recs)
	}
}
