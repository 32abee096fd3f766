package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/stack"
)

// TestScaleOutWithFaults runs the scaled-out shape - a Redis Cluster of
// three masters with a replica each, two gateways behind HAProxy, two
// batchers - and casts 20,000 votes through HAProxy while one Redis master,
// one gateway and one batcher are killed with SIGKILL (the master's replica
// is promoted). The votes answered 202 are exactly the votes counted on the
// ledger, each once; clients see errors only for requests in flight at a
// kill, and each such vote, cast again, is either accepted then or found
// stored (409, then its receipt by credentials). /readyz through HAProxy
// answers ready with the ledger reachable (the gateways' background probe).
func TestScaleOutWithFaults(t *testing.T) {
	const workers = 32
	s := startSystem(t, 2, 20_000, func(c *stack.Config) { c.Gateways, c.Redis = 2, stack.RedisCluster })
	if len(s.roll) != 20_000 {
		t.Fatalf("roll of %d voters, want 20000", len(s.roll))
	}
	s.waitLedgerReachable(t)
	c := &faultyCaster{s: s}
	began := time.Now()
	cast := inBackground(t, func(ctx context.Context) (map[string]vote, error) { return c.cast(ctx, s.roll, workers) })

	c.waitAnswered(t, 5_000)
	victim := s.redisMasterOf(t, "CA")
	if err := s.st.Kill(victim); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	t.Logf("killed Redis master %s (state CA's slot) at %d answers", victim, c.answered.Load())
	for s.redisMasterOf(t, "CA") == victim {
		if time.Since(killedAt) > time.Minute {
			t.Fatal("no replica promoted a minute after the master's kill")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("replica promoted %.1f s after the kill; restarting %s (it rejoins as a replica)", time.Since(killedAt).Seconds(), victim)
	if err := s.st.Up(context.Background()); err != nil {
		t.Fatal(err)
	}

	c.waitAnswered(t, 10_000)
	if err := s.st.Kill("gateway0"); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed gateway0 at %d answers", c.answered.Load())
	c.waitAnswered(t, 13_000)
	if err := s.st.Kill("batcher0"); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed batcher0 at %d answers", c.answered.Load())

	accepted := cast.wait(t, 5*time.Minute)
	t.Logf("20000 votes answered in %.1f s: %d accepted, %d votes met errors (%d failed attempts, re-sent every 100 ms), %d of them found stored on re-sending",
		time.Since(began).Seconds(), len(accepted), c.failedVotes.Load(), c.failedAttempts.Load(), len(c.ambiguous))
	s.waitQueuesDrained(t, 5*time.Minute)
	t.Logf("all committed %.1f s after the first vote", time.Since(began).Seconds())
	s.logAnchoring(t) // gateway1's: gateway0 is dead

	// Three kills: at each, a worker holds at most one vote that fails until
	// the system recovers (re-sent every 100 ms, so its failed attempts grow
	// with the failover's length; the votes do not).
	if n := c.failedVotes.Load(); n > 3*workers {
		t.Errorf("%d votes met errors; only the %d that %d workers can hold at three kills may", n, 3*workers, workers)
	}
	stored := c.resolve(t)
	all := make(map[string]vote, len(accepted)+len(stored))
	for id, v := range accepted {
		all[id] = v
	}
	for id, v := range stored {
		if _, dup := all[id]; dup {
			t.Errorf("vote %s both answered 202 and found stored after an error", id)
		}
		all[id] = v
	}
	if len(all) != len(s.roll) {
		t.Fatalf("%d votes accepted or found stored, want %d (every voter voted once)", len(all), len(s.roll))
	}
	s.checkExactlyOnce(t, all)
}

// faultyCaster casts through HAProxy while processes die. A request that
// fails (a transport error, a 502 from HAProxy for a gateway killed under
// it, a 503) is counted and cast again; a 409 on the re-send means the
// failed request had stored the vote, resolved later by its receipt.
type faultyCaster struct {
	s              *system
	answered       atomic.Int64
	failedVotes    atomic.Int64 // votes that met at least one error
	failedAttempts atomic.Int64
	mu             sync.Mutex
	accepted       map[string]vote
	ambiguous      []vote
}

// cast casts a vote for each voter with workers concurrent clients and
// returns the votes answered 202 by vote id. Once ctx ends no vote is
// sent any more, and a request in flight ends.
func (c *faultyCaster) cast(ctx context.Context, voters []voter, workers int) (map[string]vote, error) {
	c.accepted = make(map[string]vote, len(voters))
	var g errgroup.Group
	g.SetLimit(workers)
	for i := range voters {
		g.Go(func() error {
			v := c.s.voteOf(voters[i], i)
			err := c.castOne(ctx, v)
			c.answered.Add(1)
			return err
		})
	}
	err := g.Wait()
	return c.accepted, err
}

func (c *faultyCaster) castOne(ctx context.Context, v vote) error {
	body := c.s.body(v)
	failed := false
	for attempt := 0; attempt < 100; attempt++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("vote of %s not cast: %w", v.ID, err)
		}
		var out struct {
			VoteID string `json:"vote_id"`
		}
		status, err := c.s.post(ctx, "/api/v1/vote", body, &out)
		switch {
		case err == nil && status == http.StatusAccepted:
			c.mu.Lock()
			c.accepted[out.VoteID] = v
			c.mu.Unlock()
			return nil
		case status == http.StatusConflict && failed:
			c.mu.Lock()
			c.ambiguous = append(c.ambiguous, v)
			c.mu.Unlock()
			return nil
		case status == http.StatusConflict:
			return fmt.Errorf("vote of %s: 409 on its first answer", v.ID)
		}
		if !failed {
			c.failedVotes.Add(1)
		}
		failed = true
		c.failedAttempts.Add(1)
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("vote of %s: no answer after 100 attempts", v.ID)
}

// waitAnswered waits until n votes are answered.
func (c *faultyCaster) waitAnswered(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for c.answered.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d votes answered after 3 minutes", c.answered.Load(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// resolve finds the vote ids of the votes stored by a request that failed,
// from their receipts by credentials (every vote is committed by now).
func (c *faultyCaster) resolve(t *testing.T) map[string]vote {
	t.Helper()
	out := map[string]vote{}
	for _, v := range c.ambiguous {
		var r struct {
			VoteID string `json:"vote_id"`
		}
		for attempt := 0; ; attempt++ {
			status, err := c.s.post(context.Background(), "/api/v1/votes/lookup", map[string]string{"voter_id": v.ID, "credential": v.Credential}, &r)
			if err == nil && status == http.StatusOK {
				break
			}
			if attempt == 50 {
				t.Fatalf("receipt of voter %s: status %d, %v", v.ID, status, err)
			}
			time.Sleep(200 * time.Millisecond) // 429: the look-up rate limit
		}
		out[r.VoteID] = v
	}
	return out
}

// redisMasterOf is the name of the cluster node ("redis0".."redis5") now
// master of a state's slot, from a fresh view of the cluster.
func (s *system) redisMasterOf(t *testing.T, state string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.rdb.(*redis.ClusterClient).ReloadState(ctx) // the test's own client learns the change too
	opts, err := s.st.RedisOptions(redisserver.UserAdmin)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClusterClient(opts.Cluster()) // a fresh view of the slots
	defer rdb.Close()
	node, err := rdb.MasterForKey(ctx, votequeue.StreamKey(state))
	if err != nil {
		return ""
	}
	i := slices.Index(strings.Split(s.st.RedisAddr(), ","), node.Options().Addr)
	if i < 0 {
		t.Fatalf("master %s of %s is not a node of the system", node.Options().Addr, state)
	}
	return fmt.Sprintf("redis%d", i)
}

// waitLedgerReachable waits up to a minute (a start on a starved machine
// can take seconds; the wait ends once ready) for /readyz to answer ready
// with the ledger reachable.
func (s *system) waitLedgerReachable(t *testing.T) {
	t.Helper()
	var ready struct{ Status, Ledger string }
	for deadline := time.Now().Add(time.Minute); ready.Status != "ready" || ready.Ledger != "reachable"; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz: %+v a minute after the start; want ready, ledger reachable", ready)
		}
		if _, err := s.get("/readyz", &ready); err != nil {
			t.Fatal(err)
		}
	}
}

// logAnchoring logs the intake log's anchoring counters of the gateway
// that answers /metrics: how often it lost the expected race with the
// other gateway's anchor, and how often anchoring failed otherwise.
func (s *system) logAnchoring(t *testing.T) {
	t.Helper()
	resp, err := s.http.Get(s.st.GatewayURL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var counters []string
	for line := range strings.Lines(string(body)) {
		if strings.HasPrefix(line, "intake_log_anchor_") {
			counters = append(counters, strings.TrimSpace(line))
		}
	}
	t.Logf("anchoring: %s", strings.Join(counters, ", "))
}
