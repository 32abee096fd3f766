package intakelog

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redisserver"
)

// A gateway whose clock ran ahead of the peers' (further than the peers'
// 15 min timewindow) stamps its heads with it and has their anchors
// refused. Once NTP steps its clock back, its last head, stamped too far
// ahead of the clock for the ledger, is signed again with the clock
// though its log has stopped growing (voting has ended), and anchored: by
// the next rounds, or by the closing round alone. The head signed again
// replaces the first in Redis, so the head served is the one anchored.
func TestHeadStampedByAClockSteppedBackIsSignedAgain(t *testing.T) {
	for _, closing := range []bool{false, true} {
		srv, rdb, key, ledger := signerSetup(t)
		var offset atomic.Int64 // the gateway's clock's error
		offset.Store((20 * time.Minute).Milliseconds())
		clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load()) * time.Millisecond) }
		ledger.now, ledger.peer = clock, time.Now // its proposals carry its clock
		var logs strings.Builder
		l := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Now: clock}, slog.New(slog.NewTextHandler(&logs, nil)))
		appendVotes(t, rdb, "CA", 3) // the last votes
		if err := signAndAnchor(t, l, "CA"); !errors.Is(err, ballot.ErrClockSkew) {
			t.Fatalf("anchor from a clock 20 min ahead: %v; want it refused for the clock", err)
		}
		offset.Store(0) // NTP steps the clock back
		if closing {
			l.closingRound(context.Background(), fixedElections{})
		} else {
			for round := range 2 {
				if err := signAndAnchor(t, l, "CA"); err != nil {
					t.Fatalf("round %d after the clock stepped back: %v", round+1, err)
				}
			}
		}
		anchored := ledger.head("CA")
		if ahead := time.Duration(anchored.Timestamp-time.Now().UnixMilli()) * time.Millisecond; anchored.Size != 3 || ahead > time.Minute {
			t.Fatalf("closing round %v: anchored head of size %d stamped %s ahead; want 3 stamped with the clock stepped back", closing, anchored.Size, ahead)
		}
		if h, err := votequeue.GetHead(context.Background(), rdb, "CA"); err != nil || h != anchored {
			t.Errorf("closing round %v: published head %+v, %v; want the anchored one %+v", closing, h, err, anchored)
		}
		if says := "its clock was ahead and stepped back"; !strings.Contains(logs.String(), says) {
			t.Errorf("closing round %v: the log does not say %q:\n%s", closing, says, logs.String())
		}
	}
}

// A gateway restarted (or another sharing its key, just started) finds in
// Redis a head of its log's size and root that its key signed, stamped
// otherwise, and takes it as its own: stamped too far ahead by a clock
// since fixed, it is signed again and anchored; stamped well but never
// anchored (the gateway stopped first), it is anchored as it is. A head of that size
// another key signed is not taken at the restart (that key's gateway may
// anchor it; see TestAnotherKeysHeadIsTakenAfterTheDelay for the delay).
func TestStoredHeadOfItsKeyIsAnchoredAfterARestart(t *testing.T) {
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	for _, c := range []struct {
		what      string
		ahead     time.Duration      // the first signer's clock's error
		signer    ed25519.PrivateKey // the first signer's key (nil: the gateway's)
		anchorErr error              // its anchor's refusal (nil: it stops before anchoring)
		want      string             // "signed again", "as stored" or "none"
	}{
		{"stamped ahead, then the clock fixed", 20 * time.Minute, nil, ballot.ErrClockSkew, "signed again"},
		{"stamped well, stopped before anchoring", 0, nil, nil, "as stored"},
		{"another key's head", 0, other, nil, "none"},
	} {
		srv, rdb, key, ledger := signerSetup(t)
		clock := func() time.Time { return time.Now().Add(c.ahead) }
		if c.signer == nil {
			c.signer = key
		}
		ledger.now, ledger.peer = clock, time.Now
		first := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: c.signer, Now: clock}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		appendVotes(t, rdb, "CA", 3) // the last votes
		if err := first.sign(context.Background(), "e1", "CA"); err != nil {
			t.Fatal(err)
		}
		if c.anchorErr != nil {
			if err := first.anchor(context.Background(), []string{"CA"}); !errors.Is(err, c.anchorErr) {
				t.Fatalf("%s: first anchor: %v; want %v", c.what, err, c.anchorErr)
			}
		}
		stored, err := votequeue.GetHead(context.Background(), rdb, "CA")
		if err != nil {
			t.Fatal(err)
		}

		// Restarted with the clock right (a second on: another stamp).
		later := func() time.Time { return time.Now().Add(time.Second) }
		ledger.now = later
		l := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Now: later}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		for round := range 2 {
			if err := signAndAnchor(t, l, "CA"); err != nil {
				t.Fatalf("%s: round %d after the restart: %v", c.what, round+1, err)
			}
		}
		anchored := ledger.head("CA")
		published, err := votequeue.GetHead(context.Background(), rdb, "CA")
		if err != nil {
			t.Fatal(err)
		}
		switch c.want {
		case "signed again":
			if ahead := time.Duration(anchored.Timestamp-time.Now().UnixMilli()) * time.Millisecond; anchored.Size != 3 || ahead > time.Minute {
				t.Errorf("%s: anchored head of size %d stamped %s ahead; want 3 stamped with the clock", c.what, anchored.Size, ahead)
			}
			if published != anchored {
				t.Errorf("%s: published head %+v; want the anchored one %+v", c.what, published, anchored)
			}
		case "as stored":
			if anchored != stored || published != stored {
				t.Errorf("%s: anchored %+v, published %+v; want both the stored head %+v", c.what, anchored, published, stored)
			}
		case "none":
			if anchored != (ballot.TreeHead{}) || published != stored {
				t.Errorf("%s: anchored %+v, published %+v; want none anchored and the stored head %+v kept", c.what, anchored, published, stored)
			}
		}
	}
}

// A gateway whose clock was ahead of the peers' (within the skew) anchors
// a head stamped with it; once its clock steps back more than the skew, a
// head stamped as that anchored head waits for the clock, and the warning
// does not blame only another gateway's clock.
func TestAnchoredHeadAheadOfAClockSteppedBackWarnsOfThisClock(t *testing.T) {
	srv, rdb, key, ledger := signerSetup(t)
	var offset atomic.Int64
	offset.Store((110 * time.Second).Milliseconds())
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load()) * time.Millisecond) }
	ledger.now, ledger.peer = clock, time.Now
	var logs strings.Builder
	l := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Now: clock}, slog.New(slog.NewTextHandler(&logs, nil)))
	appendVotes(t, rdb, "CA", 3)
	if err := signAndAnchor(t, l, "CA"); err != nil {
		t.Fatalf("anchor from a clock 110 s ahead: %v", err)
	}
	offset.Store((-60 * time.Second).Milliseconds()) // stepped back 170 s
	appendVotes(t, rdb, "CA", 1)
	if err := signAndAnchor(t, l, "CA"); err != nil {
		t.Fatal(err)
	}
	if got := ledger.head("CA").Size; got != 3 {
		t.Fatalf("anchored size %d after the step; want 3 (the head stamped as the anchored one waits)", got)
	}
	if says := "possibly this one's"; !strings.Contains(logs.String(), says) {
		t.Errorf("the log does not say %q:\n%s", says, logs.String())
	}
}

// countingLedger is a fakeLedger that counts the anchors it is sent of
// each head size (of any state), taken or refused.
type countingLedger struct {
	*fakeLedger
	mu    sync.Mutex
	sizes map[uint64]int
}

func (c *countingLedger) AnchorLogHeads(ctx context.Context, anchors []ballot.LogAnchor) error {
	c.mu.Lock()
	for _, a := range anchors {
		c.sizes[a.Head.Size]++
	}
	c.mu.Unlock()
	return c.fakeLedger.AnchorLogHeads(ctx, anchors)
}

// Two live gateways sharing a key (as make up runs them) and a Redis sign
// every size of a growing log; the first's head of each size is stored,
// the second's refused. Past its first head (which, just started, it
// takes from Redis and finds anchored), the loser does not take the
// winner's head as its own (that is the winner's to anchor), so the ledger
// is sent one anchor per size: taken as its own, it was sent two, which
// the chaincode takes as a no-op when they follow each other and fails
// with a read conflict when they are concurrent.
func TestGatewaysSharingAKeyAnchorEachSizeOnce(t *testing.T) {
	srv, rdb, key, fake := signerSetup(t)
	ledger := &countingLedger{fakeLedger: fake, sizes: map[uint64]int{}}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	g1 := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key}, quiet)
	// A second apart, their heads of a size differ: signed in the same
	// millisecond they are one, which PublishHead reports stored to both.
	ahead := func() time.Time { return time.Now().Add(time.Second) }
	g2 := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Now: ahead}, quiet)
	ctx := context.Background()
	var size uint64
	for round := range 4 {
		appendVotes(t, rdb, "CA", 2)
		size += 2
		for _, g := range []*Log{g1, g2} {
			if err := g.sign(ctx, "e1", "CA"); err != nil {
				t.Fatal(err)
			}
		}
		for _, g := range []*Log{g1, g2} {
			if err := g.anchor(ctx, []string{"CA"}); err != nil {
				t.Fatalf("round %d: %v", round+1, err)
			}
		}
		if got := ledger.head("CA").Size; got != size {
			t.Fatalf("round %d: anchored size %d; want %d", round+1, got, size)
		}
	}
	if len(ledger.sizes) != 4 {
		t.Errorf("the ledger was sent anchors of sizes %v; want 2, 4, 6 and 8", ledger.sizes)
	}
	for size, n := range ledger.sizes {
		if n != 1 {
			t.Errorf("the ledger was sent %d anchors of size %d; want 1 of each (%v)", n, size, ledger.sizes)
		}
	}
}

// getCounter is a go-redis hook counting the GETs its client sends.
type getCounter struct{ gets atomic.Int64 }

func (g *getCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (g *getCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "get" {
			g.gets.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (g *getCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A just-started gateway whose head is refused reads the stored head (to
// take it as its own) only when it is of its head's size, and once at that
// size: one of a larger log (another gateway's, its log read before the
// last votes) is never its, nor is one another key signed, and reading it
// every round would cost a GET a second per state for as long as the
// gateway lags, or its log stays idle.
func TestStoredHeadIsReadOnlyWhenOfTheSameSize(t *testing.T) {
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	for _, c := range []struct {
		what     string
		stored   uint64 // the size of the head stored before the gateway signs 3
		wantGets int64
	}{
		{"a larger head stored", 5, 0},
		{"another key's head of its size stored", 3, 1},
	} {
		srv, rdb, key, ledger := signerSetup(t)
		appendVotes(t, rdb, "CA", 3)
		h, err := ballot.TreeHead{Election: "e1", State: "CA", Size: c.stored, Root: ballot.HashHex([32]byte{1}), Timestamp: time.Now().UnixMilli()}.Sign(other)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := votequeue.PublishHead(context.Background(), rdb, h); err != nil {
			t.Fatal(err)
		}
		client := srv.ClientAs(redisserver.UserGateway)
		var counter getCounter
		client.AddHook(&counter)
		l := New(client, ledger, Config{Key: key}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		for range 3 {
			if err := l.sign(context.Background(), "e1", "CA"); err != nil {
				t.Fatal(err)
			}
		}
		if got := counter.gets.Load(); got != c.wantGets {
			t.Errorf("%s: %d GETs in 3 rounds; want %d", c.what, got, c.wantGets)
		}
	}
}
