package dedup

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
)

// TestReplicatedAcceptSurvivesFailover: on a Redis Cluster (three masters,
// a replica each) with Replicas 1, votes keep being accepted while the
// master of one state's slot is killed with SIGKILL: calls made during the
// failover wait for the promoted replica (and for the restarted node to
// rejoin as its replica) instead of failing, only calls in flight at the
// kill may fail, and every vote accepted before or after the kill is in its
// state's stream afterwards.
func TestReplicatedAcceptSurvivesFailover(t *testing.T) {
	c, f := newClusterFixture(t, "a six-node Redis Cluster and a failover take ~15 s", Config{Replicas: 1, FailoverWait: 30 * time.Second})
	states := []string{"CA", "NY", "TX", "FL", "WA", "OR"}
	const perState, workers = 150, 8
	var queue []Attempt
	for i := 0; i < perState; i++ {
		for _, st := range states {
			queue = append(queue, attempt(t, st, f.voter(t, st, true)))
		}
	}
	victim := c.MasterOf(votequeue.StreamKey("CA"))

	var (
		mu       sync.Mutex
		accepted = map[string][]string{} // state -> vote ids answered Accepted
		failed   atomic.Int64
		done     atomic.Int64
		next     atomic.Int64
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// stopWorkers stops the workers; a cleanup registered once they run,
	// it runs before the cluster's and whatever ends the test (a t.Fatal
	// here or in victim.Restart included): none logs once the test ended
	// (which panics), and no call outlives the cluster.
	stopWorkers := func() {
		next.Store(int64(len(queue)))
		cancel()
		wg.Wait()
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(len(queue)); i = next.Add(1) - 1 {
				a := queue[i]
				res, err := f.d.Accept(ctx, a)
				done.Add(1)
				if err != nil {
					failed.Add(1)
					t.Logf("vote %s of %s: %v", a.Vote.ID, a.Vote.State, err)
					continue
				}
				if res.Outcome != Accepted {
					t.Errorf("vote of %s: %v; want accepted", a.Vote.State, res.Outcome)
					continue
				}
				mu.Lock()
				accepted[a.Vote.State] = append(accepted[a.Vote.State], a.Vote.ID)
				mu.Unlock()
			}
		}()
	}
	t.Cleanup(stopWorkers)
	for quarter := time.Now().Add(time.Minute); done.Load() < int64(len(queue))/4; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(quarter) {
			t.Fatalf("%d of %d calls answered after a minute; want a quarter before the kill", done.Load(), len(queue))
		}
	}
	victim.Kill()
	killed := time.Now()
	for m := c.MasterOf(votequeue.StreamKey("CA")); m == nil || m == victim; m = c.MasterOf(votequeue.StreamKey("CA")) {
		if time.Since(killed) > 30*time.Second {
			t.Fatal("no replica promoted 30 s after the kill")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("replica promoted %.1f s after the kill; %d of %d calls answered", time.Since(killed).Seconds(), done.Load(), len(queue))
	victim.Restart() // rejoins as the new master's replica
	wg.Wait()
	t.Logf("all answered %.1f s after the kill; %d failed", time.Since(killed).Seconds(), failed.Load())
	if n := failed.Load(); n > workers {
		t.Errorf("%d calls failed; only the %d in flight at the kill may", n, workers)
	}
	total := 0
	for _, st := range states {
		msgs, err := f.rdb.XRange(ctx, votequeue.StreamKey(st), "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		inStream := map[string]bool{}
		for _, m := range msgs {
			v, err := votequeue.Decode(m.Values)
			if err != nil {
				t.Fatal(err)
			}
			inStream[v.ID] = true
		}
		for _, id := range accepted[st] {
			if !inStream[id] {
				t.Errorf("vote %s of %s was accepted but is not in the stream after the failover", id, st)
			}
		}
		total += len(accepted[st])
	}
	if total+int(failed.Load()) != len(queue) {
		t.Errorf("%d accepted + %d failed of %d", total, failed.Load(), len(queue))
	}
}

// BenchmarkAcceptCluster measures what waiting for the replica costs: one
// vote at a time (latency) and 64 concurrent callers (throughput) on a Redis
// Cluster, with and without WAIT.
func BenchmarkAcceptCluster(b *testing.B) {
	c := redistest.StartCluster(b, 3)
	admin := c.ClientAs(redisserver.UserAdmin)
	for _, replicas := range []int{0, 1} {
		for _, par := range []int{1, 64} {
			b.Run(fmt.Sprintf("replicas=%d/callers=%d", replicas, par), func(b *testing.B) {
				f := &fixture{rdb: admin, ledger: &fakeLedger{}}
				f.d = New(c.ClientAs(redisserver.UserGateway), f.ledger, Config{Replicas: replicas},
					slog.New(slog.NewTextHandler(io.Discard, nil)))
				defer f.d.Close()
				states := []string{"CA", "NY", "TX"}
				as := make([]Attempt, b.N)
				for i := range as {
					st := states[i%len(states)]
					as[i] = attempt(b, st, f.voter(b, st, true))
				}
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				for range par {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
							if res, err := f.d.Accept(context.Background(), as[i]); err != nil || res.Outcome != Accepted {
								b.Errorf("vote: %+v, %v", res, err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "votes/s")
			})
		}
	}
}
