package intakelog

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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
