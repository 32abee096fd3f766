package batcher

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/chaincode"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
)

// lateClock is the system clock running late by a fixed offset: a
// batcher's clock behind its gateways'.
type lateClock struct{ by time.Duration }

func (c lateClock) Now() time.Time                         { return time.Now().Add(-c.by) }
func (c lateClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// logBuffer collects a logger's lines for a test.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the lines logged so far that contain s.
func (b *logBuffer) lines(s string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, line := range strings.Split(b.buf.String(), "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return out
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// A batcher whose clock is 1.5 s behind the gateway's (the votes' cast_at)
// holds each batch until its clock has passed the batch's votes, so the
// ledger, which stamps a transaction with the batcher's clock, counts them
// all instead of rejecting them as cast after their transaction.
func TestBatchWaitsForItsVotesCastAt(t *testing.T) {
	const behind = 1500 * time.Millisecond
	srv := redistest.Start(t)
	rdb := srv.Client()
	f := newFakeLedger()
	clock := lateClock{by: behind}
	f.txClock = clock
	var logs logBuffer
	b := startBatcherLogged(t, Config{BatchSize: 50, Clock: clock}, srv.ClientAs(redisserver.UserBatcher), f, logs.logger())
	votes := EnqueueVotes(t, rdb, 0, 200, "s")
	WaitDrained(t, rdb, 30*time.Second)
	checkCountedOnce(t, f, rdb, votes)
	if n := metricValue(t, b.metrics.votes.WithLabelValues(ballot.RejectCastAfterTx)); n != 0 {
		t.Errorf("%v votes rejected as cast after their transaction", n)
	}
	waits, held := metricValue(t, b.metrics.castWaits), metricValue(t, b.metrics.castWaitTime)
	if waits == 0 || held < (behind/2).Seconds()*waits {
		t.Errorf("batcher_cast_waits_total %v, batcher_cast_wait_seconds_total %v: want every batch held about %v", waits, held, behind)
	}
	// One warning per lane for the episode, naming the gap.
	warned := logs.lines("holding their batch until its clock passes them")
	if len(warned) == 0 || len(warned) > len(TestStates) {
		t.Errorf("%d warnings of held batches for %d lanes in one episode: %q", len(warned), len(TestStates), warned)
	}
	for _, line := range warned {
		if !strings.Contains(line, "level=WARN") || !strings.Contains(line, "gap=") {
			t.Errorf("want a warning with the gap: %s", line)
		}
	}
}

// awaitCastAt holds a batch on the batcher's clock, however far ahead its
// votes' cast_at is, and logs an episode once per level: a warning, then an
// error past castSkewAlarm; a batch that needs no wait ends the episode.
func TestAwaitCastAtLogsOncePerEpisode(t *testing.T) {
	clk := newFakeClock()
	var logs logBuffer
	b := newTestBatcher(t, Config{Partitions: []string{"CA"}, Clock: clk}, nil, newFakeLedger(), logs.logger())
	l := b.newLane("CA", "test/1", context.Background())
	batchCastIn := func(d time.Duration) ballot.Batch {
		v := ballot.Vote{State: "CA", Contest: "race", Choice: "alice", CastAt: clk.Now().Add(d).UnixMilli()}
		return ballot.Batch{State: "CA", Seq: 1, Votes: []ballot.Vote{v}}
	}
	// await runs awaitCastAt on a batch cast d ahead and advances the clock
	// until it returns, checking it does not return before its time.
	await := func(d time.Duration) {
		t.Helper()
		timers := clk.waiting()
		done := make(chan error, 1)
		go func() { done <- l.awaitCastAt(context.Background(), batchCastIn(d)) }()
		if d+castMargin > 0 {
			waitFor(t, "the wait", func() bool { return clk.waiting() > timers })
			clk.Advance(d + castMargin - time.Millisecond)
			notYet(t, done)
			clk.Advance(time.Millisecond)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("awaitCastAt still waiting past its time")
		}
	}
	count := func(s string) int { return len(logs.lines(s)) }
	await(time.Second)
	await(2 * time.Second)
	if w, e := count("level=WARN"), count("level=ERROR"); w != 1 || e != 0 {
		t.Fatalf("two batches held in one episode: %d warnings, %d errors; want 1, 0", w, e)
	}
	await(castSkewAlarm + time.Second)
	await(castSkewAlarm)
	if w, e := count("level=WARN"), count("level=ERROR"); w != 1 || e != 1 {
		t.Fatalf("past the alarm in the same episode: %d warnings, %d errors; want 1, 1", w, e)
	}
	await(-time.Second) // cast before the clock: no wait, the episode ends
	await(time.Second)
	if w := count("level=WARN"); w != 2 {
		t.Fatalf("a new episode: %d warnings, want 2", w)
	}
	if n := metricValue(t, b.metrics.castWaits); n != 5 {
		t.Errorf("batcher_cast_waits_total %v, want 5", n)
	}
	want := (time.Second + 2*time.Second + castSkewAlarm + time.Second + castSkewAlarm + time.Second + 5*castMargin).Seconds()
	if s := metricValue(t, b.metrics.castWaitTime); s < want-1e-6 || s > want+1e-6 {
		t.Errorf("batcher_cast_wait_seconds_total %v, want %v", s, want)
	}
}

// The alarm is the chaincode's limit between a proposal's timestamp and a
// peer's clock.
func TestCastSkewAlarmIsTheChaincodeLimit(t *testing.T) {
	if castSkewAlarm != chaincode.MaxClockSkew {
		t.Errorf("castSkewAlarm %v, chaincode.MaxClockSkew %v", castSkewAlarm, chaincode.MaxClockSkew)
	}
}
