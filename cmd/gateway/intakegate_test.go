package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/votechain/votechain/gateway/dedup"
	"github.com/votechain/votechain/gateway/httpapi"
)

// heldIntake is an intake whose Accept is held until release is closed;
// entered is closed once an Accept has begun.
type heldIntake struct {
	httpapi.Intake // nil: only Accept and Close are called
	entered        chan struct{}
	release        chan struct{}
	closed         chan struct{}
	enterOnce      sync.Once
}

func (h *heldIntake) Accept(context.Context, dedup.Attempt) (dedup.Result, error) {
	h.enterOnce.Do(func() { close(h.entered) })
	<-h.release
	return dedup.Result{Outcome: dedup.Accepted}, nil
}

func (h *heldIntake) Close() { close(h.closed) }

// TestStopWaitsForAcceptsInFlight: a stop whose grace has run out (a
// handler the cut left held in Accept) refuses new votes with
// dedup.ErrClosed (503 stopping) at once, lets the held Accept finish and
// answer Accepted, and ends the loops (the intake log's closing round) only
// after it returned, then closes the intake.
func TestStopWaitsForAcceptsInFlight(t *testing.T) {
	held := &heldIntake{entered: make(chan struct{}), release: make(chan struct{}), closed: make(chan struct{})}
	g := &gateway{intake: &intakeGate{closingIntake: held}, intakeWait: 10 * time.Second, loops: &sync.WaitGroup{}, loopsStop: time.Second}
	loopCtx, stopLoops := context.WithCancel(context.Background())
	defer stopLoops()
	acceptReturned := make(chan struct{})
	var returnedBeforeLoopsEnded bool
	g.loops.Go(func() {
		<-loopCtx.Done()
		select {
		case <-acceptReturned:
			returnedBeforeLoopsEnded = true
		default:
		}
	})
	var res dedup.Result
	var acceptErr error
	go func() {
		defer close(acceptReturned)
		res, acceptErr = g.intake.Accept(context.Background(), dedup.Attempt{})
	}()
	<-held.entered

	grace, cancel := context.WithTimeout(context.Background(), 0) // the grace has run out
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		g.stop(grace, stopLoops, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	// Until the gate refuses, a new Accept would be held too.
	for deadline := time.Now().Add(5 * time.Second); !isRefusing(g.intake); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the intake does not refuse votes 5 s after the stop began")
		}
	}
	if _, err := g.intake.Accept(context.Background(), dedup.Attempt{}); !errors.Is(err, dedup.ErrClosed) {
		t.Fatalf("Accept during the stop: %v; want dedup.ErrClosed", err)
	}
	time.Sleep(50 * time.Millisecond) // time for a stop not waiting for the held Accept to end the loops
	if loopCtx.Err() != nil {
		t.Fatal("loops ended while an Accept was still in flight")
	}
	close(held.release)
	<-stopped
	<-acceptReturned
	if acceptErr != nil || res.Outcome != dedup.Accepted {
		t.Errorf("held Accept: %v, %v; want Accepted", res.Outcome, acceptErr)
	}
	if !returnedBeforeLoopsEnded {
		t.Error("loops ended before the held Accept returned: the closing round may miss its vote")
	}
	select {
	case <-held.closed:
	default:
		t.Error("intake not closed by the stop")
	}
}

func isRefusing(g *intakeGate) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.refusing
}
