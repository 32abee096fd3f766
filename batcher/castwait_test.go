package batcher

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/chaincode"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
	"github.com/votechain/votechain/internal/testlog"
)

// lateClock is the system clock running late by a fixed offset: a
// batcher's clock behind its gateways'.
type lateClock struct{ by time.Duration }

func (c lateClock) Now() time.Time                         { return time.Now().Add(-c.by) }
func (c lateClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (c lateClock) TimerAt(at time.Time) Timer             { return newOffsetTimer(c.Now, at) }

// logBuffer collects a logger's lines for a test.
type logBuffer struct{ testlog.Buffer }

// lines returns the lines logged so far that contain s.
func (b *logBuffer) lines(s string) []string {
	return slices.DeleteFunc(b.Lines(), func(line string) bool { return !strings.Contains(line, s) })
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// runLate runs a batcher whose clock is behind the gateways' (the system
// clock), on the fake ledger stamping transactions with it, until n votes
// queued over the test states are settled (within that time); it returns
// the batcher, the ledger, the Redis client, its logs and the votes.
func runLate(t *testing.T, behind time.Duration, n int, within time.Duration) (*Batcher, *fakeLedger, *redis.Client, *logBuffer, []ballot.Vote) {
	t.Helper()
	srv := redistest.Start(t)
	rdb := srv.Client()
	f := newFakeLedger()
	clock := lateClock{by: behind}
	f.txClock = clock
	logs := &logBuffer{}
	b := startBatcherLogged(t, Config{BatchSize: 50, Clock: clock}, srv.ClientAs(redisserver.UserBatcher), f, logs.logger())
	votes := EnqueueVotes(t, rdb, 0, n, "s")
	WaitDrained(t, rdb, within)
	return b, f, rdb, logs, votes
}

// A batcher whose clock is 1.5 s behind the gateway's (the votes' cast_at)
// holds each batch until its clock has passed the batch's votes, so the
// ledger, which stamps a transaction with the batcher's clock, counts them
// all instead of rejecting them as cast after their transaction.
func TestBatchWaitsForItsVotesCastAt(t *testing.T) {
	const behind = 1500 * time.Millisecond
	b, f, rdb, logs, votes := runLate(t, behind, 200, 30*time.Second)
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

// castLane is a lane of state CA on a fake clock, with one batch's claim
// taken, for awaitCastAt.
type castLane struct {
	*lane
	clk   *fakeClock
	held  *claim
	waits *waits
}

func newCastLane(t *testing.T, cfg Config, log *slog.Logger) castLane {
	t.Helper()
	return newCastLaneOn(t, cfg, newFakeLedger(), newFakeClock(), log)
}

// newCastLaneOn is newCastLane on ledger and clock clk.
func newCastLaneOn(t *testing.T, cfg Config, ledger Ledger, clk *fakeClock, log *slog.Logger) castLane {
	t.Helper()
	w := newWaits(clk)
	cfg.Partitions, cfg.Clock, cfg.observe = []string{"CA"}, clk, w.observe
	b := newTestBatcher(t, cfg, nil, ledger, log)
	c := &claim{b: b, cost: 1, announced: b.share != nil}
	if !b.inflight.tryAcquire(c.cost) {
		t.Fatal("no slot free")
	}
	if c.announced {
		b.share.announce(1)
	}
	return castLane{b.newLane("CA", "test/1", context.Background()), clk, c, w}
}

// batchCastIn is a batch of CA whose votes are cast the durations ahead of
// the lane's clock.
func (l castLane) batchCastIn(ahead ...time.Duration) ballot.Batch {
	b := ballot.Batch{State: "CA", Seq: 1}
	for _, d := range ahead {
		b.Votes = append(b.Votes, ballot.Vote{State: "CA", Contest: "race", Choice: "alice", CastAt: l.clk.Now().Add(d).UnixMilli()})
	}
	return b
}

// notYet checks that awaitCastAt, whose result is done, is still holding
// batch CA/1 for the clock once it has decided on the clock's time
// (waits.notYet).
func (l castLane) notYet(t *testing.T, done <-chan error) {
	t.Helper()
	l.waits.notYet(t, "cast", ballot.Batch{State: "CA", Seq: 1}.ID(), done)
}

// await runs awaitCastAt on b in the background, once the clock's timers
// are counted.
func (l castLane) await(ctx context.Context, b ballot.Batch) (done <-chan error, timers int) {
	res := make(chan error, 1)
	timers = l.clk.waiting()
	go func() { res <- l.awaitCastAt(ctx, context.Background(), b, l.held) }()
	return res, timers
}

// returned checks that awaitCastAt has returned err.
func returned(t *testing.T, done <-chan error, want error) {
	t.Helper()
	select {
	case err := <-done:
		if err != want {
			t.Fatalf("awaitCastAt: %v, want %v", err, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("awaitCastAt still waiting past its time")
	}
}

// awaitCastAt holds a batch on the batcher's clock until its latest cast_at
// within castSkewAlarm, and logs an episode once per level: a warning for a
// batch held, then an error for votes beyond castSkewAlarm (not waited
// for); a batch with no vote ahead ends the episode.
func TestAwaitCastAtLogsOncePerEpisode(t *testing.T) {
	var logs logBuffer
	l := newCastLane(t, Config{}, logs.logger())
	// await holds a batch cast ahead and advances the clock until it
	// returns, checking it does not return before wait.
	await := func(wait time.Duration, ahead ...time.Duration) {
		t.Helper()
		done, timers := l.await(context.Background(), l.batchCastIn(ahead...))
		if wait > 0 {
			waitFor(t, "the wait", func() bool { return l.clk.waiting() > timers })
			l.clk.Advance(wait - time.Millisecond)
			l.notYet(t, done)
			l.clk.Advance(time.Millisecond)
		}
		returned(t, done, nil)
	}
	count := func(s string) int { return len(logs.lines(s)) }
	await(time.Second+castMargin, time.Second)
	await(2*time.Second+castMargin, 2*time.Second)
	if w, e := count("level=WARN"), count("level=ERROR"); w != 1 || e != 0 {
		t.Fatalf("two batches held in one episode: %d warnings, %d errors; want 1, 0", w, e)
	}
	await(0, castSkewAlarm)                                               // beyond with the margin: not waited for
	await(time.Minute+castMargin, time.Minute, castSkewAlarm+time.Second) // held for the vote within the bound only
	if w, e := count("level=WARN"), count("level=ERROR"); w != 1 || e != 1 {
		t.Fatalf("votes beyond the bound in the same episode: %d warnings, %d errors; want 1, 1", w, e)
	}
	if line := logs.lines("level=ERROR")[0]; !strings.Contains(line, "cast_after_tx") || !strings.Contains(line, "votes=1") {
		t.Errorf("want the error to say the votes are rejected as cast_after_tx, and how many: %s", line)
	}
	// Each names the alert it fires and the fix, the operator's: NTP checked
	// and turned on where the clock is off (it does not correct itself).
	for level, alert := range map[string]string{"level=WARN": "GatewayClockAhead", "level=ERROR": "VotesRejectedCastAfterTx"} {
		if line := logs.lines(level)[0]; !strings.Contains(line, "alert="+alert) || !strings.Contains(line, "on the machine whose clock is off") && !strings.Contains(line, "on the one whose clock is off") ||
			!strings.Contains(line, "check NTP with timedatectl") || !strings.Contains(line, "turn it on if it is off (sudo timedatectl set-ntp true") {
			t.Errorf("want the %s line to name alert %s and the operator's fix (check and turn on NTP on the machine whose clock is off, with timedatectl): %s", level, alert, line)
		}
	}
	await(0, -time.Second) // cast before the clock: no wait, the episode ends
	await(time.Second+castMargin, time.Second)
	if w := count("level=WARN"); w != 2 {
		t.Fatalf("a new episode: %d warnings, want 2", w)
	}
	if n := metricValue(t, l.b.metrics.castWaits); n != 4 {
		t.Errorf("batcher_cast_waits_total %v, want 4", n)
	}
	want := (time.Second + 2*time.Second + time.Minute + time.Second + 4*castMargin).Seconds()
	if s := metricValue(t, l.b.metrics.castWaitTime); s < want-1e-6 || s > want+1e-6 {
		t.Errorf("batcher_cast_wait_seconds_total %v, want %v", s, want)
	}
}

// electionLedger is a ledger offering election record e (ElectionSource),
// or failing with err, counting its reads; with gate set, a read waits for
// it to close (or its ctx).
type electionLedger struct {
	Ledger
	e     ballot.Election
	err   error
	gate  chan struct{}
	reads atomic.Int32
}

func (l *electionLedger) Election(ctx context.Context) (*ballot.Election, error) {
	l.reads.Add(1)
	if l.gate != nil {
		select {
		case <-l.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if l.err != nil {
		return nil, l.err
	}
	e := l.e
	return &e, nil
}

// castElection is an election of CA whose contest "race" (batchCastIn's)
// offers alice and bob, open on clk from opened ago for a day.
func castElection(clk *fakeClock, opened time.Duration) ballot.Election {
	opens := clk.Now().Add(-opened)
	return ballot.Election{ID: "E1", States: []string{"CA"}, Status: ballot.StatusConfigured,
		Contests: []ballot.Contest{{ID: "race", Title: "Race", Kind: ballot.ContestRace, Choices: []string{"alice", "bob"}}},
		OpensAt:  opens, ClosesAt: opens.Add(24 * time.Hour)}
}

// closedElection is castElection closed early at clk's time plus in (a
// batcher's clock behind the close's transaction time).
func closedElection(clk *fakeClock, in time.Duration) ballot.Election {
	e := castElection(clk, time.Hour)
	e.Status, e.ClosedAt = ballot.StatusClosed, clk.Now().Add(in)
	return e
}

// castAwaits runs batches through a castLane's awaitCastAt.
type castAwaits struct {
	t *testing.T
	castLane
}

// notHeld checks that batch b returns at once, not counted as held: the
// clock does not move, so a held batch would not return.
func (a castAwaits) notHeld(what string, b ballot.Batch) {
	a.t.Helper()
	before := metricValue(a.t, a.b.metrics.castWaits)
	done, _ := a.await(context.Background(), b)
	returned(a.t, done, nil)
	if n := metricValue(a.t, a.b.metrics.castWaits); n != before {
		a.t.Fatalf("the batch of a vote %s held (batcher_cast_waits_total %v)", what, n)
	}
}

// held checks that batch b is held until the clock has moved by d, and
// moves it.
func (a castAwaits) held(what string, b ballot.Batch, d time.Duration) {
	a.t.Helper()
	done, timers := a.await(context.Background(), b)
	waitFor(a.t, "the wait of a vote "+what, func() bool { return a.clk.waiting() > timers })
	a.clk.Advance(d - time.Millisecond)
	a.notYet(a.t, done)
	a.clk.Advance(time.Millisecond)
	returned(a.t, done, nil)
}

// A vote a final election record (closed or finalised) refuses whatever its
// commit time (unknown contest or choice, cast outside the window) does
// not hold its batch, however far within the bound its cast_at is ahead of
// the batcher's clock: only the votes a wait can save do. The record is
// read through RoundRobin's home when a batch has votes ahead, and kept.
func TestCastWaitSkipsVotesRefusedWhateverTheirCommitTime(t *testing.T) {
	var logs logBuffer
	clk := newFakeClock()
	ledger := &electionLedger{Ledger: newFakeLedger(), e: closedElection(clk, 30*time.Second)}
	l := castAwaits{t, newCastLaneOn(t, Config{}, RoundRobin(ledger, newFakeLedger()), clk, logs.logger())}
	unknownContest, unknownChoice := l.batchCastIn(time.Minute), l.batchCastIn(time.Minute)
	unknownContest.Votes[0].Contest = "senate"
	unknownChoice.Votes[0].Choice = "mallory"
	l.notHeld("of an unknown contest", unknownContest)
	l.notHeld("of an unknown choice", unknownChoice)
	l.notHeld("cast after the close", l.batchCastIn(time.Minute))
	if w, e := len(logs.lines("level=WARN")), len(logs.lines("level=ERROR")); w+e != 0 {
		t.Errorf("%d warnings and %d errors of votes cast ahead for votes refused anyway: %q", w, e, logs.Lines())
	}

	// A refused vote beside one the wait saves: held for the latter only.
	mixed := l.batchCastIn(time.Second, 10*time.Second)
	mixed.Votes[1].Choice = "mallory"
	l.held("beside a refused one", mixed, time.Second+castMargin)
	if n := metricValue(t, l.b.metrics.castWaitTime); n != (time.Second + castMargin).Seconds() {
		t.Errorf("batcher_cast_wait_seconds_total %v, want %v: held for the vote counted only", n, (time.Second + castMargin).Seconds())
	}
	if n := ledger.reads.Load(); n != 1 {
		t.Errorf("the election record read %d times, want once (kept: closed)", n)
	}
}

// Only a closed or finalised record is final: a configured one may be
// replaced by a set-up however long its window has been open by the
// batcher's clock (a set-up endorsed in time and committed late, a lagging
// peer's older record, a batcher's clock ahead).
func TestFinalRecord(t *testing.T) {
	clk := newFakeClock()
	for _, c := range []struct {
		what string
		e    ballot.Election
		want bool
	}{
		{"configured, opening in an hour", castElection(clk, -time.Hour), false},
		{"configured, opened a minute ago", castElection(clk, time.Minute), false},
		{"configured, opened an hour ago", castElection(clk, time.Hour), false},
		{"closed", closedElection(clk, -time.Minute), true},
		{"finalised", func() ballot.Election {
			e := closedElection(clk, -time.Hour)
			e.Status, e.FinalisedAt = ballot.StatusFinalised, clk.Now()
			return e
		}(), true},
	} {
		if got := finalRecord(&c.e); got != c.want {
			t.Errorf("%s: final %v, want %v", c.what, got, c.want)
		}
	}
}

// A configured record, even an hour into its window, is not judged by: a
// vote it refuses may be counted by the record that replaces it, so the
// batch is held for it. The record is read only for a batch that would be
// held, not again for electionReread after a read found it not final, and
// kept once closed.
func TestCastWaitHoldsForVotesOfARecordNotFinal(t *testing.T) {
	clk := newFakeClock()
	ledger := &electionLedger{Ledger: newFakeLedger(), e: castElection(clk, time.Hour)}
	l := castAwaits{t, newCastLaneOn(t, Config{}, ledger, clk, nil)}
	senate := func() ballot.Batch { return l.unknownContest(time.Second) }
	l.notHeld("beyond the bound", l.batchCastIn(castSkewAlarm+time.Second))
	if n := ledger.reads.Load(); n != 0 {
		t.Fatalf("the record read %d times for a batch held for no vote, want 0", n)
	}
	l.held("of a contest a set-up may add", senate(), time.Second+castMargin)
	l.held("of a contest a set-up may add, again", senate(), time.Second+castMargin)
	if n := ledger.reads.Load(); n != 1 {
		t.Errorf("the record read %d times within %v, want once", n, electionReread)
	}
	ledger.e = closedElection(clk, time.Minute) // no read in flight
	clk.Advance(electionReread)
	l.notHeld("of an unknown contest, the election closed", senate())
	l.notHeld("of an unknown contest, the election closed, again", senate())
	if n := ledger.reads.Load(); n != 2 {
		t.Errorf("the record read %d times, want twice (again after %v, then kept)", n, electionReread)
	}
}

// With no record to read (RoundRobin's home offers none), or a read that
// fails, every vote is waited for. A failed read is logged at warn once
// and not repeated for electionReread.
func TestCastWaitWithoutARecordWaitsForEveryVote(t *testing.T) {
	senate := func(l castAwaits) ballot.Batch { return l.unknownContest(time.Second) }
	noRecord := castAwaits{t, newCastLaneOn(t, Config{}, RoundRobin(newFakeLedger(), newFakeLedger()), newFakeClock(), nil)}
	noRecord.held("of an unknown contest, no record offered", senate(noRecord), time.Second+castMargin)

	var logs logBuffer
	failing := &electionLedger{Ledger: newFakeLedger(), err: errors.New("peer unavailable")}
	l := castAwaits{t, newCastLaneOn(t, Config{}, RoundRobin(failing, newFakeLedger()), newFakeClock(), logs.logger())}
	l.held("of an unknown contest, the read failed", senate(l), time.Second+castMargin)
	l.held("of an unknown contest, the read failed, again", senate(l), time.Second+castMargin)
	if n := failing.reads.Load(); n != 1 {
		t.Errorf("the record read %d times within %v of a failed read, want once", n, electionReread)
	}
	l.clk.Advance(electionReread)
	l.held("of an unknown contest, the read failed later", senate(l), time.Second+castMargin)
	if n := failing.reads.Load(); n != 2 {
		t.Errorf("the record read %d times, want twice (again after %v)", n, electionReread)
	}
	warned := logs.lines("cannot read the election record")
	if len(warned) != 1 || !strings.Contains(warned[0], "level=WARN") || !strings.Contains(warned[0], "peer unavailable") {
		t.Errorf("want one warning with the error for the failing reads: %q", warned)
	}
}

// unknownContest is a batch of a vote cast d ahead of l's clock for a
// contest castElection lacks: refused by a final record, whatever its
// commit time.
func (l castAwaits) unknownContest(d time.Duration) ballot.Batch {
	b := l.batchCastIn(d)
	b.Votes[0].Contest = "senate"
	return b
}

// A read cut short by the reading batch's own stop says nothing of the
// record: it is not logged as failed, and the next batch (another lane's)
// reads the record at once instead of every lane going without it for
// electionReread.
func TestElectionReadCutByItsStop(t *testing.T) {
	var logs logBuffer
	clk := newFakeClock()
	ledger := &electionLedger{Ledger: newFakeLedger(), e: closedElection(clk, time.Minute), gate: make(chan struct{})}
	l := castAwaits{t, newCastLaneOn(t, Config{}, ledger, clk, logs.logger())}
	stop, stopLane := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- l.awaitCastAt(context.Background(), stop, l.unknownContest(time.Second), l.castLane.held)
	}()
	waitFor(t, "the read", func() bool { return ledger.reads.Load() == 1 })
	stopLane()
	returned(t, done, context.Canceled)
	if err := l.castLane.held.reclaim(context.Background(), ballot.Batch{State: "CA", Seq: 1}.ID()); err != nil {
		t.Fatal(err)
	}
	close(ledger.gate)
	l.notHeld("of an unknown contest, the election closed, the read before cut by its stop", l.unknownContest(time.Second))
	if n := ledger.reads.Load(); n != 2 {
		t.Errorf("the record read %d times, want twice (again at once after a read cut by its stop)", n)
	}
	if warned := logs.lines("cannot read the election record"); len(warned) != 0 {
		t.Errorf("a read cut by its batch's stop logged as failed: %q", warned)
	}
}

// A record of another election than the one the batcher was started for
// (Config.Election: a network set up again under a running batcher) is not
// judged by, even closed: it could refuse the new election's valid votes,
// so every vote is waited for, and the read is logged as failed, naming
// both elections. A record of its own election is.
func TestCastWaitUsesOnlyItsElectionsRecord(t *testing.T) {
	var logs logBuffer
	clk := newFakeClock()
	ledger := &electionLedger{Ledger: newFakeLedger(), e: closedElection(clk, time.Minute)}
	ledger.e.ID = "OLD"
	l := castAwaits{t, newCastLaneOn(t, Config{Election: "E1"}, ledger, clk, logs.logger())}
	l.held("of an unknown contest, another election's record closed", l.unknownContest(time.Second), time.Second+castMargin)
	warned := logs.lines("cannot read the election record")
	if len(warned) != 1 || !strings.Contains(warned[0], "OLD") || !strings.Contains(warned[0], "E1") {
		t.Errorf("want one warning naming both elections: %q", warned)
	}
	ledger.e.ID = "E1" // no read in flight
	clk.Advance(electionReread)
	l.notHeld("of an unknown contest, its election closed", l.unknownContest(time.Second))
}

// One read at a time: a batch arriving while the record is read waits for
// that read instead of starting its own. The read happens after the batch
// has yielded its process slot, so a slow peer holds up no other lane.
func TestElectionReadIsShared(t *testing.T) {
	clk := newFakeClock()
	ledger := &electionLedger{Ledger: newFakeLedger(), e: castElection(clk, time.Hour), gate: make(chan struct{})}
	l := newCastLaneOn(t, Config{MaxInflight: 2, ShareVotes: -1}, ledger, clk, nil)
	first, _ := l.await(context.Background(), l.batchCastIn(time.Second))
	waitFor(t, "the first batch's read", func() bool { return ledger.reads.Load() == 1 })
	if !l.b.inflight.tryAcquire(1) || !l.b.inflight.free() { // the second batch's slot, and one free
		t.Fatal("the batch reading the record holds its process slot")
	}
	second := make(chan error, 1)
	b := l.batchCastIn(time.Second)
	b.Seq = 2
	go func() {
		c := &claim{b: l.b, cost: 1}
		second <- l.awaitCastAt(context.Background(), context.Background(), b, c)
	}()
	waitFor(t, "the second batch yielded", func() bool { return metricValue(t, l.b.metrics.castHeld) == 2 })
	l.waits.notYet(t, "record", b.ID(), second) // waiting for the first batch's read, not reading
	close(ledger.gate)
	waitFor(t, "both batches held for the clock", func() bool { return clk.waiting() == 2 })
	clk.Advance(time.Second + castMargin)
	returned(t, first, nil)
	returned(t, second, nil)
	if n := ledger.reads.Load(); n != 1 {
		t.Errorf("the record read %d times for two batches at once, want once", n)
	}
}

// A batch whose votes are cast hours ahead of the batcher's clock (a
// gateway's clock wrong) is not held for them: it is submitted at once, and
// the ledger rejects them as cast_after_tx. Held, it would keep its lane
// (and, journaled, the lane's next owners) waiting for hours.
func TestBatchNotHeldBeyondTheClockSkewBound(t *testing.T) {
	b, _, _, logs, votes := runLate(t, 3*time.Hour, 100, 20*time.Second)
	if n := metricValue(t, b.metrics.votes.WithLabelValues(ballot.RejectCastAfterTx)); n != float64(len(votes)) {
		t.Errorf("%v votes rejected as cast after their transaction, want all %d", n, len(votes))
	}
	if n := metricValue(t, b.metrics.castWaits); n != 0 {
		t.Errorf("batcher_cast_waits_total %v: no batch should be held", n)
	}
	// An error per lane for the episode, saying the votes are rejected.
	rejected := logs.lines("the ledger rejects them as cast_after_tx")
	if len(rejected) == 0 || len(rejected) > len(TestStates) {
		t.Errorf("%d errors of votes rejected for %d lanes in one episode: %q", len(rejected), len(TestStates), rejected)
	}
	for _, line := range rejected {
		if !strings.Contains(line, "level=ERROR") {
			t.Errorf("want an error: %s", line)
		}
	}
}

// A batch held for its votes' cast_at yields its process slot and its
// announcement to the sharer while it waits, so another lane can cut and
// share its batches, and takes them back (waiting for a slot) before it
// returns. It counts in batcher_cast_held_batches while held for the
// clock only.
func TestHeldBatchYieldsItsSlot(t *testing.T) {
	l := newCastLane(t, Config{MaxInflight: 1, ShareVotes: -1}, nil)
	slots := l.b.inflight
	held := func() float64 { return metricValue(t, l.b.metrics.castHeld) }
	done, timers := l.await(context.Background(), l.batchCastIn(time.Minute))
	waitFor(t, "the wait", func() bool { return l.clk.waiting() > timers })
	if n := held(); n != 1 {
		t.Errorf("batcher_cast_held_batches %v while the batch is held, want 1", n)
	}
	if !slots.tryAcquire(1) { // another lane's batch
		t.Fatal("the process's only slot is still held by the batch waiting for its cast_at")
	}
	l.clk.Advance(time.Minute + castMargin)
	l.waits.notYet(t, "slots", ballot.Batch{State: "CA", Seq: 1}.ID(), done) // waiting for the slot
	if n := held(); n != 0 {
		t.Errorf("batcher_cast_held_batches %v once the clock has passed, the batch waiting for a slot, want 0", n)
	}
	slots.release(1)
	returned(t, done, nil)
	if slots.free() {
		t.Error("the batch submits without its slot")
	}

	shared := newCastLane(t, Config{}, nil) // lanes cut on ticks, transactions shared
	announced := func() int {
		shared.b.share.mu.Lock()
		defer shared.b.share.mu.Unlock()
		return shared.b.share.announced
	}
	done, timers = shared.await(context.Background(), shared.batchCastIn(time.Minute))
	waitFor(t, "the wait", func() bool { return shared.clk.waiting() > timers })
	if n := announced(); n != 0 {
		t.Errorf("%d batches announced to the sharer while the only one waits for its cast_at", n)
	}
	shared.clk.Advance(time.Minute + castMargin)
	returned(t, done, nil)
	if n := announced(); n != 1 {
		t.Errorf("%d batches announced once it is done waiting, want 1", n)
	}
}

// The wait ends with the drain's time up (ctx), leaving the claim yielded
// for launch and the batch no longer counted as held.
func TestCastWaitEndsWithTheDrain(t *testing.T) {
	l := newCastLane(t, Config{ShareVotes: -1}, nil)
	ctx, cutDrain := context.WithCancelCause(context.Background())
	done, timers := l.await(ctx, l.batchCastIn(time.Minute))
	waitFor(t, "the wait", func() bool { return l.clk.waiting() > timers })
	cutDrain(errDrainTimeUp)
	returned(t, done, errDrainTimeUp)
	if n := metricValue(t, l.b.metrics.castHeld); n != 0 {
		t.Errorf("batcher_cast_held_batches %v after the wait ended early, want 0", n)
	}
	if !l.held.yielded {
		t.Error("the claim is held after the wait ended early: launch would release its slot twice")
	}
}

// With one process slot, a lane whose batch waits for its votes' cast_at
// does not hold up the other lanes' batches.
func TestHeldBatchDoesNotBlockOtherLanes(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	f := newFakeLedger()
	b := startBatcher(t, Config{BatchSize: 50, ShareVotes: -1, MaxInflight: 1, DrainTimeout: time.Second}, srv.ClientAs(redisserver.UserBatcher), f)
	id, err := ballot.NewVoteID()
	if err != nil {
		t.Fatal(err)
	}
	null := ballot.NullifierOf(ballot.VoterKey([]byte("ahead"), "batcher-test", "voter-ahead", "cred"), TestContest)
	ahead := ballot.Vote{ID: id, State: "CA", Contest: TestContest, Choice: TestCandidates[0],
		Nullifier: ballot.HashHex(null), CastAt: time.Now().Add(time.Minute).UnixMilli()}
	values, err := votequeue.Entry(ahead)
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.XAdd(context.Background(), &redis.XAddArgs{Stream: votequeue.StreamKey("CA"), Values: values}).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "CA's batch held", func() bool { return metricValue(t, b.metrics.castWaits) == 1 })
	others := []string{"TX", "NY"}
	EnqueueWeighted(t, rdb, 0, 40, "s", others, []float64{0.5, 0.5})
	WaitStatesDrained(t, rdb, others, 10*time.Second)
	if n := f.submissions(ballot.Batch{State: "CA", Seq: 1}.ID()); n != 0 {
		t.Errorf("CA's batch submitted %d times before its vote's cast_at", n)
	}
}

// The alarm is the chaincode's limit between a proposal's timestamp and a
// peer's clock.
func TestCastSkewAlarmIsTheChaincodeLimit(t *testing.T) {
	if castSkewAlarm != chaincode.MaxClockSkew {
		t.Errorf("castSkewAlarm %v, chaincode.MaxClockSkew %v", castSkewAlarm, chaincode.MaxClockSkew)
	}
}

// The alerts the cast-wait logs name are alerts.yml's.
func TestCastSkewLogsNameDefinedAlerts(t *testing.T) {
	rules, err := os.ReadFile(filepath.Join("..", "config", "prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{alertClockAhead, alertCastAfterTx} {
		if !strings.Contains(string(rules), "- alert: "+name+"\n") {
			t.Errorf("alert %s is not in config/prometheus/alerts.yml", name)
		}
	}
}
