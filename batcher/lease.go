package batcher

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// A lease gives one batcher process the lane of one partition. Its value is
// "<owner>/<token>", with a token from a per-partition counter, so a process
// whose lease expired and was taken over can never pass the fenced scripts
// (journal, ack) again, even if it comes back before noticing.

var acquireScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0`)

var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`)

var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1`)

// acquireLease takes the partition's lease if nobody holds it and returns its value.
func acquireLease(ctx context.Context, rdb redis.Cmdable, partition, owner string, ttl time.Duration) (string, bool, error) {
	held, err := rdb.Exists(ctx, leaseKey(partition)).Result()
	if err != nil || held == 1 {
		return "", false, err
	}
	token, err := rdb.Incr(ctx, leaseTokenKey(partition)).Result()
	if err != nil {
		return "", false, fmt.Errorf("lease token for %s: %w", partition, err)
	}
	value := fmt.Sprintf("%s/%d", owner, token)
	ok, err := acquireScript.Run(ctx, rdb, []string{leaseKey(partition)}, value, ttl.Milliseconds()).Int()
	if err != nil {
		return "", false, fmt.Errorf("acquire lease of %s: %w", partition, err)
	}
	return value, ok == 1, nil
}

// renewLease extends a held lease; false means it was lost.
func renewLease(ctx context.Context, rdb redis.Cmdable, partition, value string, ttl time.Duration) (bool, error) {
	ok, err := renewScript.Run(ctx, rdb, []string{leaseKey(partition)}, value, ttl.Milliseconds()).Int()
	return ok == 1, err
}

// releaseLease gives a held lease up so another process can take the lane at once.
func releaseLease(ctx context.Context, rdb redis.Cmdable, partition, value string) error {
	return releaseScript.Run(ctx, rdb, []string{leaseKey(partition)}, value).Err()
}

// heartbeat records this process as live until now+ttl and returns how many
// batcher processes are live.
func heartbeat(ctx context.Context, rdb redis.Cmdable, owner string, now time.Time, ttl time.Duration) (int, error) {
	pipe := rdb.TxPipeline()
	pipe.ZAdd(ctx, registryKey, redis.Z{Score: float64(now.Add(ttl).UnixMilli()), Member: owner})
	pipe.ZRemRangeByScore(ctx, registryKey, "-inf", fmt.Sprint(now.UnixMilli()))
	live := pipe.ZCard(ctx, registryKey)
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("batcher heartbeat: %w", err)
	}
	return int(live.Val()), nil
}

// leaveRegistry removes this process from the live set (graceful shutdown).
func leaveRegistry(ctx context.Context, rdb redis.Cmdable, owner string) error {
	return rdb.ZRem(ctx, registryKey, owner).Err()
}

// fairShare is how many of partitions lanes each of live processes should own.
func fairShare(partitions, live int) int {
	if live < 1 {
		live = 1
	}
	return (partitions + live - 1) / live
}
