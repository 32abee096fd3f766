package receipt

import (
	"context"
	"errors"
	"testing"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
	"github.com/votechain/votechain/internal/redistest"
)

// RollState finds a nullifier's state on the sharded rolls, voted or not,
// skips states with no roll, and finds no state for a stranger.
func TestRedisStoreRollState(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	null := func(i byte) [32]byte { return ballot.NullifierOf([32]byte{i}, "race") }
	a, b, stranger, c := null(1), null(2), null(3), null(4)
	for st, raw := range map[string][32]byte{"CA": a, "NY": b} {
		roll, err := votequeue.EnsureRoll(ctx, rdb, st, 3)
		if err != nil {
			t.Fatal(err)
		}
		pipe := rdb.Pipeline()
		votequeue.Enroll(ctx, pipe, roll, [][]byte{raw[:]})
		votequeue.MarkVoted(ctx, pipe, roll, raw[:]) // voted or not, it is on the roll
		if st == "NY" {
			votequeue.Enroll(ctx, pipe, roll, [][]byte{c[:]})
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	s := RedisStore{RDB: rdb, States: statesOf("TX", "CA", "NY")}
	for raw, want := range map[[32]byte]string{a: "CA", b: "NY", c: "NY", stranger: ""} {
		if got, err := s.RollState(ctx, ballot.HashHex(raw)); err != nil || got != want {
			t.Errorf("RollState(%x…) = %q, %v; want %q", raw[:2], got, err, want)
		}
	}
}

// statesOf is a RedisStore's States answering states.
func statesOf(states ...string) func(context.Context) ([]string, error) {
	return func(context.Context) ([]string, error) { return states, nil }
}

// RollState fails, where it would otherwise answer "no roll holds it" (a
// 404 for a voter who may have voted), when the election's states cannot
// be read, or when a state's roll layout cannot be read, even after a
// state that has none (a pipeline reports only its first command's error:
// that state's redis.Nil).
func TestRedisStoreRollStateFailsRatherThanMiss(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	raw := ballot.NullifierOf([32]byte{1}, "race")
	null := ballot.HashHex(raw)
	stale := errors.New("election record too old")
	s := RedisStore{RDB: rdb, States: func(context.Context) ([]string, error) { return nil, stale }}
	if got, err := s.RollState(ctx, null); !errors.Is(err, stale) {
		t.Errorf("RollState without the election's states = %q, %v; want %v", got, err, stale)
	}
	// CA's layout key holds a hash (WRONGTYPE), NY's no number.
	if err := rdb.HSet(ctx, votequeue.RollShardsKey("CA"), "f", "v").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Set(ctx, votequeue.RollShardsKey("NY"), "three", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for _, states := range [][]string{{"TX", "CA"}, {"TX", "NY"}} {
		s := RedisStore{RDB: rdb, States: statesOf(states...)}
		if got, err := s.RollState(ctx, null); err == nil {
			t.Errorf("RollState over %v with %s's layout unreadable = %q, nil; want an error", states, states[1], got)
		}
	}
}

// RedisStore's errors are ErrRedis when Redis fails, and only then: a vote
// with no record is ErrPending, the election's states failing is
// ErrElection wrapping States' own error.
func TestRedisStoreFailuresAreErrRedis(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	stale := errors.New("election record too old")
	s := RedisStore{RDB: srv.Client(), States: statesOf("CA")}
	id, err := ballot.NewVoteID()
	if err != nil {
		t.Fatal(err)
	}
	null := ballot.HashHex(ballot.NullifierOf([32]byte{1}, "race"))
	if _, err := s.Location(ctx, id); !errors.Is(err, votequeue.ErrPending) || errors.Is(err, ErrRedis) {
		t.Errorf("Location of a vote with no record: %v; want ErrPending only", err)
	}
	noStates := RedisStore{RDB: s.RDB, States: func(context.Context) ([]string, error) { return nil, stale }}
	if _, err := noStates.RollState(ctx, null); !errors.Is(err, stale) || !errors.Is(err, ErrElection) || errors.Is(err, ErrRedis) {
		t.Errorf("RollState without the election's states: %v; want ErrElection wrapping %v, not ErrRedis", err, stale)
	}
	srv.Kill()
	for name, call := range map[string]func() error{
		"Location":  func() error { _, err := s.Location(ctx, id); return err },
		"Claim":     func() error { _, err := s.Claim(ctx, "CA", null); return err },
		"RollState": func() error { _, err := s.RollState(ctx, null); return err },
	} {
		if err := call(); !errors.Is(err, ErrRedis) {
			t.Errorf("%s with Redis down: %v; want ErrRedis", name, err)
		}
	}
}
