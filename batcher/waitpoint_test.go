package batcher

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// waits records, for a test on clock clk, the latest decision to wait of
// each waiter (Config.observe), so that the test can await a waiter's
// decision on what it set up instead of sleeping.
type waits struct {
	clk  *fakeClock
	mu   sync.Mutex
	last map[string]waitPoint // by kind and id
}

func newWaits(clk *fakeClock) *waits { return &waits{clk: clk, last: map[string]waitPoint{}} }

// observe is Config.observe: it keeps each waiter's latest decision until
// the waiter returns.
func (w *waits) observe(p waitPoint) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if p.returned {
		delete(w.last, p.kind+" "+p.id)
		return
	}
	w.last[p.kind+" "+p.id] = p
}

// standing returns the latest decision to wait of waiter kind id if it
// still stands: the waiter has not returned, its wake-up is after the
// clock's time (or it has none) and none of its events has come, so the
// waiter decided on what the test set up and will not decide again but on
// an input the hook does not see (waitPoint), which the test must know is
// not coming.
func (w *waits) standing(kind, id string) (waitPoint, bool) {
	w.mu.Lock()
	p, ok := w.last[kind+" "+id]
	w.mu.Unlock()
	if !ok || !p.wake.IsZero() && !p.wake.After(w.clk.Now()) {
		return p, false
	}
	for _, e := range p.events {
		select {
		case <-e:
			return p, false
		default:
		}
	}
	return p, true
}

// notYet checks that waiter kind id has not acted (res holds nothing) once
// its latest decision to wait stands (standing).
func (w *waits) notYet(t *testing.T, kind, id string, res <-chan error) {
	t.Helper()
	who := strings.TrimSpace(kind + " " + id)
	var acted bool
	var err error
	waitFor(t, who+" deciding to wait", func() bool {
		_, ok := w.standing(kind, id)
		select {
		case err = <-res:
			acted = true
			return true
		default:
			return ok
		}
	})
	if acted {
		t.Fatalf("%s did not wait: %v", who, err)
	}
}

// lanes waits until the lanes of states each have a decision not to cut
// that stands, and returns the votes they hold in all.
func (w *waits) lanes(t *testing.T, states ...string) int {
	t.Helper()
	n := 0
	waitFor(t, fmt.Sprintf("the lanes of %v deciding to wait", states), func() bool {
		n = 0
		for _, s := range states {
			p, ok := w.standing("lane", s)
			if !ok {
				return false
			}
			n += p.pending
		}
		return true
	})
	return n
}
