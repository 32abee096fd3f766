package dedup

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// cluster is what runReplicated needs of a Redis Cluster client
// (redis.ClusterClient): the master of a key's slot, and a refresh of the
// slot map after a failover.
type cluster interface {
	MasterForKey(ctx context.Context, key string) (*redis.Client, error)
	ReloadState(ctx context.Context)
}

// runReplicated runs the script on the master of keys' slot and waits for
// Config.Replicas replicas to acknowledge it, on one connection (WAIT
// counts the writes of its own connection). It tries again, up to
// Config.FailoverWait, while the script cannot have run: no reachable
// master, a master without its replicas online, or a refusal before
// execution (MOVED, CLUSTERDOWN, TRYAGAIN, LOADING, READONLY).
func (d *Deduper) runReplicated(ctx context.Context, keys []string, args []any) ([]any, error) {
	deadline := time.Now().Add(d.cfg.FailoverWait)
	for {
		reply, retry, err := d.tryReplicated(ctx, keys, args)
		if !retry || time.Now().After(deadline) {
			return reply, err
		}
		if c, ok := d.rdb.(cluster); ok {
			c.ReloadState(ctx)
		}
		d.log.Debug("redis master not ready; retrying", "key", keys[0], "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// tryReplicated makes one attempt; retry reports that nothing was written.
func (d *Deduper) tryReplicated(ctx context.Context, keys []string, args []any) (reply []any, retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.CallTimeout+d.cfg.ReplicaTimeout)
	defer cancel()
	node, err := d.master(ctx, keys[0])
	if err != nil {
		return nil, true, err
	}
	if err := d.replicasOnline(ctx, node); err != nil {
		return nil, true, err
	}
	run := func(eval func(redis.Pipeliner) *redis.Cmd) (*redis.Cmd, *redis.IntCmd, error) {
		pipe := node.Pipeline()
		res := eval(pipe)
		wait := redis.NewIntCmd(ctx, "WAIT", d.cfg.Replicas, d.cfg.ReplicaTimeout.Milliseconds())
		_ = pipe.Process(ctx, wait)
		_, err := pipe.Exec(ctx)
		return res, wait, err
	}
	res, wait, _ := run(func(p redis.Pipeliner) *redis.Cmd { return p.EvalSha(ctx, d.script.Hash(), keys, args...) })
	if res.Err() != nil && strings.HasPrefix(res.Err().Error(), "NOSCRIPT") {
		res, wait, _ = run(func(p redis.Pipeliner) *redis.Cmd { return p.Eval(ctx, scriptSource, keys, args...) })
	}
	if err := res.Err(); err != nil {
		return nil, notRun(err), err
	}
	acked, err := wait.Result()
	if err != nil {
		return nil, false, fmt.Errorf("WAIT: %w", err)
	}
	if acked < int64(d.cfg.Replicas) {
		d.forget(node)
		return nil, false, fmt.Errorf("%w: %d of %d replicas in %v", ErrNotReplicated, acked, d.cfg.Replicas, d.cfg.ReplicaTimeout)
	}
	reply, err = res.Slice()
	return reply, false, err
}

// master is the client of the master of key's slot: the cluster's, or the
// single server's own client (its pipelines use one connection too).
func (d *Deduper) master(ctx context.Context, key string) (*redis.Client, error) {
	switch c := d.rdb.(type) {
	case cluster:
		return c.MasterForKey(ctx, key)
	case *redis.Client:
		return c, nil
	}
	return nil, fmt.Errorf("dedup: waiting for replicas needs a cluster or single-server client, not %T", d.rdb)
}

// replicasTTL is how long a master's count of online replicas is trusted.
const replicasTTL = 500 * time.Millisecond

// replicasOnline fails unless node's master has Config.Replicas replicas
// online (ROLE, trusted for replicasTTL once enough).
func (d *Deduper) replicasOnline(ctx context.Context, node *redis.Client) error {
	addr := node.Options().Addr
	if at, ok := d.replicasOK.Load(addr); ok && time.Since(at.(time.Time)) < replicasTTL {
		return nil
	}
	role, err := node.Do(ctx, "ROLE").Slice()
	if err != nil {
		return fmt.Errorf("ROLE: %w", err)
	}
	n := 0
	if len(role) >= 3 && role[0] == "master" {
		replicas, _ := role[2].([]any)
		n = len(replicas)
	}
	if n < d.cfg.Replicas {
		return fmt.Errorf("%w: the master at %s has %d of %d replicas online", ErrNotReplicated, addr, n, d.cfg.Replicas)
	}
	d.replicasOK.Store(addr, time.Now())
	return nil
}

// forget drops node's trusted replica count (it just failed a WAIT).
func (d *Deduper) forget(node *redis.Client) { d.replicasOK.Delete(node.Options().Addr) }

// notRun reports whether err proves the script did not run: the
// connection was never made, or the server refused it before execution.
func notRun(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	msg := err.Error()
	for _, prefix := range []string{"MOVED", "ASK", "CLUSTERDOWN", "TRYAGAIN", "LOADING", "READONLY", "MASTERDOWN"} {
		if strings.HasPrefix(msg, prefix) {
			return true
		}
	}
	return false
}
