package batcher_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/batcher"
	"github.com/votechain/votechain/batcher/fabricledger"
	"github.com/votechain/votechain/internal/redistest"
	"github.com/votechain/votechain/network/fabricclient"
	"github.com/votechain/votechain/test-network/nettest"
)

// committedLedger counts the transactions submitted through it that
// committed VALID (their Wait succeeded).
type committedLedger struct {
	batcher.Ledger
	committed atomic.Int64
}

func (l *committedLedger) Submit(ctx context.Context, bs []ballot.Batch) (batcher.Tx, error) {
	tx, err := l.Ledger.Submit(ctx, bs)
	if err != nil {
		return nil, err
	}
	return committedTx{tx, l}, nil
}

type committedTx struct {
	batcher.Tx
	l *committedLedger
}

func (t committedTx) Wait(ctx context.Context) ([]ballot.Committed, error) {
	done, err := t.Tx.Wait(ctx)
	if err == nil {
		t.l.committed.Add(1)
	}
	return done, err
}

// TestBatcherThroughBothPeers: the batcher, as the Commission's User1,
// submitting in turn through the Commission's peer and the Observers' peer
// (RoundRobin over a WithPeer connection, as --gateway-peers all) commits
// every vote exactly once, and transactions through each peer committed.
func TestBatcherThroughBothPeers(t *testing.T) {
	n := nettest.Start(t)
	nettest.SetupElection(t, n, nettest.Election(states, batcher.TestCandidates))
	rdb := redistest.Start(t).Client()
	votes := batcher.EnqueueVotes(t, rdb, 0, 2000, "s1")

	home := nettest.Dial(t, n, "Commission").Ballot()
	own := &committedLedger{Ledger: fabricledger.New(home)}
	observers := &committedLedger{Ledger: fabricledger.New(nettest.Dial(t, n, "Commission", fabricclient.WithPeer("Observers")).Ballot())}
	took := drain(t, rdb, batcher.RoundRobin(fabricledger.New(home), own, observers))
	t.Logf("%d votes committed in %.1f s; transactions committed through the Commission's peer %d, the Observers' %d",
		len(votes), took.Seconds(), own.committed.Load(), observers.committed.Load())
	nettest.CheckCountedOnce(t, home, votes)
	if own.committed.Load() == 0 || observers.committed.Load() == 0 {
		t.Errorf("committed through the Commission's peer %d, the Observers' %d; want both above 0", own.committed.Load(), observers.committed.Load())
	}
}
