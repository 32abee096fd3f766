package intakelog

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redisserver"
)

// racingLedger loses the first anchor that carries a head of winner's
// size and state to another gateway's concurrent one: it commits winner
// (that gateway's anchor of its state) and fails
// the transaction with a read conflict, as Fabric fails the later of two
// anchors endorsed on the same anchored head (fabricclient maps
// MVCC_READ_CONFLICT to ballot.ErrHeadConflict).
type racingLedger struct {
	*fakeLedger
	winner ballot.TreeHead
	raced  atomic.Bool
}

func (r *racingLedger) AnchorLogHeads(ctx context.Context, anchors []ballot.LogAnchor) error {
	for _, a := range anchors {
		if a.Head.State != r.winner.State || a.Head.Size != r.winner.Size || !r.raced.CompareAndSwap(false, true) {
			continue
		}
		r.fakeLedger.mu.Lock()
		r.heads[r.winner.State] = r.winner
		r.fakeLedger.mu.Unlock()
		return fmt.Errorf("anchor %d log heads: %w: MVCC_READ_CONFLICT", len(anchors), ballot.ErrHeadConflict)
	}
	return r.fakeLedger.AnchorLogHeads(ctx, anchors)
}

// A gateway stopping takes over at once CA's head of 4, which a gateway
// sharing its key stored and is anchoring at that moment: the two anchors
// race and this one loses, failing with it the gateway's own NY head of 3,
// which no other gateway published. The closing round anchors again what
// the race left (NY) and logs its heads anchored; it gave up after the
// race before, leaving NY's votes unanchored until another gateway took
// its head over (41 s later) or, with a key of its own, its restart.
func TestClosingRoundAnchorsAgainAfterARace(t *testing.T) {
	srv, rdb, key, fake := signerSetup(t)
	clock := newStillClock()
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	ledger := &racingLedger{fakeLedger: fake}
	l := New(srv.ClientAs(redisserver.UserGateway), ledger, Config{Key: key, Now: clock.now}, logger)
	// The winner, a second ahead: its head of a size differs from l's.
	ahead := func() time.Time { return clock.now().Add(time.Second) }
	winner := New(srv.ClientAs(redisserver.UserGateway), nil, Config{Key: key, Now: ahead}, logger)
	appendVotes(t, rdb, "CA", 2)
	if err := signAndAnchor(t, l, "CA"); err != nil {
		t.Fatal(err)
	}
	appendVotes(t, rdb, "CA", 2)
	if err := winner.sign(context.Background(), "e1", "CA"); err != nil {
		t.Fatal(err)
	}
	if err := l.sign(context.Background(), "e1", "CA"); err != nil { // refused: 4 is stored
		t.Fatal(err)
	}
	stored, err := votequeue.GetHead(context.Background(), rdb, "CA")
	if err != nil || stored.Size != 4 {
		t.Fatalf("stored CA head %+v, %v; want the winner's of size 4", stored, err)
	}
	ledger.winner = stored
	appendVotes(t, rdb, "NY", 3)

	l.closingRound(context.Background(), fixedElections{})
	if !ledger.raced.Load() {
		t.Fatal("the closing round sent no anchor")
	}
	if got := fake.head("CA"); got != stored {
		t.Errorf("anchored CA head %+v; want the winner's %+v", got, stored)
	}
	if got := fake.head("NY").Size; got != 3 {
		t.Errorf("anchored NY size %d after the closing round; want 3 (its anchor lost a race on CA, not on NY)", got)
	}
	if says := `"intake log: closing heads anchored"`; !strings.Contains(logs.String(), says) {
		t.Errorf("the log does not say %s:\n%s", says, logs.String())
	}
}
