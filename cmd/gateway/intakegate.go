package main

import (
	"context"
	"sync"
	"time"

	"github.com/votechain/votechain/gateway/dedup"
	"github.com/votechain/votechain/gateway/httpapi"
)

// closingIntake is the intake the gate guards (*dedup.Deduper).
type closingIntake interface {
	httpapi.Intake
	Close()
}

// intakeGate is the API's intake during a stop: once refuse is called it
// refuses every new Accept with dedup.ErrClosed (the API answers 503
// stopping) and lets the loops stop only after the Accepts in flight have
// returned, so that the intake log's closing round covers every vote the
// gateway accepted, even those of requests still open when the grace ran
// out, which are cut (srv.Close) only after this wait.
type intakeGate struct {
	closingIntake
	mu       sync.Mutex
	refusing bool
	inFlight sync.WaitGroup
}

// Accept is the intake's Accept, or dedup.ErrClosed once refuse was called.
func (g *intakeGate) Accept(ctx context.Context, a dedup.Attempt) (dedup.Result, error) {
	g.mu.Lock()
	if g.refusing {
		g.mu.Unlock()
		return dedup.Result{}, dedup.ErrClosed
	}
	g.inFlight.Add(1)
	g.mu.Unlock()
	defer g.inFlight.Done()
	return g.closingIntake.Accept(ctx, a)
}

// refuse makes every later Accept fail with dedup.ErrClosed and waits up to
// bound for the Accepts in flight; it reports whether they all returned.
func (g *intakeGate) refuse(bound time.Duration) bool {
	g.mu.Lock()
	g.refusing = true
	g.mu.Unlock()
	return waitWithin(g.inFlight.Wait, bound)
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
