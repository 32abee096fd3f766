package votequeue

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
)

// Roll is the layout of a partition's roll (see the package comment, "The
// roll and the already-voted record"): 2^Bits hashes, a nullifier in the
// one its first Bits bits name. It is fixed when the roll is first loaded
// (EnsureRoll) and never changes.
type Roll struct {
	prefix string // of the shards' key names
	bits   int
	keys   []string // the shards' key names by number, if made (EnsureRoll)
}

// MaxRollBits bounds Roll's bits: 65,536 shards.
const MaxRollBits = 16

// rollShardTarget is the most members RollBits plans per shard, well
// below Redis's hash-max-listpack-entries (512 by default), so every
// shard stays a listpack.
const rollShardTarget = 128

// RollBits is the number of shard bits for a roll of entries nullifiers:
// the fewest that put at most about 128 in a shard.
func RollBits(entries uint64) int {
	bits := 0
	for bits < MaxRollBits && entries>>bits > rollShardTarget {
		bits++
	}
	return bits
}

// NewRoll returns the layout of partition's roll in 2^bits shards.
func NewRoll(partition string, bits int) (*Roll, error) {
	if bits < 0 || bits > MaxRollBits {
		return nil, fmt.Errorf("votequeue: %d roll shard bits, want 0..%d", bits, MaxRollBits)
	}
	return &Roll{prefix: "roll:" + tag(partition) + ":", bits: bits}, nil
}

// withKeys makes the shards' key names once, so Key allocates nothing.
func (r *Roll) withKeys() *Roll {
	r.keys = make([]string, 1<<r.bits)
	for i := range r.keys {
		r.keys[i] = r.shardKey(i)
	}
	return r
}

func (r *Roll) shardKey(i int) string { return r.prefix + strconv.FormatInt(int64(i), 16) }

// Bits is the number of shard bits.
func (r *Roll) Bits() int { return r.bits }

// Key is the shard that holds a raw nullifier (32 bytes).
func (r *Roll) Key(raw []byte) string {
	i := int((uint32(raw[0])<<16 | uint32(raw[1])<<8 | uint32(raw[2])) >> (24 - r.bits))
	if r.keys != nil {
		return r.keys[i]
	}
	return r.shardKey(i)
}

// RollShardsKey holds the shard bits of a partition's roll, set once.
func RollShardsKey(partition string) string { return "roll:" + tag(partition) + ":shards" }

// legacyRollKey is the set that held a partition's roll before the sharded
// hashes; EnsureRoll refuses to work over it.
func legacyRollKey(partition string) string { return "roll:" + tag(partition) }

// EnsureRoll stores bits as the partition's roll layout unless one is
// stored already, and returns the stored layout. It refuses a Redis that
// holds the roll as it was kept before the shards (the sets roll:{P} and
// voted:{P}): that data must be wiped and the roll loaded again.
func EnsureRoll(ctx context.Context, rdb redis.Cmdable, partition string, bits int) (*Roll, error) {
	pipe := rdb.Pipeline()
	legacy := pipe.Exists(ctx, legacyRollKey(partition))
	stored := pipe.SetArgs(ctx, RollShardsKey(partition), bits, redis.SetArgs{Mode: "NX", Get: true})
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("votequeue: roll layout of %s: %w", partition, err)
	}
	if legacy.Val() > 0 {
		return nil, fmt.Errorf("votequeue: Redis holds the roll of %s as the set %s, the layout before the sharded hashes; wipe the system's Redis (`votechain --dir RUNFOLDER down --wipe`) and load the roll again", partition, legacyRollKey(partition))
	}
	if s, err := stored.Result(); err == nil {
		if bits, err = strconv.Atoi(s); err != nil {
			return nil, fmt.Errorf("votequeue: %s holds %q", RollShardsKey(partition), s)
		}
	}
	r, err := NewRoll(partition, bits)
	if err != nil {
		return nil, err
	}
	return r.withKeys(), nil
}

// GetRoll returns a partition's stored roll layout; ok is false when no
// roll was loaded (nothing is on it).
func GetRoll(ctx context.Context, rdb redis.Cmdable, partition string) (r *Roll, ok bool, err error) {
	bits, err := rdb.Get(ctx, RollShardsKey(partition)).Int()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("votequeue: roll layout of %s: %w", partition, err)
	}
	r, err = NewRoll(partition, bits)
	return r, err == nil, err
}

// Roll values: a nullifier on the roll that has not voted, and one recorded
// as voted without its vote id (from the ledger: MarkVoted, the exact check).
// A nullifier whose vote the gateway accepted holds that vote's id instead,
// as 16 raw bytes (AppendRawVoteID).
const (
	NotVoted = "0"
	Voted    = "1"
)

// AppendRawVoteID appends the 16 raw bytes of a vote id (32 lower-case hex,
// ballot.ValidVoteID), the value a nullifier holds on the roll once its
// vote was accepted.
func AppendRawVoteID(dst []byte, voteID string) []byte { return appendUnhex(dst, voteID) }

// Enroll queues on pipe the addition of raw nullifiers (32 bytes each) to a
// roll as not voted (HSETNX: a voter who has voted stays so). It is
// idempotent.
func Enroll(ctx context.Context, pipe redis.Pipeliner, r *Roll, nullifiers [][]byte) {
	for _, n := range nullifiers {
		pipe.HSetNX(ctx, r.Key(n), string(n), NotVoted)
	}
}

// markScript marks a nullifier on the roll as voted. KEYS: shard; ARGV:
// raw nullifier. Returns 1 if it had not voted.
var markScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) ~= '0' then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], '1')
return 1`)

// MarkVoted queues on pipe the marking of a raw nullifier on the roll as
// voted; the command's value is 1 if it was on the roll and had not voted.
func MarkVoted(ctx context.Context, pipe redis.Pipeliner, r *Roll, raw []byte) *redis.Cmd {
	return markScript.Eval(ctx, pipe, []string{r.Key(raw)}, raw)
}

// RollStatus says whether a raw nullifier is on the roll, and if so
// whether it has voted.
func RollStatus(ctx context.Context, rdb redis.Cmdable, r *Roll, raw []byte) (onRoll, voted bool, err error) {
	v, err := rdb.HGet(ctx, r.Key(raw), string(raw)).Result()
	if errors.Is(err, redis.Nil) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("votequeue: roll status: %w", err)
	}
	return true, v != NotVoted, nil
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

// ackScript: KEYS lease, stream, journal; ARGV lease value, journal
// field, floor ("" for none), then the stream ids to delete one by one
// (the batch's at or above the floor). It trims the entries below the
// floor with one XTRIM MINID and deletes the ids named with XDEL (one call
// per 4,000 ids).
var ackScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[3] ~= '' then
  redis.call('XTRIM', KEYS[2], 'MINID', ARGV[3])
end
for i = 4, #ARGV, 4000 do
  redis.call('XDEL', KEYS[2], unpack(ARGV, i, math.min(i + 3999, #ARGV)))
end
redis.call('HDEL', KEYS[3], ARGV[2])
return 1`)

// Ack settles the votes of a batch committed VALID on the ledger: it
// deletes their stream entries and the batch's journal field, in one
// atomic call under the caller's fence (ErrFenced if it no longer holds).
// The stream thus holds exactly the votes not yet settled, which is what
// a batcher taking a lane over reads again. floor, a stream id or "" for
// none, is the caller's promise that every entry below it is settled
// (this batch's or earlier ones): those go with one XTRIM MINID, far
// cheaper than XDEL naming each, and only the batch's ids at or above the
// floor are named (chosen here, so Redis neither receives nor parses the
// others: when the batch is the oldest unsettled one, none). The votes'
// nullifiers stay marked as voted on the roll for good.
func Ack(ctx context.Context, rdb redis.Scripter, partition string, f Fence, floor string, streamIDs []string) error {
	args := make([]any, 0, 3+len(streamIDs))
	args = append(args, f.Lease, f.JournalField, floor)
	lo, hasFloor := splitEntryID(floor)
	if floor != "" && !hasFloor {
		return fmt.Errorf("votequeue: acknowledge votes of %s: floor %q is not a stream id", partition, floor)
	}
	for _, id := range streamIDs {
		if at, ok := splitEntryID(id); !hasFloor || !ok || !at.below(lo) {
			args = append(args, id)
		}
	}
	keys := []string{f.LeaseKey, StreamKey(partition), f.JournalKey}
	ok, err := ackScript.Run(ctx, rdb, keys, args...).Int()
	if err != nil {
		return fmt.Errorf("votequeue: acknowledge %d votes of %s: %w", len(streamIDs), partition, err)
	}
	if ok != 1 {
		return ErrFenced
	}
	return nil
}

// entryID is a stream entry id's two numbers.
type entryID [2]uint64

// splitEntryID reads "<ms>-<seq>"; ok is false for anything else.
func splitEntryID(s string) (id entryID, ok bool) {
	ms, seq, found := strings.Cut(s, "-")
	a, err1 := strconv.ParseUint(ms, 10, 64)
	b, err2 := strconv.ParseUint(seq, 10, 64)
	return entryID{a, b}, found && err1 == nil && err2 == nil
}

func (a entryID) below(b entryID) bool { return a[0] < b[0] || a[0] == b[0] && a[1] < b[1] }

// AcceptedVote returns the id of the vote accepted for a nullifier (64
// hex), as its roll shard records it, or "" when the roll records none
// (not on the roll, not voted, or recorded as voted from the ledger).
func AcceptedVote(ctx context.Context, rdb redis.Cmdable, r *Roll, nullifierHex string) (string, error) {
	raw, err := ballot.ParseHash(nullifierHex)
	if err != nil {
		return "", err
	}
	v, err := rdb.HGet(ctx, r.Key(raw[:]), string(raw[:])).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("votequeue: accepted vote: %w", err)
	}
	if len(v) != 16 {
		return "", nil
	}
	return hex.EncodeToString([]byte(v)), nil
}

// OnRoll queues on pipe the check of whether a raw nullifier is on a roll
// (voted or not).
func OnRoll(ctx context.Context, pipe redis.Pipeliner, r *Roll, raw []byte) *redis.BoolCmd {
	return pipe.HExists(ctx, r.Key(raw), string(raw))
}

// PendingCounts returns how many accepted votes of each partition are not
// yet acknowledged on the ledger (XLEN votes:{P}: Ack deletes the entries
// it acknowledges; one pipelined round trip), leaving out partitions with
// none. The operator's finalise refuses while any remain.
func PendingCounts(ctx context.Context, rdb redis.Cmdable, partitions []string) (map[string]int64, error) {
	pipe := rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(partitions))
	for i, p := range partitions {
		cmds[i] = pipe.XLen(ctx, StreamKey(p))
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

// RollSize returns the number of nullifiers on a roll, voted or not (an
// HLEN of every shard in one pipelined round trip).
func RollSize(ctx context.Context, rdb redis.Cmdable, r *Roll) (int64, error) {
	pipe := rdb.Pipeline()
	cmds := make([]*redis.IntCmd, 1<<r.bits)
	for i := range cmds {
		cmds[i] = pipe.HLen(ctx, r.shardKey(i))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("votequeue: roll size: %w", err)
	}
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n, nil
}
