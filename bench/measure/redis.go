// What the gateway's Redis data costs per voter: MEMORY USAGE of each kind
// of key (Bloom filters, rolls, vote streams, pending claims, receipts,
// intake logs),
// scaled to a million voters.

package measure

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/gateway/votequeue"
)

// RedisClass is one kind of key.
type RedisClass struct {
	Name         string  `json:"name"`
	Keys         int64   `json:"keys"`  // keys of this kind (estimated from a scan for claims)
	Items        int64   `json:"items"` // what the bytes are per: voters on the roll, queued votes, keys
	Per          string  `json:"per"`   // what Items counts, and how
	Bytes        int64   `json:"bytes"` // total (sampled keys scaled to Keys)
	BytesPerItem float64 `json:"bytes_per_item"`
	MBPerMillion float64 `json:"mb_per_million"` // BytesPerItem * 1e6 / 2^20
}

func newRedisClass(name, per string, keys, items, bytes int64) RedisClass {
	c := RedisClass{Name: name, Per: per, Keys: keys, Items: items, Bytes: bytes}
	if items > 0 {
		c.BytesPerItem = float64(bytes) / float64(items)
		c.MBPerMillion = c.BytesPerItem * 1e6 / (1 << 20)
	}
	return c
}

// RedisUsage is the memory Redis reports and the per-kind breakdown.
type RedisUsage struct {
	UsedBytes int64        `json:"used_memory"`
	Classes   []RedisClass `json:"classes"`
}

// sum adds MEMORY USAGE of keys (missing keys count 0).
func sum(ctx context.Context, rdb *redis.Client, keys []string) (int64, error) {
	var total int64
	for _, k := range keys {
		n, err := rdb.MemoryUsage(ctx, k).Result()
		if err != nil && err != redis.Nil {
			return 0, fmt.Errorf("measure: MEMORY USAGE %s: %w", k, err)
		}
		total += n
	}
	return total, nil
}

// sampleMatch scans every key matching pattern, counting them, and scales
// the MEMORY USAGE of the first sample of them to the count.
func sampleMatch(ctx context.Context, rdb *redis.Client, pattern string, sample int) (count, bytes int64, err error) {
	var sampled, sampledBytes int64
	iter := rdb.Scan(ctx, 0, pattern, 5000).Iterator()
	for iter.Next(ctx) {
		count++
		if sampled < int64(sample) {
			n, err := rdb.MemoryUsage(ctx, iter.Val()).Result()
			if err == nil {
				sampled++
				sampledBytes += n
			}
		}
	}
	if err := iter.Err(); err != nil {
		return 0, 0, fmt.Errorf("measure: scan %s: %w", pattern, err)
	}
	if sampled == 0 {
		return count, 0, nil
	}
	return count, sampledBytes * count / sampled, nil
}

// RedisUsedMemory is INFO memory's used_memory.
func RedisUsedMemory(ctx context.Context, rdb *redis.Client) (int64, error) {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, fmt.Errorf("measure: INFO memory: %w", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("measure: no used_memory in INFO")
}

// RedisQueue is Redis's used_memory and what the vote streams hold, read
// at one moment: a few commands a partition, cheap enough to take while the
// batcher drains (RedisMemory's other key families scan every key).
type RedisQueue struct {
	UsedBytes   int64 // INFO memory's used_memory
	Queued      int64 // votes in the partitions' streams (XLEN)
	StreamBytes int64 // MEMORY USAGE of the streams
	Streams     int64 // partitions
}

// ReadRedisQueue reads the queue's figures now.
func ReadRedisQueue(ctx context.Context, rdb *redis.Client, states []string) (RedisQueue, error) {
	q := RedisQueue{Streams: int64(len(states))}
	var err error
	if q.UsedBytes, err = RedisUsedMemory(ctx, rdb); err != nil {
		return q, err
	}
	if q.StreamBytes, err = sum(ctx, rdb, partitionKeys(states, votequeue.StreamKey)); err != nil {
		return q, err
	}
	for _, s := range states {
		n, err := rdb.XLen(ctx, votequeue.StreamKey(s)).Result()
		if err != nil {
			return q, fmt.Errorf("measure: XLEN: %w", err)
		}
		q.Queued += n
	}
	return q, nil
}

func partitionKeys(states []string, key func(string) string) []string {
	out := make([]string, len(states))
	for i, s := range states {
		out[i] = key(s)
	}
	return out
}

// RedisMemory sizes the per-voter keys (Bloom filters, and the rolls'
// shards, which keep whether each voter voted) per voter on the roll Redis
// holds (the fields of the shards: every voter loaded, the ledger drives'
// too), and the per-vote keys present now (streams per queued vote;
// pending claims or pending hashes per pending vote; receipts per
// committed vote; intake logs per entry). Key families a gateway version
// does not use measure 0. It is ReadRedisQueue then Breakdown.
func RedisMemory(ctx context.Context, rdb *redis.Client, states []string) (RedisUsage, error) {
	q, err := ReadRedisQueue(ctx, rdb, states)
	if err != nil {
		return RedisUsage{}, err
	}
	return q.Breakdown(ctx, rdb, states)
}

// Breakdown completes RedisMemory's figures with every key family but the
// streams, read now, and q's used_memory and streams: take q while votes
// are queued (after a surge, when the queue is deepest) and the breakdown
// once they are committed, so that its scans of every key (0.2 s of Redis's
// CPU at the 131,000 keys of an intake-only `make bench`, more with the
// client's) do not slow the drain being timed, and the receipts count
// every committed vote.
func (q RedisQueue) Breakdown(ctx context.Context, rdb *redis.Client, states []string) (RedisUsage, error) {
	u := RedisUsage{UsedBytes: q.UsedBytes}
	bloom, err := sum(ctx, rdb, partitionKeys(states, votequeue.BloomKey))
	if err != nil {
		return u, err
	}
	// The rolls: each state's shard hashes, nullifier -> voted or not.
	rollKeys, rollBytes, voters, err := hashFields(ctx, rdb, "roll:*")
	if err != nil {
		return u, err
	}
	// Pending votes: a claim key per vote ("claim:{CA}:<nullifier>"), or
	// one hash per state ("pending:{CA}", a field per vote).
	claims, claimBytes, err := sampleMatch(ctx, rdb, "claim:*", 500)
	if err != nil {
		return u, err
	}
	hashes, pendingBytes, pendingVotes, err := hashFields(ctx, rdb, "pending:*")
	if err != nil {
		return u, err
	}
	// Receipts: hashes of vote-id buckets (a field per committed vote) and
	// each partition's hash of what a batch's votes share.
	buckets, bucketBytes, recs, err := hashFields(ctx, rdb, votequeue.ReceiptBuckets)
	if err != nil {
		return u, err
	}
	batchKeys, batchBytes, _, err := hashFields(ctx, rdb, votequeue.BatchesKey("*"))
	if err != nil {
		return u, err
	}
	// The intake logs: an entry per accepted vote, kept for good.
	logBytes, err := sum(ctx, rdb, partitionKeys(states, votequeue.LogKey))
	if err != nil {
		return u, err
	}
	var logged, logKeys int64
	for _, s := range states {
		n, err := rdb.LLen(ctx, votequeue.LogKey(s)).Result()
		if err != nil {
			return u, fmt.Errorf("measure: LLEN: %w", err)
		}
		if n > 0 {
			logged, logKeys = logged+n, logKeys+1
		}
	}
	onRoll := "voters on the roll in Redis (fields of the shards)"
	u.Classes = []RedisClass{
		newRedisClass("bloom filters (per voter on the roll)", onRoll, int64(len(states)), voters, bloom),
		newRedisClass("roll shards (per voter on the roll)", onRoll, rollKeys, voters, rollBytes),
		newRedisClass("vote streams (per queued vote)", "votes queued (XLEN)", q.Streams, q.Queued, q.StreamBytes),
		newRedisClass("pending claims (per claim)", "claim keys", claims, claims, claimBytes),
		newRedisClass("pending hashes (per pending vote)", "pending votes (fields)", hashes, pendingVotes, pendingBytes),
		newRedisClass("receipts (per committed vote)", "receipts of committed votes (fields)", buckets+batchKeys, recs, bucketBytes+batchBytes),
		newRedisClass("intake logs (per accepted vote)", "log entries, one per accepted vote (LLEN)", logKeys, logged, logBytes),
	}
	return u, nil
}

// hashFields sums MEMORY USAGE and HLEN over the hashes matching pattern,
// a page of the scan in one pipeline: `make bench` called it while the
// batcher drained, on ~110,000 keys, and a round trip per call cost Redis
// and the caller ~11x the CPU (BenchmarkRedisMemory: 5.0 core-s a call).
func hashFields(ctx context.Context, rdb *redis.Client, pattern string) (keys, bytes, fields int64, err error) {
	var cursor uint64
	for {
		page, next, err := rdb.ScanType(ctx, cursor, pattern, 1000, "hash").Result()
		if err != nil {
			return 0, 0, 0, fmt.Errorf("measure: scan %s: %w", pattern, err)
		}
		pipe := rdb.Pipeline()
		usage, lens := make([]*redis.IntCmd, len(page)), make([]*redis.IntCmd, len(page))
		for i, k := range page {
			usage[i], lens[i] = pipe.MemoryUsage(ctx, k), pipe.HLen(ctx, k)
		}
		if len(page) > 0 {
			pipe.Exec(ctx) // errors are read per command below
		}
		for i, k := range page {
			n, err := usage[i].Result()
			if err != nil && err != redis.Nil {
				return 0, 0, 0, fmt.Errorf("measure: MEMORY USAGE %s: %w", k, err)
			}
			f, err := lens[i].Result()
			if err != nil {
				return 0, 0, 0, fmt.Errorf("measure: HLEN %s: %w", k, err)
			}
			keys, bytes, fields = keys+1, bytes+n, fields+f
		}
		if next == 0 {
			return keys, bytes, fields, nil
		}
		cursor = next
	}
}
