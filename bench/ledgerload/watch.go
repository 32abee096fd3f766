// Package ledgerload measures the ledger side of the benchmark on the real
// network: it watches BatchCommitted events as they arrive (the committed
// votes/s time series), drives the ballot chaincode directly for the ledger
// ceiling (pre-built many-vote batches) and the naive baseline (one vote per
// transaction), and checks that the votes the gateway accepted are on the
// ledger exactly once.
package ledgerload

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/network/fabricclient"
)

// DriverSeqBase is the first batch sequence number the benchmark's own
// drivers use. The batcher numbers each state's batches from 1 (Redis
// INCR), so it never gets near; batches at or above it are the ceiling's and
// the naive baseline's, not Votechain's.
const DriverSeqBase = 1_000_000_000

// IsDriverSeq reports whether a batch sequence number is a driver's.
func IsDriverSeq(seq uint64) bool { return seq >= DriverSeqBase }

// Arrival is one committed batch, as its transaction's BatchCommitted or
// BatchesCommitted event reported it, and when the watcher received it.
type Arrival struct {
	State    string
	Seq      uint64
	Counted  int
	Rejected []int // indices of votes refused as duplicates
	TxID     string
	Block    uint64
	At       time.Time
}

// Watcher records every BatchCommitted event from a starting block on.
type Watcher struct {
	mu       sync.Mutex
	arrivals []Arrival
	err      error
	done     chan struct{}
}

// Watch starts recording the events of the blocks from the ledger's current
// height on, until ctx ends. It returns the height it started from.
func Watch(ctx context.Context, ledger *fabricclient.Ballot) (*Watcher, uint64, error) {
	height, err := ledger.Height(ctx)
	if err != nil {
		return nil, 0, err
	}
	events, errs, err := ledger.BatchEvents(ctx, ballot.Position{Block: height})
	if err != nil {
		return nil, 0, err
	}
	w := &Watcher{done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					return
				}
				now := time.Now()
				w.mu.Lock()
				for _, e := range ev.Events {
					w.arrivals = append(w.arrivals, Arrival{State: e.State, Seq: e.Seq, Counted: e.Counted, Rejected: e.Rejected, TxID: ev.At.TxID, Block: ev.At.Block, At: now})
				}
				w.mu.Unlock()
			case err := <-errs:
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
				return
			}
		}
	}()
	return w, height, nil
}

// Arrivals returns a copy of the events recorded so far and the error that
// ended the stream, if any.
func (w *Watcher) Arrivals() ([]Arrival, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Arrival(nil), w.arrivals...), w.err
}

// Between counts the batcher's batches (not the drivers') that arrived in
// [from, to) and the votes they count.
func (w *Watcher) Between(from, to time.Time) (batches, votes int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range w.arrivals {
		if !IsDriverSeq(a.Seq) && !a.At.Before(from) && a.At.Before(to) {
			batches++
			votes += a.Counted
		}
	}
	return batches, votes
}

// WaitIdle waits until no event has arrived for quiet (the ledger has caught
// up), or until limit.
func (w *Watcher) WaitIdle(ctx context.Context, quiet, limit time.Duration) error {
	began := time.Now()
	for {
		w.mu.Lock()
		last := began
		if n := len(w.arrivals); n > 0 && w.arrivals[n-1].At.After(last) {
			last = w.arrivals[n-1].At
		}
		w.mu.Unlock()
		if time.Since(last) >= quiet {
			return nil
		}
		if time.Since(began) > limit {
			return errors.New("ledgerload: events still arriving")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.done:
			return fmt.Errorf("ledgerload: event stream ended")
		case <-time.After(100 * time.Millisecond):
		}
	}
}
