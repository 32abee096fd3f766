// Package follow keeps the explorer's index up to date: it streams blocks
// from the peer starting at the index's checkpoint (block 0 on a fresh
// index), decodes and audits each one and saves it, reconnecting after
// stream failures.
package follow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"

	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/network/fabricblock"
)

// Source streams a channel's blocks.
type Source interface {
	// Blocks streams blocks in order from block from until ctx ends; the
	// channel closes when the stream fails.
	Blocks(ctx context.Context, from uint64) (<-chan *common.Block, error)
}

// Store is where audited blocks go.
type Store interface {
	audit.History
	Checkpoint(ctx context.Context) (next uint64, lastHash []byte, err error)
	Save(ctx context.Context, r audit.Report) error
}

// NetworkSource reads blocks through the Fabric Gateway's block events.
type NetworkSource struct{ Network *client.Network }

// Blocks implements Source.
func (s NetworkSource) Blocks(ctx context.Context, from uint64) (<-chan *common.Block, error) {
	return s.Network.BlockEvents(ctx, client.WithStartBlock(from))
}

// Follower indexes blocks from a Source into a Store.
type Follower struct {
	Source  Source
	Store   Store
	Auditor audit.Auditor
	Log     *slog.Logger
	Metrics *Metrics // may be nil
	// OnSaved, if set, is called after each block is saved with the
	// number of blocks indexed so far (e.g. to draw a progress bar).
	OnSaved func(indexed uint64)
	// Retry is the first wait before reconnecting a failed stream; it
	// doubles up to 30 s. Default 1 s.
	Retry time.Duration
}

// Run follows the chain until ctx ends, and returns nil then. It returns an
// error only when the store fails (indexing cannot go on correctly).
func (f *Follower) Run(ctx context.Context) error {
	return f.run(ctx, func(uint64) bool { return false })
}

// Until indexes until the index holds at least height blocks.
func (f *Follower) Until(ctx context.Context, height uint64) error {
	next, _, err := f.Store.Checkpoint(ctx)
	if err != nil || next >= height {
		return err
	}
	err = f.run(ctx, func(next uint64) bool { return next >= height })
	if err == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// errDone ends a stream once the caller's condition holds.
var errDone = errors.New("done")

func (f *Follower) run(ctx context.Context, done func(next uint64) bool) error {
	wait := f.Retry
	if wait <= 0 {
		wait = time.Second
	}
	for ctx.Err() == nil {
		progressed, err := f.stream(ctx, done)
		switch {
		case errors.Is(err, errDone):
			return nil
		case errors.As(err, new(*storeError)):
			return err
		case ctx.Err() != nil:
			return nil
		}
		if progressed {
			wait = max(f.Retry, time.Second)
		}
		f.Log.Warn("block stream ended; reconnecting", "error", err, "retry_in", wait)
		f.Metrics.reconnect()
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
	return nil
}

// storeError marks failures of the store, which end Run.
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// stream indexes one block stream from the checkpoint until it fails.
func (f *Follower) stream(ctx context.Context, done func(next uint64) bool) (progressed bool, err error) {
	next, prev, err := f.Store.Checkpoint(ctx)
	if err != nil {
		return false, &storeError{err}
	}
	if done(next) {
		return false, errDone
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	blocks, err := f.Source.Blocks(sctx, next)
	if err != nil {
		return false, fmt.Errorf("open block stream at %d: %w", next, err)
	}
	for blk := range blocks {
		n := blk.GetHeader().GetNumber()
		if n < next {
			continue // delivered again after a reconnect
		}
		if n > next {
			return progressed, fmt.Errorf("stream skipped from block %d to %d", next, n)
		}
		hash, err := f.index(ctx, prev, blk)
		if err != nil {
			return progressed, err
		}
		progressed, prev, next = true, hash, next+1
		if f.OnSaved != nil {
			f.OnSaved(next)
		}
		if done(next) {
			return true, errDone
		}
	}
	if ctx.Err() != nil {
		return progressed, ctx.Err()
	}
	return progressed, errors.New("block stream closed")
}

// index decodes, audits and saves one block; it returns the block's hash.
func (f *Follower) index(ctx context.Context, prev []byte, blk *common.Block) ([]byte, error) {
	b, err := fabricblock.Parse(blk)
	if err != nil {
		return nil, &storeError{fmt.Errorf("block %d: %w", blk.GetHeader().GetNumber(), err)}
	}
	report, err := f.Auditor.Block(prev, b, f.Store)
	if err != nil {
		return nil, &storeError{err}
	}
	if err := f.Store.Save(ctx, report); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &storeError{err}
	}
	for _, is := range report.Issues {
		f.Log.Error("ledger verification failed", "kind", is.Kind, "block", is.Block, "tx", is.TxID, "message", is.Message)
	}
	f.Metrics.saved(report)
	return b.Hash, nil
}
