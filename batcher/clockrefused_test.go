package batcher

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
)

// offsetClock is the system clock moved by an offset that may change (its
// NTP fixing it).
type offsetClock struct{ by atomic.Int64 } // nanoseconds

func (c *offsetClock) Now() time.Time                         { return time.Now().Add(time.Duration(c.by.Load())) }
func (c *offsetClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (c *offsetClock) TimerAt(at time.Time) Timer             { return newOffsetTimer(c.Now, at) }

// A batcher whose clock is more than ballot.MaxClockSkew ahead of the
// peers' has every transaction refused for its time: it retries each
// batch with backoff, logs each refusal at error level naming its clock
// and the fix (and its block stream's refusal with the fix), counts it
// under its own cause, clock, and once the clocks
// agree again commits every vote, once.
func TestClockRefusalIsRetriedUntilFixed(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	f := newFakeLedger()
	peers := &offsetClock{}
	peers.by.Store(int64(-3 * time.Minute)) // the batcher, on the system clock, is 3 min ahead
	f.txClock, f.peerClock = systemClock{}, peers
	logs := &logBuffer{}
	b := startBatcherLogged(t, Config{BatchSize: 20}, srv.ClientAs(redisserver.UserBatcher), f, logs.logger())
	votes := EnqueueVotes(t, rdb, 0, 100, "s")

	ca := ballot.Batch{State: "CA", Seq: 1}.ID()
	waitFor(t, "CA's first batch refused three times", func() bool { return f.submissions(ca) >= 3 })
	if n, _ := ledgerTxs(f); n != 0 {
		t.Fatalf("%d transactions committed with the batcher's clock refused", n)
	}
	if n := metricValue(t, b.metrics.retries.WithLabelValues("clock")); n < 3 {
		t.Errorf("batcher_retries_total{cause=clock} = %v; want every refusal counted (3 of CA's at least)", n)
	}
	if n := metricValue(t, b.metrics.retries.WithLabelValues("endorse_or_submit")); n != 0 {
		t.Errorf("batcher_retries_total{cause=endorse_or_submit} = %v; want the clock's refusals counted apart, under clock", n)
	}
	refused := logs.lines("batch commit refused for this batcher's clock")
	if len(refused) == 0 {
		t.Fatalf("no refusal logged for the clock:\n%s", strings.Join(logs.Lines(), "\n"))
	}
	for _, says := range []string{"level=ERROR", "clock=", "max_skew=2m0s", ballot.ClockSkewAdvice(), ballot.ClockSkewMark} {
		if !strings.Contains(refused[0], says) {
			t.Errorf("the refusal's log does not say %q: %s", says, refused[0])
		}
	}
	if generic := logs.lines("batch commit failed; retrying"); len(generic) != 0 {
		t.Errorf("a clock refusal logged as an unexplained failure: %s", generic[0])
	}
	stream := logs.lines("block stream ended, refused for this batcher's clock")
	if len(stream) == 0 || !strings.Contains(stream[0], ballot.ClockSkewAdvice()) {
		t.Errorf("the block stream's clock refusal not logged with the advice; block stream lines: %q", logs.lines("block stream"))
	}

	peers.by.Store(0) // NTP fixed
	WaitDrained(t, rdb, 30*time.Second)
	checkCountedOnce(t, f, rdb, votes)
	if n := metricValue(t, b.metrics.votes.WithLabelValues(ballot.RejectCastAfterTx)); n != 0 {
		t.Errorf("%v votes rejected as cast after their transaction", n)
	}
}

// A batch refused for the batcher's clock is submitted again at most every
// clockRefusedRetry, other failures' limit being 2 s: only a fixed clock
// ends the refusals. Both start at 100 ms and double.
func TestRetryWaitOfAClockRefusal(t *testing.T) {
	clockErr := fmt.Errorf("submit batch CA/1: %w: proposal timestamp is 3m0s from this peer's clock", ballot.ErrClockSkew)
	other := errors.New("submit batch CA/1: endorsement failed")
	for _, c := range []struct {
		err      error
		failures int
		want     time.Duration
	}{
		{clockErr, 1, 100 * time.Millisecond},
		{clockErr, 5, 1600 * time.Millisecond},
		{clockErr, 7, 6400 * time.Millisecond},
		{clockErr, 8, clockRefusedRetry},
		{clockErr, 50, clockRefusedRetry},
		{other, 1, 100 * time.Millisecond},
		{other, 6, 2 * time.Second},
		{other, 50, 2 * time.Second},
	} {
		if got := retryWait(c.err, c.failures); got != c.want {
			t.Errorf("retryWait(%v, %d) = %v; want %v", c.err, c.failures, got, c.want)
		}
	}
}
