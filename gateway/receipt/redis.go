package receipt

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
)

// ErrRedis marks a RedisStore error as the gateway's Redis failing (a call
// failed, or a record in it is unreadable), not the ledger: the API answers
// it as the gateway's own fault (503 unavailable), not ledger_unavailable.
var ErrRedis = errors.New("the gateway's Redis cannot be read")

// redisErr marks err, if any, with ErrRedis.
func redisErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrRedis, err)
}

// ErrElection marks a RedisStore error as the election record being
// unavailable (States failed: none read yet, or the last read is stale):
// the API answers it as every route does that record's absence (503
// election_unavailable), not ledger_unavailable.
var ErrElection = errors.New("the election record is not available")

// RedisStore is the Store over the gateway's Redis. Its errors from Redis
// are ErrRedis; one from States is ErrElection wrapping States' own.
type RedisStore struct {
	RDB redis.UniversalClient
	// States returns the election's states, for roll look-ups, or why it
	// cannot (no fresh election record).
	States func(ctx context.Context) ([]string, error)
}

// Location reads the batcher's record of a vote.
func (s RedisStore) Location(ctx context.Context, voteID string) (votequeue.Location, error) {
	loc, err := votequeue.GetLocation(ctx, s.RDB, voteID)
	if errors.Is(err, votequeue.ErrPending) {
		return loc, err
	}
	return loc, redisErr(err)
}

// Claim returns the id of the nullifier's accepted vote as the state's roll
// records it (votequeue.AcceptedVote), or "".
func (s RedisStore) Claim(ctx context.Context, state, nullifier string) (string, error) {
	roll, ok, err := votequeue.GetRoll(ctx, s.RDB, state)
	if err != nil || !ok {
		return "", redisErr(err)
	}
	voteID, err := votequeue.AcceptedVote(ctx, s.RDB, roll, nullifier)
	return voteID, redisErr(err)
}

// RollState finds the state whose roll holds the nullifier (two pipelined
// round trips over the election's states: their roll layouts, then the
// nullifier's shard in each), or "" if none does. It fails, rather than
// answer "", when the states or any state's roll cannot be read.
func (s RedisStore) RollState(ctx context.Context, nullifier string) (string, error) {
	raw, err := ballot.ParseHash(nullifier)
	if err != nil {
		return "", err
	}
	states, err := s.States(ctx)
	if err != nil {
		return "", fmt.Errorf("roll look-up: the election's states: %w: %w", ErrElection, err)
	}
	pipe := s.RDB.Pipeline()
	layouts := make([]*redis.StringCmd, len(states))
	for i, st := range states {
		layouts[i] = pipe.Get(ctx, votequeue.RollShardsKey(st))
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error: Exec reports the first only
	pipe = s.RDB.Pipeline()
	cmds := make([]*redis.BoolCmd, len(states))
	for i, st := range states {
		bits, err := layouts[i].Int()
		if errors.Is(err, redis.Nil) {
			continue // no roll loaded for st
		}
		if err != nil {
			return "", redisErr(fmt.Errorf("roll look-up: %s: %w", votequeue.RollShardsKey(st), err))
		}
		roll, err := votequeue.NewRoll(st, bits)
		if err != nil {
			return "", redisErr(fmt.Errorf("roll look-up: %s: %w", votequeue.RollShardsKey(st), err))
		}
		cmds[i] = votequeue.OnRoll(ctx, pipe, roll, raw[:])
	}
	if _, err := pipe.Exec(ctx); err != nil { // HEXISTS answers no redis.Nil
		return "", redisErr(fmt.Errorf("roll look-up: %w", err))
	}
	for i, c := range cmds {
		if c != nil && c.Val() {
			return states[i], nil
		}
	}
	return "", nil
}
