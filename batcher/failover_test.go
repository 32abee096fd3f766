package batcher_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redistest"
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

func newStack(t *testing.T) *stack {
	n := nettest.Start(t)
	nettest.SetupElection(t, n, nettest.Election(states, candidates))
	rs := redistest.Start(t)
	dir := nettest.RunDir(t, "batcher")
	bin := filepath.Join(dir, "batcher")
	build := exec.Command("go", "build", "-o", bin, "./cmd/batcher")
	build.Dir = nettest.RepoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build batcher: %v\n%s", err, out)
	}
	return &stack{net: n, rdb: rs.Client(), redis: rs, ledger: nettest.Dial(t, n, "Commission").Ballot(), bin: bin, dir: dir}
}

// startBatcher runs the batcher command as its own process.
func (s *stack) startBatcher(t *testing.T, name string) *exec.Cmd {
	t.Helper()
	logFile, err := os.Create(filepath.Join(s.dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(s.bin, "--profile", s.net.Layout().Profile(), "--redis", s.redis.Addr,
		"--batch-size", "200", "--batch-timeout", "100ms", "--lease-ttl", "2s", "--metrics", "127.0.0.1:0")
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
			all = append(all, enqueueFrom(t, s.rdb, i, min(chunk, n-i), "slow")...)
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
		keys, _ := s.rdb.Keys(context.Background(), votequeue.ReceiptKey("*")).Result()
		if len(keys) >= k {
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
// unjournaled votes reclaimed, and every vote is counted exactly once.
func TestBatcherKill9AndRestart(t *testing.T) {
	s := newStack(t)
	first := s.startBatcher(t, "first")
	queued := s.enqueueSlowly(t, 6000, 300)
	s.waitCommitted(t, 1500)
	kill9(t, first)
	t.Log("killed the batcher with SIGKILL after at least 1500 receipts")
	s.startBatcher(t, "second")
	votes := <-queued
	waitDrained(t, s.rdb, 3*time.Minute)
	s.checkExactlyOnce(t, votes)
}

// TestBatcherFailover runs two batchers, which share the lanes, kills one, and
// checks that its lanes move to the survivor and nothing is lost.
func TestBatcherFailover(t *testing.T) {
	s := newStack(t)
	a := s.startBatcher(t, "a")
	b := s.startBatcher(t, "b")
	queued := s.enqueueSlowly(t, 6000, 300)
	owners := s.waitLeaseOwners(t, func(o map[string]int) bool { return len(o) == 2 })
	t.Logf("lanes per batcher before the kill: %v", owners)
	s.waitCommitted(t, 1500)
	kill9(t, a)
	dead := fmt.Sprintf("-%d-", a.Process.Pid)
	s.waitLeaseOwners(t, func(o map[string]int) bool {
		for owner := range o {
			if strings.Contains(owner, dead) {
				return false
			}
		}
		return o[ownerOf(t, s, b.Process.Pid)] == len(states)
	})
	votes := <-queued
	waitDrained(t, s.rdb, 3*time.Minute)
	s.checkExactlyOnce(t, votes)
}

// leaseOwners counts the lanes each batcher holds.
func (s *stack) leaseOwners(t *testing.T) map[string]int {
	out := map[string]int{}
	for _, st := range states {
		v, err := s.rdb.Get(context.Background(), "lease:{"+st+"}").Result()
		if err == redis.Nil {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		owner, _, _ := strings.Cut(v, "/")
		out[owner]++
	}
	return out
}

func (s *stack) waitLeaseOwners(t *testing.T, ok func(map[string]int) bool) map[string]int {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		o := s.leaseOwners(t)
		if ok(o) {
			return o
		}
		if time.Now().After(deadline) {
			t.Fatalf("lease owners %v never reached the expected split", o)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func ownerOf(t *testing.T, s *stack, pid int) string {
	for owner := range s.leaseOwners(t) {
		if strings.Contains(owner, fmt.Sprintf("-%d-", pid)) {
			return owner
		}
	}
	return ""
}
