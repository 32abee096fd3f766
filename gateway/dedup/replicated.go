package dedup

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/gateway/votequeue"
)

// minSocketTimeout is the shortest socket read and write timeout TuneClient
// sets (go-redis's default): the bound of a call made without a deadline of
// its own.
const minSocketTimeout = 5 * time.Second

// TuneClient sets what the intake, with settings cfg, needs of the Redis
// client it is given (New's rdb), and so of every call made through it:
//   - a call's context deadline bounds its socket reads and writes
//     (ContextTimeoutEnabled), so cfg.CallTimeout (the gateway's
//     --redis-timeout) bounds a call;
//   - the socket timeouts, which bound a call without a deadline, are at
//     least 5 s and never cut an intake call (the script, then on a Redis
//     Cluster WAIT: cfg.CallTimeout + cfg.ReplicaTimeout) short;
//   - the intake script is never sent again after a failure: run again
//     after its connection dropped once it had written, it would find its
//     own votes and answer duplicate for them. On one Redis every call goes
//     through this client, which sends a command once (MaxRetries -1);
//     on a Redis Cluster the cluster client sends a command again, up to
//     MaxRedirects times, after a dropped connection, a dial error or a
//     timeout, whatever MaxRetries is, so the script runs on the slot
//     master's own client (runReplicated; node clients take MaxRetries
//     -1), and only the client's other calls (reads, and writes that a
//     second send leaves as the first did: see docs/architecture.md,
//     intake step 6) go through the cluster client. Callers answer a
//     failed call with 503 (or try again in the background);
//   - 64 connections a node, for the intake's concurrent calls.
func TuneClient(opts *redis.UniversalOptions, cfg Config) {
	opts.ContextTimeoutEnabled = true
	opts.ReadTimeout = max(minSocketTimeout, cfg.CallTimeout+cfg.ReplicaTimeout)
	opts.WriteTimeout = opts.ReadTimeout
	opts.MaxRetries = -1
	opts.PoolSize = 64
}

// failoverRetryPause is the pause between runReplicated's tries.
const failoverRetryPause = 100 * time.Millisecond

// runReplicated runs the script on the master of keys' slot and waits for
// Config.Replicas replicas (0: none) to acknowledge it, on one connection
// (WAIT counts the writes of its own connection). It tries again, up to
// Config.FailoverWait, while the script cannot have run: no reachable
// master, a master without its replicas online, or a refusal before
// execution (MOVED, CLUSTERDOWN, TRYAGAIN, LOADING, READONLY). It returns
// the script's answer as Redis gave it, for call to check and decode.
func (d *Deduper) runReplicated(ctx context.Context, keys []string, args []any) (any, error) {
	deadline := time.Now().Add(d.cfg.FailoverWait)
	for {
		reply, retry, err := d.tryReplicated(ctx, keys, args)
		if !retry || time.Now().After(deadline) {
			return reply, err
		}
		if c, ok := d.rdb.(*redis.ClusterClient); ok {
			c.ReloadState(ctx) // learn a promoted replica
		}
		d.log.Debug("redis master not ready; retrying", "key", keys[0], "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(failoverRetryPause):
		}
	}
}

// tryReplicated makes one attempt; retry reports that nothing was written.
func (d *Deduper) tryReplicated(ctx context.Context, keys []string, args []any) (reply any, retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.CallTimeout+d.cfg.ReplicaTimeout)
	defer cancel()
	node, err := d.master(ctx, keys[0])
	if err != nil {
		return nil, true, err
	}
	if err := d.replicasOnline(ctx, node); err != nil {
		return nil, true, err
	}
	res, err := votequeue.EvalReplicated(ctx, node, d.script, scriptSource, keys, args, d.cfg.Replicas, d.cfg.ReplicaTimeout)
	if errors.Is(err, votequeue.ErrNotReplicated) {
		d.forget(node)
	}
	if err != nil {
		return nil, votequeue.NotRun(err), err
	}
	return res.Val(), false, nil
}

// master is the client of the master of key's slot.
func (d *Deduper) master(ctx context.Context, key string) (*redis.Client, error) {
	return votequeue.Master(ctx, d.rdb, key)
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
