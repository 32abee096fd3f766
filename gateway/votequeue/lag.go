// Lag: how far the batcher is behind, per partition, for the gateway's
// queue-age metric (the gateway refuses votes on queue depth, not on lag).
// The batcher that holds a partition's lane writes lag:{CA} (LagKey) every
// fraction of a second: the age in milliseconds of the oldest vote in
// votes:{CA} (the stream holds only votes not yet committed, so this is the
// oldest pending vote's time since its 202), with a TTL of a few seconds.
// A missing key means no batcher has reported lately (none runs, or the
// lane is moving to another process).

package votequeue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// LagKey is the Redis key of a partition's lag.
func LagKey(partition string) string { return "lag:" + tag(partition) }

// SetLag records a partition's lag for ttl (on a pipeline or a client).
func SetLag(ctx context.Context, rdb redis.Cmdable, partition string, lag time.Duration, ttl time.Duration) {
	rdb.Set(ctx, LagKey(partition), lag.Milliseconds(), ttl)
}

// GetLag reads a partition's lag; ok is false when no batcher reported it lately.
func GetLag(ctx context.Context, rdb redis.Cmdable, partition string) (lag time.Duration, ok bool, err error) {
	ms, err := rdb.Get(ctx, LagKey(partition)).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read lag of %s: %w", partition, err)
	}
	return time.Duration(ms) * time.Millisecond, true, nil
}

// EntryTime is when Redis added a stream entry, from its id ("<ms>-<seq>").
func EntryTime(id string) (time.Time, error) {
	ms, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("stream entry id %q: %w", id, err)
	}
	return time.UnixMilli(n), nil
}
