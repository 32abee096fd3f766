package batcher

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// A look-up for a transaction whose look-up is running waits for that one:
// ten lanes asking at once cost the ledger one call, and each gets its
// answer.
func TestLookupsShareOneCall(t *testing.T) {
	var l lookups
	var calls atomic.Int32
	release := make(chan struct{})
	find := func(_ context.Context, txID string) (uint64, error) {
		calls.Add(1)
		<-release
		return 42, nil
	}
	var wg sync.WaitGroup
	got := make([]uint64, 10)
	for i := range got {
		wg.Go(func() {
			n, err := l.blockOf(context.Background(), "tx1", find)
			if err != nil {
				t.Errorf("caller %d: %v", i, err)
			}
			got[i] = n
		})
	}
	waitFor(t, "every caller waiting on the call", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		c := l.calls["tx1"]
		return c != nil && c.callers == len(got)
	})
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("ledger asked %d times, want once", n)
	}
	for i, n := range got {
		if n != 42 {
			t.Errorf("caller %d got block %d, want 42", i, n)
		}
	}
	// Finished: the next look-up asks again (nothing cached), and another
	// transaction's has its own call.
	if _, err := l.blockOf(context.Background(), "tx1", find); err != nil {
		t.Fatal(err)
	}
	if _, err := l.blockOf(context.Background(), "tx2", find); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("ledger asked %d times after two more look-ups, want 3", n)
	}
}

// A caller that stops waiting gets its context's error; the call goes on
// and the others get its answer, its error included.
func TestLookupsCallerGivesUp(t *testing.T) {
	var l lookups
	release := make(chan struct{})
	var callCtx context.Context
	find := func(ctx context.Context, _ string) (uint64, error) {
		callCtx = ctx
		<-release
		return 0, errors.New("fake: peer unavailable")
	}
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { _, err := l.blockOf(ctx, "tx1", find); first <- err }()
	waitFor(t, "the call", func() bool { l.mu.Lock(); defer l.mu.Unlock(); return len(l.calls) == 1 })
	second := make(chan error, 1)
	go func() { _, err := l.blockOf(context.Background(), "tx1", find); second <- err }()
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("first caller: %v, want its context's cancellation", err)
	}
	close(release)
	if err := <-second; err == nil || err.Error() != "fake: peer unavailable" {
		t.Fatalf("second caller: %v, want the call's error", err)
	}
	if callCtx.Err() != nil {
		t.Errorf("the call's context ended with the first caller's: %v", callCtx.Err())
	}
}
