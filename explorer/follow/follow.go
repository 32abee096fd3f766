// Package follow keeps the explorer's index up to date: it streams blocks
// from the peer starting at the index's checkpoint (block 0 on a fresh
// index), decodes and audits each one and saves it, reconnecting after
// stream failures.
package follow

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"

	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/explorer/index"
	"github.com/votechain/votechain/network/fabricblock"
)

// Source streams a channel's blocks.
type Source interface {
	// Blocks streams blocks in order from block from until ctx ends; the
	// channel closes when the stream fails.
	Blocks(ctx context.Context, from uint64) (<-chan *common.Block, error)
}

// Store is where audited blocks go: saved in write transactions of one or
// more blocks each, which the audit of later blocks reads through.
type Store interface {
	Checkpoint(ctx context.Context) (next uint64, lastHash []byte, err error)
	Begin(ctx context.Context) (*index.Writer, error)
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
	// OnSaved, if set, is called for each block once it is committed, with
	// the number of blocks indexed up to it (e.g. to draw a progress bar).
	OnSaved func(indexed uint64)
	// OnCommitted, if set, is called with each block's report once the
	// block is committed (e.g. to hand its batches to the log monitor).
	OnCommitted func(audit.Report)
	// MaxBlocks and MaxDelay bound a write transaction: blocks that are
	// ready at once (the follower is behind) are saved together, up to
	// MaxBlocks (default 50) or MaxDelay after the first (default 1 s);
	// a block that is the last ready one is committed at once.
	MaxBlocks int
	MaxDelay  time.Duration
	// CommitDelay, if set, keeps a write transaction open that long after
	// its first block even when no next block is ready yet (within
	// MaxBlocks and MaxDelay), so that a follower that keeps up commits
	// every CommitDelay rather than every block: fewer commits, each
	// writing the pages the blocks share once, and a block shown up to
	// CommitDelay later. Default 0: commit once no block is ready.
	CommitDelay time.Duration
	// ProgressEvery is how often a follower that is behind logs how far it
	// got (default 10 s).
	ProgressEvery time.Duration
	// Retry is the first wait before reconnecting a failed stream; it
	// doubles up to 30 s. Default 1 s.
	Retry time.Duration
}

// Run follows the chain until ctx ends, and returns nil then. It returns an
// error only when the store fails (indexing cannot go on correctly), also
// when the failure comes as ctx ends; a store read that ctx's end cuts
// short, failing with ctx's error, is the end, not a failure.
//
// When ctx ends, Run commits the blocks saved in the open write
// transaction (up to MaxBlocks, MaxDelay or CommitDelay's worth), whether
// the end comes between blocks or while a block is audited: that block's
// audit is dropped, nothing of it written, and the next run audits it
// again from the checkpoint. A block's save is not cut short by ctx's end,
// so every block is committed whole or not at all: the stop then waits for
// the save, which is bounded by the block's rows (a block of roll chunks:
// tens of thousands of inserts into the local index), and for the commit.
func (f *Follower) Run(ctx context.Context) error {
	return f.run(ctx, func(uint64) bool { return false })
}

// Until indexes until the index holds at least height blocks. It returns
// nil then, ctx's error if ctx ends first (the blocks saved so far
// committed, as by Run), or the store's failure.
func (f *Follower) Until(ctx context.Context, height uint64) error {
	next, _, err := f.checkpoint(ctx)
	if err != nil || next >= height {
		return err
	}
	err = f.run(ctx, func(next uint64) bool { return next >= height })
	if err == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// checkpoint reads the store's checkpoint: where to resume. It fails with
// ctx's error if ctx's end cut the read short, else with the store's
// failure (a storeError, saying what was read).
func (f *Follower) checkpoint(ctx context.Context) (next uint64, prev []byte, err error) {
	next, prev, err = f.Store.Checkpoint(ctx)
	switch {
	case stoppedBy(ctx, err):
		return 0, nil, ctx.Err() // a stop cut the read short: the end of Run, not a fault of the store
	case err != nil:
		return 0, nil, &storeError{fmt.Errorf("find where to resume indexing: %w", err)}
	}
	return next, prev, nil
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

// stoppedBy reports whether err is ctx's end: ctx has ended and err is
// (wraps) its error, as a store's read that the end cut short returns. A
// failure of the store's own that comes as ctx ends is not, and stays a
// store failure.
func stoppedBy(ctx context.Context, err error) bool {
	return ctx.Err() != nil && errors.Is(err, ctx.Err())
}

// storeError marks failures of the store, which end Run.
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// stream indexes one block stream from the checkpoint until it fails.
func (f *Follower) stream(ctx context.Context, done func(next uint64) bool) (progressed bool, err error) {
	next, prev, err := f.checkpoint(ctx)
	if err != nil {
		return false, err
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
	b := batch{f: f}
	defer b.rollback()
	for {
		blk, ok := b.receive(blocks)
		if b.w != nil && blk == nil && ok {
			if err := b.commit(); err != nil {
				return progressed, err
			}
			progressed = true
			continue
		}
		if !ok {
			break
		}
		n := blk.GetHeader().GetNumber()
		if n < next {
			continue // delivered again after a reconnect
		}
		if n > next {
			return progressed, errors.Join(fmt.Errorf("stream skipped from block %d to %d", next, n), b.commit())
		}
		hash, err := b.index(ctx, prev, blk)
		if errors.As(err, new(*storeError)) {
			return progressed, err
		}
		if err != nil { // the stop cut the block's audit short: commit the blocks before it
			if err := b.commit(); err != nil {
				return progressed, err
			}
			return progressed, ctx.Err()
		}
		prev, next = hash, next+1
		if done(next) {
			if err := b.commit(); err != nil {
				return progressed, err
			}
			return true, errDone
		}
	}
	if err := b.commit(); err != nil {
		return progressed, err
	}
	if ctx.Err() != nil {
		return progressed, ctx.Err()
	}
	return progressed, errors.New("block stream closed")
}

// batch is the open write transaction of a stream and the reports saved
// in it.
type batch struct {
	f       *Follower
	w       *index.Writer // nil: none open
	began   time.Time
	reports []audit.Report
	// The progress window: since when, the blocks and votes committed in
	// it, and whether a commit held several blocks (the follower is behind).
	window        time.Time
	blocks, votes int
	behind        bool
}

// receive returns the next block of blocks, ok false once it is closed.
// With a transaction open it waits for none beyond CommitDelay after the
// transaction's first block: it returns a nil block (ok true) when none is
// ready by then or the transaction is full, to commit first.
func (b *batch) receive(blocks <-chan *common.Block) (blk *common.Block, ok bool) {
	if b.w == nil {
		blk, ok = <-blocks
		return blk, ok
	}
	if len(b.reports) >= cmp.Or(b.f.MaxBlocks, 50) || time.Since(b.began) >= cmp.Or(b.f.MaxDelay, time.Second) {
		return nil, true
	}
	select {
	case blk, ok = <-blocks:
		return blk, ok
	default:
	}
	wait := min(b.f.CommitDelay, cmp.Or(b.f.MaxDelay, time.Second)) - time.Since(b.began)
	if wait <= 0 {
		return nil, true
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case blk, ok = <-blocks:
		return blk, ok
	case <-t.C:
		return nil, true
	}
}

// index decodes, audits and saves one block into the open transaction
// (beginning one if needed); it returns the block's hash.
func (b *batch) index(ctx context.Context, prev []byte, blk *common.Block) ([]byte, error) {
	if b.w == nil {
		// The transaction outlives ctx, so that the blocks saved in it are
		// committed when ctx ends (Run): between blocks (the stream
		// closes), or while a block is audited, which then fails with
		// ctx's error and is dropped.
		w, err := b.f.Store.Begin(context.WithoutCancel(ctx))
		if err != nil {
			return nil, &storeError{err}
		}
		b.w, b.began = w, time.Now()
	}
	report, err := b.f.index(ctx, prev, blk, b.w)
	if err != nil {
		return nil, err
	}
	b.reports = append(b.reports, report)
	return report.Block.Hash, nil
}

// commit commits the open transaction, if any, and reports its blocks.
func (b *batch) commit() error {
	if b.w == nil {
		return nil
	}
	err := b.w.Commit()
	b.w = nil
	if err != nil {
		return &storeError{err}
	}
	for _, r := range b.reports {
		for _, is := range r.Issues {
			b.f.Log.Error("ledger verification failed", "kind", is.Kind, "block", is.Block, "tx", is.TxID, "message", is.Message)
		}
		b.f.Metrics.saved(r)
		if b.f.OnCommitted != nil {
			b.f.OnCommitted(r)
		}
		if b.f.OnSaved != nil {
			b.f.OnSaved(r.Block.Number + 1)
		}
	}
	b.progress()
	b.reports = b.reports[:0]
	return nil
}

// progress logs, once per ProgressEvery in which a commit held several
// blocks (the follower is behind, e.g. on its first catch-up of a long
// ledger), the blocks indexed and the rates over that time.
func (b *batch) progress() {
	if b.window.IsZero() {
		b.window = time.Now()
	}
	b.blocks += len(b.reports)
	for _, r := range b.reports {
		b.votes += r.Votes()
	}
	b.behind = b.behind || len(b.reports) > 1
	d := time.Since(b.window)
	if d < cmp.Or(b.f.ProgressEvery, 10*time.Second) {
		return
	}
	if b.behind {
		last := b.reports[len(b.reports)-1].Block
		b.f.Log.Info("catching up", "indexed", last.Number+1, "block_time", last.Time,
			"blocks_per_s", float64(b.blocks)/d.Seconds(), "votes_per_s", float64(b.votes)/d.Seconds())
	}
	b.window, b.blocks, b.votes, b.behind = time.Now(), 0, 0, false
}

// rollback discards an open transaction (after a failure).
func (b *batch) rollback() {
	if b.w != nil {
		b.w.Rollback()
		b.w = nil
	}
}

// index decodes and audits one block and saves it with w. It fails with
// ctx's error if ctx's end cut the audit short (nothing of the block
// written to w, whose earlier blocks may be committed), else with a
// storeError (w then fit only for Rollback).
func (f *Follower) index(ctx context.Context, prev []byte, blk *common.Block, w *index.Writer) (audit.Report, error) {
	b, err := fabricblock.Parse(blk)
	if err != nil {
		return audit.Report{}, &storeError{fmt.Errorf("block %d: %w", blk.GetHeader().GetNumber(), err)}
	}
	// The audit's lookups run under ctx: once it ends they fail with its
	// error, which is the end of Run, not a fault of the store. They only
	// read w.
	report, err := f.Auditor.Block(ctx, prev, b, w)
	if stoppedBy(ctx, err) {
		return audit.Report{}, ctx.Err()
	}
	if err == nil {
		// Not cut short by ctx's end: a save failed part way leaves w
		// holding part of the block, fit only for Rollback, which would
		// discard the blocks saved before it too.
		err = w.Save(context.WithoutCancel(ctx), report)
	}
	if err != nil {
		return audit.Report{}, &storeError{err}
	}
	return report, nil
}
