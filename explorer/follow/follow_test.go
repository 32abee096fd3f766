package follow_test

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
	"github.com/votechain/votechain/explorer/follow"
	"github.com/votechain/votechain/explorer/index"
	"github.com/votechain/votechain/internal/benchenv"
	"github.com/votechain/votechain/network/fabricblock"
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
	var g chainGen
	for i := range blocks * txsPerBlock { // the roll: the voters of each state's transactions
		g.Roll[i%len(chainStates)] += votesPerTx
	}
	for b := range g.setup() {
		chain = append(chain, b)
	}
	setup = len(chain)
	for range blocks {
		chain = append(chain, g.votes(txsPerBlock, votesPerTx))
	}
	return chain, setup
}

// chainStates are the states of the chains chainGen writes.
// Ten, as config/election.json has: a CommitBatches transaction of the
// batcher carries a batch of each.
var chainStates = [...]string{"CA", "NY", "TX", "FL", "PA", "IL", "OH", "GA", "NC", "MI"}

// chainGen writes an election's ledger block by block, as the system
// writes it: the election set up, its roll loaded in chunks and sealed,
// then blocks of CommitBatch transactions, each of one state (as the
// batcher's lanes cut them) in turn, each vote by the next voter of its
// state who has not voted. Voter i of state s (voterNumber) has a
// nullifier and a vote id of its own. Its fields are where the ledger
// stands, so a chain can be continued from them (JSON).
type chainGen struct {
	Number uint64                   // the next block's number
	Prev   []byte                   // the header hash of the block before
	Txs    int                      // CommitBatch transactions written
	Seq    [len(chainStates)]uint64 // batches written per state
	Voted  [len(chainStates)]int    // voters who voted, per state
	Roll   [len(chainStates)]int    // voters on the roll, per state (set before setup)
}

// chainWindow is the elections' voting window: wide, so that an index
// cached by the benchmark stays open for votes cast now.
var chainWindow = [2]time.Time{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC)}

// rollChunksPerBlock is how many LoadRoll transactions of
// ballot.RollChunkEntries entries a setup block holds.
const rollChunksPerBlock = 8

// block appends the block of txs to the chain.
func (g *chainGen) block(txs ...ledgertest.Tx) *common.Block {
	b := ledgertest.Block(g.Number, g.Prev, txs...)
	g.Number, g.Prev = g.Number+1, fabricblock.HeaderHash(b.Header)
	return b
}

// setup yields the blocks that precede the votes: genesis, the election,
// the roll of g.Roll voters per state in chunks, the roll's seal.
func (g *chainGen) setup() iter.Seq[*common.Block] {
	return func(yield func(*common.Block) bool) {
		var entries []ballot.RollEntry
		for i := range slices.Max(g.Roll[:]) {
			for s, n := range g.Roll {
				if i < n {
					entries = append(entries, ballot.RollEntry{State: chainStates[s], Contest: "president", Nullifier: voterNullifier(voterNumber(s, i))})
				}
			}
		}
		e := ballot.Election{ID: "e", Name: "E", States: chainStates[:],
			Contests: []ballot.Contest{{ID: "president", Title: "President", Kind: ballot.ContestRace, Choices: []string{"alice", "bob", "carol"}}},
			OpensAt:  chainWindow[0], ClosesAt: chainWindow[1],
			Status: ballot.StatusConfigured, Batchers: []string{"User1@commission.votechain.test"}}
		e.SetRoll(entries) // sorts them
		root := e.RollRoot
		if !yield(g.block(ledgertest.Tx{ID: "genesis", Config: true})) || !yield(g.block(ledgertest.SetupElection("setup", e))) {
			return
		}
		var txs []ledgertest.Tx
		var records []ballot.RollChunkRecord
		chunks := ballot.ChunkRoll(entries)
		for _, c := range chunks {
			load := ledgertest.LoadRoll(fmt.Sprintf("roll%d.%d", g.Number, len(txs)), c.Index, c.Entries...)
			txs, records = append(txs, load), append(records, ledgertest.ChunkRecord(load))
			if len(txs) == rollChunksPerBlock || c.Index == len(chunks)-1 {
				if !yield(g.block(txs...)) {
					return
				}
				txs = nil
			}
		}
		yield(g.block(ledgertest.SealRoll("seal", root, records...)))
	}
}

// setupBlocks is how many blocks setup yields.
func (g *chainGen) setupBlocks() uint64 {
	entries := 0
	for _, n := range g.Roll {
		entries += n
	}
	chunks := (entries + ballot.RollChunkEntries - 1) / ballot.RollChunkEntries
	return uint64(3 + (chunks+rollChunksPerBlock-1)/rollChunksPerBlock)
}

// votes returns the next block: txs CommitBatch transactions of
// votesPerTx votes each, cast a minute ago.
func (g *chainGen) votes(txs, votesPerTx int) *common.Block {
	castAt := time.Now().Add(-time.Minute).UnixMilli()
	block := make([]ledgertest.Tx, txs)
	for t := range block {
		block[t] = ledgertest.CommitBatch(fmt.Sprintf("c%d.%d", g.Number, t), g.batch(votesPerTx, castAt), nil)
	}
	return g.block(block...)
}

// votesBatches returns the next block: one CommitBatches transaction of
// batches batches (of as many states in turn, at most len(chainStates)) of
// votesPerBatch votes each, cast a minute ago: the shape of the batcher's
// shared transactions, a batch per state that had votes in a tick.
func (g *chainGen) votesBatches(batches, votesPerBatch int) *common.Block {
	castAt := time.Now().Add(-time.Minute).UnixMilli()
	bs := make([]ballot.Batch, batches)
	for i := range bs {
		bs[i] = g.batch(votesPerBatch, castAt)
	}
	return g.block(ledgertest.CommitBatches(fmt.Sprintf("c%d", g.Number), bs, nil))
}

// batch returns the next transaction's batch: votesPerTx votes of the next
// state in turn, cast at castAt (Unix ms).
func (g *chainGen) batch(votesPerTx int, castAt int64) ballot.Batch {
	choices := []string{"alice", "bob", "carol"}
	s := g.Txs % len(chainStates)
	votes := make([]ballot.Vote, votesPerTx)
	for i := range votes {
		v := voterNumber(s, g.Voted[s])
		g.Voted[s]++
		// Vote ids are random, as the gateway draws them.
		id := ballot.HashHex(ballot.NullifierOf(voterKey(v, 'i'), "id"))[:32]
		votes[i] = ballot.Vote{ID: id, State: chainStates[s], Contest: "president", Nullifier: voterNullifier(v),
			Choice: choices[v%len(choices)], CastAt: castAt}
	}
	g.Seq[s]++
	g.Txs++
	bt, err := ballot.BuildBatch(chainStates[s], g.Seq[s], votes)
	if err != nil {
		panic(err)
	}
	return bt
}

// onRoll reports whether every voter who voted is on the roll.
func (g *chainGen) onRoll() bool {
	for s := range g.Voted {
		if g.Voted[s] > g.Roll[s] {
			return false
		}
	}
	return true
}

// voterNumber numbers voter i of state s.
func voterNumber(s, i int) int { return i*len(chainStates) + s }

// voterKey is a key of voter v's own (up to 2^24 voters).
func voterKey(v int, kind byte) [32]byte {
	return [32]byte{byte(v), byte(v >> 8), byte(v >> 16), kind}
}

// voterNullifier is voter v's nullifier in the contest.
func voterNullifier(v int) string {
	return ballot.HashHex(ballot.NullifierOf(voterKey(v, 'v'), "president"))
}

// offsetSource streams blocks from a slice whose first block is number
// first, then closes the stream.
type offsetSource struct {
	first  uint64
	blocks []*common.Block
}

func (s offsetSource) Blocks(ctx context.Context, from uint64) (<-chan *common.Block, error) {
	if from < s.first {
		return nil, fmt.Errorf("blocks from %d, before the source's first %d", from, s.first)
	}
	return sliceSource(s.blocks[from-s.first:]).Blocks(ctx, 0)
}

// genSource streams the blocks of seq, which starts at block first, as
// they are made: a chain too large to hold.
type genSource struct {
	first uint64
	seq   iter.Seq[*common.Block]
}

func (s genSource) Blocks(ctx context.Context, from uint64) (<-chan *common.Block, error) {
	if from != s.first {
		return nil, fmt.Errorf("blocks from %d; the generated chain starts at %d", from, s.first)
	}
	ch := make(chan *common.Block, 16)
	go func() {
		defer close(ch)
		for b := range s.seq {
			select {
			case ch <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}

// follower indexes into a fresh index at dir.
func follower(tb testing.TB, dir string, chain []*common.Block) (*follow.Follower, *index.Index) {
	idx, err := index.Open(context.Background(), filepath.Join(dir, "index.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { idx.Close() })
	return &follow.Follower{Source: sliceSource(chain), Store: idx, Auditor: audit.Auditor{Chaincode: "ballot", SkipSignatures: true},
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
// a follower that keeps up commits them (small/live); and blocks as the
// batcher's sustained load makes them (one CommitBatches transaction a
// block carrying a batch of 100 votes for each of 10 states, the batches
// of one tick) into the grown index, one commit per block (sustained/live)
// and together (sustained/catch-up, as a follower that drains); and blocks
// as the ledger's ceiling makes them (one CommitBatch transaction of 2,000
// votes a block, 20 blocks an op) into the grown index, four blocks a commit
// (ceiling/live: 8,000 votes, what a follower that keeps up with 16,000
// votes/s commits every 500 ms --commit-delay). The grown
// index is built of large blocks in every case. cpu-ns/vote is the
// process's CPU time (user + system, every thread), which a loaded machine
// disturbs less than the wall-clock ns/vote; allocs/vote counts heap
// allocations. The vote keys the index keeps in memory are written
// (index.Flush) before the timer starts and again before it stops, so
// every measured vote pays for writing its keys.
//
// The grown index of 200,000 votes is smaller than an election's: `make
// bench` indexes a roll of 3,000,000 voters and about as many votes, and
// its index (over a gigabyte) outgrows the writer's page cache many times
// over. With VOTECHAIN_FOLLOW_BENCH_CACHE set to a folder, the cases
// big/catch-up, big/small-catch-up and big/small-live run the catch-up and
// the small blocks on an index of that scale (and big/ceiling-live the
// ceiling's blocks): a roll of 3,000,000 voters
// and 2,000,000 votes before the measured blocks (bigRoll, bigVotes),
// opened afresh and warmed by one op's blocks before the timer starts.
// That index is built once, by the follower (5 minutes on a loaded
// 2-core machine), and kept in the folder under a name of the parameters
// and the test binary's hash (so a change of the code builds it anew; about
// 650 MB each: delete the folder when done); each run copies it. Each big
// op takes 20,000 of the roll's 1,000,000 remaining voters (big/ceiling-live
// 40,000), so run them with -benchtime of at most 45x (20x), e.g.
//
//	VOTECHAIN_FOLLOW_BENCH_CACHE=$PWD/.run/followbench go test -run '^$' -bench 'FollowVotes/big' -benchtime 5x ./explorer/follow
func BenchmarkFollowVotes(b *testing.B) {
	const grownVotes = 200_000
	cache := os.Getenv("VOTECHAIN_FOLLOW_BENCH_CACHE")
	for _, c := range []struct {
		name                    string
		blocks, txs, votesPerTx int // per op
		grown                   bool
		big                     bool
		maxBlocks               int // per commit; 0: the follower's default
		// batchesPerTx, if set, makes each block one CommitBatches
		// transaction of that many batches of votesPerTx votes (txs 1).
		batchesPerTx int
	}{
		{name: "fresh", blocks: 10, txs: 4, votesPerTx: 500},
		{name: fmt.Sprintf("grown=%d", grownVotes), blocks: 10, txs: 4, votesPerTx: 500, grown: true},
		{name: "small/catch-up", blocks: 200, txs: 2, votesPerTx: 50, grown: true},
		{name: "small/live", blocks: 200, txs: 2, votesPerTx: 50, grown: true, maxBlocks: 1},
		{name: "sustained/live", blocks: 20, txs: 1, batchesPerTx: 10, votesPerTx: 100, grown: true, maxBlocks: 1},
		{name: "sustained/catch-up", blocks: 20, txs: 1, batchesPerTx: 10, votesPerTx: 100, grown: true},
		{name: "ceiling/live", blocks: 20, txs: 1, votesPerTx: 2000, grown: true, maxBlocks: 4},
		{name: "big/catch-up", blocks: 10, txs: 4, votesPerTx: 500, big: true},
		{name: "big/small-catch-up", blocks: 200, txs: 2, votesPerTx: 50, big: true},
		{name: "big/small-live", blocks: 200, txs: 2, votesPerTx: 50, big: true, maxBlocks: 1},
		{name: "big/ceiling-live", blocks: 20, txs: 1, votesPerTx: 2000, big: true, maxBlocks: 4},
	} {
		if c.big && cache == "" {
			continue
		}
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			var f *follow.Follower
			var g chainGen
			votesPerBlock := c.txs * c.votesPerTx
			block := func() *common.Block { return g.votes(c.txs, c.votesPerTx) }
			if c.batchesPerTx > 0 {
				votesPerBlock = c.batchesPerTx * c.votesPerTx
				block = func() *common.Block { return g.votesBatches(c.batchesPerTx, c.votesPerTx) }
			}
			if c.big {
				f, g = bigIndex(b, cache)
				// Warm the freshly opened index (its caches and the
				// writer's pages) with one op's blocks.
				followGen(b, f, &g, c.blocks, c.txs, c.votesPerTx)
			} else {
				grown := 0 // blocks of 4 transactions of 500 votes indexed before
				if c.grown {
					grown = grownVotes / 2000
				}
				g.rollEvenly(grown*2000 + b.N*c.blocks*votesPerBlock)
				f, _ = follower(b, b.TempDir(), nil)
				followGen(b, f, &g, grown, 4, 500)
			}
			measured := make([]*common.Block, b.N*c.blocks)
			for i := range measured {
				measured[i] = block()
			}
			if !g.onRoll() {
				b.Fatalf("the measured votes need more voters than the roll's %v (voted %v): a lower -benchtime", g.Roll, g.Voted)
			}
			f.Source, f.MaxBlocks = offsetSource{first: measured[0].Header.Number, blocks: measured}, c.maxBlocks
			// The vote keys still kept in memory are written now, and the
			// measured blocks' before the timer stops: every measured vote
			// pays for its keys' writes.
			idx := f.Store.(*index.Index)
			if err := idx.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			began := benchenv.CPUTime(b)
			b.ResetTimer()
			// The label sets the measured blocks apart in a CPU profile
			// (go tool pprof -tagfocus phase=measured).
			pprof.Do(ctx, pprof.Labels("phase", "measured"), func(ctx context.Context) {
				if err := f.Until(ctx, g.Number); err != nil {
					b.Fatal(err)
				}
				if err := idx.Flush(ctx); err != nil {
					b.Fatal(err)
				}
			})
			b.StopTimer()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			votes := float64(b.N * c.blocks * votesPerBlock)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/votes, "ns/vote")
			b.ReportMetric(float64((benchenv.CPUTime(b)-began).Nanoseconds())/votes, "cpu-ns/vote")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/votes, "allocs/vote")
			// Every vote counted: the chain is what the case says.
			if tot, err := idx.Totals(ctx); err != nil || tot.Counted != tot.Votes || tot.Issues != 0 {
				b.Fatalf("totals %+v, %v: want every vote counted, no issue", tot, err)
			}
		})
	}
}

// rollEvenly puts voters voters on the roll, as many of each state.
func (g *chainGen) rollEvenly(voters int) {
	for s := range g.Roll {
		g.Roll[s] = voters / len(g.Roll)
	}
}

// followGen has f index g's chain as g makes it: the setup blocks if g is
// at its start, then blocks vote blocks of txs transactions of votesPerTx
// votes.
func followGen(tb testing.TB, f *follow.Follower, g *chainGen, blocks, txs, votesPerTx int) {
	height := g.Number + uint64(blocks)
	if g.Number == 0 {
		height += g.setupBlocks()
	}
	done := make(chan struct{})
	f.Source = genSource{first: g.Number, seq: func(yield func(*common.Block) bool) {
		defer close(done)
		if g.Number == 0 {
			for blk := range g.setup() {
				if !yield(blk) {
					return
				}
			}
		}
		for range blocks {
			if !yield(g.votes(txs, votesPerTx)) {
				return
			}
		}
	}}
	if err := f.Until(context.Background(), height); err != nil {
		tb.Fatal(err)
	}
	<-done
	if g.Number != height {
		tb.Fatalf("the chain reached block %d; want %d", g.Number, height)
	}
}

// The big cases' index: a roll of bigRoll voters, bigVotes of whom voted.
const (
	bigRoll  = 3_000_000
	bigVotes = 2_000_000
)

// bigIndex returns a follower on a copy of the big cases' index, built
// once into the folder cache, and the chain after its blocks.
func bigIndex(b *testing.B, cache string) (*follow.Follower, chainGen) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	bin, err := os.ReadFile(exe)
	if err != nil {
		b.Fatal(err)
	}
	sum := sha256.Sum256(bin)
	name := filepath.Join(cache, fmt.Sprintf("follow-roll%d-votes%d-%x", bigRoll, bigVotes, sum[:6]))
	var g chainGen
	meta, err := os.ReadFile(name + ".json")
	if errors.Is(err, fs.ErrNotExist) {
		g, err = buildBigIndex(b, name)
	}
	if err == nil && meta != nil {
		err = json.Unmarshal(meta, &g)
	}
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	if err := benchenv.CopyFile(filepath.Join(dir, "index.db"), name+".db"); err != nil {
		b.Fatal(err)
	}
	f, _ := follower(b, dir, nil)
	return f, g
}

// buildBigIndex indexes the big cases' chain into name.db and writes the
// chain's state after it to name.json.
func buildBigIndex(b *testing.B, name string) (chainGen, error) {
	began := time.Now()
	var g chainGen
	g.rollEvenly(bigRoll)
	tmp := name + ".building"
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return g, err
	}
	defer os.RemoveAll(tmp)
	idx, err := index.Open(context.Background(), filepath.Join(tmp, "index.db"))
	if err != nil {
		return g, err
	}
	f := &follow.Follower{Store: idx, Auditor: audit.Auditor{Chaincode: "ballot", SkipSignatures: true}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	const txs, votesPerTx = 4, 500
	followGen(b, f, &g, bigVotes/(txs*votesPerTx), txs, votesPerTx)
	if err := idx.Close(); err != nil {
		return g, err
	}
	meta, err := json.Marshal(g)
	if err == nil {
		err = os.Rename(filepath.Join(tmp, "index.db"), name+".db")
	}
	if err == nil {
		err = os.WriteFile(name+".json", meta, 0o644)
	}
	b.Logf("built the big index %s.db in %v", name, time.Since(began).Round(time.Second))
	return g, err
}

// TestFollowRecordWrittenAgain: a VALID transaction that writes again the
// record of a committed batch (the honest chaincode never does) is flagged,
// and the follower goes on: the index keeps the first batch and counts its
// votes once.
func TestFollowRecordWrittenAgain(t *testing.T) {
	var g chainGen
	g.Roll[0] = 10
	var chain []*common.Block
	for b := range g.setup() {
		chain = append(chain, b)
	}
	bt := g.batch(10, time.Now().Add(-time.Minute).UnixMilli())
	chain = append(chain, g.block(ledgertest.CommitBatch("first", bt, nil)), g.block(ledgertest.CommitBatch("again", bt, nil)))
	f, idx := follower(t, t.TempDir(), chain)
	if err := f.Until(context.Background(), uint64(len(chain))); err != nil {
		t.Fatalf("the follower stopped at the rewritten record: %v", err)
	}
	ctx := context.Background()
	tot, err := idx.Totals(ctx)
	if err != nil || tot.Blocks != uint64(len(chain)) || tot.Batches != 1 || tot.Votes != 10 || tot.Counted != 10 || tot.Issues == 0 {
		t.Fatalf("totals %+v, %v; want every block, 1 batch of 10 votes counted once, issues", tot, err)
	}
	issues, err := idx.BlockIssues(ctx, chain[len(chain)-1].Header.Number)
	if err != nil || !slices.ContainsFunc(issues, func(is index.Issue) bool { return is.Kind == audit.KindBatchRecord && is.TxID == "again" }) {
		t.Fatalf("issues of the last block %+v, %v; want the record written again", issues, err)
	}
}

// stoppingSource streams the blocks from the one asked for, one at a time,
// and ends the follower's ctx (cancel) before the last: the others wait in
// the follower's open write transaction (given a long CommitDelay), and
// the last is audited under a ctx that has ended. It ends the ctx once the
// follower has indexed the others: after it took a repeat of the block
// before the last (which it skips), asking for the next.
type stoppingSource struct {
	blocks []*common.Block
	cancel context.CancelFunc
}

func (s stoppingSource) Blocks(_ context.Context, from uint64) (<-chan *common.Block, error) {
	ch := make(chan *common.Block)
	go func() {
		defer close(ch)
		for _, b := range s.blocks[from : len(s.blocks)-1] {
			ch <- b
		}
		ch <- s.blocks[len(s.blocks)-2]
		s.cancel()
		ch <- s.blocks[len(s.blocks)-1]
	}()
	return ch, nil
}

// failingCheckpoint is a Store whose checkpoint read ends the run's
// context (stop), if set, then fails: with failure, or, if that is nil,
// with the context's error (a read the stop cut short).
type failingCheckpoint struct {
	follow.Store
	stop    context.CancelFunc
	failure error
}

func (s failingCheckpoint) Checkpoint(ctx context.Context) (uint64, []byte, error) {
	if s.stop != nil {
		s.stop()
	}
	return 0, nil, fmt.Errorf("read the checkpoint: %w", cmp.Or(s.failure, ctx.Err()))
}

// TestFollowStopsAtTheCheckpoint: a stop that cuts the checkpoint's read
// short ends Run with no error (it was a store failure, which exits the
// explorer non-zero) and Until, at its first read, with ctx's error itself
// (it was the store's read error wrapping it); a checkpoint read failing
// on its own ends Run and Until with its error, also when it fails as the
// stop comes (the failure is not the stop's), and so does the index's own
// read once the index is closed, saying what the follower read, in Run and
// in Until's first read alike.
func TestFollowStopsAtTheCheckpoint(t *testing.T) {
	chain, _ := electionChain(3, 1, 5)
	f, idx := follower(t, t.TempDir(), chain)
	diskFailure := errors.New("disk I/O error")
	for _, c := range []struct {
		name    string
		stop    bool
		failure error // nil: the stop's error
	}{
		{"cut short by the stop", true, nil},
		{"failing as the stop comes", true, diskFailure},
		{"failing on its own", false, diskFailure},
	} {
		for _, run := range []string{"Run", "Until"} {
			ctx, cancel := context.WithCancel(t.Context())
			store := failingCheckpoint{Store: idx, failure: c.failure}
			if c.stop {
				store.stop = cancel
			}
			f.Store = store
			var err error
			want := c.failure
			if run == "Run" {
				err = f.Run(ctx)
			} else {
				err = f.Until(ctx, uint64(len(chain)))
				if want == nil { // a stop ends Until with ctx's error itself, not a failed read
					want = context.Canceled
					if err != ctx.Err() {
						t.Errorf("checkpoint read %s: Until returned %v; want ctx's error itself", c.name, err)
					}
				}
			}
			cancel()
			if !errors.Is(err, want) { // for a nil want, unless err is nil
				t.Errorf("checkpoint read %s: %s returned %v; want %v", c.name, run, err, want)
			}
		}
	}
	idx.Close() // a closed index fails the read on its own
	f.Store = idx
	const want = "find where to resume indexing: read checkpoint: "
	if err := f.Run(t.Context()); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("the closed index's checkpoint read: Run returned %v; want that read's error, prefixed %q", err, want)
	}
	if err := f.Until(t.Context(), uint64(len(chain))); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("the closed index's checkpoint read: Until returned %v; want that read's error, prefixed %q", err, want)
	}
}

// TestFollowStopsMidAudit: a follower whose ctx ends while it audits a
// block (the audit's index lookups then fail with context.Canceled) stops
// as at any other moment of its ctx's end: Run returns nil, not a store
// failure, and the blocks saved before in the open write transaction,
// audited already, are committed (and reported), not discarded. Nothing of
// the block whose audit was cut short is written: the next run indexes it
// from the checkpoint, after them, the index then complete. The stop lands
// before the block's audit makes its first lookup (stoppingSource ends ctx
// before sending it), so its first lookup fails; a query already
// running when the stop comes is not exercised.
func TestFollowStopsMidAudit(t *testing.T) {
	chain, setup := electionChain(3, 1, 5)
	for _, before := range []int{0, 2} { // the blocks saved in the transaction before the one stopped
		f, idx := follower(t, t.TempDir(), chain)
		if err := f.Until(t.Context(), uint64(setup)); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		f.Source, f.CommitDelay, f.MaxDelay = stoppingSource{blocks: chain[:setup+before+1], cancel: cancel}, time.Hour, time.Hour
		var committed int
		f.OnCommitted = func(audit.Report) { committed++ }
		err := f.Run(ctx)
		cancel()
		if err != nil {
			t.Fatalf("%d blocks before: Run ended mid-audit by its ctx: %v; want nil", before, err)
		}
		want := uint64(setup + before)
		next, _, err := idx.Checkpoint(t.Context())
		if err != nil || next != want || committed != before {
			t.Fatalf("%d blocks before: checkpoint %d, %v, %d blocks reported committed; want %d and %d", before, next, err, committed, want, before)
		}
		if tot, err := idx.Totals(t.Context()); err != nil || tot.Blocks != want || tot.Votes != int64(5*before) {
			t.Fatalf("%d blocks before: totals %+v, %v; want the %d setup blocks and the %d before the stop, %d votes", before, tot, err, setup, before, 5*before)
		}
		f.Source, f.OnCommitted = sliceSource(chain), nil
		if err := f.Until(t.Context(), uint64(len(chain))); err != nil {
			t.Fatal(err)
		}
		if tot, err := idx.Totals(t.Context()); err != nil || tot.Blocks != uint64(len(chain)) || tot.Votes != 15 || tot.Counted != 15 || tot.Issues != 0 {
			t.Fatalf("%d blocks before: after the next run, totals %+v, %v; want %d blocks, 15 votes counted, no issue", before, tot, err, len(chain))
		}
	}
}
