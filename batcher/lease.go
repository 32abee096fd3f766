package batcher

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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

// The registry (registryKey) is a sorted set of the live batcher processes,
// scored by when each one's liveness ends (Unix ms). A member is the
// process's owner and its partition list (registryMember), so that every
// heartbeat sees whether all live batchers serve the same lanes: each takes
// its fair share of its own list's lanes over all of them (fairShare), so
// different lists can leave lanes unserved. A member without a list (a
// batcher from before lists were published) is not compared.

// listMark separates a registry member's owner from its partition list.
const listMark = " partitions="

// registryMember is owner's member of the registry: the owner, listMark and
// its partitions sorted, comma-separated.
func registryMember(owner string, partitions []string) string {
	return owner + listMark + strings.Join(slices.Sorted(slices.Values(partitions)), ",")
}

// peerList is a live batcher serving another partition list than this one.
type peerList struct {
	owner      string
	partitions []string // sorted
}

// heartbeatScript, with KEYS[1] the registry and ARGV member, expiry (ms),
// now (ms) and join ("1" or "0"): drops the expired members, lists the live
// members whose partition list differs from the member's, and adds (or
// renews) the member, unless join is "1" and some live member's differs.
// Returns the live members' count after adding (0: not added), then the
// differing members.
var heartbeatScript = redis.NewScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local mark = '` + listMark + `([^ ]*)$'
local own = string.match(ARGV[1], mark)
local out = {0}
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local list = string.match(m, mark)
  if list and list ~= own then out[#out + 1] = m end
end
if ARGV[4] == '1' and #out > 1 then return out end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
out[1] = redis.call('ZCARD', KEYS[1])
return out`)

// heartbeat records member as live until now+ttl and returns how many
// batcher processes are live and those of them whose partition list differs
// from member's. With join (a process starting) a differing one keeps
// member out of the registry: live is then 0.
func heartbeat(ctx context.Context, rdb redis.Cmdable, member string, now time.Time, ttl time.Duration, join bool) (live int, others []peerList, err error) {
	res, err := heartbeatScript.Run(ctx, rdb, []string{registryKey}, member, now.Add(ttl).UnixMilli(), now.UnixMilli(), join).Slice()
	if err != nil {
		return 0, nil, fmt.Errorf("batcher heartbeat: %w", err)
	}
	n, ok := res[0].(int64)
	if !ok {
		return 0, nil, fmt.Errorf("batcher heartbeat: unexpected reply %v", res)
	}
	for _, m := range res[1:] {
		s, _ := m.(string)
		i := strings.LastIndex(s, listMark) // the script returns only members with a list
		others = append(others, peerList{owner: s[:i], partitions: strings.Split(s[i+len(listMark):], ",")})
	}
	return int(n), others, nil
}

// leaveRegistry removes member from the live set (graceful shutdown).
func leaveRegistry(ctx context.Context, rdb redis.Cmdable, member string) error {
	return rdb.ZRem(ctx, registryKey, member).Err()
}

// ErrPartitionsDiffer is Run's refusal to start while a live batcher
// sharing its Redis serves another partition list.
var ErrPartitionsDiffer = errors.New("batcher: a live batcher sharing this Redis serves another partition list")

// differingLists describes how the lists of others differ from own, and
// what to do about it.
func differingLists(own []string, others []peerList) string {
	own = slices.Sorted(slices.Values(own))
	var b strings.Builder
	for _, o := range others {
		fmt.Fprintf(&b, "batcher %s serves %s (%s); ", o.owner, strings.Join(o.partitions, ","), listDiff(own, o.partitions))
	}
	fmt.Fprintf(&b, "this one serves %s. Batchers sharing a Redis must all serve the same partitions (batcher --partitions: one list for all, or none for the election's states), since each takes its fair share of its own list's lanes over all of them and different lists can leave lanes unserved: give this one the live batchers' list, or stop them all and start them again with one list (one killed without draining counts as live until its lease TTL has passed)", strings.Join(own, ","))
	return b.String()
}

// listDiff names the partitions only in own and those only in theirs (both
// sorted).
func listDiff(own, theirs []string) string {
	var onlyOwn, onlyTheirs []string
	for _, p := range own {
		if _, found := slices.BinarySearch(theirs, p); !found {
			onlyOwn = append(onlyOwn, p)
		}
	}
	for _, p := range theirs {
		if _, found := slices.BinarySearch(own, p); !found {
			onlyTheirs = append(onlyTheirs, p)
		}
	}
	var parts []string
	if len(onlyTheirs) > 0 {
		parts = append(parts, "only in its list: "+strings.Join(onlyTheirs, ","))
	}
	if len(onlyOwn) > 0 {
		parts = append(parts, "only in this one's: "+strings.Join(onlyOwn, ","))
	}
	return strings.Join(parts, "; ")
}

// fairShare is how many of partitions lanes each of live processes should own.
func fairShare(partitions, live int) int {
	if live < 1 {
		live = 1
	}
	return (partitions + live - 1) / live
}
