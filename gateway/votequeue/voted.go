package votequeue

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
)

// enrollScript adds nullifiers to a roll unless they have voted already, so
// reloading a roll never puts a voter back among those who have not voted.
// KEYS: roll, voted; ARGV: raw nullifiers. Returns the number added.
var enrollScript = redis.NewScript(`
local added = 0
for i = 1, #ARGV do
  if redis.call('SISMEMBER', KEYS[2], ARGV[i]) == 0 then
    added = added + redis.call('SADD', KEYS[1], ARGV[i])
  end
end
return added`)

// Enroll queues on pipe the addition of raw nullifiers (32 bytes each) to a
// partition's roll, skipping those that have voted. It is idempotent.
func Enroll(ctx context.Context, pipe redis.Pipeliner, partition string, nullifiers [][]byte) {
	args := make([]any, len(nullifiers))
	for i, n := range nullifiers {
		args[i] = n
	}
	enrollScript.Eval(ctx, pipe, []string{RollKey(partition), VotedKey(partition)}, args...)
}

// ErrFenced is returned by Ack when the caller no longer holds its lease.
var ErrFenced = errors.New("votequeue: lease lost")

// Fence makes Ack conditional on the caller's lease: it runs only while
// LeaseKey holds Lease, and then also deletes JournalField of the hash
// JournalKey (the caller's record of the batch). Both keys must carry the
// partition's hash tag.
type Fence struct {
	LeaseKey, Lease          string
	JournalKey, JournalField string
}

// ackScript: KEYS lease, stream, pending, journal; ARGV lease value, group,
// journal field, id count n, n stream ids, then raw nullifiers.
var ackScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local n = tonumber(ARGV[4])
local function each(from, to, fn)
  for i = from, to, 4000 do fn(unpack(ARGV, i, math.min(i + 3999, to))) end
end
each(5, 4 + n, function(...)
  redis.call('XACK', KEYS[2], ARGV[2], ...)
  redis.call('XDEL', KEYS[2], ...)
end)
each(5 + n, #ARGV, function(...) redis.call('HDEL', KEYS[3], ...) end)
redis.call('HDEL', KEYS[4], ARGV[3])
return 1`)

// Ack settles the votes of a batch committed VALID on the ledger: their
// stream entries are acknowledged and deleted and their pending records
// dropped, in one atomic call under the caller's fence (ErrFenced if it no
// longer holds). Their nullifiers stay in the partition's voted set for good.
func Ack(ctx context.Context, rdb redis.Scripter, partition string, f Fence, streamIDs []string, votes []ballot.Vote) error {
	args := make([]any, 0, 4+len(streamIDs)+len(votes))
	args = append(args, f.Lease, Group, f.JournalField, len(streamIDs))
	for _, id := range streamIDs {
		args = append(args, id)
	}
	for _, v := range votes {
		raw, err := ballot.ParseHash(v.Nullifier)
		if err != nil {
			return fmt.Errorf("votequeue: ack vote %s: %w", v.ID, err)
		}
		args = append(args, raw[:])
	}
	keys := []string{f.LeaseKey, StreamKey(partition), PendingKey(partition), f.JournalKey}
	ok, err := ackScript.Run(ctx, rdb, keys, args...).Int()
	if err != nil {
		return fmt.Errorf("votequeue: acknowledge %d votes of %s: %w", len(streamIDs), partition, err)
	}
	if ok != 1 {
		return ErrFenced
	}
	return nil
}

// PendingVote returns the id of the accepted vote of a nullifier (64 hex)
// not yet acknowledged on the ledger, or "".
func PendingVote(ctx context.Context, rdb redis.Cmdable, partition, nullifierHex string) (string, error) {
	raw, err := ballot.ParseHash(nullifierHex)
	if err != nil {
		return "", err
	}
	id, err := rdb.HGet(ctx, PendingKey(partition), string(raw[:])).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("votequeue: pending vote: %w", err)
	}
	return id, nil
}

// OnRoll queues on pipe the two checks of whether a raw nullifier is on a
// partition's roll: among those who have not voted, and among those who
// have. It is on the roll if either answers true.
func OnRoll(ctx context.Context, pipe redis.Pipeliner, partition string, raw []byte) [2]*redis.BoolCmd {
	return [2]*redis.BoolCmd{pipe.SIsMember(ctx, RollKey(partition), raw), pipe.SIsMember(ctx, VotedKey(partition), raw)}
}

// PendingCounts returns how many accepted votes of each partition are not
// yet acknowledged on the ledger (HLEN pending:{P}, one pipelined round
// trip), leaving out partitions with none. The operator's finalise refuses
// while any remain.
func PendingCounts(ctx context.Context, rdb redis.Cmdable, partitions []string) (map[string]int64, error) {
	pipe := rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(partitions))
	for i, p := range partitions {
		cmds[i] = pipe.HLen(ctx, PendingKey(p))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("votequeue: count pending votes: %w", err)
	}
	out := map[string]int64{}
	for i, p := range partitions {
		if n := cmds[i].Val(); n > 0 {
			out[p] = n
		}
	}
	return out, nil
}
