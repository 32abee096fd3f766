package intakelog

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redisserver"
)

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
