// The intake log's Redis side (see the package comment, "The intake log").

package votequeue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
)

// ErrNoHead is returned by GetHead when no head was published for a
// partition's log yet.
var ErrNoHead = errors.New("votequeue: no signed tree head yet")

// LogLen returns the number of entries in a partition's log.
func LogLen(ctx context.Context, rdb redis.Cmdable, partition string) (uint64, error) {
	n, err := rdb.LLen(ctx, LogKey(partition)).Uint64()
	if err != nil {
		return 0, fmt.Errorf("votequeue: length of the %s log: %w", partition, err)
	}
	return n, nil
}

// LogEntries returns entries [start, end) of a partition's log (fewer if
// the log is shorter).
func LogEntries(ctx context.Context, rdb redis.Cmdable, partition string, start, end uint64) ([][]byte, error) {
	if end <= start {
		return nil, nil
	}
	vals, err := rdb.LRange(ctx, LogKey(partition), int64(start), int64(end-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("votequeue: read the %s log [%d, %d): %w", partition, start, end, err)
	}
	out := make([][]byte, len(vals))
	for i, v := range vals {
		out[i] = []byte(v)
	}
	return out, nil
}

// publishScript replaces a head only with one of a larger log.
// KEYS: head; ARGV: new size, new head JSON. Returns 1 if stored.
var publishScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and cjson.decode(cur).size >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1`)

// PublishHead stores h as its partition's latest head unless the stored
// one covers at least as many entries; it reports whether it stored h.
func PublishHead(ctx context.Context, rdb redis.Scripter, h ballot.TreeHead) (bool, error) {
	data, err := json.Marshal(h)
	if err != nil {
		return false, err
	}
	n, err := publishScript.Run(ctx, rdb, []string{HeadKey(h.State)}, h.Size, data).Int()
	if err != nil {
		return false, fmt.Errorf("votequeue: publish the %s head: %w", h.State, err)
	}
	return n == 1, nil
}

// GetHead reads a partition's latest published head, or ErrNoHead.
func GetHead(ctx context.Context, rdb redis.Cmdable, partition string) (ballot.TreeHead, error) {
	data, err := rdb.Get(ctx, HeadKey(partition)).Bytes()
	if errors.Is(err, redis.Nil) {
		return ballot.TreeHead{}, ErrNoHead
	}
	if err != nil {
		return ballot.TreeHead{}, fmt.Errorf("votequeue: read the %s head: %w", partition, err)
	}
	var h ballot.TreeHead
	if err := json.Unmarshal(data, &h); err != nil {
		return ballot.TreeHead{}, fmt.Errorf("votequeue: decode the %s head: %w", partition, err)
	}
	return h, nil
}
