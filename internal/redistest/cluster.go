package redistest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/internal/redisserver"
)

// Cluster is a Redis Cluster owned by a test: masters masters with one
// replica each, every node a Server (so a test can Kill and Restart one)
// sharing one ACL, as the system's cluster runs (redisserver.ClusterArgs).
type Cluster struct {
	Nodes []*Server // the first len/2 start as masters, node i+len/2 replicates node i
	ACL   redisserver.ACL

	t testing.TB
}

// StartCluster starts 2×masters nodes, makes them a cluster and waits until
// it is ok with every replica online; the nodes stop in t.Cleanup.
func StartCluster(t testing.TB, masters int) *Cluster {
	t.Helper()
	bin := serverBin(t)
	dir := testDir(t)
	c := &Cluster{ACL: redisserver.ACL{Dir: filepath.Join(dir, "acl")}, t: t}
	if err := c.ACL.Ensure(nil, "127.0.0.1:0"); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	var nodes []redisserver.Node
	for i := 0; i < 2*masters; i++ {
		s := &Server{Dir: filepath.Join(dir, fmt.Sprintf("node%d", i)), ACL: c.ACL, t: t}
		if err := os.MkdirAll(s.Dir, 0o755); err != nil {
			t.Fatalf("redistest: %v", err)
		}
		s.startOnReservedPorts(bin, true, nil)
		c.Nodes = append(c.Nodes, s)
		nodes = append(nodes, redisserver.Node{Addr: s.Addr, BusPort: s.busPort})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	connect := func(addr string) *redis.Client {
		for _, s := range c.Nodes {
			if s.Addr == addr {
				return redis.NewClient(s.Options(redisserver.UserAdmin))
			}
		}
		return nil
	}
	if err := redisserver.CreateCluster(ctx, nodes, masters, connect); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	return c
}

// Endpoint is the cluster's addresses.
func (c *Cluster) Endpoint() redisserver.Endpoint {
	e := redisserver.Endpoint{Cluster: true}
	for _, s := range c.Nodes {
		e.Addrs = append(e.Addrs, s.Addr)
	}
	return e
}

// ClientAs returns a cluster client authenticated as an ACL user, closed
// in t.Cleanup.
func (c *Cluster) ClientAs(user string) redis.UniversalClient {
	c.t.Helper()
	pw, err := c.ACL.Password(user)
	if err != nil {
		c.t.Fatalf("redistest: %v", err)
	}
	rdb := c.Endpoint().Client(user, pw)
	c.t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// MasterOf is the node serving key's slot as master according to the
// cluster now, nil while no node does (mid-failover).
func (c *Cluster) MasterOf(key string) *Server {
	c.t.Helper()
	pw, err := c.ACL.Password(redisserver.UserAdmin)
	if err != nil {
		c.t.Fatalf("redistest: %v", err)
	}
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Endpoint().Addrs, Username: redisserver.UserAdmin, Password: pw})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	node, err := rdb.MasterForKey(ctx, key)
	if err != nil {
		return nil
	}
	for _, s := range c.Nodes {
		if s.Addr == node.Options().Addr && s.PID() != 0 {
			return s
		}
	}
	return nil
}
