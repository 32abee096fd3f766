package measure

import (
	"os"
	"testing"
	"time"
)

// TestCPUBookSub: a sub-book's window, open inside its parent's, books the
// CPU spent in it to its own phase, and the parent's window (which spans
// it) books at least as much; the sub-book keeps the processes its parent
// watched when it was made, not those the parent watches later.
func TestCPUBookSub(t *testing.T) {
	pid := os.Getpid()
	book := NewCPUBook(map[string]int{"self": pid})
	book.Begin("ramp")
	sub := book.Sub()
	book.Watch("other", pid)
	sub.Begin("ramp-10000")
	const burn = 50 * time.Millisecond
	start, err := ReadProc(pid)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for x := 0; ; x++ { // spin until the kernel has booked burn of CPU to us
		if x%100_000 == 0 {
			u, err := ReadProc(pid)
			if err != nil {
				t.Fatal(err)
			}
			if u.CPU-start.CPU >= burn {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %v of CPU in 30 s", u.CPU-start.CPU)
			}
		}
	}
	sub.End()
	book.End()
	inStep := sub.Seconds("ramp-10000", func(string) bool { return true })
	if inStep < burn.Seconds() {
		t.Errorf("the step booked %.3f s of CPU, want at least %.3f", inStep, burn.Seconds())
	}
	if inRamp := book.Seconds("ramp", func(n string) bool { return n == "self" }); inRamp < inStep {
		t.Errorf("the ramp booked %.3f s, less than its step's %.3f", inRamp, inStep)
	}
	if got := sub.Names(); len(got) != 1 || got[0] != "self" {
		t.Errorf("sub-book watches %v, want [self] (its parent's processes when it was made)", got)
	}
	if got := sub.Phases(); len(got) != 1 || got[0] != "ramp-10000" {
		t.Errorf("sub-book's phases %v, want [ramp-10000] (none of its parent's)", got)
	}
	if busy := sub.MachineBusy("ramp-10000"); busy <= 0 || busy > 1 {
		t.Errorf("machine busy in the step %.3f, want within (0, 1]", busy)
	}
}
