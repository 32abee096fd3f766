package redistest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
)

// TestClusterFailover: a cluster of three masters with a replica each
// serves keys of every slot range; after its master is killed with
// SIGKILL, a key written and acknowledged by the replica (WAIT) is still
// there once the replica is promoted, and a client that only sends
// commands (no explicit reload) reads it within seconds, not at its
// periodic reload a minute later (redisserver.NewClient).
func TestClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("a six-node Redis Cluster and a failover take ~10 s")
	}
	c := redistest.StartCluster(t, 3)
	rdb := c.ClientAs(redisserver.UserAdmin)
	ctx := context.Background()
	masters := map[string]bool{}
	for i := range 30 {
		key := fmt.Sprintf("k:{%d}", i)
		if err := rdb.Set(ctx, key, i, 0).Err(); err != nil {
			t.Fatal(err)
		}
		masters[c.MasterOf(key).Addr] = true
	}
	if len(masters) != 3 {
		t.Fatalf("30 keys on %d masters, want 3", len(masters))
	}
	key := "k:{CA}"
	old := c.MasterOf(key)
	node := old.Client()
	if err := node.Set(ctx, key, "kept", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// The replica acknowledges the write however slow it is: WAIT again
	// (each for at most 200 ms, well within the client's read timeout)
	// until it has, for up to 20 s (longer, and rdb's periodic reload below
	// could fall within the failover's bound).
	acked, err := node.Do(ctx, "WAIT", 1, 200).Int()
	for waiting := time.Now(); err == nil && acked < 1 && time.Since(waiting) < 20*time.Second; {
		acked, err = node.Do(ctx, "WAIT", 1, 200).Int()
	}
	if err != nil || acked != 1 {
		t.Fatalf("WAIT 1: %d replicas, %v", acked, err)
	}
	old.Kill()
	// The failover takes about NodeTimeout plus up to two seconds of
	// election. Without reloading on a dial error, go-redis would reach the
	// promoted replica only at its periodic reload of the slots' map, 60 s
	// (ClusterStateReloadInterval) after rdb loaded it, before the kill: a
	// bound well under that yet 20 × NodeTimeout tells the two apart with
	// room for a starved machine.
	const within = 20 * redisserver.NodeTimeout
	began := time.Now()
	var v string
	for v, err = rdb.Get(ctx, key).Result(); err != nil && time.Since(began) < within; v, err = rdb.Get(ctx, key).Result() {
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(began)
	t.Logf("read back %.1f s after the kill", took.Seconds())
	if err != nil || v != "kept" {
		t.Fatalf("%.0f s after the kill %s = %q, %v; want kept: the client did not follow the failover (node timeout %v)", took.Seconds(), key, v, err, redisserver.NodeTimeout)
	}
	if m := c.MasterOf(key); m == nil || m == old {
		t.Fatalf("%s read back, but no replica promoted", key)
	}
}
