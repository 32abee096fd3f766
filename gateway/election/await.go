package election

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/votechain/votechain/ballot"
)

// Wait says how Await waits for the election record: how often it reads it
// and what it logs, with the error, after a read that failed.
type Wait struct {
	Every       time.Duration // between reads (0: 2 s)
	NotSetUp    string        // logged at info when the record is not there yet (ballot.ErrNotFound)
	Failed      string        // logged at FailedLevel when the read failed otherwise
	FailedLevel slog.Level
}

// Await reads the election record from src until a read succeeds (the
// commission may set the election up after the caller starts) or ctx ends.
// It returns the record, or ctx's error once ctx has ended (a read cut
// by ctx's end is not logged). After each other failed read it logs on log, with the error, w.NotSetUp (info) if the
// record is not there yet, w.Failed (w.FailedLevel) otherwise, then tries
// again w.Every later.
func Await(ctx context.Context, src Source, w Wait, log *slog.Logger) (*ballot.Election, error) {
	if w.Every <= 0 {
		w.Every = 2 * time.Second
	}
	for {
		e, err := src.Election(ctx)
		if err == nil {
			return e, nil
		}
		if ctx.Err() != nil { // the read was cut by the stop: nothing to warn of
			return nil, ctx.Err()
		}
		if errors.Is(err, ballot.ErrNotFound) {
			log.Info(w.NotSetUp, "err", err)
		} else {
			log.Log(ctx, w.FailedLevel, w.Failed, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(w.Every):
		}
	}
}

// StopIsNoFailure is what a command returns when waiting for the election
// record (Await), or what comes before it such as dialling the ledger,
// ended with err: nil if err is the stop's own, ctx's error (ctx has ended
// and err is or wraps ctx.Err()), since the command was asked to stop
// before it had anything to serve, which a supervisor must not count as a
// failure (it logs "<command> stopped before the election record was
// read" at info on log); err otherwise, even if ctx has ended meanwhile: a
// failure of its own (a certificate missing) that a stop happened to
// coincide with is still a failure.
func StopIsNoFailure(ctx context.Context, err error, command string, log *slog.Logger) error {
	if stop := ctx.Err(); stop == nil || !errors.Is(err, stop) {
		return err
	}
	log.Info(command + " stopped before the election record was read")
	return nil
}
