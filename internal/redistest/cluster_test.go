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
	if n, err := node.Do(ctx, "WAIT", 1, 1000).Int(); err != nil || n != 1 {
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
		t.Fatalf("after the failover %s = %q, %v; want kept", key, v, err)
	}
	if m := c.MasterOf(key); m == nil || m == old {
		t.Fatalf("%s read back, but no replica promoted", key)
	}
	if took > 20*time.Second {
		t.Fatalf("the client reached the promoted replica %.0f s after the kill; want it to follow the failover (node timeout 1.5 s)", took.Seconds())
	}
}
