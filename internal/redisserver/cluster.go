package redisserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/internal/netaddr"
)

// Endpoint is where the system's Redis is: one server, or the seed
// addresses of a Redis Cluster. Every component builds its client from it
// (Options), so a component runs unchanged on either.
type Endpoint struct {
	Addrs   []string
	Cluster bool
}

// ParseEndpoint reads a comma-separated address list, each host:port with a
// port number (netaddr.Check). Several addresses, or cluster set, mean a
// Redis Cluster (any one node is enough as a seed: the client learns the
// others from it).
func ParseEndpoint(list string, cluster bool) (Endpoint, error) {
	var addrs []string
	for _, a := range strings.Split(list, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if err := netaddr.Check(a); err != nil {
			return Endpoint{}, fmt.Errorf("redis address %q: %v", a, err)
		}
		addrs = append(addrs, a)
	}
	if len(addrs) == 0 {
		return Endpoint{}, errors.New("no redis address given")
	}
	return Endpoint{Addrs: addrs, Cluster: cluster || len(addrs) > 1}, nil
}

// String is the comma-separated address list.
func (e Endpoint) String() string { return strings.Join(e.Addrs, ",") }

// Options are the client options of an ACL user. NewClient
// makes of them a redis.Client for one server or a redis.ClusterClient for
// a cluster (which sends each key to the master of its slot and follows
// redirections and failovers).
func (e Endpoint) Options(user, password string) *redis.UniversalOptions {
	return &redis.UniversalOptions{Addrs: e.Addrs, IsClusterMode: e.Cluster, Username: user, Password: password}
}

// Client is NewClient of Options.
func (e Endpoint) Client(user, password string) redis.UniversalClient {
	return NewClient(e.Options(user, password))
}

// NewClient is redis.NewUniversalClient of opts, except that a cluster
// client reloads its map of the slots whenever it cannot connect to a node.
// go-redis reloads the map only on a redirection (MOVED, ASK) and once a
// minute, so a client whose master died kept dialling the dead address for
// up to a minute although a replica had taken over seconds after
// (cluster-node-timeout); with this it follows within a few commands.
// Every component builds its Redis client here.
func NewClient(opts *redis.UniversalOptions) redis.UniversalClient {
	rdb := redis.NewUniversalClient(opts)
	if c, ok := rdb.(*redis.ClusterClient); ok {
		c.OnNewNode(func(node *redis.Client) { node.AddHook(reloadOnDialError{c}) })
	}
	return rdb
}

// reloadOnDialError asks its cluster client to reload the slots' map when
// a node's connection cannot be made. Reloads run in the background, one at
// a time, at most every 200 ms (redis.ClusterClient.ReloadState).
type reloadOnDialError struct{ c *redis.ClusterClient }

func (h reloadOnDialError) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil {
			h.c.ReloadState(ctx)
		}
		return conn, err
	}
}

func (reloadOnDialError) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (reloadOnDialError) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// Node is one node of a cluster to create: its client address and cluster
// bus port.
type Node struct {
	Addr    string
	BusPort int
}

// CreateCluster joins nodes (started with ClusterArgs, each empty or already
// in this cluster) into a Redis Cluster: the first masters nodes share the
// 16384 slots evenly and each further node replicates master i mod
// masters. connect returns an admin connection to a node. It returns once
// every node sees the cluster ok and every master has its replicas online.
// A cluster that already exists (a restart: each node keeps nodes.conf) is
// only waited for.
func CreateCluster(ctx context.Context, nodes []Node, masters int, connect func(addr string) *redis.Client) error {
	if masters < 1 || len(nodes) < masters {
		return fmt.Errorf("redis cluster: %d nodes for %d masters", len(nodes), masters)
	}
	clients := make([]*redis.Client, len(nodes))
	for i, n := range nodes {
		clients[i] = connect(n.Addr)
		defer clients[i].Close()
	}
	known, err := clusterInfo(ctx, clients[0], "cluster_known_nodes")
	if err != nil {
		return err
	}
	if known == strconv.Itoa(len(nodes)) {
		return waitCluster(ctx, clients, masters)
	}
	ids := make([]string, len(nodes))
	for i, c := range clients {
		if ids[i], err = c.Do(ctx, "CLUSTER", "MYID").Text(); err != nil {
			return fmt.Errorf("redis cluster: node %s: %w", nodes[i].Addr, err)
		}
	}
	for _, n := range nodes[1:] {
		host, port, _ := net.SplitHostPort(n.Addr)
		if err := clients[0].Do(ctx, "CLUSTER", "MEET", host, port, n.BusPort).Err(); err != nil {
			return fmt.Errorf("redis cluster: meet %s: %w", n.Addr, err)
		}
	}
	for i := 0; i < masters; i++ {
		first, last := i*16384/masters, (i+1)*16384/masters-1
		if err := clients[i].Do(ctx, "CLUSTER", "ADDSLOTSRANGE", first, last).Err(); err != nil {
			return fmt.Errorf("redis cluster: slots %d-%d to %s: %w", first, last, nodes[i].Addr, err)
		}
	}
	for i := masters; i < len(nodes); i++ {
		// A node can replicate a master only once it has heard of it.
		master := ids[i%masters]
		err := poll(ctx, func(ctx context.Context) error {
			return clients[i].Do(ctx, "CLUSTER", "REPLICATE", master).Err()
		})
		if err != nil {
			return fmt.Errorf("redis cluster: %s to replicate %s: %w", nodes[i].Addr, nodes[i%masters].Addr, err)
		}
	}
	return waitCluster(ctx, clients, masters)
}

// waitCluster waits until every node says cluster_state:ok and each master
// has as many online replicas as the layout gives it.
func waitCluster(ctx context.Context, clients []*redis.Client, masters int) error {
	want := (len(clients) - masters) / masters
	return poll(ctx, func(ctx context.Context) error {
		for _, c := range clients {
			state, err := clusterInfo(ctx, c, "cluster_state")
			if err != nil {
				return err
			}
			if state != "ok" {
				return fmt.Errorf("node %s: cluster_state %s", c.Options().Addr, state)
			}
			n, err := OnlineReplicas(ctx, c)
			if err != nil {
				return err
			}
			if role, _ := c.Do(ctx, "ROLE").Slice(); len(role) > 0 && role[0] == "master" && n < want {
				return fmt.Errorf("master %s: %d of %d replicas online", c.Options().Addr, n, want)
			}
		}
		return nil
	})
}

// OnlineReplicas is how many replicas the node at c serves (ROLE; 0 for a
// replica).
func OnlineReplicas(ctx context.Context, c interface {
	Do(ctx context.Context, args ...any) *redis.Cmd
}) (int, error) {
	role, err := c.Do(ctx, "ROLE").Slice()
	if err != nil {
		return 0, err
	}
	if len(role) < 3 || role[0] != "master" {
		return 0, nil
	}
	replicas, _ := role[2].([]any)
	return len(replicas), nil
}

// clusterInfo reads one field of CLUSTER INFO.
func clusterInfo(ctx context.Context, c *redis.Client, field string) (string, error) {
	info, err := c.ClusterInfo(ctx).Result()
	if err != nil {
		return "", fmt.Errorf("redis cluster: node %s: %w", c.Options().Addr, err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("redis cluster: node %s: no %s in CLUSTER INFO", c.Options().Addr, field)
}

// poll runs f every 100 ms until it succeeds or ctx ends (then its last
// error).
func poll(ctx context.Context, f func(context.Context) error) error {
	for {
		err := f(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (%v)", err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
