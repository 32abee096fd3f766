package batcher_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/batcher"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/network/fabricclient"
	"github.com/votechain/votechain/test-network/localnet"
	"github.com/votechain/votechain/test-network/nettest"
)

// stack is a real network, Redis and an election for the fault tests.
type stack struct {
	net    *localnet.Network
	rdb    *redis.Client
	redis  *redistest.Server
	ledger *fabricclient.Ballot
	bin    string // the batcher binary
	dir    string
}

func newStack(t *testing.T) *stack { return newStackConsensus(t, "") }

// newStackConsensus is newStack on a network of the given consensus ("" for the default).
func newStackConsensus(t *testing.T, consensus network.Consensus) *stack {
	n := nettest.StartConsensus(t, consensus)
	nettest.SetupElection(t, n, nettest.Election(states, batcher.TestCandidates))
	rs := redistest.Start(t)
	dir := nettest.RunDir(t, "batcher")
	nettest.Commands(t, dir, "batcher")
	bin := filepath.Join(dir, "batcher")
	return &stack{net: n, rdb: rs.Client(), redis: rs, ledger: nettest.Dial(t, n, "Commission").Ballot(), bin: bin, dir: dir}
}

// startBatcher runs the batcher command as its own process.
func (s *stack) startBatcher(t *testing.T, name string) *exec.Cmd {
	t.Helper()
	logFile, err := os.Create(filepath.Join(s.dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(s.bin, "--profile", s.net.Layout().Profile(), "--redis-addr", s.redis.Addr,
		"--redis-password-file", s.redis.ACL.PasswordFile(redisserver.UserBatcher), "--batch-size", "200", "--lease-ttl", "2s", "--metrics", "127.0.0.1:0",
		"--commit-timeout", commitTimeout.String())
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logFile.Close()
	})
	return cmd
}

// commitTimeout is the batcher's --commit-timeout in these tests (its
// default, given explicitly: testOrdererKill's bound is half of it).
const commitTimeout = 60 * time.Second

// kill9 kills a batcher process as a crash would.
func kill9(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
}

// enqueueSlowly queues n votes in chunks over time, so faults hit mid-run.
func (s *stack) enqueueSlowly(t *testing.T, n, chunk int) <-chan []ballot.Vote {
	out := make(chan []ballot.Vote, 1)
	go func() {
		var all []ballot.Vote
		for i := 0; i < n; i += chunk {
			all = append(all, batcher.EnqueueVotes(t, s.rdb, i, min(chunk, n-i), "slow")...)
			time.Sleep(100 * time.Millisecond)
		}
		out <- all
	}()
	return out
}

// waitCommitted waits until at least k receipts exist.
func (s *stack) waitCommitted(t *testing.T, k int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if n, _ := votequeue.CountReceipts(context.Background(), s.rdb); n >= int64(k) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("fewer than %d receipts after 2 minutes", k)
}

// checkExactlyOnce asserts the durability invariant: every queued vote is on
// the ledger and counted exactly once, and the ledger's tallies equal the votes.
func (s *stack) checkExactlyOnce(t *testing.T, votes []ballot.Vote) {
	t.Helper()
	for _, v := range votes {
		loc, err := votequeue.GetLocation(context.Background(), s.rdb, v.ID)
		if err != nil || loc.Status != ballot.ReceiptCounted {
			t.Fatalf("vote %s: receipt %+v, %v", v.ID, loc, err)
		}
	}
	nettest.CheckCountedOnce(t, s.ledger, votes)
}

// TestBatcherKill9AndRestart kills the only batcher with SIGKILL in the middle
// of a run and starts a new one: journaled batches are resubmitted, read but
// unjournaled votes read again, and every vote is counted exactly once.
func TestBatcherKill9AndRestart(t *testing.T) {
	s := newStack(t)
	first := s.startBatcher(t, "first")
	queued := s.enqueueSlowly(t, 6000, 300)
	s.waitCommitted(t, 1500)
	kill9(t, first)
	t.Log("killed the batcher with SIGKILL after at least 1500 receipts")
	s.startBatcher(t, "second")
	votes := <-queued
	batcher.WaitDrained(t, s.rdb, 3*time.Minute)
	s.checkExactlyOnce(t, votes)
}

// TestOrdererKillWhileVotesFlow kills -9 the orderer the transactions go to
// (the ordering leader, to which the other orderers forward) while votes
// flow. Transactions it had accepted are never ordered; the batcher finds
// them lost from the blocks that follow and resubmits them under the same
// batch ids, so once ordering works again (a live orderer reports itself
// the leader: the network's word, not the batcher's; under SmartBFT, whose
// leader gauge Fabric sets at start and on each block written, that is the
// new leader's first block, not its view's start) no vote waits long for
// its receipt, and every vote is counted exactly once. How long ordering
// itself stalls is the consensus's (a Raft election, a SmartBFT view
// change, slower on a loaded machine): logged, not bounded here.
func TestOrdererKillWhileVotesFlow(t *testing.T) {
	for _, consensus := range []network.Consensus{network.Raft, network.BFT} {
		t.Run(string(consensus), func(t *testing.T) { testOrdererKill(t, consensus) })
	}
}

// afterOrderingBack bounds a vote's wait for its receipt counted from when
// ordering works again (or its 202, if later). A batcher that finds the
// dead orderer's transactions lost only when its commit wait times out
// (commitTimeout) fails it; one that finds them from the blocks that follow
// passes with room for what a loaded 2-core machine adds: the backlog of
// votes queued during the stall (500/s), and, after a long SmartBFT stall,
// the resubmission of everything pending (the batcher's failover floor is
// 10 s), whose duplicates are ordered behind the originals. A fixed 15 s
// flaked there; Raft's longest was 6.6 s.
const afterOrderingBack = commitTimeout / 2

// leaderAfterReceipts is how long testOrdererKill keeps polling the live
// orderers for a leader once every vote has its receipt: blocks were
// written after the kill, so a live orderer leads, and its gauge says so
// within a few scrapes.
const leaderAfterReceipts = 30 * time.Second

func testOrdererKill(t *testing.T, consensus network.Consensus) {
	s := newStackConsensus(t, consensus)
	s.startBatcher(t, "batcher")
	ctx := context.Background()

	// 500 votes/s from the start until feedAfterKill after the kill, however
	// long the first blocks take: the kill is always under load, and votes
	// keep coming through the failover.
	const chunk, feedAfterKill = 50, 15 * time.Second
	var (
		mu     sync.Mutex
		queued = map[string]time.Time{} // vote id -> its 202 (on the stream), or just before
		votes  []ballot.Vote
	)
	feed, stopFeed := context.WithCancel(context.Background())
	flowing := make(chan struct{})
	go func() {
		defer close(flowing)
		for i := 0; feed.Err() == nil; i++ {
			// Before the enqueue: a vote of a chunk straddling the kill,
			// perhaps in a block cut before it, counts as queued before it.
			at := time.Now()
			vs := batcher.EnqueueVotes(t, s.rdb, i*chunk, chunk, "orderer-kill")
			mu.Lock()
			for _, v := range vs {
				queued[v.ID] = at
			}
			votes = append(votes, vs...)
			mu.Unlock()
			select {
			case <-feed.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	// A test that fails first stops the feed before the network and Redis
	// stop (cleanups run last registered first).
	t.Cleanup(func() { stopFeed(); <-flowing })

	s.waitCommitted(t, 500) // votes flow: the first blocks are committed
	// The orderer the transactions go to: the one that says it leads.
	victim := nettest.AwaitLeader(t, s.net, 30*time.Second)
	live := nettest.OrderersExcept(victim)
	mark := nettest.MarkLogs(t, s.net, live...)
	if err := s.net.Kill(victim); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	time.AfterFunc(feedAfterKill, stopFeed)
	mu.Lock()
	t.Logf("killed %s (the ordering leader) with SIGKILL while votes flow, %d votes queued; queuing %v more", victim, len(votes), feedAfterKill)
	mu.Unlock()

	// Poll the receipts (a vote is committed for its voter when its receipt
	// exists) and, until one reports itself the leader, the live orderers;
	// once every vote has its receipt, the leader for leaderAfterReceipts
	// more at most.
	receiptAt := map[string]time.Time{}
	var orderingBack, allReceipted time.Time
	deadline := time.Now().Add(3 * time.Minute)
	for done := false; !done; time.Sleep(250 * time.Millisecond) {
		if !allReceipted.IsZero() && time.Since(allReceipted) > leaderAfterReceipts {
			t.Fatalf("every vote has its receipt, but no live orderer (%v) reported itself the leader within %v after the last: ordering back unknown", live, leaderAfterReceipts)
		}
		if time.Now().After(deadline) {
			mu.Lock()
			n := len(queued)
			mu.Unlock()
			t.Fatalf("%d of %d votes without a receipt after 3 minutes (ordering back: %v)", n-len(receiptAt), n, !orderingBack.IsZero())
		}
		if orderingBack.IsZero() {
			if at := time.Now(); newLeader(s.net, victim) {
				orderingBack = at
			}
		}
		select {
		case <-flowing:
			done = true
		default:
		}
		mu.Lock()
		var ids []string
		for id := range queued {
			if _, ok := receiptAt[id]; !ok {
				ids = append(ids, id)
			}
		}
		mu.Unlock()
		receipted, err := votequeue.Receipted(ctx, s.rdb, ids)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		mu.Lock()
		for i, id := range ids {
			if receipted[i] {
				receiptAt[id] = now
			}
		}
		done = done && len(receiptAt) == len(queued)
		mu.Unlock()
		if done && allReceipted.IsZero() {
			allReceipted = now
		}
		done = done && !orderingBack.IsZero()
	}
	w := measureFailover(killed, orderingBack, queued, receiptAt)
	if w.firstAfterKill.IsZero() {
		t.Fatal("no vote queued after the kill has a receipt")
	}
	view := ""
	if consensus == network.BFT {
		atMark, since := mark.Views(t, live)
		view = fmt.Sprintf("; SmartBFT view %d → %d", atMark, since)
	}
	t.Logf("%d votes: 202→receipt p50 %v, p95 %v, longest %v; ordering back %v after the kill (a live orderer leads%s), the first receipt of a vote queued after the kill %v after that; longest wait from then (or its 202): %v (bound %v)",
		len(w.waits), w.percentile(50), w.percentile(95), w.percentile(100), orderingBack.Sub(killed).Round(time.Millisecond), view,
		w.firstAfterKill.Sub(orderingBack).Round(time.Millisecond), w.longestAfterBack.Round(time.Millisecond), afterOrderingBack)
	if d := w.firstAfterKill.Sub(orderingBack); d >= afterOrderingBack {
		t.Errorf("the first receipt of a vote queued after the orderer's death came %v after ordering was back; want under %v", d.Round(time.Millisecond), afterOrderingBack)
	}
	if w.longestAfterBack >= afterOrderingBack {
		t.Errorf("a vote waited %v for its receipt once ordering was back after the orderer's death; want under %v", w.longestAfterBack.Round(time.Millisecond), afterOrderingBack)
	}
	if t.Failed() {
		mark.LogConsensusEvents(t, live, 60)
	}
	batcher.WaitDrained(t, s.rdb, time.Minute)
	s.checkExactlyOnce(t, votes)
	s.logRetries(t, "batcher")
}

// newLeader reports whether an orderer of n other than victim reports
// itself the ordering leader (localnet.Network.Leader: under SmartBFT as of
// its last block written, so the new leader's first block, not its view's
// start).
func newLeader(n *localnet.Network, victim string) bool {
	name, ok := n.Leader(context.Background())
	return ok && name != victim
}

// failover is what the votes of testOrdererKill waited.
type failover struct {
	waits            []time.Duration // each vote's 202→receipt, sorted
	firstAfterKill   time.Time       // the first receipt of a vote queued after the kill
	longestAfterBack time.Duration   // the longest receipt wait counted from later(its 202, ordering back)
}

// measureFailover judges the waits of votes queued at queued[id] and
// receipted at receiptAt[id] across a kill at killed, after which ordering
// was back (a live orderer led) at back. What the batcher answers for is
// the wait once ordering works again: before that, a vote waits for the
// consensus to replace its leader, which no client can shorten.
func measureFailover(killed, back time.Time, queued, receiptAt map[string]time.Time) failover {
	var f failover
	for id, at := range receiptAt {
		q := queued[id]
		if q.After(killed) && (f.firstAfterKill.IsZero() || at.Before(f.firstAfterKill)) {
			f.firstAfterKill = at
		}
		f.waits = append(f.waits, at.Sub(q))
		f.longestAfterBack = max(f.longestAfterBack, at.Sub(later(q, back)))
	}
	slices.Sort(f.waits)
	return f
}

// percentile is the p-th percentile of the waits (100: the longest), rounded to the millisecond.
func (f failover) percentile(p int) time.Duration {
	return f.waits[min(len(f.waits)*p/100, len(f.waits)-1)].Round(time.Millisecond)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// logRetries shows what the batcher retried and why.
func (s *stack) logRetries(t *testing.T, name string) {
	data, err := os.ReadFile(filepath.Join(s.dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, "retrying") {
			t.Log(line)
		}
	}
}

func TestMeasureFailover(t *testing.T) {
	kill := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return kill.Add(time.Duration(s * float64(time.Second))) }
	queued := map[string]time.Time{"before": at(-1), "during": at(2), "after": at(9), "late": at(3)}
	receiptAt := map[string]time.Time{"before": at(8), "during": at(7.5), "after": at(9.5), "late": at(20)}
	f := measureFailover(kill, at(5), queued, receiptAt)
	if want := at(7.5); !f.firstAfterKill.Equal(want) {
		t.Errorf("first receipt of a vote queued after the kill %v after it, want 7.5s", f.firstAfterKill.Sub(kill))
	}
	// "late" waited 17 s from its 202, 15 s of them once ordering was back
	// (at 5 s: the network's word, not the first receipt at 7.5 s).
	if f.longestAfterBack != 15*time.Second {
		t.Errorf("longest wait once ordering was back %v, want 15s", f.longestAfterBack)
	}
	// A vote queued after ordering was back counts from its 202.
	if g := measureFailover(kill, at(1), queued, receiptAt); g.longestAfterBack != 17*time.Second {
		t.Errorf("longest wait once ordering was back at 1 s: %v, want 17s (late's, from its 202)", g.longestAfterBack)
	}
	if got := f.percentile(100); got != 17*time.Second {
		t.Errorf("longest wait %v, want 17s", got)
	}
	if got := f.percentile(50); got != 9*time.Second {
		t.Errorf("median wait %v, want 9s (the upper middle of 0.5, 5.5, 9, 17)", got)
	}
}
