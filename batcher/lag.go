package batcher

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/gateway/votequeue"
)

// reportLag publishes every LagInterval, for each lane this process holds,
// the lane's lag (the age of the oldest vote in its stream: the stream holds
// only votes not yet committed) and backlog (the stream's length), as
// metrics and in votequeue.LagKey for the gateway's queue-age metric.
func (b *Batcher) reportLag(ctx context.Context) {
	for sleep(ctx, b.clock, b.cfg.LagInterval) {
		if err := b.publishLag(ctx, b.Lanes()); err != nil && ctx.Err() == nil {
			b.log.Warn("publish lag", "err", err)
			b.metrics.retries.WithLabelValues("redis").Inc()
		}
	}
}

func (b *Batcher) publishLag(ctx context.Context, partitions []string) error {
	if len(partitions) == 0 {
		return nil
	}
	pipe := b.rdb.Pipeline()
	heads := make([]*redis.XMessageSliceCmd, len(partitions))
	lens := make([]*redis.IntCmd, len(partitions))
	for i, p := range partitions {
		heads[i] = pipe.XRangeN(ctx, votequeue.StreamKey(p), "-", "+", 1)
		lens[i] = pipe.XLen(ctx, votequeue.StreamKey(p))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	now := b.clock.Now()
	pipe = b.rdb.Pipeline()
	for i, p := range partitions {
		var age time.Duration
		if msgs := heads[i].Val(); len(msgs) > 0 {
			if at, err := votequeue.EntryTime(msgs[0].ID); err == nil {
				age = max(0, now.Sub(at))
			}
		}
		b.metrics.lag.WithLabelValues(p).Set(age.Seconds())
		b.metrics.backlog.WithLabelValues(p).Set(float64(lens[i].Val()))
		votequeue.SetLag(ctx, pipe, p, age, b.cfg.LeaseTTL)
	}
	_, err := pipe.Exec(ctx)
	return err
}
