package explorer_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/explorer/follow"
	"github.com/votechain/votechain/explorer/index"
	"github.com/votechain/votechain/fabricclient"
	testnetwork "github.com/votechain/votechain/test-network"
	"github.com/votechain/votechain/test-network/nettest"
)

var (
	testStates     = []string{"CA", "TX", "NY"}
	testCandidates = []string{"alice", "bob", "carol"}
)

// ledgerWriter commits batches as the Commission's batcher would, and keeps
// the batches it committed.
type ledgerWriter struct {
	t       *testing.T
	ledger  *fabricclient.Ballot
	mu      sync.Mutex
	seq     map[string]uint64
	voters  int
	batches []ballot.Batch
}

// vote makes a vote of voter in state.
func (w *ledgerWriter) vote(state string, voter int) ballot.Vote {
	id, err := ballot.NewVoteID()
	if err != nil {
		w.t.Fatal(err)
	}
	null := ballot.NullifierOf(ballot.VoterKey([]byte("explorer-test"), fmt.Sprint("voter-", voter), "cred"))
	return ballot.Vote{ID: id, State: state, Nullifier: ballot.HashHex(null),
		Candidate: testCandidates[voter%len(testCandidates)], CastAt: time.Now().UnixMilli()}
}

// newVotes makes n votes of new voters of state.
func (w *ledgerWriter) newVotes(state string, n int) []ballot.Vote {
	w.mu.Lock()
	first := w.voters
	w.voters += n
	w.mu.Unlock()
	votes := make([]ballot.Vote, n)
	for i := range votes {
		votes[i] = w.vote(state, first+i)
	}
	return votes
}

// commit commits the votes as the state's next batch.
func (w *ledgerWriter) commit(ctx context.Context, state string, votes []ballot.Vote) ballot.Batch {
	w.mu.Lock()
	w.seq[state]++
	seq := w.seq[state]
	w.mu.Unlock()
	b, err := ballot.BuildBatch(state, seq, votes)
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.ledger.CommitBatch(ctx, b); err != nil {
		w.t.Fatalf("commit %s: %v", b.ID(), err)
	}
	w.mu.Lock()
	w.batches = append(w.batches, b)
	w.mu.Unlock()
	return b
}

// commitRound commits one batch of n new voters per state, concurrently (so
// that blocks hold several transactions).
func (w *ledgerWriter) commitRound(ctx context.Context, n int) {
	var wg sync.WaitGroup
	for _, s := range testStates {
		votes := w.newVotes(s, n)
		wg.Go(func() { w.commit(ctx, s, votes) })
	}
	wg.Wait()
}

// testLedger is a real network with an election and a few committed
// batches: several states, a duplicate nullifier across batches and a
// resubmitted batch.
type testLedger struct {
	net       *testnetwork.Network
	writer    *ledgerWriter
	observers *fabricclient.Conn
}

func startLedger(t *testing.T) *testLedger {
	n := nettest.Start(t)
	nettest.SetupElection(t, n, nettest.Election(testStates, testCandidates))
	w := &ledgerWriter{t: t, ledger: nettest.Dial(t, n, "Commission").Ballot(), seq: map[string]uint64{}}
	ctx := testContext(t)
	w.commitRound(ctx, 40)
	w.commitRound(ctx, 25)
	// A vote reusing the nullifier of a committed vote: recorded, rejected.
	first := w.batches[0]
	dup := w.newVotes(first.State, 5)
	dup[2] = first.Votes[3]
	dup[2].ID, _ = ballot.NewVoteID()
	w.commit(ctx, first.State, dup)
	// A retried batch: a VALID transaction that writes nothing.
	if _, err := w.ledger.CommitBatch(ctx, first); err != nil {
		t.Fatalf("resubmit %s: %v", first.ID(), err)
	}
	return &testLedger{net: n, writer: w, observers: nettest.Dial(t, n, "Observers")}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// indexAll indexes the ledger into the index at path up to the ledger's
// current height.
func (l *testLedger) indexAll(t *testing.T, path string) *index.Index {
	t.Helper()
	idx, err := index.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	height, err := l.observers.Ballot().Height(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := &follow.Follower{Source: follow.NetworkSource{Network: l.observers.Network}, Store: idx,
		Auditor: audit.Auditor{Chaincode: "ballot"}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	began := time.Now()
	if err := f.Until(ctx, height); err != nil {
		t.Fatalf("index to height %d: %v", height, err)
	}
	t.Logf("indexed %d blocks in %s", height, time.Since(began).Round(time.Millisecond))
	return idx
}

func TestIndexRealLedger(t *testing.T) {
	l := startLedger(t)
	dir := nettest.RunDir(t, "explorer")
	idx := l.indexAll(t, filepath.Join(dir, "index.db"))
	ctx := testContext(t)
	tot, err := idx.Totals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("totals %+v", tot)
	issues, _ := idx.Issues(ctx, 0, 10)
	for _, is := range issues {
		t.Errorf("issue: %+v", is)
	}
	recount, err := idx.Recount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	results, err := l.observers.Ballot().Results(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("recount %+v\nresults %+v", recount, results)
}
