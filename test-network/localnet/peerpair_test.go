package localnet_test

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/votechain/votechain/bench/ledgerload"
	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/internal/benchenv"
	"github.com/votechain/votechain/network"
)

// BenchmarkPeerSettingPairs measures a peer setting given by an environment
// variable of the peers (docs/ledger.md): on one network, one peer runs with
// the setting's value A and the other with B, and the roles swap every drive,
// so that what the Commission's peer does beyond the Observers' (it is the
// client's gateway) cancels out over the pairs. Before each drive both peers
// are killed and started again with their values, then a warm-up drive fills
// their caches; the measured drive (CommitBatch, 2,000 votes a transaction,
// 16 in flight) logs each peer's core-seconds per 1,000 committed votes (from
// /proc), its resident memory, and the compactions its state database logged.
// Network and roll as BenchmarkLedgerGrowthCPU (GROWTH_FABRIC_BIN,
// GROWTH_CONSENSUS, GROWTH_ROLL, GROWTH_ROLL_ORDER). One run whatever b.N:
// -benchtime 1x.
//
//	PAIR_ENV=NAME=A,B   the variable and its two values (required), e.g.
//	                    VOTECHAIN_LEVELDB_BLOCK_CACHE_MB=64,512
//	PAIR_DRIVES=n       measured drives (default 6)
//	PAIR_DRIVE=40s      each measured drive (default 40s)
//	PAIR_WARMUP=15s     the warm-up drive after each restart (default 15s)
//	PAIR_PPROF_DIR=dir  with VOTECHAIN_NODE_PPROF=1: a 20 s CPU profile of each
//	                    peer per measured drive, once it flows steadily (cpuProfile), into dir
func BenchmarkPeerSettingPairs(b *testing.B) {
	name, values, _ := strings.Cut(os.Getenv("PAIR_ENV"), "=")
	a, bv, ok := strings.Cut(values, ",")
	if name == "" || !ok {
		b.Fatalf("PAIR_ENV=%q: want NAME=A,B (e.g. VOTECHAIN_LEVELDB_BLOCK_CACHE_MB=64,512)", os.Getenv("PAIR_ENV"))
	}
	drives, err := strconv.Atoi(cmp.Or(os.Getenv("PAIR_DRIVES"), "6"))
	if err != nil || drives <= 0 {
		b.Fatalf("PAIR_DRIVES=%q: want a number of drives", os.Getenv("PAIR_DRIVES"))
	}
	driveFor := benchenv.Duration(b, "PAIR_DRIVE", 40*time.Second)
	warmFor := benchenv.Duration(b, "PAIR_WARMUP", 15*time.Second)

	n, cfg, roll, ledger, got := growthNetwork(b, 0)
	ctx := context.Background()
	probe := probeContract(b, n)
	b.Logf("fabric %s, consensus %s, roll %d voters; %s: A=%s B=%s", cfg.FabricBin, n.Consensus(), len(roll), name, a, bv)
	seq := ledgerload.SeqBaseFor(time.Now())
	drive := func(d time.Duration) ledgerload.DriveResult {
		res, err := ledgerload.Run(ctx, ledger, got, ledgerload.Drive{VotesPerTx: 2000, InFlight: 16, Duration: d, SeqBase: seq, Roll: roll})
		if err != nil {
			b.Fatal(err)
		}
		seq += uint64(res.Txs) + 1000
		if roll != nil {
			roll = res.Unused(roll)
		}
		return res
	}
	var sumA, sumB, votesA, votesB float64
	for i := range drives {
		// Drive 0: the Commission's peer has A; drive 1: B; and so on.
		setting := map[network.Org]string{}
		for j, o := range network.PeerOrgs() {
			if (i+j)%2 == 0 {
				setting[o] = a
			} else {
				setting[o] = bv
			}
			b.Setenv(name, setting[o]) // the restarted peer inherits it
			restartPeers(b, n, probe, o)
		}
		drive(warmFor)
		pids := map[string]int{}
		for _, p := range n.Status(ctx).Processes {
			pids[p.Name] = p.PID
		}
		book := measure.NewCPUBook(pids)
		phase := fmt.Sprintf("drive %d", i+1)
		from := time.Now()
		book.Begin(phase)
		var profiled sync.WaitGroup
		driven := make(chan struct{})
		if dir := os.Getenv("PAIR_PPROF_DIR"); dir != "" {
			flowing := topHeight(n) + flowingBlocks
			for j, o := range network.PeerOrgs() {
				addr := n.Hosts().Peer(j).Join(n.Ports().PeerPprof(j))
				file := filepath.Join(dir, fmt.Sprintf("drive-%d-%s-%s.pprof", i+1, o.Name, setting[o]))
				profiled.Go(func() { cpuProfile(b, n, flowing, from, driven, addr, file) })
			}
		}
		res := drive(driveFor)
		close(driven)
		book.End()
		profiled.Wait()
		to := time.Now()
		k := float64(res.AllVotes) / 1000
		var perA, perB float64
		for _, o := range network.PeerOrgs() {
			pname := network.PeerProcess(o)
			cpu := book.Seconds(phase, func(s string) bool { return s == pname })
			if setting[o] == a {
				perA, sumA, votesA = cpu/k, sumA+cpu, votesA+k
			} else {
				perB, sumB, votesB = cpu/k, sumB+cpu, votesB+k
			}
			b.Logf("%s %s %s=%s core-s/1000 votes %.4f | RSS %s | state db: %s", phase, pname, name, setting[o], cpu/k,
				residentMemory(pids[pname]), stateCompactions(n.Layout().NodeDataDir(o.PeerHost()), from, to))
		}
		b.Logf("%s votes %d errors %d wall %.0fs machine busy %.2f | B/A %.3f", phase, res.AllVotes, res.Errors,
			book.WallSeconds(phase), book.MachineBusy(phase), perB/perA)
	}
	b.Logf("all drives: A=%s %.4f, B=%s %.4f core-s/1000 votes a peer, B/A %.3f", a, sumA/votesA, bv, sumB/votesB, (sumB/votesB)/(sumA/votesA))
}

// residentMemory is the process's resident and peak resident memory from
// /proc, or why not.
func residentMemory(pid int) string {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var rss, hwm string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			rss = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			hwm = strings.TrimSpace(v)
		}
	}
	return fmt.Sprintf("%s (peak %s)", rss, hwm)
}

// stateCompactions is what the peer's state database logged between from
// and to, or why not.
func stateCompactions(dataDir string, from, to time.Time) string {
	f, err := os.Open(filepath.Join(dataDir, "ledgersData", "stateLeveldb", "LOG"))
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	c, err := measure.LevelDBCompactions(f, from, to)
	if err != nil {
		return err.Error()
	}
	return c.String()
}
