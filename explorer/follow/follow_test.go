package follow_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/explorer/follow"
	"github.com/votechain/votechain/explorer/index"
	"github.com/votechain/votechain/network/fabricblock/ledgertest"
)

// sliceSource streams blocks from a slice, then closes the stream.
type sliceSource []*common.Block

func (s sliceSource) Blocks(ctx context.Context, from uint64) (<-chan *common.Block, error) {
	ch := make(chan *common.Block)
	go func() {
		defer close(ch)
		for _, b := range s[from:] {
			select {
			case ch <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

// electionChain is a ledger as the system writes it: the election set up,
// a sealed roll of every voter, then blocks of txsPerBlock CommitBatch
// transactions of votesPerTx votes each, every vote on the roll and
// counted. It returns the blocks and how many of them precede the votes.
func electionChain(blocks, txsPerBlock, votesPerTx int) (chain []*common.Block, setup int) {
	states := []string{"CA", "NY", "TX", "FL"}
	now := time.Now().UTC().Truncate(time.Second)
	e := ballot.Election{ID: "e", Name: "E", States: states,
		Contests: []ballot.Contest{{ID: "president", Title: "President", Kind: ballot.ContestRace, Choices: []string{"alice", "bob", "carol"}}},
		OpensAt:  now.Add(-time.Hour), ClosesAt: now.Add(time.Hour), RollRoot: ballot.HashHex(ballot.MerkleRoot(nil)),
		Status: ballot.StatusConfigured, Batchers: []string{"User1@commission.votechain.test"}}
	var roll []ballot.RollEntry
	var commits [][]ledgertest.Tx
	seq := map[string]uint64{}
	for b := range blocks {
		var block []ledgertest.Tx
		for t := range txsPerBlock {
			// One state per transaction, as the batcher's lanes cut them.
			state := states[(b*txsPerBlock+t)%len(states)]
			batch := make([]ballot.Vote, votesPerTx)
			for i := range batch {
				voter := len(roll)
				n := ballot.HashHex(ballot.NullifierOf([32]byte{byte(voter), byte(voter >> 8), byte(voter >> 16), 'v'}, "president"))
				// Vote ids are random, as the gateway draws them.
				id := ballot.HashHex(ballot.NullifierOf([32]byte{byte(voter), byte(voter >> 8), byte(voter >> 16), 'i'}, "id"))[:32]
				batch[i] = ballot.Vote{ID: id, State: state, Contest: "president", Nullifier: n,
					Choice: e.Contests[0].Choices[voter%3], CastAt: now.Add(-time.Minute).UnixMilli()}
				roll = append(roll, ballot.RollEntry{State: state, Contest: "president", Nullifier: n})
			}
			seq[state]++
			bt, err := ballot.BuildBatch(state, seq[state], batch)
			if err != nil {
				panic(err)
			}
			block = append(block, ledgertest.CommitBatch(fmt.Sprintf("c%d.%d", b, t), bt, nil))
		}
		commits = append(commits, block)
	}
	txs := [][]ledgertest.Tx{{{ID: "genesis", Config: true}}, {ledgertest.SetupElection("setup", e)},
		{ledgertest.LoadRoll("roll", roll...)}, {ledgertest.SealRoll("seal")}}
	setup = len(txs)
	txs = append(txs, commits...)
	return ledgertest.Chain(txs...), setup
}

// follower indexes into a fresh index at dir.
func follower(tb testing.TB, dir string, chain []*common.Block) (*follow.Follower, *index.Index) {
	idx, err := index.Open(filepath.Join(dir, "index.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { idx.Close() })
	return &follow.Follower{Source: sliceSource(chain), Store: idx, Auditor: audit.Auditor{Chaincode: "ballot"},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, idx
}

// TestFollowElection: the follower indexes an election's chain to its end:
// every vote counted, nothing flagged; OnCommitted sees every block's
// report once it is committed.
func TestFollowElection(t *testing.T) {
	chain, _ := electionChain(3, 2, 50)
	f, idx := follower(t, t.TempDir(), chain)
	var reports, batches int
	f.OnCommitted = func(r audit.Report) {
		if next, _, err := idx.Checkpoint(context.Background()); err != nil || next <= r.Block.Number {
			t.Errorf("block %d reported before its commit (checkpoint %d, %v)", r.Block.Number, next, err)
		}
		reports, batches = reports+1, batches+len(r.Batches)
	}
	if err := f.Until(context.Background(), uint64(len(chain))); err != nil {
		t.Fatal(err)
	}
	if reports != len(chain) || batches != 6 {
		t.Errorf("OnCommitted saw %d blocks and %d batches; want %d and 6", reports, batches, len(chain))
	}
	tot, err := idx.Totals(context.Background())
	if err != nil || tot.Blocks != uint64(len(chain)) || tot.Votes != 300 || tot.Counted != 300 || tot.Issues != 0 {
		t.Fatalf("totals %+v, %v", tot, err)
	}
}

// readySource streams blocks that are all ready at once (buffered), then
// closes the stream.
type readySource []*common.Block

func (s readySource) Blocks(_ context.Context, from uint64) (<-chan *common.Block, error) {
	ch := make(chan *common.Block, len(s))
	for _, b := range s[from:] {
		ch <- b
	}
	close(ch)
	return ch, nil
}

// TestFollowCommitsReadyBlocksTogether: blocks that are ready at once are
// committed together, at most MaxBlocks per commit, with a progress line
// while behind, and the commits leave the index complete.
func TestFollowCommitsReadyBlocksTogether(t *testing.T) {
	chain, _ := electionChain(6, 2, 20) // 4 setup blocks + 6
	f, idx := follower(t, t.TempDir(), chain)
	f.Source, f.MaxBlocks, f.MaxDelay, f.ProgressEvery = readySource(chain), 3, time.Hour, time.Nanosecond
	var logged strings.Builder
	f.Log = slog.New(slog.NewTextHandler(&logged, nil))
	// OnSaved reports each block after its commit: the commits so far, as
	// the checkpoint shows them, at each call.
	var saved, committed []uint64
	f.OnSaved = func(n uint64) {
		next, _, err := idx.Checkpoint(context.Background())
		if err != nil {
			t.Error(err)
		}
		saved, committed = append(saved, n), append(committed, next)
	}
	if err := f.Until(context.Background(), uint64(len(chain))); err != nil {
		t.Fatal(err)
	}
	// Behind, it logs its progress (every commit here, at ProgressEvery 1 ns).
	if got := strings.Count(logged.String(), "catching up"); got != 3 || !strings.Contains(logged.String(), "indexed=9") {
		t.Errorf("%d progress lines; want 3 (commits of 3 blocks), the last at block 9:\n%s", got, logged.String())
	}
	if want := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}; !slices.Equal(saved, want) {
		t.Fatalf("OnSaved reported blocks %v; want %v", saved, want)
	}
	if want := []uint64{3, 3, 3, 6, 6, 6, 9, 9, 9, 10}; !slices.Equal(committed, want) {
		t.Fatalf("committed up to blocks %v; want %v", committed, want)
	}
	tot, err := idx.Totals(context.Background())
	if err != nil || tot.Blocks != uint64(len(chain)) || tot.Votes != 240 || tot.Counted != 240 || tot.Issues != 0 {
		t.Fatalf("totals %+v, %v", tot, err)
	}
}

// pacedSource streams blocks one at a time, each a while after the one
// before, then closes the stream.
type pacedSource struct {
	blocks []*common.Block
	gap    time.Duration
}

func (s pacedSource) Blocks(ctx context.Context, from uint64) (<-chan *common.Block, error) {
	ch := make(chan *common.Block)
	go func() {
		defer close(ch)
		for _, b := range s.blocks[from:] {
			select {
			case <-time.After(s.gap):
			case <-ctx.Done():
				return
			}
			select {
			case ch <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

// TestFollowCommitDelay: with CommitDelay, a follower that keeps up (each
// block arrives a while after the one before) still commits several blocks
// together, up to MaxBlocks.
func TestFollowCommitDelay(t *testing.T) {
	chain, _ := electionChain(5, 1, 10) // 4 setup blocks + 5
	f, idx := follower(t, t.TempDir(), chain)
	f.Source, f.MaxBlocks, f.CommitDelay = pacedSource{blocks: chain, gap: 5 * time.Millisecond}, 3, time.Hour
	var committed []uint64
	f.OnSaved = func(uint64) {
		next, _, err := idx.Checkpoint(context.Background())
		if err != nil {
			t.Error(err)
		}
		committed = append(committed, next)
	}
	if err := f.Until(context.Background(), uint64(len(chain))); err != nil {
		t.Fatal(err)
	}
	if want := []uint64{3, 3, 3, 6, 6, 6, 9, 9, 9}; !slices.Equal(committed, want) {
		t.Fatalf("committed up to blocks %v; want %v", committed, want)
	}
}

// BenchmarkFollowVotes indexes blocks of CommitBatch transactions, each
// with the reads and writes the chaincode makes per vote (decode, audit
// with the recount against the sealed roll, save): the explorer's CPU per
// vote indexed. The cases: large blocks (4 transactions of 500 votes),
// all ready at once and so committed together (a catch-up), into an index
// that holds the election and its roll (fresh) and one that also holds
// 200,000 votes already (grown: the index's b-trees outgrow its page
// cache, as they do in an election); and small blocks (2 transactions of
// 50 votes, as a steady referendum-rate load makes them) into the grown
// index, committed together (small/catch-up) and one commit per block, as
// a follower that keeps up commits them (small/live). cpu-ns/vote is the
// process's CPU time (user + system, every thread), which a loaded machine
// disturbs less than the wall-clock ns/vote; allocs/vote counts heap
// allocations.
func BenchmarkFollowVotes(b *testing.B) {
	const grownVotes = 200_000
	for _, c := range []struct {
		name                    string
		blocks, txs, votesPerTx int // per op
		grown                   bool
		maxBlocks               int // per commit; 0: the follower's default
	}{
		{name: "fresh", blocks: 10, txs: 4, votesPerTx: 500},
		{name: fmt.Sprintf("grown=%d", grownVotes), blocks: 10, txs: 4, votesPerTx: 500, grown: true},
		{name: "small/catch-up", blocks: 200, txs: 2, votesPerTx: 50, grown: true},
		{name: "small/live", blocks: 200, txs: 2, votesPerTx: 50, grown: true, maxBlocks: 1},
	} {
		b.Run(c.name, func(b *testing.B) {
			grown := 0 // blocks indexed before
			if c.grown {
				grown = grownVotes / (c.txs * c.votesPerTx)
			}
			chain, setup := electionChain(grown+b.N*c.blocks, c.txs, c.votesPerTx)
			ctx := context.Background()
			f, _ := follower(b, b.TempDir(), chain)
			if err := f.Until(ctx, uint64(setup+grown)); err != nil {
				b.Fatal(err)
			}
			f.MaxBlocks = c.maxBlocks
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			began := cpuTime(b)
			b.ResetTimer()
			if err := f.Until(ctx, uint64(len(chain))); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			votes := float64(b.N * c.blocks * c.txs * c.votesPerTx)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/votes, "ns/vote")
			b.ReportMetric(float64((cpuTime(b)-began).Nanoseconds())/votes, "cpu-ns/vote")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/votes, "allocs/vote")
		})
	}
}

// cpuTime is the CPU time the process used so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
