package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/bloom"
	"github.com/votechain/votechain/gateway/dedup"
	"github.com/votechain/votechain/gateway/httpapi"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
	"github.com/votechain/votechain/internal/testport"
)

// heldIntake is an intake whose Accept is held until release is closed
// (it answers Accepted) or Abort is called (dedup.ErrAborted); entered is
// closed once an Accept has begun.
type heldIntake struct {
	httpapi.Intake // nil: only Accept, Abort and Close are called
	entered        chan struct{}
	release        chan struct{}
	aborted        chan struct{}
	closed         chan struct{}
	enterOnce      sync.Once
	abortOnce      sync.Once
}

func newHeldIntake() *heldIntake {
	return &heldIntake{entered: make(chan struct{}), release: make(chan struct{}), aborted: make(chan struct{}), closed: make(chan struct{})}
}

func (h *heldIntake) Accept(context.Context, dedup.Attempt) (dedup.Result, error) {
	h.enterOnce.Do(func() { close(h.entered) })
	select {
	case <-h.release:
		return dedup.Result{Outcome: dedup.Accepted}, nil
	case <-h.aborted:
		return dedup.Result{}, dedup.ErrAborted
	}
}

func (h *heldIntake) Abort() { h.abortOnce.Do(func() { close(h.aborted) }) }

func (h *heldIntake) Close() { close(h.closed) }

// TestStopWaitsForAcceptsInFlight: a stop whose grace has run out (a
// handler the cut left held in Accept) refuses new votes with
// dedup.ErrClosed (503 stopping) at once, lets the held Accept finish and
// answer Accepted, and ends the loops (the intake log's closing round) only
// after it returned, then closes the intake.
func TestStopWaitsForAcceptsInFlight(t *testing.T) {
	held := newHeldIntake()
	h := startHeldStop(t, heldCase{intake: held, entered: held.entered, intakeWait: heldIntakeWait, log: discardLog()})
	g := h.g
	// Until the gate refuses, a new Accept would be held too.
	awaitRefusing(t, g.intake)
	if _, err := g.intake.Accept(context.Background(), dedup.Attempt{}); !errors.Is(err, dedup.ErrClosed) {
		t.Fatalf("Accept during the stop: %v; want dedup.ErrClosed", err)
	}
	time.Sleep(50 * time.Millisecond) // time for a stop not waiting for the held Accept to end the loops
	if h.loopCtx.Err() != nil {
		t.Fatal("loops ended while an Accept was still in flight")
	}
	close(held.release)
	h.waitStopped(t, "it waits for the released Accept without end")
	await(t, h.acceptReturned, "the released Accept's return")
	if h.acceptErr != nil || h.res.Outcome != dedup.Accepted {
		t.Errorf("held Accept: %v, %v; want Accepted", h.res.Outcome, h.acceptErr)
	}
	select {
	case <-held.aborted:
		t.Error("intake aborted though its Accept returned within the wait")
	default:
	}
	if !h.beforeLoopsEnded {
		t.Error("loops ended before the held Accept returned: the closing round may miss its vote")
	}
	select {
	case <-held.closed:
	default:
		t.Error("intake not closed by the stop")
	}
}

// heldStop is a gateway whose stop, its grace run out, began while an
// Accept was held in its intake.
type heldStop struct {
	g                *gateway
	loopCtx          context.Context // its one background loop's
	start            time.Time       // when the stop was started
	stopped          chan struct{}   // closed when the stop returned
	acceptReturned   chan struct{}   // closed when the held Accept returned, with:
	res              dedup.Result
	acceptErr        error
	beforeLoopsEnded bool // whether the channel watched was closed when the loop ended (read once stopped)
}

// heldCase is what startHeldStop starts.
type heldCase struct {
	intake     closingIntake
	entered    <-chan struct{} // closed once the intake holds an Accept
	attempt    dedup.Attempt   // the Accept's
	intakeWait time.Duration   // the longest the stop waits for the Accepts in flight
	watch      <-chan struct{} // the loop notes whether it was closed as it ended (nil: the held Accept's return)
	log        *slog.Logger    // the stop's
}

// startHeldStop makes a gateway over c.intake, holds an Accept of
// c.attempt in it (until c.entered is closed), then starts the stop.
func startHeldStop(t *testing.T, c heldCase) *heldStop {
	t.Helper()
	h := &heldStop{g: &gateway{intake: &intakeGate{closingIntake: c.intake}, intakeWait: c.intakeWait, loops: &sync.WaitGroup{}, loopsStop: time.Second},
		stopped: make(chan struct{}), acceptReturned: make(chan struct{})}
	watch := c.watch
	if watch == nil {
		watch = h.acceptReturned
	}
	loopCtx, stopLoops := context.WithCancel(context.Background())
	t.Cleanup(stopLoops)
	h.loopCtx = loopCtx
	h.g.loops.Go(func() {
		<-loopCtx.Done()
		select {
		case <-watch:
			h.beforeLoopsEnded = true
		default:
		}
	})
	go func() {
		defer close(h.acceptReturned)
		h.res, h.acceptErr = h.g.intake.Accept(context.Background(), c.attempt)
	}()
	select {
	case <-c.entered:
	case <-h.acceptReturned:
		t.Fatalf("the Accept returned %+v, %v before the intake held it", h.res, h.acceptErr)
	case <-time.After(awaitLimit):
		t.Fatalf("the intake has not held the Accept %v after it was made", awaitLimit)
	}
	grace, cancel := context.WithTimeout(context.Background(), 0) // the grace has run out
	t.Cleanup(cancel)
	h.start = time.Now()
	go func() {
		defer close(h.stopped)
		h.g.stop(grace, &http.Server{}, stopLoops, c.log)
	}()
	return h
}

// discardLog is a logger writing nowhere.
func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// awaitLimit is how long a test waits for what should come at once.
const awaitLimit = 10 * time.Second

// await waits for a value from ch or its close, failing with what past
// awaitLimit.
func await[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(awaitLimit):
		t.Fatalf("%s has not come %v after it was due", what, awaitLimit)
	}
}

// waitStopped waits for the stop to return, failing with why past
// closeWait and 10 s more.
func (h *heldStop) waitStopped(t *testing.T, why string) {
	t.Helper()
	select {
	case <-h.stopped:
	case <-time.After(closeWait + 10*time.Second):
		t.Fatalf("the stop has not returned %v after it began: %s", time.Since(h.start), why)
	}
}

// awaitRefusing waits up to serviceWait for the stop begun to make g
// refuse votes. The refusal comes first in the stop, before its wait for
// the Accepts in flight (intakeWait): a test whose held Accept must
// outlast this wait gives that wait longer (heldIntakeWait).
func awaitRefusing(t *testing.T, g *intakeGate) {
	t.Helper()
	for deadline := time.Now().Add(serviceWait); !isRefusing(g); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the intake does not refuse votes %v after the stop began", serviceWait)
		}
	}
}

// heldIntakeWait is the stop's wait for the Accepts in flight where the
// test releases the held Accept itself: longer than any wait of the test
// before it does (awaitRefusing), so that only a stop that does not wait
// for it, not a slow machine, gives up on it.
const heldIntakeWait = 3 * serviceWait

func isRefusing(g *intakeGate) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.refusing
}

// TestStopAnswersBeforeCutting: when the grace runs out with a vote held
// in Accept, the stop makes the intake refuse first and cuts the
// requests still being handled only after the held Accept returned: the held
// request receives its 202, a vote whose body arrives during the wait
// receives 503 stopping, and then both connections are closed. Cutting
// first (srv.Close, then refusing) delivers neither answer.
func TestStopAnswersBeforeCutting(t *testing.T) {
	held := newHeldIntake()
	g := &gateway{intake: &intakeGate{closingIntake: held}, intakeWait: heldIntakeWait, loops: &sync.WaitGroup{}, loopsStop: time.Second}
	handling := make(chan struct{}, 2) // a handler began
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handling <- struct{}{}
		io.Copy(io.Discard, r.Body)
		if _, err := g.intake.Accept(r.Context(), dedup.Attempt{}); errors.Is(err, dedup.ErrClosed) {
			http.Error(w, "stopping", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", testport.Ports(t, 1)[0]))
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(heldIntakeWait)) // the answers come within the stop's wait
		return c
	}
	const head = "POST /vote HTTP/1.1\r\nHost: gateway\r\nContent-Length: 2\r\n\r\n"
	heldConn, lateConn := dial(), dial()
	fmt.Fprint(heldConn, head+"{}")
	fmt.Fprint(lateConn, head+"{") // its body is finished during the stop
	await(t, held.entered, "the held vote's Accept")
	await(t, handling, "a handler")
	await(t, handling, "the other handler") // both handlers run: a stop beginning sooner drops a request not yet handled

	grace, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, stopLoops := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		g.stop(grace, srv, stopLoops, discardLog())
	}()
	awaitRefusing(t, g.intake)
	fmt.Fprint(lateConn, "}")
	status := func(c net.Conn) string {
		t.Helper()
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err.Error()
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 100))
		return fmt.Sprintf("%d %s", resp.StatusCode, body)
	}
	if got := status(lateConn); got != "503 stopping\n" {
		t.Errorf("vote sent during the wait: %q; want 503 stopping", got)
	}
	close(held.release)
	if got := status(heldConn); got != "202 " {
		t.Errorf("vote held in Accept: %q; want 202", got)
	}
	await(t, stopped, "the stop's return")
	for name, c := range map[string]net.Conn{"held": heldConn, "late": lateConn} {
		if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s connection after the stop: read %d bytes, %v; want it closed", name, n, err)
		}
	}
}

// stuckClose is a heldIntake whose Close never returns (its Redis calls
// hang).
type stuckClose struct{ *heldIntake }

func (stuckClose) Close() { select {} }

// TestStopAbortsAcceptsStillInFlight: when the wait for the Accepts in
// flight gives up (an Accept held past the intake's longest), the stop
// aborts the intake before it ends the loops, so the held Accept returns
// (no call of its could store a vote after the closing round), it gives
// the intake's Close closeWait, not forever, and its log says what
// happened: how many Accepts it waited for, how many were aborted, that the intake's calls were left running. The stop
// without the abort ended the loops with the Accept still held, and waited
// for Close without bound.
func TestStopAbortsAcceptsStillInFlight(t *testing.T) {
	held := newHeldIntake()
	var logs bytes.Buffer
	h := startHeldStop(t, heldCase{intake: stuckClose{held}, entered: held.entered, intakeWait: 50 * time.Millisecond, watch: held.aborted, log: slog.New(slog.NewTextHandler(&logs, nil))})
	h.waitStopped(t, "it waits for the intake's Close without bound")
	select {
	case <-h.acceptReturned:
	case <-time.After(5 * time.Second):
		t.Fatal("the held Accept has not returned 5 s after the stop: the intake was not aborted")
	}
	if !errors.Is(h.acceptErr, dedup.ErrAborted) {
		t.Errorf("held Accept: %v; want dedup.ErrAborted", h.acceptErr)
	}
	if !h.beforeLoopsEnded {
		t.Error("loops ended before the intake was aborted: a vote its Accepts store would miss the closing round")
	}
	for _, want := range []string{
		"waiting for 1 Accepts in flight",
		"1 Accepts still in flight after the intake's longest Accept: aborted",
		"the intake's Redis calls still running",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("stop's log lacks %q:\n%s", want, logs.String())
		}
	}
}

// heldLedger is a dedup.NullifierLedger whose exact check is held until
// release is closed or its context is cut (the Deduper's Abort cuts it);
// either way it answers "unused", so only the Deduper's own rule keeps a
// call from starting after Abort. entered is closed once a check has begun.
type heldLedger struct {
	entered   chan struct{}
	release   chan struct{}
	cut       chan struct{} // closed if a check's context was cut first
	enterOnce sync.Once
}

func newHeldLedger() *heldLedger {
	return &heldLedger{entered: make(chan struct{}), release: make(chan struct{}), cut: make(chan struct{})}
}

func (l *heldLedger) NullifierUsed(ctx context.Context, _, _ string) (bool, error) {
	l.enterOnce.Do(func() { close(l.entered) })
	select {
	case <-l.release:
	case <-ctx.Done():
		close(l.cut)
	}
	return false, nil
}

// realIntake is a dedup.Deduper over a real redis-server, as wire makes
// it with cfg, asking ledger for its exact checks, and the attempt of a voter on
// CA's roll whose Bloom filter says maybe seen: the Accept waits in its
// exact check, before any call that stores the vote, for as long as
// ledger holds it. queued counts CA's stream.
func realIntake(t *testing.T, ledger dedup.NullifierLedger, cfg dedup.Config) (d *dedup.Deduper, a dedup.Attempt, queued func() int64) {
	t.Helper()
	rs := redistest.Start(t)
	nullifier := enrollVoter(t, rs)
	ctx := context.Background()
	admin := rs.Client()
	if _, err := dedup.EnsureParams(ctx, admin, "CA", bloom.Params{Bits: 8, Hashes: 1}); err != nil {
		t.Fatal(err)
	}
	if err := admin.Set(ctx, votequeue.BloomKey("CA"), "\xff", 0).Err(); err != nil { // every bit set
		t.Fatal(err)
	}
	d = dedup.New(rs.ClientAs(redisserver.UserGateway), ledger, cfg, discardLog())
	t.Cleanup(d.Close)
	id, err := ballot.NewVoteID()
	if err != nil {
		t.Fatal(err)
	}
	a = dedup.Attempt{Vote: ballot.Vote{ID: id, State: "CA", Contest: "president", Choice: "alice", CastAt: time.Now().UnixMilli(),
		Nullifier: ballot.HashHex(nullifier)}}
	queued = func() int64 {
		t.Helper()
		n, err := admin.XLen(ctx, votequeue.StreamKey("CA")).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	return d, a, queued
}

// abortNoted is a Deduper whose Abort closes aborted once it returned.
type abortNoted struct {
	*dedup.Deduper
	aborted chan struct{}
}

func (a abortNoted) Abort() { a.Deduper.Abort(); close(a.aborted) }

// TestStopWaitsForARealAccept: the gate over a real Deduper (a real
// redis-server), its grace run out with an Accept held in the exact check
// of a Bloom maybe-seen: the gate refuses a new vote at once
// (dedup.ErrClosed: 503 stopping), the held Accept, released within the
// intake's longest Accept, stores its vote and answers Accepted, the loops
// (the intake log's closing round) end only after it returned, so the
// round covers the vote, and the stop closes the Deduper.
func TestStopWaitsForARealAccept(t *testing.T) {
	ledger := newHeldLedger()
	// The held check, and so the intake's longest Accept (the stop's wait
	// for it), must outlast the test's wait for the refusal: the default
	// LedgerTimeout, 5 s, could cut it on a starved machine.
	d, a, queued := realIntake(t, ledger, dedup.Config{LedgerTimeout: heldIntakeWait})
	h := startHeldStop(t, heldCase{intake: d, entered: ledger.entered, attempt: a, intakeWait: d.MaxAcceptTime(), log: discardLog()})
	awaitRefusing(t, h.g.intake)
	if _, err := h.g.intake.Accept(context.Background(), a); !errors.Is(err, dedup.ErrClosed) {
		t.Fatalf("Accept during the stop: %v; want dedup.ErrClosed", err)
	}
	close(ledger.release)
	await(t, h.acceptReturned, "the released Accept's return")
	if h.acceptErr != nil || h.res.Outcome != dedup.Accepted || !h.res.BloomMaybe {
		t.Fatalf("held Accept: %+v, %v; want Accepted after its exact check", h.res, h.acceptErr)
	}
	h.waitStopped(t, "it waits for the released Accept without end")
	if !h.beforeLoopsEnded {
		t.Error("loops ended before the held Accept returned: the closing round may miss its vote")
	}
	if n := queued(); n != 1 {
		t.Errorf("CA's stream holds %d votes; want the held Accept's", n)
	}
	if _, err := d.Accept(context.Background(), a); !errors.Is(err, dedup.ErrClosed) {
		t.Errorf("the Deduper's Accept after the stop: %v; want dedup.ErrClosed (closed by the stop)", err)
	}
}

// TestStopAbortsARealAccept: the gate over a real Deduper whose Accept is
// held in its exact check past the stop's wait for it (the intake's
// longest Accept, shortened here): the stop aborts the Deduper, which cuts
// the check, so the Accept returns at once with dedup.ErrClosed (503
// stopping, not stored) before the loops end; though the ledger then
// answers "unused", no Redis call starts after the abort (the vote is not
// in its state's stream), and the Deduper closes within the stop's
// closeWait.
func TestStopAbortsARealAccept(t *testing.T) {
	ledger := newHeldLedger()
	d, a, queued := realIntake(t, ledger, dedup.Config{})
	intake := abortNoted{d, make(chan struct{})}
	var logs bytes.Buffer
	h := startHeldStop(t, heldCase{intake: intake, entered: ledger.entered, attempt: a, intakeWait: 100 * time.Millisecond,
		watch: intake.aborted, log: slog.New(slog.NewTextHandler(&logs, nil))})
	h.waitStopped(t, "the Deduper's Close or the aborted Accept hangs")
	select {
	case <-h.acceptReturned:
	case <-time.After(time.Second):
		t.Fatal("the held Accept has not returned 1 s after the stop")
	}
	if !errors.Is(h.acceptErr, dedup.ErrClosed) {
		t.Errorf("held Accept: %+v, %v; want dedup.ErrClosed (not stored)", h.res, h.acceptErr)
	}
	if !h.beforeLoopsEnded {
		t.Error("loops ended before the Deduper was aborted: a vote its Accepts store would miss the closing round")
	}
	select {
	case <-ledger.cut:
	default:
		t.Error("the exact check's ledger ask was not cut by the abort")
	}
	if n := queued(); n != 0 {
		t.Errorf("CA's stream holds %d votes after the abort; want none: a call started after it", n)
	}
	for _, want := range []string{"waiting for 1 Accepts in flight", "1 Accepts still in flight after the intake's longest Accept: aborted"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("stop's log lacks %q:\n%s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), "the intake's Redis calls still running") {
		t.Errorf("the Deduper did not close within %v of the stop's end of its loops:\n%s", closeWait, logs.String())
	}
}
