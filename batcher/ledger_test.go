package batcher

import (
	"testing"
	"time"
)

// TestTimerAt: a timer set for a time decided before the clock moved fires
// at that time, not as late as the move (as a timer for the wait reckoned
// from the decision's clock reading would), and one reset for another time
// fires at that time only.
func TestTimerAt(t *testing.T) {
	clk := newFakeClock()
	at := clk.Now().Add(10 * time.Millisecond) // decided
	clk.Advance(5 * time.Millisecond)          // the clock moves before the timer is set
	timer := clk.TimerAt(at)
	clk.Advance(4 * time.Millisecond)
	if fired(timer) {
		t.Fatalf("fired 1 ms before %v", at)
	}
	clk.Advance(time.Millisecond)
	if !fired(timer) {
		t.Fatalf("not fired at %v", at)
	}
	at = clk.Now().Add(10 * time.Millisecond)
	timer.ResetAt(clk.Now().Add(5 * time.Millisecond))
	timer.ResetAt(at) // in place of the earlier setting
	clk.Advance(9 * time.Millisecond)
	if fired(timer) {
		t.Fatalf("fired at its earlier setting, before %v", at)
	}
	clk.Advance(time.Millisecond)
	if !fired(timer) || fired(timer) {
		t.Fatalf("not fired once at %v", at)
	}
}

// TestTimerContract: the system clock's timers and the fake clock's fire at
// once for a time already past, and drop a firing not received when reset
// or stopped (as time.Timer since Go 1.23), so a waiter that resets its
// timer never wakes for an earlier setting.
func TestTimerContract(t *testing.T) {
	for name, clk := range map[string]Clock{"system": systemClock{}, "fake": newFakeClock()} {
		t.Run(name, func(t *testing.T) {
			past, later := clk.Now().Add(-time.Millisecond), clk.Now().Add(time.Hour)
			timer := clk.TimerAt(past)
			if !fired(timer) {
				t.Fatal("a timer set for a time past did not fire at once")
			}
			timer.ResetAt(later)
			if fired(timer) {
				t.Fatal("a timer set an hour ahead fired")
			}
			timer.ResetAt(past) // fires, not received
			timer.ResetAt(later)
			if fired(timer) {
				t.Fatal("a reset timer delivered the firing of its earlier setting")
			}
			timer.ResetAt(past)
			timer.Stop()
			if fired(timer) {
				t.Fatal("a stopped timer delivered a firing")
			}
			timer.ResetAt(past)
			if !fired(timer) {
				t.Fatal("a stopped timer set again for a time past did not fire")
			}
		})
	}
}

// fired reports whether timer has a firing to receive, receiving it.
func fired(timer Timer) bool {
	select {
	case <-timer.C():
		return true
	default:
		return false
	}
}
