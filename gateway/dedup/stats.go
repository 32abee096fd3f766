package dedup

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/gateway/votequeue"
)

// QueueDepth is the number of accepted votes of a partition not yet on the
// ledger: the length of its stream, from which the batcher deletes entries
// once committed (see votequeue).
func (d *Deduper) QueueDepth(ctx context.Context, partition string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.CallTimeout)
	defer cancel()
	n, err := d.rdb.XLen(ctx, votequeue.StreamKey(partition)).Result()
	if err != nil {
		return 0, fmt.Errorf("dedup: depth of %s: %w", partition, err)
	}
	return n, nil
}

// QueueAge is how long the oldest vote of a partition that is not yet on
// the ledger has waited since it was accepted, 0 when none waits. It is the
// lag the batcher holding the partition's lane reports (votequeue.LagKey),
// or, when no batcher reported lately, the age of the stream's first entry
// by Redis's clock.
func (d *Deduper) QueueAge(ctx context.Context, partition string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.CallTimeout)
	defer cancel()
	lag, ok, err := votequeue.GetLag(ctx, d.rdb, partition)
	if err != nil || ok {
		return lag, err
	}
	first, err := d.rdb.XRangeN(ctx, votequeue.StreamKey(partition), "-", "+", 1).Result()
	if err != nil {
		return 0, fmt.Errorf("dedup: oldest vote of %s: %w", partition, err)
	}
	if len(first) == 0 {
		return 0, nil
	}
	at, err := votequeue.EntryTime(first[0].ID)
	if err != nil {
		return 0, fmt.Errorf("dedup: %s: %w", partition, err)
	}
	return max(time.Since(at), 0), nil
}

// BloomStats describes how full a partition's filter is.
type BloomStats struct {
	Fill float64 // fraction of bits set
	// FalsePositiveRate is the estimated chance that a never-seen
	// nullifier tests "maybe seen" now: Fill^k.
	FalsePositiveRate float64
}

// BloomStats counts the set bits of a partition's filter. BITCOUNT is linear
// in the bitmap's size (about 1 ms per 10 MB), so call it seldom.
func (d *Deduper) BloomStats(ctx context.Context, partition string) (BloomStats, error) {
	p, err := d.Params(ctx, partition)
	if err != nil {
		return BloomStats{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.CallTimeout)
	defer cancel()
	ones, err := d.rdb.BitCount(ctx, votequeue.BloomKey(partition), &redis.BitCount{Start: 0, End: -1}).Result()
	if err != nil {
		return BloomStats{}, fmt.Errorf("dedup: Bloom fill of %s: %w", partition, err)
	}
	fill := float64(ones) / float64(p.Bits)
	return BloomStats{Fill: fill, FalsePositiveRate: p.FalsePositiveRate(fill)}, nil
}

// Ping checks that Redis answers.
func (d *Deduper) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.CallTimeout)
	defer cancel()
	if c, ok := d.rdb.(*redis.ClusterClient); ok {
		return pingAny(ctx, c)
	}
	if err := d.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("dedup: redis: %w", err)
	}
	return nil
}

// pingAny succeeds when any node of the cluster answers: a master down
// until its replica is promoted stops only its slots' states, on every
// gateway alike, so it is no reason to take a gateway out of a load
// balancer.
func pingAny(ctx context.Context, c *redis.ClusterClient) error {
	var answered atomic.Bool
	var last atomic.Value
	err := c.ForEachShard(ctx, func(ctx context.Context, node *redis.Client) error {
		if err := node.Ping(ctx).Err(); err != nil {
			last.Store(err)
		} else {
			answered.Store(true)
		}
		return nil
	})
	switch {
	case answered.Load():
		return nil
	case err != nil:
		return fmt.Errorf("dedup: redis cluster: %w", err)
	}
	return fmt.Errorf("dedup: redis cluster: no node answers: %v", last.Load())
}
