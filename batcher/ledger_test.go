package batcher

import (
	"testing"
	"time"
)

// TestTimerAt: a timer set for a time decided before the clock moved fires
// at that time, not as late as the move (as a timer for the wait reckoned
// from the decision's clock reading would).
func TestTimerAt(t *testing.T) {
	clk := newFakeClock()
	at := clk.Now().Add(10 * time.Millisecond) // decided
	clk.Advance(5 * time.Millisecond)          // the clock moves before the timer is set
	timer := timerAt(clk, at)
	fired := func() bool {
		select {
		case <-timer:
			return true
		default:
			return false
		}
	}
	clk.Advance(4 * time.Millisecond)
	if fired() {
		t.Fatalf("fired 1 ms before %v", at)
	}
	clk.Advance(time.Millisecond)
	if !fired() {
		t.Fatalf("not fired at %v", at)
	}
}
