package suite

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/network"
)

// The window of measure's tests on its captured logs: 08:07:57.9 to
// 08:07:59.9 UTC on 2026-12-03.
var (
	windowFrom = time.Date(2026, 12, 3, 8, 7, 57, 900_000_000, time.UTC)
	windowTo   = windowFrom.Add(2 * time.Second)
)

// logsFolder lays out a network's logs folder from measure's captured
// logs: the Commission's peer and two SmartBFT orderers as captured, the
// Observers' peer's log empty.
func logsFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	copyLog := func(from, to string) {
		b, err := os.ReadFile(filepath.Join("..", "measure", "testdata", from))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, to+".log"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyLog("fabric-peer.log", network.PeerProcess(network.PeerOrgs()[0]))
	copyLog("fabric-orderer0.log", network.OrdererProcess(0))
	copyLog("fabric-orderer3.log", network.OrdererProcess(3))
	if err := os.WriteFile(filepath.Join(dir, network.PeerProcess(network.PeerOrgs()[1])+".log"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The captured window gives the figures measure's own tests expect of it
// (TestSummarizeBlockPaths, TestSummarizeTxWaits): three blocks, the
// committer busy 62% of the window, state_commit p50 480 ms, two
// commit-status waits with a p95 of 4,086 ms; the orderers' logs joined in
// (consensus known).
func TestCommitPathsFromTheNodesLogs(t *testing.T) {
	paths, err := commitPaths(logsFolder(t), windowFrom, windowTo)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != len(network.PeerOrgs()) {
		t.Fatalf("%d commit paths, want one a peer (%d)", len(paths), len(network.PeerOrgs()))
	}
	c := paths[0]
	if want := network.PeerProcess(network.PeerOrgs()[0]); c.Peer != want {
		t.Errorf("peer %q, want %q", c.Peer, want)
	}
	if c.Blocks.Blocks != 3 || c.Blocks.Txs != 3 {
		t.Errorf("blocks, txs = %d, %d; want 3, 3", c.Blocks.Blocks, c.Blocks.Txs)
	}
	if math.Abs(c.Blocks.PeerBusy-0.62) > 1e-9 {
		t.Errorf("peer busy = %v, want 0.62", c.Blocks.PeerBusy)
	}
	if want := (measure.Latency{N: 3, P50ms: 480, P95ms: 558, P99ms: 558, MaxMs: 558}); c.Blocks.StateCommit != want {
		t.Errorf("state_commit = %+v, want %+v", c.Blocks.StateCommit, want)
	}
	if c.Blocks.Consensus.N != 3 {
		t.Errorf("consensus known for %d blocks, want 3: the orderers' logs were not joined", c.Blocks.Consensus.N)
	}
	// The first of the three calls waited for a block whose path the
	// excerpt leaves incomplete: left out.
	if c.Waits.Waits != 2 || math.Abs(c.Waits.P95.Wait-4085.817427) > 1e-6 {
		t.Errorf("waits %d, p95 %v ms; want 2, 4085.817427", c.Waits.Waits, c.Waits.P95.Wait)
	}
	if o := paths[1]; o.Blocks.Blocks != 0 || o.Waits.Waits != 0 {
		t.Errorf("the Observers' empty log gave %+v", o)
	}
}

func TestCommitPathsWithoutAPeersLog(t *testing.T) {
	dir := logsFolder(t)
	missing := network.PeerProcess(network.PeerOrgs()[1]) + ".log"
	if err := os.Remove(filepath.Join(dir, missing)); err != nil {
		t.Fatal(err)
	}
	if _, err := commitPaths(dir, windowFrom, windowTo); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("err = %v, want one naming %s", err, missing)
	}
}
