package explorer_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer"
	"github.com/votechain/votechain/explorer/follow"
	"github.com/votechain/votechain/explorer/index"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/network/fabricclient"
	"github.com/votechain/votechain/test-network/localnet"
	"github.com/votechain/votechain/test-network/nettest"
)

// The test ledger's election is a referendum of three yes/no questions;
// voter i answers question i%3.
var (
	testStates    = []string{"CA", "TX", "NY"}
	testQuestions = []ballot.Contest{
		{ID: "Q1", Title: "Question 1: public transport funding", Kind: ballot.ContestQuestion, Choices: []string{"yes", "no"}},
		{ID: "Q2", Title: "Question 2: voting age of 16", Kind: ballot.ContestQuestion, Choices: []string{"yes", "no"}},
		{ID: "Q3", Title: "Question 3: four-day school week", Kind: ballot.ContestQuestion, Choices: []string{"yes", "no"}},
	}
)

// testElection is the referendum's election record.
func testElection() ballot.Election {
	e := nettest.Election(testStates, []string{"yes", "no"})
	e.Contests = testQuestions
	return e
}

// ledgerWriter commits batches as the Commission's batcher would, and keeps
// the batches it committed.
type ledgerWriter struct {
	t       *testing.T
	ledger  *fabricclient.Ballot
	mu      sync.Mutex
	seq     map[string]uint64
	voters  int
	batches []ballot.Batch
	commits []ballot.Committed // of batches, in the same order
}

// vote makes the vote of voter in state: its answer to question voter%3,
// "yes" from two voters of three.
func (w *ledgerWriter) vote(state string, voter int) ballot.Vote {
	id, err := ballot.NewVoteID()
	if err != nil {
		w.t.Fatal(err)
	}
	q := testQuestions[voter%len(testQuestions)]
	null := ballot.NullifierOf(ballot.VoterKey([]byte("explorer-test"), "explorer-test", fmt.Sprint("voter-", voter), "cred"), q.ID)
	return ballot.Vote{ID: id, State: state, Contest: q.ID, Nullifier: ballot.HashHex(null),
		Choice: q.Choices[voter/len(testQuestions)%3/2], CastAt: time.Now().UnixMilli()}
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
	c, err := w.ledger.CommitBatch(ctx, b)
	if err != nil {
		w.t.Errorf("commit %s: %v", b.ID(), err)
		return b
	}
	w.mu.Lock()
	w.batches = append(w.batches, b)
	w.commits = append(w.commits, c)
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
	net       *localnet.Network
	writer    *ledgerWriter
	observers *fabricclient.Conn
}

func startLedger(t *testing.T) *testLedger {
	return startLedgerOn(t, "")
}

// startLedgerOn is startLedger on a network of the given consensus ("" for
// the default).
func startLedgerOn(t *testing.T, consensus network.Consensus) *testLedger {
	n := nettest.StartConsensus(t, consensus)
	nettest.SetupElection(t, n, testElection())
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
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// openExplorer opens an explorer of the test ledger on the index at db.
func (l *testLedger) openExplorer(t *testing.T, db string) *explorer.Explorer {
	t.Helper()
	profile, err := l.net.Profile()
	if err != nil {
		t.Fatal(err)
	}
	e, err := explorer.Open(testContext(t), explorer.Config{Profile: profile, Org: "Observers", DB: db, PageSize: 10,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// catchUp indexes the whole ledger and returns the first block it indexed.
// The writer waited for the Commission's peer only, and the explorer reads
// the Observers' peer: catchUp waits until that peer holds every block, or
// the index would stop a block short of what the checks expect.
func (l *testLedger) catchUp(t *testing.T, e *explorer.Explorer) (first uint64) {
	t.Helper()
	nettest.SyncPeers(t, l.net)
	first = ^uint64(0)
	began := time.Now()
	var height uint64
	err := e.CatchUp(testContext(t), func(n, h uint64) {
		first, height = min(first, n-1), h
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("indexed blocks %d..%d in %s", first, height-1, time.Since(began).Round(time.Millisecond))
	return first
}

// TestExplorerOnRealNetwork indexes a real ledger and checks the audit
// (recount equals the chaincode's results, batch counts equal, no
// verification failures), resuming from the checkpoint after a restart
// without duplicate rows, and then drives the web UI in headless Chromium.
func TestExplorerOnRealNetwork(t *testing.T) {
	l := startLedger(t)
	dir := nettest.RunDir(t, "explorer")
	db := filepath.Join(dir, "index.db")

	e := l.openExplorer(t, db)
	if first := l.catchUp(t, e); first != 0 {
		t.Fatalf("a fresh index started at block %d, not 0", first)
	}
	checkAudit(t, l, e)
	before, err := e.Index().Totals(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	// Restart: more batches meanwhile; the explorer resumes at its checkpoint.
	l.writer.commitRound(testContext(t), 30)
	e = l.openExplorer(t, db)
	t.Cleanup(func() { e.Close() })
	if first := l.catchUp(t, e); first != before.Blocks {
		t.Fatalf("restarted explorer indexed from block %d; its checkpoint was %d", first, before.Blocks)
	}
	resumed := checkAudit(t, l, e)

	// The resumed index holds exactly what a fresh index of the same ledger does.
	fresh := l.openExplorer(t, filepath.Join(dir, "fresh.db"))
	t.Cleanup(func() { fresh.Close() })
	l.catchUp(t, fresh)
	if again := checkAudit(t, l, fresh); again != resumed {
		t.Fatalf("resumed index totals %+v, fresh index %+v", resumed, again)
	}
	if resumed.Rejected != 1 || resumed.Batches != int64(len(l.writer.batches)) {
		t.Fatalf("index: %d rejected, %d batches; want 1 and %d", resumed.Rejected, resumed.Batches, len(l.writer.batches))
	}

	if dir := os.Getenv("EXPLORER_CAPTURE_BLOCKS"); dir != "" {
		captureBlocks(t, l, dir, 10)
	}
	t.Run("browser", func(t *testing.T) { browse(t, l, e) })
}

// TestExplorerOnRaftNetwork: on a Raft network, whose blocks one orderer
// signs with its certificate (not a quorum of consenters by id, as the
// captured BFT blocks), the explorer checks every block's signature
// against the orderer organisations' CAs and finds the honest ledger
// without an issue.
func TestExplorerOnRaftNetwork(t *testing.T) {
	l := startLedgerOn(t, network.Raft)
	e := l.openExplorer(t, filepath.Join(nettest.RunDir(t, "explorer-raft"), "index.db"))
	t.Cleanup(func() { e.Close() })
	l.catchUp(t, e)
	tot := checkAudit(t, l, e)
	cfg, err := e.Index().ChannelConfig(t.Context())
	if err != nil || cfg == nil || cfg.Consensus != "etcdraft" || len(cfg.OrdererOrgs) != 2 {
		t.Fatalf("the index's orderer configuration %+v, %v; want etcdraft with both orderer organisations", cfg, err)
	}
	if tot.Blocks < 5 || tot.Issues != 0 {
		t.Fatalf("index totals %+v; want the whole ledger without an issue", tot)
	}
}

// captureBlocks writes the ledger's first n blocks to dir as block-N.pb,
// the real blocks network/fabricblock's unit tests decode
// (EXPLORER_CAPTURE_BLOCKS=$PWD/network/fabricblock/testdata go test -run TestExplorerOnRealNetwork ./explorer).
func captureBlocks(t *testing.T, l *testLedger, dir string, n uint64) {
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	blocks, err := follow.NetworkSource{Network: l.observers.Network}.Blocks(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for blk := range blocks {
		data, err := proto.Marshal(blk)
		if err != nil {
			t.Fatal(err)
		}
		num := blk.GetHeader().GetNumber()
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("block-%d.pb", num)), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if num+1 == n {
			return
		}
	}
}

// checkAudit checks the index against the ledger: no verification failure,
// the recount equal to the chaincode's results, the same batch count. It
// returns the index totals.
func checkAudit(t *testing.T, l *testLedger, e *explorer.Explorer) index.Totals {
	t.Helper()
	ctx := testContext(t)
	tot, err := e.Index().Totals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	issues, err := e.Index().Issues(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, is := range issues {
		t.Errorf("verification failure on an honest ledger: %+v", is)
	}
	if broken, err := e.Index().BrokenBlocks(ctx); err != nil || broken != 0 {
		t.Errorf("%d blocks fail the hash-chain checks (%v)", broken, err)
	}
	recount, err := e.Index().Recount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	results, err := l.observers.Ballot().Results(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ledgerBatches int64
	for s, want := range results.States {
		got := recount.States[s]
		if got.Batches != want.Batches || got.Counted != want.Counted || got.Rejected != want.Rejected || !got.Tallies.Equal(want.Tallies) {
			t.Errorf("state %s: recount %+v, chaincode %+v", s, got, want)
		}
		ledgerBatches += int64(want.Batches)
	}
	if recount.Counted != results.Counted || recount.Rejected != results.Rejected || !recount.National.Equal(results.National) {
		t.Errorf("national: recount %d counted %d rejected %v, chaincode %d %d %v", recount.Counted, recount.Rejected,
			recount.National, results.Counted, results.Rejected, results.National)
	}
	if tot.Batches != ledgerBatches {
		t.Errorf("index holds %d batches, the ledger %d", tot.Batches, ledgerBatches)
	}
	return tot
}
