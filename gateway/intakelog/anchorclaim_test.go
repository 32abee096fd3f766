package intakelog

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redisserver"
)

// Two gateways sharing a key, each knowing the anchored head of 2, sign
// their heads of CA's 4 in the same millisecond: one head, byte for byte,
// which PublishHead reports stored to both, so both hold it as theirs to
// anchor. The first to anchor it claims its anchor; the second leaves CA
// out while that claim stands (done), reads the anchored head in its next
// round and sends nothing: the ledger is sent one anchor of 4. Before the
// claims, the second sent it again, a no-op repeat (or, concurrent, a
// read conflict).
func TestHeadSignedAlikeByTwoGatewaysIsAnchoredOnce(t *testing.T) {
	srv, rdb, key, fake := signerSetup(t)
	ledger := &countingLedger{fakeLedger: fake, sizes: map[uint64]int{}}
	clock := newStillClock()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	g1 := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Now: clock.now}, quiet)
	g2 := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Now: clock.now}, quiet)
	for size := uint64(2); size <= 4; size += 2 {
		appendVotes(t, rdb, "CA", 2)
		clock.advance(time.Second)
		for _, g := range []*Log{g1, g2} {
			if err := g.sign(context.Background(), "e1", "CA"); err != nil {
				t.Fatal(err)
			}
		}
		if h1, h2 := g1.state("CA").signed, g2.state("CA").signed; h1.Size != size || h1 != h2 {
			t.Fatalf("signed heads %+v and %+v; want one head of %d, stored for both", h1, h2, size)
		}
		for round := range 2 {
			for _, g := range []*Log{g1, g2} {
				if err := signAndAnchor(t, g, "CA"); err != nil {
					t.Fatalf("size %d, round %d: %v", size, round+1, err)
				}
			}
		}
		if got := ledger.head("CA").Size; got != size {
			t.Errorf("anchored size %d; want %d", got, size)
		}
	}
	if n := ledger.sizes[4]; n != 1 {
		t.Errorf("the ledger was sent %d anchors of the head of 4; want 1", n)
	}
}

// heldLedger holds the first anchor carrying a head of size (closing
// arrived as it is sent) until release is closed, as a slow block does.
type heldLedger struct {
	*countingLedger
	size             uint64
	held             atomic.Bool
	arrived, release chan struct{}
}

func (h *heldLedger) AnchorLogHeads(ctx context.Context, anchors []ballot.LogAnchor) error {
	for _, a := range anchors {
		if a.Head.Size == h.size && h.held.CompareAndSwap(false, true) {
			close(h.arrived)
			<-h.release
		}
	}
	return h.countingLedger.AnchorLogHeads(ctx, anchors)
}

// Two gateways sharing a key race for CA's head of 4; the winner's is
// stored, and its anchor of it is still in flight (a slow block) when the
// delay (41 s) after the loser's refusal has passed. The loser takes the
// stored head over but leaves it out of its anchor while the winner's
// claim on it stands, and once the winner's anchor has committed reads
// it and sends nothing: the ledger is sent one anchor of 4. Before the
// claims, the loser anchored it too, a no-op repeat or a read conflict.
func TestTakeOverWaitsForTheWinnersAnchorInFlight(t *testing.T) {
	srv, rdb, key, fake := signerSetup(t)
	ledger := &heldLedger{countingLedger: &countingLedger{fakeLedger: fake, sizes: map[uint64]int{}},
		size: 4, arrived: make(chan struct{}), release: make(chan struct{})}
	clock := newStillClock()
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	winner := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Now: clock.now}, logger)
	// A second ahead: its head of a size differs from the winner's.
	ahead := func() time.Time { return clock.now().Add(time.Second) }
	loser := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Now: ahead}, logger)
	ctx := context.Background()
	for size := 2; size <= 4; size += 2 { // the loser, just started, takes 2 and finds it anchored
		appendVotes(t, rdb, "CA", 2)
		for _, g := range []*Log{winner, loser} {
			if err := g.sign(ctx, "e1", "CA"); err != nil {
				t.Fatal(err)
			}
		}
		if size == 2 {
			for _, g := range []*Log{winner, loser} {
				if err := g.anchor(ctx, []string{"CA"}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	stored, err := votequeue.GetHead(ctx, rdb, "CA")
	if err != nil || stored.Size != 4 {
		t.Fatalf("stored head %+v, %v; want the winner's of 4", stored, err)
	}
	winnerDone := make(chan error, 1)
	go func() { winnerDone <- winner.anchor(ctx, []string{"CA"}) }()
	<-ledger.arrived
	clock.advance(takeOverAt)
	if err := signAndAnchor(t, loser, "CA"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "took the stored head of its key") {
		t.Errorf("the loser did not take the stored head over after the delay:\n%s", logs.String())
	}
	close(ledger.release)
	if err := <-winnerDone; err != nil {
		t.Fatalf("the winner's anchor: %v", err)
	}
	if err := signAndAnchor(t, loser, "CA"); err != nil {
		t.Fatal(err)
	}
	if got := ledger.head("CA"); got != stored {
		t.Errorf("anchored %+v; want the winner's stored head %+v", got, stored)
	}
	if n := ledger.sizes[4]; n != 1 {
		t.Errorf("the ledger was sent %d anchors of the head of 4; want 1 (the winner's)", n)
	}
}

// A gateway whose key is not registered on the ledger has every anchor
// refused for it, a round after another: the first refusal is logged at
// warn level, saying so and the fix, the others at debug level, each
// counted as a failure. Once an anchor commits (the key registered), the
// next refusal is logged at warn level again. Before, each round's refusal
// was a warn line.
func TestUnregisteredKeyWarnsOnce(t *testing.T) {
	srv, rdb, _, ledger := signerSetup(t)
	registered := ledger.keys
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	var logs strings.Builder
	reg := prometheus.NewRegistry()
	l := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Registry: reg},
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
	appendVotes(t, rdb, "CA", 2)
	for range 3 {
		round()
	}
	if n, debug := strings.Count(logs.String(), says), strings.Count(logs.String(), `level=DEBUG msg="intake log: anchor"`); n != 1 || debug != 2 {
		t.Errorf("3 rounds refused for the key: %d warn lines saying %q and %d at debug; want 1 and 2:\n%s", n, says, debug, logs.String())
	}
	if got := metricValue(t, reg, "intake_log_anchor_failures_total"); got != 3 {
		t.Errorf("intake_log_anchor_failures_total = %v; want 3", got)
	}
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
	if n := strings.Count(logs.String(), says); n != 2 {
		t.Errorf("a refusal after an anchor committed: %d warn lines saying %q in all; want 2:\n%s", n, says, logs.String())
	}
}
