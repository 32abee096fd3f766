package receipt

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
)

// RedisStore is the Store over the gateway's Redis.
type RedisStore struct {
	RDB redis.UniversalClient
	// States returns the election's states, for roll look-ups, or why it
	// cannot (no fresh election record).
	States func(ctx context.Context) ([]string, error)
}

// Location reads the batcher's record of a vote.
func (s RedisStore) Location(ctx context.Context, voteID string) (votequeue.Location, error) {
	return votequeue.GetLocation(ctx, s.RDB, voteID)
}

// Claim returns the id of the nullifier's accepted vote as the state's roll
// records it (votequeue.AcceptedVote), or "".
func (s RedisStore) Claim(ctx context.Context, state, nullifier string) (string, error) {
	roll, ok, err := votequeue.GetRoll(ctx, s.RDB, state)
	if err != nil || !ok {
		return "", err
	}
	return votequeue.AcceptedVote(ctx, s.RDB, roll, nullifier)
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
		return "", fmt.Errorf("roll look-up: the election's states: %w", err)
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
			return "", fmt.Errorf("roll look-up: %s: %w", votequeue.RollShardsKey(st), err)
		}
		roll, err := votequeue.NewRoll(st, bits)
		if err != nil {
			return "", fmt.Errorf("roll look-up: %s: %w", votequeue.RollShardsKey(st), err)
		}
		cmds[i] = votequeue.OnRoll(ctx, pipe, roll, raw[:])
	}
	if _, err := pipe.Exec(ctx); err != nil { // HEXISTS answers no redis.Nil
		return "", fmt.Errorf("roll look-up: %w", err)
	}
	for i, c := range cmds {
		if c != nil && c.Val() {
			return states[i], nil
		}
	}
	return "", nil
}
