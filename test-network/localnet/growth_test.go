package localnet_test

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/bench/ledgerload"
	"github.com/votechain/votechain/bench/measure"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/network/fabricclient"
	"github.com/votechain/votechain/test-network/localnet"
	"github.com/votechain/votechain/test-network/nettest"
)

// BenchmarkLedgerGrowthCPU measures how the ledger side's CPU per vote
// changes as the ledger grows (docs/ledger.md, the peers' LevelDB): it fills
// a fresh network's ledger with CommitBatch (2,000 votes a transaction, 16 in
// flight) in steps, and logs for each step the core-seconds per 1,000 votes
// of the peers, chaincode services and orderers (from /proc), so the figure
// holds on a loaded machine, and what each peer's state database flushed and
// compacted in the step (its LevelDB LOG). One run whatever b.N: -benchtime 1x.
//
//	GROWTH_VOTES=total,step   votes to commit and per step (default 1500000,250000)
//	GROWTH_FABRIC_BIN=dir     Fabric binaries to run (default bin/fabric)
//	GROWTH_CONSENSUS=raft     consensus (default the network's default)
//	GROWTH_ROLL=n             first load and seal a roll of n voters, and cast the
//	                          votes as them (each read finds its voter's roll mark,
//	                          as the bench's grown ledger does); n >= the total
//	GROWTH_ROLL_ORDER=sorted  cast the roll's voters in nullifier order, as loaded
//	                          (default: shuffled, as voters arrive and as the bench's
//	                          drives cast them; in key order the peers' state reads
//	                          find their LevelDB blocks cached: docs/ledger.md)
//	GROWTH_PPROF=host:port    a peer's pprof address (with VOTECHAIN_NODE_PPROF=1,
//	GROWTH_PPROF_DIR=dir      127.0.0.1:B+103, network.Ports.PeerPprof): a 20 s CPU
//	                          profile per step, once its drive flows steadily
//	                          (cpuProfile), into dir
func BenchmarkLedgerGrowthCPU(b *testing.B) {
	spec := cmp.Or(os.Getenv("GROWTH_VOTES"), "1500000,250000")
	total, step, ok := strings.Cut(spec, ",")
	totalVotes, err1 := strconv.Atoi(total)
	stepVotes, err2 := strconv.Atoi(step)
	if !ok || err1 != nil || err2 != nil || stepVotes <= 0 {
		b.Fatalf("GROWTH_VOTES=%q: want total,step (e.g. 1500000,250000)", spec)
	}
	n, cfg, roll, ledger, got := growthNetwork(b, totalVotes)
	ctx := context.Background()
	pids := map[string]int{}
	for _, p := range n.Status(ctx).Processes {
		pids[p.Name] = p.PID
	}
	book := measure.NewCPUBook(pids)
	b.Logf("fabric %s, consensus %s; processes %v", cfg.FabricBin, n.Consensus(), pids)
	var done int
	seq := ledgerload.SeqBaseFor(time.Now())
	for done < totalVotes {
		phase := fmt.Sprintf("from %.2fM", float64(done)/1e6)
		book.Begin(phase)
		from, flowing := time.Now(), topHeight(n)+flowingBlocks
		profiled, driven := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(profiled)
			addr, dir := os.Getenv("GROWTH_PPROF"), os.Getenv("GROWTH_PPROF_DIR")
			if addr == "" {
				return
			}
			cpuProfile(b, n, flowing, from, driven, addr, filepath.Join(dir, strings.ReplaceAll(phase, " ", "-")+".pprof"))
		}()
		res, err := ledgerload.Run(ctx, ledger, got, ledgerload.Drive{VotesPerTx: 2000, InFlight: 16, Duration: 30 * time.Minute,
			StopAfter: stepVotes, SeqBase: seq, Roll: roll})
		close(driven)
		book.End()
		to := time.Now()
		<-profiled
		if err != nil {
			b.Fatal(err)
		}
		seq += uint64(res.Txs) + 1000
		if roll != nil {
			roll = res.Unused(roll)
		}
		done += res.AllVotes
		peers := book.Seconds(phase, func(s string) bool { return strings.HasPrefix(s, "peer.") })
		for _, o := range network.PeerOrgs() {
			name := network.PeerProcess(o)
			b.Logf("%s %s core-s/1000 votes %.4f; state database: %s", phase, name,
				book.Seconds(phase, func(s string) bool { return s == name })*1000/float64(res.AllVotes),
				stateCompactions(n.Layout().NodeDataDir(o.PeerHost()), from, to))
		}
		ccs := book.Seconds(phase, func(s string) bool { return strings.HasPrefix(s, "cc.") })
		ords := book.Seconds(phase, func(s string) bool { return strings.HasPrefix(s, "orderer") })
		k := float64(res.AllVotes) / 1000
		b.Logf("%s votes %d counted %d errors %d wall %.0fs | core-s/1000 votes: all %.4f peers %.4f chaincode %.4f orderers %.4f | machine busy %.2f",
			phase, res.AllVotes, res.Counted, res.Errors, book.WallSeconds(phase), (peers+ccs+ords)/k, peers/k, ccs/k, ords/k, book.MachineBusy(phase))
	}
}

// growthNetwork starts a fresh network with GROWTH_FABRIC_BIN and
// GROWTH_CONSENSUS, records an election and, with GROWTH_ROLL, loads and
// seals a roll of at least minVoters voters, shuffled unless
// GROWTH_ROLL_ORDER=sorted (nil without GROWTH_ROLL). It returns the network,
// its config, the roll, the batcher's ledger connection and the election as
// recorded.
func growthNetwork(b *testing.B, minVoters int) (*localnet.Network, localnet.Config, []ballot.RollEntry, *fabricclient.Ballot, *ballot.Election) {
	b.Helper()
	cfg := nettest.Config(b)
	if bin := os.Getenv("GROWTH_FABRIC_BIN"); bin != "" {
		cfg.FabricBin = bin
	}
	cfg.Consensus = network.Consensus(os.Getenv("GROWTH_CONSENSUS"))
	n, err := localnet.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { n.Down(false) })
	ctx := context.Background()
	if err := n.Up(ctx); err != nil {
		b.Fatal(err)
	}
	states := []string{"CA", "NY", "TX", "FL"}
	e := nettest.Election(states, []string{"alice", "bob"})
	var roll []ballot.RollEntry
	if v := os.Getenv("GROWTH_ROLL"); v != "" {
		voters, err := strconv.Atoi(v)
		if err != nil || voters < minVoters {
			b.Fatalf("GROWTH_ROLL=%q: want a number of voters >= %d", v, minVoters)
		}
		roll, _ = nettest.Roll(voters, states)
		e.SetRoll(roll)
	}
	nettest.SetupElection(b, n, e)
	if roll != nil {
		admin := nettest.Dial(b, n, "Commission", fabricclient.WithUser("Admin")).Ballot()
		start := time.Now()
		if _, err := admin.LoadRoll(ctx, roll, 8, nil); err != nil {
			b.Fatalf("load roll: %v", err)
		}
		b.Logf("roll of %d voters loaded and sealed in %.0fs", len(roll), time.Since(start).Seconds())
		if os.Getenv("GROWTH_ROLL_ORDER") != "sorted" { // LoadRoll needs them sorted; the drive does not
			rand.New(rand.NewPCG(1, 2)).Shuffle(len(roll), func(i, j int) { roll[i], roll[j] = roll[j], roll[i] })
		}
	}
	ledger := nettest.Dial(b, n, network.Batcher.Org, fabricclient.WithUser(network.Batcher.User)).Ballot()
	got, err := ledger.Election(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return n, cfg, roll, ledger, got
}

// profileFor is how long cpuProfile's CPU profile runs.
const profileFor = 20 * time.Second

// steadyAfter is the least time a drive runs before cpuProfile starts its
// profile: a drive's first seconds are its ramp (its in-flight
// transactions filling the orderers and peers), and flowingBlocks blocks
// past its start are cut inside it.
const steadyAfter = 5 * time.Second

// cpuProfile waits until the step's drive, begun at from, flows steadily
// (every node of n holding at least height, flowingBlocks past the step's
// start; steadyAfter past from; then every node another block past the
// highest: blocks still cut, not the drive's tail), then writes a
// profileFor CPU profile of the Go pprof service at addr (host:port) to
// file. It logs what fails, and a drive not flowing within 2 minutes of
// from or ended before it flowed (closed driven), and then writes no
// profile; and a profile that outlasted the drive (driven closed before
// it ended), part of which is then of an idle network.
func cpuProfile(b *testing.B, n *localnet.Network, height int64, from time.Time, driven <-chan struct{}, addr, file string) {
	deadline := from.Add(2 * time.Minute)
	short, ok := waitNodesAt(n, height, deadline)
	if ok {
		time.Sleep(time.Until(from.Add(steadyAfter)))
		short, ok = waitNodesAt(n, topHeight(n)+1, deadline)
	}
	if !ok {
		b.Logf("pprof %s: no profile, the drive not flowing after 2 minutes (%s)", addr, short)
		return
	}
	if ended(driven) {
		b.Logf("pprof %s: no profile, the drive ended before it flowed steadily", addr)
		return
	}
	defer func() {
		if ended(driven) {
			b.Logf("pprof %s: the drive ended before the %s profile did: part of %s is of an idle network", addr, profileFor, file)
		}
	}()
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(profileFor.Seconds())))
	if err != nil {
		b.Logf("pprof: %v", err)
		return
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err == nil {
		err = os.WriteFile(file, data, 0o644)
	}
	if err != nil {
		b.Logf("pprof %s: %v", addr, err)
	}
}

// ended reports whether done is closed.
func ended(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}
