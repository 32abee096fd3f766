package batcher

import (
	"testing"
	"time"
)

func entries(n int) []Entry {
	out := make([]Entry, n)
	for i := range out {
		out[i].StreamID = string(rune('a' + i%26))
	}
	return out
}

func TestCutterCutsAtSize(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c := newCutter(3, time.Second)
	if c.due(t0) {
		t.Fatal("empty cutter due")
	}
	c.add(t0, entries(2)...)
	if c.due(t0) || c.room() != 1 {
		t.Fatalf("2 of 3: due=%v room=%d", c.due(t0), c.room())
	}
	if c.full() {
		t.Fatal("2 of 3 full")
	}
	c.add(t0, entries(2)...)
	if !c.due(t0) || !c.full() {
		t.Fatal("4 of 3 not due and full")
	}
	if got := len(c.cut(t0)); got != 3 {
		t.Fatalf("cut %d entries, want 3", got)
	}
	if len(c.pending) != 1 || c.due(t0) {
		t.Fatalf("after cut: %d pending, due=%v", len(c.pending), c.due(t0))
	}
}

func TestCutterCutsAtTimeout(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c := newCutter(100, 200*time.Millisecond)
	if w := c.wait(t0, time.Second); w != time.Second {
		t.Fatalf("idle wait %v, want the idle bound", w)
	}
	c.add(t0, entries(1)...)
	c.add(t0.Add(150*time.Millisecond), entries(1)...) // a later entry does not restart the clock
	if w := c.wait(t0.Add(150*time.Millisecond), time.Second); w != 50*time.Millisecond {
		t.Fatalf("wait %v, want 50ms left of the oldest entry's timeout", w)
	}
	if c.due(t0.Add(199 * time.Millisecond)) {
		t.Fatal("due before the timeout")
	}
	if !c.due(t0.Add(200 * time.Millisecond)) {
		t.Fatal("not due at the timeout")
	}
	if got := len(c.cut(t0.Add(200 * time.Millisecond))); got != 2 {
		t.Fatalf("cut %d, want 2", got)
	}
	if w := c.wait(t0.Add(time.Hour), time.Second); w != time.Second {
		t.Fatalf("wait after emptying %v", w)
	}
}

func TestBackoffDoublesToLimit(t *testing.T) {
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := backoff(i+1, 100, 1000); got != w {
			t.Errorf("attempt %d: %v, want %v", i+1, got, w)
		}
	}
}

func TestFairShare(t *testing.T) {
	for _, c := range []struct{ parts, live, want int }{
		{10, 1, 10}, {10, 2, 5}, {10, 3, 4}, {5, 10, 1}, {10, 0, 10},
	} {
		if got := fairShare(c.parts, c.live); got != c.want {
			t.Errorf("fairShare(%d, %d) = %d, want %d", c.parts, c.live, got, c.want)
		}
	}
}

func TestConfigDefaultsAndLimits(t *testing.T) {
	c := Config{Partitions: []string{"CA"}}
	if err := c.applyDefaults(); err != nil {
		t.Fatal(err)
	}
	if c.BatchSize != DefaultConfig.BatchSize || c.Owner == "" || c.LeaseTTL != DefaultConfig.LeaseTTL {
		t.Fatalf("defaults not applied: %+v", c)
	}
	if err := (&Config{}).applyDefaults(); err == nil {
		t.Error("no partitions accepted")
	}
	if err := (&Config{Partitions: []string{"CA"}, BatchSize: 20000}).applyDefaults(); err == nil {
		t.Error("batch size above the chaincode limit accepted")
	}
}
