package redistest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/internal/redisserver"
	"github.com/votechain/votechain/internal/redistest"
)

// TestClusterFailover: a cluster of three masters with a replica each
// serves keys of every slot range; after its master is killed with
// SIGKILL, a key written and acknowledged by the replica (WAIT) is still
// there once the replica is promoted.
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
	if n, err := node.Do(ctx, "WAIT", 1, 1000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT 1: %d replicas, %v", n, err)
	}
	old.Kill()
	began := time.Now()
	deadline := began.Add(30 * time.Second)
	for m := c.MasterOf(key); m == nil || m == old; m = c.MasterOf(key) {
		if time.Now().After(deadline) {
			t.Fatal("no replica promoted 30 s after the master's kill")
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("replica promoted %.1f s after the kill", time.Since(began).Seconds())
	// The client learns the new master when it reloads the cluster's state;
	// a dial error does not make it reload, and the node it asks may still
	// show the old master for a moment, so reload before each try (as the
	// gateway's deduper does).
	var v string
	var err error
	for {
		rdb.(*redis.ClusterClient).ReloadState(ctx)
		time.Sleep(100 * time.Millisecond)
		if v, err = rdb.Get(ctx, key).Result(); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || v != "kept" {
		t.Fatalf("after the failover %s = %q, %v; want kept", key, v, err)
	}
}

// TestClusterClientFollowsFailover: a client that only sends commands (no
// explicit reload) reaches a killed master's keys on the promoted replica
// within seconds, not after the client's periodic reload (a minute).
func TestClusterClientFollowsFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("a six-node Redis Cluster and a failover take ~10 s")
	}
	c := redistest.StartCluster(t, 3)
	rdb := c.ClientAs(redisserver.UserAdmin)
	ctx := context.Background()
	key := "k:{CA}"
	if err := rdb.Set(ctx, key, "kept", 0).Err(); err != nil {
		t.Fatal(err)
	}
	old := c.MasterOf(key)
	if n, err := old.Client().Do(ctx, "WAIT", 1, 1000).Int(); err != nil || n != 1 {
		t.Fatalf("WAIT 1: %d replicas, %v", n, err)
	}
	old.Kill()
	began := time.Now()
	var v string
	var err error
	for v, err = rdb.Get(ctx, key).Result(); err != nil && time.Since(began) < 30*time.Second; v, err = rdb.Get(ctx, key).Result() {
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(began)
	t.Logf("read back %.1f s after the kill", took.Seconds())
	if err != nil || v != "kept" {
		t.Fatalf("%s = %q, %v; want kept", key, v, err)
	}
	if took > 20*time.Second {
		t.Fatalf("the client reached the promoted replica %.0f s after the kill; want it to follow the failover (node timeout 1.5 s)", took.Seconds())
	}
}
