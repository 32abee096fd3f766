package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/votechain/votechain/gateway/dedup"
	"github.com/votechain/votechain/gateway/httpapi"
)

// closingIntake is the intake the gate guards (*dedup.Deduper).
type closingIntake interface {
	httpapi.Intake
	// Abort makes the Accepts in flight return at once and starts no
	// Redis call after it (dedup.Deduper.Abort).
	Abort()
	Close()
}

// intakeGate is the API's intake during a stop: once refuse is called it
// refuses every new Accept with dedup.ErrClosed (the API answers 503
// stopping), and drain lets the loops stop only after the Accepts in
// flight have returned, so that the intake log's closing round covers
// every vote the gateway accepted, even those of requests still being
// handled when the grace ran out, which are cut (srv.Close) only after
// this wait.
type intakeGate struct {
	closingIntake
	mu       sync.Mutex
	refusing bool
	inFlight sync.WaitGroup
	accepts  atomic.Int64 // Accepts in flight
}

// Accept is the intake's Accept, or dedup.ErrClosed once refuse was called.
func (g *intakeGate) Accept(ctx context.Context, a dedup.Attempt) (dedup.Result, error) {
	g.mu.Lock()
	if g.refusing {
		g.mu.Unlock()
		return dedup.Result{}, dedup.ErrClosed
	}
	g.inFlight.Add(1)
	g.accepts.Add(1)
	g.mu.Unlock()
	defer func() { g.accepts.Add(-1); g.inFlight.Done() }()
	return g.closingIntake.Accept(ctx, a)
}

// refuse makes every later Accept fail with dedup.ErrClosed and returns
// how many are in flight, which only fall from then on.
func (g *intakeGate) refuse() int64 {
	g.mu.Lock()
	g.refusing = true
	g.mu.Unlock()
	return g.accepts.Load()
}

// drain waits up to bound for the Accepts in flight (once refuse was
// called) and returns how many were still in flight then, 0 if they all
// returned. If some were, it aborts the intake first: they return at once
// (503), and no Redis call starts after it, so that no vote is sent to
// Redis during the loops' closing round.
func (g *intakeGate) drain(bound time.Duration) int64 {
	if waitWithin(g.inFlight.Wait, bound) {
		return 0
	}
	left := g.accepts.Load()
	if left > 0 { // 0: they returned as the wait gave up
		g.closingIntake.Abort()
	}
	return left
}

// waitWithin calls wait and reports whether it returned within d. Past d
// the goroutine calling wait is left waiting on alone: harmless, as the
// process is exiting.
func waitWithin(wait func(), d time.Duration) bool {
	returned := make(chan struct{})
	go func() { wait(); close(returned) }()
	timeout := time.NewTimer(d)
	defer timeout.Stop()
	select {
	case <-returned:
		return true
	case <-timeout.C:
		return false
	}
}
