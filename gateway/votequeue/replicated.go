package votequeue

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// On a Redis Cluster a master's AOF is not enough: what its replica has not
// received dies with it when the replica is promoted. Writes that must
// survive a failover (the gateway's intake, the batcher's journal) are made
// with EvalReplicated.

// ErrNotReplicated means a script ran on the master but fewer replicas
// than asked acknowledged its writes in time: they may survive a failover
// or not.
var ErrNotReplicated = errors.New("not acknowledged by the replicas")

// Master is the client of the master of key's slot: on a cluster
// (redis.ClusterClient) that node's client, on a single server its own.
func Master(ctx context.Context, rdb redis.UniversalClient, key string) (*redis.Client, error) {
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		return c.MasterForKey(ctx, key)
	case *redis.Client:
		return c, nil
	}
	return nil, fmt.Errorf("votequeue: no master for %T", rdb)
}

// EvalReplicated runs script on node (Master of keys' slot) followed by
// WAIT replicas timeout on the same connection (WAIT counts the writes of
// its own connection, and so every earlier write of that master), and
// returns the script's answer once that many replicas acknowledged it.
// An error for which NotRun holds means the script did not run; any other
// may come after it ran (ErrNotReplicated: it did).
func EvalReplicated(ctx context.Context, node *redis.Client, script *redis.Script, source string, keys []string, args []any, replicas int, timeout time.Duration) (*redis.Cmd, error) {
	run := func(eval func(redis.Pipeliner) *redis.Cmd) (*redis.Cmd, *redis.IntCmd) {
		pipe := node.Pipeline()
		res := eval(pipe)
		wait := redis.NewIntCmd(ctx, "WAIT", replicas, timeout.Milliseconds())
		_ = pipe.Process(ctx, wait)
		_, _ = pipe.Exec(ctx) // each command carries its own error
		return res, wait
	}
	res, wait := run(func(p redis.Pipeliner) *redis.Cmd { return p.EvalSha(ctx, script.Hash(), keys, args...) })
	if res.Err() != nil && strings.HasPrefix(res.Err().Error(), "NOSCRIPT") {
		res, wait = run(func(p redis.Pipeliner) *redis.Cmd { return p.Eval(ctx, source, keys, args...) })
	}
	if err := res.Err(); err != nil {
		return res, err
	}
	acked, err := wait.Result()
	if err != nil {
		return res, fmt.Errorf("WAIT: %w", err)
	}
	if acked < int64(replicas) {
		return res, fmt.Errorf("%w: %d of %d replicas in %v", ErrNotReplicated, acked, replicas, timeout)
	}
	return res, nil
}

// NotRun reports whether err proves a command did not run: the connection
// was never made, or the server refused it before execution (a slot moved
// or without a master, a node loading or a replica).
func NotRun(err error) bool {
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
