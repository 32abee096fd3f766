package intakelog

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
)

// scriptHook is a go-redis hook counting the scripts its client runs
// (publications of heads) and, while drop is set, losing the answer of
// the next one that ran: the head is stored, the caller gets an error, as
// on a read timeout during an fsync stall or a dropped connection.
type scriptHook struct {
	runs atomic.Int64
	drop atomic.Bool
}

func (h *scriptHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *scriptHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() != "evalsha" && cmd.Name() != "eval" {
			return next(ctx, cmd)
		}
		err := next(ctx, cmd)
		if err == nil {
			h.runs.Add(1)
			if h.drop.CompareAndSwap(true, false) {
				err = errors.New("i/o timeout (test: reply lost)")
				cmd.SetErr(err)
			}
		}
		return err
	}
}
func (h *scriptHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// offsetClock is time.Now moved on by what advance adds.
type offsetClock struct{ offset atomic.Int64 }

func (c *offsetClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *offsetClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// hookedLog is a Log of key over a client of srv carrying hook.
func hookedLog(srv *redistest.Server, ledger Ledger, cfg Config, hook redis.Hook) *Log {
	client := srv.ClientAs(redisserver.UserGateway)
	client.AddHook(hook)
	return New(client, ledger, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// waitRounds makes rounds of l for CA (sign, then anchor) with the clock
// short of takeOverDelay since the refusal, and checks that l publishes
// no head (signs none at the lost size) and the ledger stays at anchored.
func waitRounds(t *testing.T, l *Log, clock *offsetClock, hook *scriptHook, ledger *fakeLedger, anchored uint64) {
	t.Helper()
	runs := hook.runs.Load()
	for range 3 {
		clock.advance(l.takeOverDelay() / 4)
		if err := signAndAnchor(t, l, "CA"); err != nil {
			t.Fatal(err)
		}
	}
	if n := hook.runs.Load() - runs; n != 0 {
		t.Errorf("%d heads published while waiting at the refused size; want none", n)
	}
	if got := ledger.head("CA").Size; got != anchored {
		t.Errorf("anchored size %d while waiting; want %d", got, anchored)
	}
}

// A gateway alone on its key whose publication of head 4 is stored but
// whose answer is lost signs 4 again, refused as of a size stored: it
// signs no more heads of that size, and once the delay has passed with
// the ledger still at 2 it takes the stored head (its own) and anchors
// it, though the log stays idle.
func TestLostPublishReplyIsAnchoredAfterTheDelay(t *testing.T) {
	srv, rdb, key, ledger := signerSetup(t)
	var clock offsetClock
	var hook scriptHook
	l := hookedLog(srv, ledger, Config{Key: key, Now: clock.now}, &hook)
	appendVotes(t, rdb, "CA", 2)
	if err := signAndAnchor(t, l, "CA"); err != nil {
		t.Fatal(err)
	}
	appendVotes(t, rdb, "CA", 2)
	hook.drop.Store(true)
	if err := l.sign(context.Background(), "e1", "CA"); err == nil {
		t.Fatal("sign with the reply lost: no error")
	}
	stored, err := votequeue.GetHead(context.Background(), rdb, "CA")
	if err != nil || stored.Size != 4 {
		t.Fatalf("stored head %+v, %v; want size 4", stored, err)
	}
	clock.advance(time.Second) // the next round's head is stamped otherwise
	if err := signAndAnchor(t, l, "CA"); err != nil {
		t.Fatal(err)
	}
	waitRounds(t, l, &clock, &hook, ledger, 2)
	clock.advance(l.takeOverDelay())
	if err := signAndAnchor(t, l, "CA"); err != nil {
		t.Fatal(err)
	}
	if got := ledger.head("CA"); got != stored {
		t.Errorf("anchored %+v after the delay; want the stored head %+v", got, stored)
	}
}

// Two gateways sharing a key race for head 4; the winner's is stored. If
// the winner is killed before anchoring it, the loser, which signs no
// head of that size meanwhile, anchors the stored head once the delay has
// passed; if the winner anchors it, the loser sends no anchor at all.
func TestWinnerKilledBeforeAnchoringIsTakenOver(t *testing.T) {
	for _, winnerAnchors := range []bool{false, true} {
		srv, rdb, key, fake := signerSetup(t)
		ledger := &countingLedger{fakeLedger: fake, sizes: map[uint64]int{}}
		var clock offsetClock
		var winnerHook, loserHook scriptHook
		winner := hookedLog(srv, ledger, Config{Key: key, Now: clock.now}, &winnerHook)
		// A second ahead: its head of a size differs from the winner's.
		ahead := func() time.Time { return clock.now().Add(time.Second) }
		reg := prometheus.NewRegistry()
		loser := hookedLog(srv, ledger, Config{Key: key, Now: ahead, Registry: reg}, &loserHook)
		race := func() {
			appendVotes(t, rdb, "CA", 2)
			for _, g := range []*Log{winner, loser} {
				if err := g.sign(context.Background(), "e1", "CA"); err != nil {
					t.Fatal(err)
				}
			}
		}
		// Both running (the loser, just started, takes head 2 as its
		// own and finds it anchored), they race again for head 4.
		race()
		if err := winner.anchor(context.Background(), []string{"CA"}); err != nil {
			t.Fatal(err)
		}
		if err := loser.anchor(context.Background(), []string{"CA"}); err != nil {
			t.Fatal(err)
		}
		race()
		stored, err := votequeue.GetHead(context.Background(), rdb, "CA")
		if err != nil {
			t.Fatal(err)
		}
		// The loser's gauges: signed 2, but the head stored (served) is 4.
		if signed, published := metricValue(t, reg, "intake_log_signed_entries"), metricValue(t, reg, "intake_log_published_entries"); signed != 2 || published != 4 {
			t.Errorf("the loser's intake_log_signed_entries %v, intake_log_published_entries %v; want 2 and 4", signed, published)
		}
		want := uint64(2) // killed: the winner never anchors 4
		if winnerAnchors {
			if err := winner.anchor(context.Background(), []string{"CA"}); err != nil {
				t.Fatal(err)
			}
			want = 4
		}
		waitRounds(t, loser, &clock, &loserHook, fake, want)
		clock.advance(loser.takeOverDelay())
		for range 2 {
			if err := signAndAnchor(t, loser, "CA"); err != nil {
				t.Fatal(err)
			}
		}
		if got := fake.head("CA"); got != stored {
			t.Errorf("winner anchors %v: anchored %+v; want the winner's stored head %+v", winnerAnchors, got, stored)
		}
		if n := ledger.sizes[4]; n != 1 {
			t.Errorf("winner anchors %v: %d anchors of size 4 sent; want 1", winnerAnchors, n)
		}
		if n := loserHook.runs.Load(); n != 2 {
			t.Errorf("winner anchors %v: the loser published %d heads; want 2 (its refused ones)", winnerAnchors, n)
		}
	}
}
