package batcher

import (
	"context"
	"sync"
)

// lookups shares one ledger look-up of a transaction's block among the
// callers that ask for it while it runs. The lanes whose batches share a
// transaction judge it lost at about the same moment, and each would
// otherwise ask the peer for the same block: ten calls for one transaction
// in an A/B at 5,000 votes/s (2026-12-03), each answered with the whole
// block (GetBlockByTxID, megabytes with large transactions) by the peer the
// batcher was already waiting on. Nothing is cached: a look-up after the
// last one finished asks the ledger again.
type lookups struct {
	mu    sync.Mutex
	calls map[string]*lookup // by transaction id, while running
}

type lookup struct {
	done    chan struct{} // closed when block and err are set
	block   uint64
	err     error
	callers int // that asked for it (under lookups.mu)
}

// blockOf returns find's answer for txID, calling it unless a call for
// txID is running, whose answer it then shares. The call runs on ctx's
// values without its cancellation, so a caller that stops waiting (ctx
// ended: its error is returned) does not end it for the others; find
// bounds its own time.
func (l *lookups) blockOf(ctx context.Context, txID string, find func(context.Context, string) (uint64, error)) (uint64, error) {
	l.mu.Lock()
	c, running := l.calls[txID]
	if !running {
		if l.calls == nil {
			l.calls = map[string]*lookup{}
		}
		c = &lookup{done: make(chan struct{})}
		l.calls[txID] = c
		go func() {
			c.block, c.err = find(context.WithoutCancel(ctx), txID)
			l.mu.Lock()
			delete(l.calls, txID)
			l.mu.Unlock()
			close(c.done)
		}()
	}
	c.callers++
	l.mu.Unlock()
	select {
	case <-c.done:
		return c.block, c.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}
