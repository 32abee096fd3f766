package measure

import (
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

// The excerpts in testdata are from a bench run's node logs (2026-12-03,
// an A/B probe at 5,000 votes/s), colour codes and all: the Commission
// peer's log from the commit of block 248 to its taking block 251, and the
// SmartBFT leader's (orderer0) and orderer3's logs of blocks 248 to 251.

// logAt is 2026-12-03 08:07:s UTC (s in seconds, to the millisecond).
func logAt(s float64) time.Time {
	return time.Date(2026, 12, 3, 8, 7, 0, 0, time.UTC).Add(time.Duration(math.Round(s*1000)) * time.Millisecond)
}

func readTestLog(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func testPeerLog(t *testing.T) PeerLog {
	t.Helper()
	l, err := ParsePeerLog(readTestLog(t, "fabric-peer.log"), "election")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func testPaths(t *testing.T) []BlockPath {
	t.Helper()
	var orderers [][]OrdererBlock
	for _, name := range []string{"fabric-orderer0.log", "fabric-orderer3.log"} {
		o, err := OrdererBlocks(readTestLog(t, name), "election")
		if err != nil {
			t.Fatal(err)
		}
		orderers = append(orderers, o)
	}
	return BlockPaths(testPeerLog(t).Blocks, orderers...)
}

func TestParsePeerLog(t *testing.T) {
	l := testPeerLog(t)
	ms := time.Millisecond
	want := []PeerBlock{
		{Number: 248, Txs: 1, Committed: logAt(57.942), Commit: 508 * ms, StateValidation: 24 * ms, BlockCommit: 3 * ms, StateCommit: 480 * ms},
		{Number: 249, Txs: 1, Received: logAt(57.946), Validated: logAt(58.036), Committed: logAt(58.439), Validate: 89 * ms,
			Commit: 402 * ms, StateValidation: 0, BlockCommit: 14 * ms, StateCommit: 387 * ms},
		{Number: 250, Txs: 1, Received: logAt(58.439), Validated: logAt(58.532), Committed: logAt(59.186), Validate: 92 * ms,
			Commit: 653 * ms, StateValidation: 38 * ms, BlockCommit: 57 * ms, StateCommit: 558 * ms},
		{Number: 251, Received: logAt(59.191)},
	}
	if len(l.Blocks) != len(want) {
		t.Fatalf("got %d blocks %+v, want %d", len(l.Blocks), l.Blocks, len(want))
	}
	for i, b := range l.Blocks {
		if b != want[i] {
			t.Errorf("block %d:\n got %+v\nwant %+v", i, b, want[i])
		}
	}
	// The excerpt's three commit-status calls, all the batcher's, each
	// answered just after a commit.
	wantWaits := []StatusWait{
		{Began: logAt(57.943).Add(-3487941747), Answered: logAt(57.943), Client: "127.0.0.1:51882"},
		{Began: logAt(58.441).Add(-3540577989), Answered: logAt(58.441), Client: "127.0.0.1:51882"},
		{Began: logAt(59.187).Add(-4085817427), Answered: logAt(59.187), Client: "127.0.0.1:51882"},
	}
	if len(l.Waits) != len(wantWaits) {
		t.Fatalf("got %d waits %+v, want %d", len(l.Waits), l.Waits, len(wantWaits))
	}
	for i, w := range l.Waits {
		if !w.Began.Equal(wantWaits[i].Began) || !w.Answered.Equal(wantWaits[i].Answered) || w.Client != wantWaits[i].Client {
			t.Errorf("wait %d: got %+v, want %+v", i, w, wantWaits[i])
		}
	}
}

func TestOrdererBlocks(t *testing.T) {
	o, err := OrdererBlocks(readTestLog(t, "fabric-orderer3.log"), "election")
	if err != nil {
		t.Fatal(err)
	}
	want := []OrdererBlock{
		{Number: 248, Proposed: logAt(54.671), Decided: logAt(54.727)},
		{Number: 249, Proposed: logAt(54.844), Decided: logAt(54.875)},
		{Number: 250, Proposed: logAt(55.198), Decided: logAt(55.235)},
		{Number: 251, Proposed: logAt(55.390), Decided: logAt(55.418)},
	}
	if len(o) != len(want) {
		t.Fatalf("got %+v, want %+v", o, want)
	}
	for i := range o {
		if o[i] != want[i] {
			t.Errorf("block %d: got %+v, want %+v", i, o[i], want[i])
		}
	}
}

// Lines of another channel, a failed status call and lines without a time
// stamp are skipped.
func TestPeerLogSkipsOtherLines(t *testing.T) {
	log := `2026-12-03 08:07:58.439 UTC 219c INFO [kvledger] commit -> [other] Committed block [7] with 1 transaction(s) in 4ms (state_validation=1ms block_and_pvtdata_commit=2ms state_commit=1ms) commitHash=[]
2026-12-03 08:07:58.440 UTC 219d INFO [gossip.privdata] StoreBlock -> Received block [8] from buffer channel=other
2026-12-03 08:07:58.441 UTC 219e INFO [comm.grpc.server] func1 -> unary call completed grpc.service=gateway.Gateway grpc.method=CommitStatus grpc.peer_address=127.0.0.1:1 grpc.code=DeadlineExceeded grpc.call_duration=30s
Committed block [9] with 1 transaction(s) in 4ms (state_validation=1ms block_and_pvtdata_commit=2ms state_commit=1ms)
2026-12-03 08:07:58.442 UTC 219f INFO [orderer.consensus.smartbft.consensus] decide -> Deciding on seq 10 channel=other
`
	l, err := ParsePeerLog(strings.NewReader(log), "election")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Blocks) != 0 || len(l.Waits) != 0 {
		t.Errorf("got %+v, want nothing", l)
	}
	o, err := OrdererBlocks(strings.NewReader(log), "election")
	if err != nil || len(o) != 0 {
		t.Errorf("got %+v, %v; want nothing", o, err)
	}
}

// Each block's path takes the earliest proposal and decision of the
// orderers: orderer3 decided block 249 before the leader.
func TestBlockPaths(t *testing.T) {
	paths := testPaths(t)
	if len(paths) != 3 || paths[0].Number != 248 || paths[2].Number != 250 {
		t.Fatalf("got %+v, want the paths of blocks 248-250 (251 is not committed)", paths)
	}
	ms := time.Millisecond
	p := paths[1]
	if !p.Proposed.Equal(logAt(54.833)) || !p.PrevProposed.Equal(logAt(54.606)) || !p.Decided.Equal(logAt(54.875)) || !p.PrevCommitted.Equal(logAt(57.942)) {
		t.Errorf("block 249: got %+v", p)
	}
	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{
		{"cycle", p.Cycle(), 227 * ms},
		{"consensus", p.Consensus(), 42 * ms},
		{"backlog", p.Backlog(), 3067 * ms}, // decided 54.875, block 248 committed 57.942
		{"transit", p.Transit(), 4 * ms},    // then taken at 57.946
		{"validate", p.Validate(), 90 * ms},
		{"commit", p.Commit(), 403 * ms},
		{"newest", p.Newest(), 3606 * ms},
		{"oldest", p.Oldest(), 3833 * ms},
		{"248's backlog (not taken)", paths[0].Backlog(), 0},
		{"248's cycle (247 unknown)", paths[0].Cycle(), 0},
		{"250's transit (taken as 249 committed)", paths[2].Transit(), 0},
		{"250's backlog", paths[2].Backlog(), 3244 * ms},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestSummarizeBlockPaths(t *testing.T) {
	s := SummarizeBlockPaths(testPaths(t), logAt(57.9), logAt(59.9))
	if s.Blocks != 3 || s.Txs != 3 {
		t.Errorf("blocks, txs = %d, %d; want 3, 3", s.Blocks, s.Txs)
	}
	// Taken to committed: 249 0.493 s, 250 0.747 s (248 was taken before
	// the log begins), over 2 s.
	if want := 0.62; s.PeerBusy < want-1e-9 || s.PeerBusy > want+1e-9 {
		t.Errorf("peer busy = %v, want %v", s.PeerBusy, want)
	}
	for _, c := range []struct {
		name      string
		got, want Latency
	}{
		{"cycle", s.Cycle, Latency{N: 2, P50ms: 227, P95ms: 307, P99ms: 307, MaxMs: 307}},
		{"consensus", s.Consensus, Latency{N: 3, P50ms: 55, P95ms: 115, P99ms: 115, MaxMs: 115}},
		{"backlog", s.Backlog, Latency{N: 2, P50ms: 3067, P95ms: 3244, P99ms: 3244, MaxMs: 3244}},
		{"state commit", s.StateCommit, Latency{N: 3, P50ms: 480, P95ms: 558, P99ms: 558, MaxMs: 558}},
		{"newest", s.Newest, Latency{N: 3, P50ms: 3606, P95ms: 4046, P99ms: 4046, MaxMs: 4046}},
	} {
		if c.got != c.want {
			t.Errorf("%s = %+v, want %+v", c.name, c.got, c.want)
		}
	}
	if s := SummarizeBlockPaths(testPaths(t), logAt(60), logAt(61)); s.Blocks != 0 || s.PeerBusy != 0 || s.Newest.N != 0 {
		t.Errorf("a window after the blocks: %+v", s)
	}
}

// The first wait was answered as block 248 committed, whose path the logs
// leave incomplete (taken before the excerpt begins): left out. The others
// waited for blocks 249 and 250; their parts add up to the wait.
func TestTxWaits(t *testing.T) {
	waits := TxWaits(testPeerLog(t).Waits, testPaths(t))
	if len(waits) != 2 || waits[0].Block.Number != 249 || waits[1].Block.Number != 250 {
		t.Fatalf("got %+v, want the waits for blocks 249 and 250", waits)
	}
	ms := time.Millisecond
	w := waits[0] // began 58.441 − 3.540577989 s = 54.900422011
	for _, c := range []struct {
		name      string
		got, want time.Duration
	}{
		{"wait", w.Wait(), 3540577989},
		{"pool", w.Pool(), -67422011}, // the leader had proposed 249 before the call
		{"notify", w.Notify(), 2 * ms},
		{"second's pool", waits[1].Pool(), 38817427}, // began 55.101182573, proposed 55.140
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	for _, w := range waits {
		var sum time.Duration
		parts := w.parts()
		for _, d := range parts[1:] {
			sum += d
		}
		if sum != w.Wait() {
			t.Errorf("block %d: parts add up to %v, the wait is %v", w.Block.Number, sum, w.Wait())
		}
	}
}

func TestSummarizeTxWaits(t *testing.T) {
	waits := TxWaits(testPeerLog(t).Waits, testPaths(t))
	s := SummarizeTxWaits(waits, "127.0.0.1:51882", logAt(57), logAt(60))
	if s.Waits != 2 {
		t.Fatalf("waits = %d, want 2", s.Waits)
	}
	near := func(a, b float64) bool { return a-b < 1e-6 && b-a < 1e-6 }
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"p50 wait", s.P50.Wait, 3540.577989},
		{"p95 wait", s.P95.Wait, 4085.817427},
		{"p50 pool", s.P50.Pool, -67.422011},
		{"p95 backlog", s.P95.Backlog, 3244},
		{"mean wait", s.Mean.Wait, (3540.577989 + 4085.817427) / 2},
		{"mean backlog", s.Mean.Backlog, (3067 + 3244) / 2.0},
		// The slowest tenth of two waits is the slower one, block 250's.
		{"slowest wait", s.Slowest.Wait, 4085.817427},
		{"slowest commit", s.Slowest.Commit, 654},
		{"slowest validate", s.Slowest.Validate, 93},
		{"slowest notify", s.Slowest.Notify, 1},
	} {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if s := SummarizeTxWaits(waits, "127.0.0.1:1", logAt(57), logAt(60)); s.Waits != 0 || s.Mean.Wait != 0 {
		t.Errorf("another client's: %+v", s)
	}
	if s := SummarizeTxWaits(waits, "", logAt(58.5), logAt(60)); s.Waits != 1 || !near(s.P50.Wait, 4085.817427) {
		t.Errorf("a window holding the second: %+v", s)
	}
}
