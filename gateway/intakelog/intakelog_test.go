package intakelog

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
)

var testElection = &ballot.Election{ID: "e1", States: []string{"CA", "NY"}}

type fixedElections struct{}

func (fixedElections) Election(context.Context) (*ballot.Election, error) { return testElection, nil }

// fakeLedger anchors by the chaincode's rule (ballot.LogAnchor.Check),
// the transaction's time being the real clock's, or now's if set (the
// submitting gateway's clock, which stamps its proposals). With peer set
// (the peers' clock) it refuses, as the chaincode and fabricclient do, a
// transaction time more than ballot.MaxClockSkew from it.
type fakeLedger struct {
	mu      sync.Mutex
	keys    ballot.LogKeys
	heads   map[string]ballot.TreeHead
	refused []error
	now     func() time.Time
	peer    func() time.Time
}

func (f *fakeLedger) AnchorLogHeads(_ context.Context, anchors []ballot.LogAnchor) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	next := map[string]ballot.TreeHead{}
	at := time.Now()
	if f.now != nil {
		at = f.now()
	}
	if f.peer != nil {
		if skew := f.peer().Sub(at); skew.Abs() > ballot.MaxClockSkew {
			err := fmt.Errorf("anchor %d log heads: %w: proposal timestamp is %s from this peer's clock", len(anchors), ballot.ErrClockSkew, skew.Abs())
			f.refused = append(f.refused, err)
			return err
		}
	}
	for _, a := range anchors {
		if _, err := a.Check(testElection, f.keys, f.heads[a.Head.State], at.UnixMilli()); err != nil {
			f.refused = append(f.refused, err)
			return err
		}
		next[a.Head.State] = a.Head
	}
	for st, h := range next {
		f.heads[st] = h
	}
	return nil
}

// LogHead reads the state's anchored head, unless ctx has ended: the
// Fabric client's read (an evaluate over gRPC) then fails at once with
// the context's error.
func (f *fakeLedger) LogHead(ctx context.Context, state string) (ballot.AnchoredHead, error) {
	if err := ctx.Err(); err != nil {
		return ballot.AnchoredHead{}, fmt.Errorf("read the %s log head: %w", state, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.heads[state]
	if !ok {
		return ballot.AnchoredHead{}, fmt.Errorf("%w: no head", ballot.ErrNotFound)
	}
	return ballot.AnchoredHead{Head: h}, nil
}

func (f *fakeLedger) head(state string) ballot.TreeHead {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.heads[state]
}

func appendVotes(t *testing.T, rdb *redis.Client, state string, n int) []ballot.Vote {
	t.Helper()
	var votes []ballot.Vote
	for i := range n {
		id, _ := ballot.NewVoteID()
		v := ballot.Vote{ID: id, State: state, Contest: "president", Nullifier: ballot.HashHex(ballot.NullifierOf([32]byte{byte(i), byte(n)}, "president")), Choice: "alice", CastAt: 1}
		entry, _ := votequeue.AppendLogEntry(nil, v)
		if err := rdb.RPush(context.Background(), votequeue.LogKey(state), entry).Err(); err != nil {
			t.Fatal(err)
		}
		votes = append(votes, v)
	}
	return votes
}

// testLog is a running Log and the registry of its metrics.
type testLog struct {
	*Log
	reg *prometheus.Registry
}

func startLog(t *testing.T, srv *redistest.Server, ledger *fakeLedger, key ed25519.PrivateKey) testLog {
	t.Helper()
	reg := prometheus.NewRegistry()
	l := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Interval: 20 * time.Millisecond, Registry: reg},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx, fixedElections{}) }()
	t.Cleanup(func() { cancel(); <-done })
	return testLog{l, reg}
}

// family is the metric family name that reg gathers (nil if none).
func family(t *testing.T, reg *prometheus.Registry, name string) *dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	return nil
}

// metricValue reads the one sample of a gauge or counter family (-1: none).
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mf := family(t, reg, name)
	if len(mf.GetMetric()) == 0 {
		return -1
	}
	m := mf.GetMetric()[0]
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return m.GetGauge().GetValue()
}

// signerSetup starts a Redis server and gives a client of it, a signing
// key and a fake ledger with that key registered and no head anchored.
func signerSetup(t *testing.T) (*redistest.Server, *redis.Client, ed25519.PrivateKey, *fakeLedger) {
	t.Helper()
	srv := redistest.Start(t)
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	keys, _, _ := ballot.LogKeys{}.Register([]ballot.LogKey{ballot.NewLogKey(key.Public().(ed25519.PublicKey))}, 1)
	return srv, srv.Client(), key, &fakeLedger{keys: keys, heads: map[string]ballot.TreeHead{}}
}

// blockingLedger's anchors wait until their context ends, then take a
// little longer to return, as a transaction in flight does when its
// process stops.
type blockingLedger struct {
	*fakeLedger
	entered  chan struct{}
	returned atomic.Bool
}

func (b *blockingLedger) AnchorLogHeads(ctx context.Context, _ []ballot.LogAnchor) error {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	time.Sleep(50 * time.Millisecond)
	b.returned.Store(true)
	return ctx.Err()
}

// TestRunWaitsForTheAnchorInFlight: Run returns only after the anchor in
// flight as its context ends; that anchor, and the closing round's, cut
// short by their contexts, count as no anchor failure.
func TestRunWaitsForTheAnchorInFlight(t *testing.T) {
	srv, rdb, key, fake := signerSetup(t)
	ledger := &blockingLedger{fakeLedger: fake, entered: make(chan struct{}, 1)}
	// The closing round's anchor blocks too, until its 2 × CallTimeout.
	reg := prometheus.NewRegistry()
	l := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Interval: 20 * time.Millisecond, CallTimeout: 200 * time.Millisecond, Registry: reg},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	appendVotes(t, rdb, "CA", 3)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx, fixedElections{}) }()
	select {
	case <-ledger.entered:
	case <-time.After(serviceWait):
		cancel()
		t.Fatalf("no anchor began within %v", serviceWait)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second): // below the default closing round's 2 × 5 s: the configured CallTimeout bounds it
		t.Fatal("Run did not return within 5 s of its context's end")
	}
	if !ledger.returned.Load() {
		t.Fatal("Run returned while its anchor was still in flight")
	}
	// Those anchors failed because the gateway stopped, not the ledger.
	if got := metricValue(t, reg, "intake_log_anchor_failures_total"); got != 0 {
		t.Fatalf("intake_log_anchor_failures_total = %v after a stop under an anchor; want 0", got)
	}
}

// TestRunAnchorsOnceMoreAsItStops: votes logged after the last round (here
// no round comes within the test) are signed and anchored by the closing
// round Run makes when its context ends, before it returns; that round is
// logged.
func TestRunAnchorsOnceMoreAsItStops(t *testing.T) {
	srv, rdb, key, ledger := signerSetup(t)
	var logs strings.Builder
	l := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Interval: time.Hour, Registry: prometheus.NewRegistry()},
		slog.New(slog.NewTextHandler(&logs, nil))) // written by Run's goroutine alone, read after it ends
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx, fixedElections{}) }()
	appendVotes(t, rdb, "CA", 4)
	appendVotes(t, rdb, "NY", 2)
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10 s of its context's end")
	}
	if ca, ny := ledger.head("CA").Size, ledger.head("NY").Size; ca != 4 || ny != 2 {
		t.Errorf("anchored heads after Run returned: CA %d, NY %d; want 4 and 2", ca, ny)
	}
	if !strings.Contains(logs.String(), "closing heads anchored") {
		t.Errorf("the closing round is not logged:\n%s", logs.String())
	}
}

// serviceWait is how long a test waits for what the log's goroutines or a
// real redis-server will do: generous, as a wait that ends costs nothing,
// and CI runs two test binaries on two cores, where a starved process can
// take seconds. A window for something that must not happen is not one.
const serviceWait = time.Minute

func waitAnchored(t *testing.T, ledger *fakeLedger, state string, size uint64) ballot.TreeHead {
	t.Helper()
	deadline := time.Now().Add(serviceWait)
	for ledger.head(state).Size < size {
		if time.Now().After(deadline) {
			t.Fatalf("%s head anchored at size %d after %v; want %d", state, ledger.head(state).Size, serviceWait, size)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return ledger.head(state)
}

// The log signs and anchors heads as it grows, each extending the last, and
// serves acceptance receipts that verify offline with the registered key.
func TestSignAnchorAndAccept(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	key, err := EnsureKey(filepath.Join(t.TempDir(), "keys", "gateway.key"))
	if err != nil {
		t.Fatal(err)
	}
	keys, _, _ := ballot.LogKeys{}.Register([]ballot.LogKey{ballot.NewLogKey(key.Public().(ed25519.PublicKey))}, 1)
	ledger := &fakeLedger{keys: keys, heads: map[string]ballot.TreeHead{}}
	l := startLog(t, srv, ledger, key)
	ctx := context.Background()

	votes := appendVotes(t, rdb, "CA", 5)
	waitAnchored(t, ledger, "CA", 5)
	votes = append(votes, appendVotes(t, rdb, "CA", 8)...)
	anchored := waitAnchored(t, ledger, "CA", 13)
	if anchored.Election != "e1" || anchored.State != "CA" {
		t.Fatalf("anchored head %+v", anchored)
	}
	for i, v := range votes {
		a, err := l.Acceptance(ctx, v.ID, "CA", uint64(i))
		if err != nil {
			t.Fatalf("acceptance %d: %v", i, err)
		}
		if err := a.Verify(keys); err != nil {
			t.Fatalf("acceptance %d does not verify: %v", i, err)
		}
	}
	if _, err := l.Acceptance(ctx, votes[1].ID, "CA", 2); !errors.Is(err, ErrNoEntry) {
		t.Fatalf("another vote's index: %v, want ErrNoEntry", err)
	}
	if _, err := l.Acceptance(ctx, votes[1].ID, "CA", 99); !errors.Is(err, ErrNoEntry) {
		t.Fatalf("index past the log: %v, want ErrNoEntry", err)
	}
	if len(ledger.refused) != 0 {
		t.Fatalf("the ledger refused anchors: %v", ledger.refused)
	}
	deadline := time.Now().Add(serviceWait)
	for metricValue(t, l.reg, "intake_log_anchored_entries") != 13 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the gauge is set just after the anchor returns
	}
	if got, entries := metricValue(t, l.reg, "intake_log_anchored_entries"), metricValue(t, l.reg, "intake_log_entries"); got != 13 || entries != 13 {
		t.Fatalf("intake_log_anchored_entries{CA} = %v, intake_log_entries %v; want 13", got, entries)
	}
	// A consistency proof served between two heads checks out.
	proof, err := l.ConsistencyProof(ctx, "CA", 5, 13)
	if err != nil {
		t.Fatal(err)
	}
	var tree ballot.LogTree
	for _, v := range votes {
		leaf, _ := v.Leaf()
		tree.Append(leaf)
	}
	r5, _ := tree.Root(5)
	r13, _ := tree.Root(13)
	if err := ballot.VerifyConsistency(5, 13, r5, r13, proof); err != nil {
		t.Fatal(err)
	}
}

// A log rewritten under its anchored head (an entry replaced in Redis) can
// no longer be anchored: the ledger's check refuses the inconsistent head,
// with the reason.
func TestRewrittenLogIsNotAnchored(t *testing.T) {
	srv, rdb, key, ledger := signerSetup(t)
	first := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	appendVotes(t, rdb, "NY", 6)
	if err := signAndAnchor(t, first, "NY"); err != nil {
		t.Fatal(err)
	}
	// The rogue replaces entry 2 and the log grows; a gateway that reads
	// the log afresh signs the rewritten log.
	forged := ballot.Vote{ID: "00000000000000000000000000000002", State: "NY", Contest: "president", Nullifier: ballot.HashHex([32]byte{7}), Choice: "bob", CastAt: 1}
	entry, _ := votequeue.AppendLogEntry(nil, forged)
	rdb.LSet(ctx, votequeue.LogKey("NY"), 2, entry)
	appendVotes(t, rdb, "NY", 3)
	reg := prometheus.NewRegistry()
	second := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Registry: reg}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := second.sign(ctx, "e1", "NY"); err != nil {
		t.Fatal(err)
	}
	err := second.anchor(ctx, []string{"NY"})
	if !errors.Is(err, ballot.ErrConsistencyProof) {
		t.Fatalf("anchoring the rewritten log: %v, want %v", err, ballot.ErrConsistencyProof)
	}
	// A head conflict, but no other anchor explains it: a real failure.
	if errors.Is(err, errSuperseded) {
		t.Fatalf("anchoring the rewritten log: %v, taken for the race with another gateway", err)
	}
	if got, races := metricValue(t, reg, "intake_log_anchor_failures_total"), metricValue(t, reg, "intake_log_anchor_races_total"); got != 1 || races != 0 {
		t.Fatalf("intake_log_anchor_failures_total = %v, intake_log_anchor_races_total = %v; want 1 and 0", got, races)
	}
	if got := ledger.head("NY").Size; got != 6 {
		t.Fatalf("anchored size %d; want the honest 6", got)
	}
	// The first gateway, which read the honest entries, refuses to serve
	// proofs under the rewritten log's head.
	if _, err := first.Acceptance(ctx, forged.ID, "NY", 2); !errors.Is(err, ErrDiverged) {
		t.Fatalf("acceptance under a rewritten log: %v, want ErrDiverged", err)
	}
}

// Two gateways anchoring the same state: one anchors from a head the
// other has since replaced on the ledger, and the ledger refuses it. That
// is the expected race: counted as one, not as a failure, and the next
// round anchors from the new head. Each gateway's
// intake_log_anchored_entries is the largest size it anchored itself
// while the ledger's is below its own heads, as its help says: the
// loser's stays at its own head after it has read the winner's larger one,
// which does not cover the loser's head of 8.
func TestAnchorRaceIsNotAFailure(t *testing.T) {
	srv, rdb, key, ledger := signerSetup(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg1, reg2 := prometheus.NewRegistry(), prometheus.NewRegistry()
	g1 := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Registry: reg1}, quiet)
	g2 := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Registry: reg2}, quiet)
	ctx := context.Background()
	step := func(g *Log, votes int) error {
		t.Helper()
		appendVotes(t, rdb, "CA", votes)
		if err := g.sign(ctx, "e1", "CA"); err != nil {
			t.Fatal(err)
		}
		return g.anchor(ctx, []string{"CA"})
	}
	if err := step(g2, 3); err != nil { // g2 anchors 3 and knows it
		t.Fatal(err)
	}
	if err := step(g1, 2); err != nil { // g1 anchors 5 over it
		t.Fatal(err)
	}
	err := step(g2, 3) // g2's 8 extends its 3, not the ledger's 5
	if !errors.Is(err, errSuperseded) || !errors.Is(err, ballot.ErrHeadConflict) {
		t.Fatalf("the losing anchor: %v; want the race (%v)", err, errSuperseded)
	}
	if got, races := metricValue(t, reg2, "intake_log_anchor_failures_total"), metricValue(t, reg2, "intake_log_anchor_races_total"); got != 0 || races != 1 {
		t.Fatalf("intake_log_anchor_failures_total = %v, intake_log_anchor_races_total = %v; want 0 and 1", got, races)
	}
	anchoredEntries := func(when string, want1, want2 float64) {
		t.Helper()
		if g1, g2 := metricValue(t, reg1, "intake_log_anchored_entries"), metricValue(t, reg2, "intake_log_anchored_entries"); g1 != want1 || g2 != want2 {
			t.Errorf("%s: intake_log_anchored_entries{CA} %v and %v; want %v and %v", when, g1, g2, want1, want2)
		}
	}
	anchoredEntries("g2 lost the race to g1's 5", 5, 3)
	if err := g2.anchor(ctx, []string{"CA"}); err != nil {
		t.Fatalf("the next round: %v", err)
	}
	if got := ledger.head("CA").Size; got != 8 {
		t.Fatalf("anchored size %d; want 8", got)
	}
	anchoredEntries("g2 anchored 8 over g1's 5", 5, 8)
	help := metricHelp(t, reg2, "intake_log_anchored_entries")
	for _, says := range []string{"Entries of the state's intake log", "the largest this gateway has seen", "never lowered", "another gateway anchored below this gateway's own heads does not move it"} {
		if !strings.Contains(help, says) {
			t.Errorf("intake_log_anchored_entries's help %q does not say %q", help, says)
		}
	}
}

// lateAnswerLedger commits an anchor, then, before answering it, has
// meanwhile happen what meanwhile does (the next block's anchor by
// another gateway, and this gateway reading it), as when the answer to
// a transaction comes after a later block's commit was read.
type lateAnswerLedger struct {
	*fakeLedger
	meanwhile func()
}

func (a *lateAnswerLedger) AnchorLogHeads(ctx context.Context, anchors []ballot.LogAnchor) error {
	err := a.fakeLedger.AnchorLogHeads(ctx, anchors)
	if f := a.meanwhile; err == nil && f != nil {
		a.meanwhile = nil
		f()
	}
	return err
}

// intake_log_anchored_entries never goes back: a gateway whose anchor of
// CA's head of 2 commits, and which reads the ledger's head of 4 (the
// winner's of a size refused to it, anchored in the next block) before
// that anchor's answer comes, shows 4, not 2. It showed 2 from then on
// while its log stayed idle, though it showed 4 published: with the
// winner's series gone, IntakeLogUnanchored fired on a log fully anchored.
func TestAnchoredGaugeDoesNotGoBack(t *testing.T) {
	srv, rdb, key, fake := signerSetup(t)
	ledger := &lateAnswerLedger{fakeLedger: fake}
	clock := newStillClock()
	reg := prometheus.NewRegistry()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	l := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Now: clock.now, Registry: reg}, quiet)
	ahead := func() time.Time { return clock.now().Add(time.Second) }
	winner := New(srv.ClientAs(redisserver.UserGateway), nil, Config{Key: key, Now: ahead}, quiet)
	ctx := context.Background()
	appendVotes(t, rdb, "CA", 2)
	if err := l.sign(ctx, "e1", "CA"); err != nil { // 2, stored; its anchors fail for a while
		t.Fatal(err)
	}
	appendVotes(t, rdb, "CA", 2)
	if err := winner.sign(ctx, "e1", "CA"); err != nil {
		t.Fatal(err)
	}
	if err := l.sign(ctx, "e1", "CA"); err != nil { // 4, refused: the winner's is stored
		t.Fatal(err)
	}
	stored, err := votequeue.GetHead(ctx, rdb, "CA")
	if err != nil || stored.Size != 4 {
		t.Fatalf("stored CA head %+v, %v; want the winner's of size 4", stored, err)
	}
	clock.advance(takeOverAt)
	ledger.meanwhile = func() {
		fake.mu.Lock()
		fake.heads["CA"] = stored // the winner's anchor, in the next block
		fake.mu.Unlock()
		if err := l.sign(ctx, "e1", "CA"); err != nil { // the delay passed: reads the ledger
			t.Fatal(err)
		}
		if got := metricValue(t, reg, "intake_log_anchored_entries"); got != 4 {
			t.Fatalf("intake_log_anchored_entries %v once the ledger's head of 4 is read; want 4", got)
		}
	}
	if err := l.anchor(ctx, []string{"CA"}); err != nil { // its head of 2
		t.Fatal(err)
	}
	for range 2 {
		if err := signAndAnchor(t, l, "CA"); err != nil {
			t.Fatal(err)
		}
	}
	if got := metricValue(t, reg, "intake_log_anchored_entries"); got != 4 {
		t.Errorf("intake_log_anchored_entries %v after its anchor of 2 answered and two idle rounds; want 4 (the ledger's)", got)
	}
	if got := metricValue(t, reg, "intake_log_published_entries"); got != 4 {
		t.Errorf("intake_log_published_entries %v; want 4", got)
	}
}

// signAndAnchor makes a round of l for state, as Run does: it signs (a
// failure fails the test) and returns the anchor's error.
func signAndAnchor(t *testing.T, l *Log, state string) error {
	t.Helper()
	ctx := context.Background()
	if err := l.sign(ctx, "e1", state); err != nil {
		t.Fatal(err)
	}
	return l.anchor(ctx, []string{state})
}

// A gateway whose clock is behind the one that anchored the last head
// signs its head before it; it leaves that head out of its anchor rather
// than have the ledger refuse it as stale, signs it again, stamped as the
// anchored one, though its log has not grown (voting has stopped), and the
// next round anchors it. That head replaces the earlier stamp of its size
// in Redis: acceptance receipts carry the head anchored.
func TestStaleHeadIsSignedAgain(t *testing.T) {
	srv, rdb, key, ledger := signerSetup(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ahead := time.Now().Add(time.Minute) // within ballot.MaxClockSkew
	fast := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Now: func() time.Time { return ahead }}, quiet)
	slow := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key}, quiet)
	appendVotes(t, rdb, "CA", 3)
	if err := signAndAnchor(t, fast, "CA"); err != nil {
		t.Fatal(err)
	}
	last := appendVotes(t, rdb, "CA", 2) // the last votes
	if err := signAndAnchor(t, slow, "CA"); err != nil || ledger.head("CA").Size != 3 || len(ledger.refused) != 0 {
		t.Fatalf("a head stamped before the anchored one: %v, anchored size %d, refused %v; want it left out, nothing refused", err, ledger.head("CA").Size, ledger.refused)
	}
	for round := range 2 { // the next round, and one more to show it holds
		if err := signAndAnchor(t, slow, "CA"); err != nil {
			t.Fatalf("round %d after the refusal: %v", round+1, err)
		}
	}
	anchored := ledger.head("CA")
	if anchored.Size != 5 || anchored.Timestamp != ahead.UnixMilli() {
		t.Fatalf("anchored head of size %d stamped %d; want 5 stamped as the anchored one, %d", anchored.Size, anchored.Timestamp, ahead.UnixMilli())
	}
	if a, err := slow.Acceptance(context.Background(), last[1].ID, "CA", 4); err != nil || a.Head != anchored {
		t.Fatalf("acceptance receipt of the last vote under head %+v, %v; want the anchored one %+v", a.Head, err, anchored)
	}
}

// A gateway whose clock is more than the ledger's skew behind the stamp
// of a state's anchored head (another gateway's clock far ahead) still
// publishes that state's heads (acceptance receipts need them) but leaves
// them out of its anchors, which the ledger would refuse as from the
// future, so its anchors carry its other states' heads: one state's clocks
// do not stop them all.
func TestFarAheadAnchorBlocksOnlyItsState(t *testing.T) {
	srv, rdb, key, ledger := signerSetup(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	start := time.Now()
	ahead := func() time.Time { return start.Add(ballot.MaxClockSkew - 2*time.Second) }
	behind := func() time.Time { return start.Add(-10 * time.Second) }
	fast := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Now: ahead}, quiet)
	slow := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Now: behind}, quiet)
	appendVotes(t, rdb, "CA", 3)
	if err := signAndAnchor(t, fast, "CA"); err != nil {
		t.Fatal(err)
	}
	appendVotes(t, rdb, "CA", 2)
	appendVotes(t, rdb, "NY", 2)
	ledger.now = behind // the slow gateway's proposals carry its clock
	ctx := context.Background()
	for range 2 {
		for _, st := range []string{"CA", "NY"} {
			if err := slow.sign(ctx, "e1", st); err != nil {
				t.Fatal(err)
			}
		}
		if err := slow.anchor(ctx, []string{"CA", "NY"}); err != nil {
			t.Fatalf("anchor: %v; want the NY head anchored", err)
		}
	}
	if h, err := votequeue.GetHead(ctx, rdb, "CA"); err != nil || h.Size != 5 {
		t.Errorf("published CA head: %+v, %v; want size 5", h, err)
	}
	if ca, ny := ledger.head("CA"), ledger.head("NY"); ca.Size != 3 || ny.Size != 2 || len(ledger.refused) != 0 {
		t.Fatalf("anchored CA %d, NY %d, refused %v; want CA 3 (the fast gateway's), NY 2, nothing refused", ca.Size, ny.Size, ledger.refused)
	}
}

// A gateway whose clock steps back stamps its next head as its last
// anchored one, which the ledger takes at once.
func TestClockStepBackIsNotRefused(t *testing.T) {
	srv, rdb, key, ledger := signerSetup(t)
	now := time.Now()
	var clock atomic.Int64
	clock.Store(now.UnixMilli())
	l := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Now: func() time.Time { return time.UnixMilli(clock.Load()) }},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	for i, back := range []time.Duration{0, 10 * time.Second} {
		clock.Add(-back.Milliseconds())
		appendVotes(t, rdb, "CA", 2)
		if err := signAndAnchor(t, l, "CA"); err != nil {
			t.Fatalf("anchor %d, the clock %s back: %v", i+1, back, err)
		}
	}
	if got := ledger.head("CA"); got.Size != 4 || got.Timestamp != now.UnixMilli() {
		t.Fatalf("anchored head of size %d stamped %d; want 4 stamped %d", got.Size, got.Timestamp, now.UnixMilli())
	}
}

// A gateway whose clock is more than the skew ahead of the ledger's peers
// has its anchors refused for it: each refusal counts as a failure, is not
// taken for a stale head (signing again would not help), and is logged,
// by the rounds and by the closing round, naming the clock and the fix.
func TestClockRefusalIsLoggedWithTheFix(t *testing.T) {
	srv, rdb, key, ledger := signerSetup(t)
	fast := func() time.Time { return time.Now().Add(ballot.MaxClockSkew + time.Minute) }
	ledger.now, ledger.peer = fast, time.Now // the gateway's proposals carry its clock
	var logs strings.Builder
	reg := prometheus.NewRegistry()
	l := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Now: fast, Registry: reg},
		slog.New(slog.NewTextHandler(&logs, nil)))
	appendVotes(t, rdb, "CA", 3)
	ctx := context.Background()
	if err := l.sign(ctx, "e1", "CA"); err != nil {
		t.Fatal(err)
	}
	l.anchorAndLog(ctx, []string{"CA"})
	l.closingRound(ctx, fixedElections{})
	if got, refused := ledger.head("CA").Size, len(ledger.refused); got != 0 || refused != 2 {
		t.Fatalf("anchored size %d after %d refusals; want 0 after 2", got, refused)
	}
	if got := metricValue(t, reg, "intake_log_anchor_failures_total"); got != 2 {
		t.Errorf("intake_log_anchor_failures_total = %v; want 2", got)
	}
	if s := l.state("CA"); s.resign {
		t.Error("a head refused for the clock is to be signed again; signing does not fix the clock")
	}
	for _, says := range []string{`"intake log: anchor: refused for this gateway's clock`, `"intake log: closing anchor failed: ` + waitNote + `: refused for this gateway's clock`,
		"max_skew=2m0s", ballot.ClockSkewAdvice(), ballot.ClockSkewMark} {
		if !strings.Contains(logs.String(), says) {
			t.Errorf("the log does not say %q:\n%s", says, logs.String())
		}
	}
	m := regexp.MustCompile(`clock=(\S+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("the log does not name the clock:\n%s", logs.String())
	}
	if clock, err := time.Parse(time.RFC3339, m[1]); err != nil || fast().Sub(clock).Abs() > time.Minute {
		t.Errorf("the log names the clock %s (%v); want this gateway's, %s", m[1], err, fast().UTC().Format(time.RFC3339))
	}
}

// A gateway whose key is not registered on the ledger has every anchor
// refused for it, a round after another: a round's refusal is logged at
// warn level, saying so and the fix, at most once every
// UnanchoredAlertAfter (the others at debug level, each counted as a
// failure); the closing round's refusal always is (its "closing anchor
// failed", which IntakeLogUnanchored's runbook has operators read),
// without delaying the rounds' next warning. Once an anchor commits (the
// key registered), the next refusal is logged at warn level again.
// Before, every round's refusal was a warn line that did not say the key
// was refused.
func TestUnregisteredKeyWarnsOnceAPeriod(t *testing.T) {
	srv, rdb, _, ledger := signerSetup(t)
	clock := newStillClock()
	ledger.now = clock.now
	registered := ledger.keys
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	var logs strings.Builder
	reg := prometheus.NewRegistry()
	l := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Registry: reg, Now: clock.now},
		slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ctx := context.Background()
	round := func() {
		t.Helper()
		if err := l.sign(ctx, "e1", "CA"); err != nil {
			t.Fatal(err)
		}
		l.anchorAndLog(ctx, []string{"CA"})
	}
	says := `level=WARN msg="intake log: anchor: refused for this gateway's signing key, not registered on the ledger`
	count := func(what string, rounds, warns, debugs int) {
		t.Helper()
		if n, debug := strings.Count(logs.String(), says), strings.Count(logs.String(), `level=DEBUG msg="intake log: anchor"`); n != warns || debug != debugs {
			t.Errorf("%s: %d warn lines saying %q and %d at debug; want %d and %d:\n%s", what, n, says, debug, warns, debugs, logs.String())
		}
		if got := metricValue(t, reg, "intake_log_anchor_failures_total"); got != float64(rounds) {
			t.Errorf("%s: intake_log_anchor_failures_total = %v; want %d", what, got, rounds)
		}
	}
	appendVotes(t, rdb, "CA", 2)
	for range 3 {
		round()
		clock.advance(time.Second)
	}
	count("3 rounds refused for the key", 3, 1, 2)
	clock.advance(UnanchoredAlertAfter - 4*time.Second)
	round() // a second short of the period since the warning
	count("a round within the period", 4, 1, 3)
	clock.advance(time.Second)
	round()
	count("a round a period after the warning", 5, 2, 3)

	closing := `level=WARN msg="intake log: closing anchor failed: ` + waitNote + `: refused for this gateway's signing key, not registered on the ledger`
	for range 2 {
		l.closingRound(ctx, fixedElections{})
	}
	if n := strings.Count(logs.String(), closing); n != 2 {
		t.Errorf("2 closing rounds refused for the key: %d warn lines saying %q; want 2:\n%s", n, closing, logs.String())
	}
	round()
	count("a round after the closing rounds, within the period", 8, 2, 4)

	keys, _, err := registered.Register([]ballot.LogKey{ballot.NewLogKey(key.Public().(ed25519.PublicKey))}, 2)
	if err != nil {
		t.Fatal(err)
	}
	ledger.mu.Lock()
	ledger.keys = keys
	ledger.mu.Unlock()
	round() // the key registered: the anchor commits
	if got := ledger.head("CA").Size; got != 2 {
		t.Fatalf("anchored size %d once the key is registered; want 2", got)
	}
	ledger.mu.Lock()
	ledger.keys = registered // another election's keys, say
	ledger.mu.Unlock()
	appendVotes(t, rdb, "CA", 2)
	round()
	count("a refusal after an anchor committed", 9, 3, 4)
}

// metricHelp is the help text of a metric family reg gathers.
func metricHelp(t *testing.T, reg *prometheus.Registry, name string) string {
	t.Helper()
	mf := family(t, reg, name)
	if mf == nil {
		t.Fatalf("no metric %s gathered", name)
	}
	return mf.GetHelp()
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k")
	k1, err := EnsureKey(path)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v; want 0600", st.Mode().Perm())
	}
	k2, err := EnsureKey(path)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("the key changed on a second EnsureKey: %v", err)
	}
	_ = os.Chmod(path, 0o644)
	if _, err := LoadKey(path); err == nil {
		t.Fatal("a key file others may read was loaded")
	}
	// A folder is no key file; chmod 600, which its mode asked for, would not help.
	dir := t.TempDir()
	for _, load := range []func(string) (ed25519.PrivateKey, error){LoadKey, EnsureKey} {
		if _, err := load(dir); err == nil || !strings.Contains(err.Error(), "log key "+dir+" is a folder: give the key file's path") {
			t.Errorf("a folder as the key file: %v; want it named as a folder", err)
		}
	}
}

// Entries this process appended are observed, in any order, and the
// entries between them (another gateway's) are read from Redis: the tree
// is the log's either way.
func TestObserveAndFollow(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	votes := appendVotes(t, rdb, "CA", 12)
	l := New(srv.ClientAs(redisserver.UserGateway), nil, Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, i := range []int{9, 3, 4, 0, 11} {
		leaf, _ := votes[i].Leaf()
		l.Observe("CA", int64(i), leaf)
	}
	s := l.state("CA")
	s.mu.Lock()
	size, early := s.tree.Size(), len(s.early)
	s.mu.Unlock()
	if size != 1 || early != 4 {
		t.Fatalf("after observing 0, 3, 4, 9, 11: tree of %d, %d early; want 1 and 4", size, early)
	}
	if err := l.follow(context.Background(), "CA", s, 0); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var want ballot.LogTree
	for _, v := range votes {
		leaf, _ := v.Leaf()
		want.Append(leaf)
	}
	got, _ := s.tree.Root(s.tree.Size())
	root, _ := want.Root(12)
	if s.tree.Size() != 12 || got != root || len(s.early) != 0 {
		t.Fatalf("tree of %d (%d early) with root %x; want the log's 12 entries, root %x", s.tree.Size(), len(s.early), got, root)
	}
}

// slowLedger is a fakeLedger whose LogHead waits until release is closed
// (or its ctx ends).
type slowLedger struct {
	*fakeLedger
	reading chan struct{} // closed when a LogHead call began
	release chan struct{}
	ended   chan struct{} // closed when that call returns
	once    sync.Once
}

func (f *slowLedger) LogHead(ctx context.Context, state string) (ballot.AnchoredHead, error) {
	first := false
	f.once.Do(func() { first = true; close(f.reading) })
	if first {
		defer close(f.ended)
	}
	select {
	case <-f.release:
	case <-ctx.Done():
		return ballot.AnchoredHead{}, ctx.Err()
	}
	return f.fakeLedger.LogHead(ctx, state)
}

// holdCommand is a go-redis hook that, once armed, holds its client's first
// command or pipeline until release is closed (or its ctx ends): a slow
// Redis. held is closed when that call began, ended when its hold ends.
type holdCommand struct {
	armed                atomic.Bool
	once                 sync.Once
	held, release, ended chan struct{}
}

func (h *holdCommand) hold(ctx context.Context) error {
	first := false
	if h.armed.Load() {
		h.once.Do(func() { first = true })
	}
	if !first {
		return nil
	}
	close(h.held)
	defer close(h.ended)
	select {
	case <-h.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *holdCommand) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *holdCommand) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if err := h.hold(ctx); err != nil {
			return err
		}
		return next(ctx, cmd)
	}
}
func (h *holdCommand) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if err := h.hold(ctx); err != nil {
			return err
		}
		return next(ctx, cmds)
	}
}

// heldLonger bounds observeQuickly's wait for Observe while a slow call is
// held: Observe only takes two locks and stores a leaf, so only an Observe
// that waits for the slow call takes this long, however slow the machine.
const heldLonger = 20 * time.Second

// observeQuickly observes a leaf at index of CA's log while a slow call
// (what names it), held until release is called, is in flight, ended
// closed when it returns, and fails the test unless Observe returned while
// that call was still held. It calls release when done; an Observe that
// waits for the call is given heldLonger before it does.
func observeQuickly(t *testing.T, l *Log, index int64, ended <-chan struct{}, release func(), what string) {
	t.Helper()
	defer release()
	v := ballot.Vote{ID: fmt.Sprintf("%032x", index), State: "CA", Contest: "president", Nullifier: ballot.HashHex([32]byte{byte(index)}), Choice: "alice", CastAt: 1}
	leaf, _ := v.Leaf()
	observed := make(chan struct{})
	go func() {
		defer close(observed)
		l.Observe("CA", index, leaf) // past the log's end: it waits in early
	}()
	select {
	case <-observed:
	case <-time.After(heldLonger):
		release()
		<-observed
		t.Errorf("Observe returned only once %s was released, %v on: it waited for it", what, heldLonger)
		return
	}
	select {
	case <-ended:
		t.Errorf("Observe returned only after %s ended (its ctx's end?): it waited for it", what)
	default:
	}
}

// Observe runs on every accepted vote's path (dedup.Config.Logged, in the
// intake's call workers): it must not wait while the log reads the
// anchored head from a slow ledger, nor while it reads or publishes in a
// slow Redis. It did, on the state's lock, and held the whole intake with
// it (docs/bench-history.md, "The ramp's other stall found"). Each slow
// call is held until Observe has returned, so the test asks no time of
// the machine; the call timeout outlasts the hold.
func TestObserveWaitsForNoLedgerOrRedisCall(t *testing.T) {
	srv, rdb, key, fake := signerSetup(t)
	ledger := &slowLedger{fakeLedger: fake, reading: make(chan struct{}), release: make(chan struct{}), ended: make(chan struct{})}
	lrdb := srv.ClientAs(redisserver.UserGateway)
	slow := &holdCommand{held: make(chan struct{}), release: make(chan struct{}), ended: make(chan struct{})}
	lrdb.AddHook(slow)
	l := New(lrdb, ledger, Config{Key: key, CallTimeout: 2 * heldLonger}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	appendVotes(t, rdb, "CA", 3)
	if err := l.sign(ctx, "e1", "CA"); err != nil {
		t.Fatal(err)
	}

	// The ledger: the first anchor reads the anchored head, held.
	anchored := make(chan error, 1)
	go func() { anchored <- l.anchor(ctx, []string{"CA"}) }()
	<-ledger.reading
	observeQuickly(t, l, 10, ledger.ended, sync.OnceFunc(func() { close(ledger.release) }), "the log's read of the anchored head from a slow ledger")
	if err := <-anchored; err != nil {
		t.Fatal(err)
	}

	// Redis: the log's first Redis call while it follows and publishes a
	// head, held.
	slow.armed.Store(true)
	signed := make(chan error, 1)
	go func() { signed <- l.sign(ctx, "e1", "CA") }()
	<-slow.held // sign is in its first Redis call
	observeQuickly(t, l, 11, slow.ended, sync.OnceFunc(func() { close(slow.release) }), "the log's Redis call")
	if err := <-signed; err != nil {
		t.Fatal(err)
	}
}

// TestStopTimeout: Run's longest stop is an anchor in flight (4 × the call
// timeout) then the closing round (2 ×), the default call timeout for a
// zero one.
func TestStopTimeout(t *testing.T) {
	if got := (Config{}).StopTimeout(); got != 30*time.Second {
		t.Errorf("default StopTimeout %v; want 30s (6 × the default 5s call timeout)", got)
	}
	if got := (Config{CallTimeout: time.Second}).StopTimeout(); got != 6*time.Second {
		t.Errorf("StopTimeout with a 1s call timeout: %v; want 6s", got)
	}
}
