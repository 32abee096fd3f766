package dedup

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/gateway/votequeue"
)

// NullifierSource lists the nullifiers recorded on the ledger for a state,
// calling fn for each (64 hex). The Fabric adapter implements it with a
// range query over the state's nullifier keys.
type NullifierSource interface {
	Nullifiers(ctx context.Context, state string, fn func(nullifierHex string) error) error
}

// RebuildStats counts what Rebuild did for one state.
type RebuildStats struct {
	Nullifiers int // nullifiers read from the source
	// MarkedVoted counts nullifiers the ledger holds that were on the roll
	// as not voted (a roll reloaded into a Redis that lost its data) and are
	// now marked as voted.
	MarkedVoted int
}

// rebuildBatch is the number of nullifiers per pipeline.
const rebuildBatch = 5000

// Rebuild repopulates a state's Bloom filter from the ledger's nullifiers
// (after a Redis loss, or to check a filter) and marks every nullifier the
// ledger holds as voted on the state's roll (see votequeue), so re-sent votes
// are answered from Redis again. It only ever sets bits and marks voters as
// voted, so it is safe while the gateway serves. progress, if not nil, is
// called with the count after each batch.
func (d *Deduper) Rebuild(ctx context.Context, state string, src NullifierSource, progress func(done int)) (RebuildStats, error) {
	s, err := d.shape(ctx, state)
	if err != nil {
		return RebuildStats{}, err
	}
	var st RebuildStats
	batch := make([]string, 0, rebuildBatch)
	var positions []uint64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		pipe := d.rdb.Pipeline()
		moves := make([]*redis.Cmd, len(batch))
		for i, n := range batch {
			raw, err := hex.DecodeString(n)
			if err != nil || len(raw) != 32 {
				return fmt.Errorf("dedup: rebuild %s: nullifier %q is not 64 hex characters", state, n)
			}
			positions = s.bloom.Positions(positions[:0], raw)
			args := make([]any, 0, 4*len(positions))
			for _, pos := range positions {
				args = append(args, "SET", "u1", pos, 1)
			}
			pipe.BitField(ctx, votequeue.BloomKey(state), args...)
			moves[i] = votequeue.MarkVoted(ctx, pipe, s.roll, raw)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("dedup: rebuild %s: %w", state, err)
		}
		for _, c := range moves {
			if n, _ := c.Int(); n == 1 {
				st.MarkedVoted++
			}
		}
		st.Nullifiers += len(batch)
		batch = batch[:0]
		if progress != nil {
			progress(st.Nullifiers)
		}
		return nil
	}
	err = src.Nullifiers(ctx, state, func(n string) error {
		batch = append(batch, n)
		if len(batch) == rebuildBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return st, fmt.Errorf("dedup: rebuild %s: %w", state, err)
	}
	return st, nil
}
