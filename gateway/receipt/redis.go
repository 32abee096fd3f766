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
	RDB    redis.UniversalClient
	States func() []string // the election's states, for roll look-ups
}

// Location reads the batcher's record of a vote.
func (s RedisStore) Location(ctx context.Context, voteID string) (votequeue.Location, error) {
	return votequeue.GetLocation(ctx, s.RDB, voteID)
}

// Claim returns the vote id holding a pending claim on the nullifier, or "".
func (s RedisStore) Claim(ctx context.Context, state, nullifier string) (string, error) {
	id, err := s.RDB.Get(ctx, votequeue.ClaimKey(state, nullifier)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read claim: %w", err)
	}
	return id, nil
}

// RollState finds the state whose roll holds the nullifier (one pipelined
// round trip over the election's states), or "" if none does.
func (s RedisStore) RollState(ctx context.Context, nullifier string) (string, error) {
	raw, err := ballot.ParseHash(nullifier)
	if err != nil {
		return "", err
	}
	states := s.States()
	pipe := s.RDB.Pipeline()
	cmds := make([]*redis.BoolCmd, len(states))
	for i, st := range states {
		cmds[i] = pipe.SIsMember(ctx, votequeue.RollKey(st), raw[:])
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return "", fmt.Errorf("roll look-up: %w", err)
	}
	for i, c := range cmds {
		if c.Val() {
			return states[i], nil
		}
	}
	return "", nil
}
