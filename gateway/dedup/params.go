package dedup

// A partition's shape: its Bloom filter's parameters and its roll's layout,
// stored in Redis by the first to need them and fixed from then on.

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/votechain/votechain/gateway/bloom"
	"github.com/votechain/votechain/gateway/votequeue"
)

// shape is how a partition's Bloom filter and roll are laid out.
type shape struct {
	bloom bloom.Params
	roll  *votequeue.Roll
}

// Params returns the Bloom filter shape of a partition. The first gateway to
// need it (or the roll loader, which sizes it from the roll) stores it with
// SET NX; everyone then uses the stored value, so all gateways agree.
func (d *Deduper) Params(ctx context.Context, partition string) (bloom.Params, error) {
	s, err := d.shape(ctx, partition)
	return s.bloom, err
}

// shape returns the partition's Bloom shape (Params) and roll layout
// (votequeue.EnsureRoll, sized for ExpectedVoters if no roll was loaded),
// fetched once. It touches no key of the vote queue, so the roll tools
// (Rebuild), whose Redis user may not, ask it too. Abort ends its fetch at
// once with ErrClosed (it stores no vote).
func (d *Deduper) shape(ctx context.Context, partition string) (shape, error) {
	d.mu.Lock()
	s, ok := d.params[partition]
	d.mu.Unlock()
	if ok {
		return s, nil
	}
	def, err := bloom.ForCapacity(d.cfg.ExpectedVoters, d.cfg.FalsePositiveRate)
	if err != nil {
		return shape{}, fmt.Errorf("dedup: default Bloom size: %w", err)
	}
	if d.stop.Err() != nil {
		return shape{}, ErrClosed
	}
	return untilStop(d.stop, ErrClosed, func() (shape, error) { return d.fetchShape(ctx, partition, def) })
}

// fetchShape fetches, within CallTimeout, and keeps the partition's shape,
// def its Bloom shape if none is stored.
func (d *Deduper) fetchShape(ctx context.Context, partition string, def bloom.Params) (s shape, err error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.CallTimeout)
	defer cancel()
	if s.bloom, err = EnsureParams(ctx, d.rdb, partition, def); err != nil {
		return shape{}, err
	}
	if s.roll, err = votequeue.EnsureRoll(ctx, d.rdb, partition, votequeue.RollBits(d.cfg.ExpectedVoters)); err != nil {
		return shape{}, err
	}
	d.mu.Lock()
	d.params[partition] = s
	d.mu.Unlock()
	return s, nil
}

// EnsureParams stores def as the partition's Bloom shape unless one is
// stored already, and returns the stored shape.
func EnsureParams(ctx context.Context, rdb redis.Cmdable, partition string, def bloom.Params) (bloom.Params, error) {
	key := votequeue.BloomParamsKey(partition)
	stored, err := rdb.SetArgs(ctx, key, def.String(), redis.SetArgs{Mode: "NX", Get: true}).Result()
	switch {
	case errors.Is(err, redis.Nil):
		return def, nil
	case err != nil:
		return bloom.Params{}, fmt.Errorf("dedup: Bloom params of %s: %w", partition, err)
	}
	p, err := bloom.ParseParams(stored)
	if err != nil {
		return bloom.Params{}, fmt.Errorf("dedup: %s holds %q: %w", key, stored, err)
	}
	return p, nil
}
