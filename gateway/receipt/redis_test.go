package receipt

import (
	"context"
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
	s := RedisStore{RDB: rdb, States: func() []string { return []string{"TX", "CA", "NY"} }}
	for raw, want := range map[[32]byte]string{a: "CA", b: "NY", c: "NY", stranger: ""} {
		if got, err := s.RollState(ctx, ballot.HashHex(raw)); err != nil || got != want {
			t.Errorf("RollState(%x…) = %q, %v; want %q", raw[:2], got, err, want)
		}
	}
}
