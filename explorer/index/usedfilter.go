package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/bits"
	"math/rand/v2"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/explorer/audit"
)

// usedFilter is a Bloom filter of the keys (nullifierKey) of the used
// nullifiers' segments (and of the used_votes and used_votes_recent tables
// of an index written before them), which the writer's duplicate lookups (UsedNullifiers) consult
// first: on an honest ledger nearly no vote's nullifier was used before, so
// nearly no lookup reaches the table. It answers "maybe" for every key in
// the table (and about 1% of the others), never "no" for one in it. Keys
// of a transaction rolled back stay in it: they only cost a lookup.
//
// It is built from the segments and tables when the index's first Writer begins (a scan
// of both), sized for twice the keys they hold and at least filterMinKeys
// (1.25 bytes per key it is sized for: 2.5 bytes per key held when built,
// 1.25 once full, 1.25 MB at least), and rebuilt so when it holds more keys
// than it was sized for. A Writer is used by one
// goroutine and the index has one at a time, so it needs no lock.
type usedFilter struct {
	seed     uint64
	bits     []uint64
	keys     int // added since it was built
	capacity int // keys it is sized for
}

const (
	filterBitsPerKey = 10 // with filterHashes: ~1% false positives at capacity
	filterHashes     = 7
	filterMinKeys    = 1 << 20
)

// newUsedFilter returns a filter of the used table's keys as q (the write
// transaction) sees them, sized for at least minKeys and twice the keys it
// holds.
func newUsedFilter(ctx context.Context, q *sql.Tx, minKeys int) (*usedFilter, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM used_votes) + (SELECT COUNT(*) FROM used_votes_recent)
		+ (SELECT COALESCE(SUM(rows), 0) FROM key_segments WHERE kind = ?)`, segmentUsed).Scan(&n)
	if err != nil {
		return nil, fmt.Errorf("size the used nullifiers' filter: %w", err)
	}
	f := sizedFilter(minKeys, n)
	rows, err := q.QueryContext(ctx, `SELECT key FROM used_votes UNION ALL SELECT key FROM used_votes_recent`)
	if err != nil {
		return nil, fmt.Errorf("build the used nullifiers' filter: %w", err)
	}
	var key int64
	for rows.Next() {
		if err := rows.Scan(&key); err != nil {
			rows.Close()
			return nil, fmt.Errorf("build the used nullifiers' filter: %w", err)
		}
		f.addKey(key)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("build the used nullifiers' filter: %w", err)
	}
	if err := eachSegmentKey(ctx, q, segmentUsed, f.addKey); err != nil {
		return nil, fmt.Errorf("build the used nullifiers' filter: %w", err)
	}
	return f, nil
}

// sizedFilter returns an empty filter sized for at least minKeys and twice
// the n keys it is to hold.
func sizedFilter(minKeys, n int) *usedFilter {
	capacity := max(minKeys, 2*n)
	return &usedFilter{seed: rand.Uint64(), bits: make([]uint64, (capacity*filterBitsPerKey+63)/64), capacity: capacity}
}

// anywhereKey is a nullifier's key whatever its state, in the filter of
// nullifiers alone (the cross_state check's, MaybeUsedAnywhere).
func anywhereKey(nullifier string) int64 { return int64(fnv1a(fnvOffset, nullifier)) }

// anywhereFilter is the Writers' filter of nullifiers alone (anywhereKey)
// for the cross_state check (MaybeUsedAnywhere): a scalable Bloom filter,
// a chain of usedFilters. Keys go to the newest; once it is full a new one
// is chained, sized for twice the keys held (sizedFilter: the keys held
// triple a stage), and a key is probed in each. So it is built from the
// stored batches once a process (newAnywhereFilter), never rebuilt. Its
// false-positive rate is not tightened stage by stage but accepted: at
// most the sum of the stages' (under 1% each, about 0.8% once full), with
// 1 + log3(votes / the first's capacity) stages, the first sized for the
// larger of 1,048,576 votes and twice those stored at the build: from an
// empty index one stage up to 1,048,576 votes, two up to 3,145,728, three
// up to 9,437,184. A false positive costs one lookup by state for each
// other state. Memory is 1.25 bytes a key each stage is sized for: 1.25
// to 3.75 bytes a vote, 1.25 MB at least.
type anywhereFilter struct {
	stages  []*usedFilter
	minKeys int
	keys    int // added, in all stages
}

// newAnywhereFilter returns a filter of nullifiers alone of every vote of
// the stored batches as q (the write transaction) sees them, counted or
// not (one not counted, like a false positive, only costs a lookup by
// state), its first stage sized as newUsedFilter sizes its own. It decodes
// every stored batch, a scan of the votes (no column holds a nullifier
// without its state), so a Writer builds it only when first asked (for an
// election of several states whose roll is not sealed) and the index
// keeps it; log gets the build's duration and keys.
func newAnywhereFilter(ctx context.Context, q querier, minKeys int, log *slog.Logger) (*anywhereFilter, error) {
	start := time.Now()
	var n int
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(SUM(votes), 0) FROM batches`).Scan(&n); err != nil {
		return nil, fmt.Errorf("size the filter of nullifiers alone: %w", err)
	}
	f := &anywhereFilter{stages: []*usedFilter{sizedFilter(minKeys, n)}, minKeys: minKeys}
	err := eachStoredBatch(ctx, q, allBatches, func(_ int64, b ballot.Batch, _ sql.NullString) error {
		f.add(b.Votes)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("build the filter of nullifiers alone: %w", err)
	}
	log.Info("index: built the filter of nullifiers alone for the cross_state check, from the stored batches",
		"keys", f.keys, "duration", time.Since(start).Round(time.Millisecond))
	return f, nil
}

// add adds the nullifiers of votes, to the newest stage, first chaining a
// new one if it is full.
func (f *anywhereFilter) add(votes []ballot.Vote) {
	for _, v := range votes {
		last := f.stages[len(f.stages)-1]
		if last.full() {
			last = sizedFilter(f.minKeys, f.keys)
			f.stages = append(f.stages, last)
		}
		last.addKey(anywhereKey(v.Nullifier))
		f.keys++
	}
}

// mayHold reports whether a vote of nullifier may have been added: false
// means none was.
func (f *anywhereFilter) mayHold(nullifier string) bool {
	key := anywhereKey(nullifier)
	for _, s := range f.stages {
		if s.mayHoldKey(key) {
			return true
		}
	}
	return false
}

// full reports whether the filter holds more keys than it was sized for.
func (f *usedFilter) full() bool { return f.keys > f.capacity }

// hashes are the key's two hashes for double hashing (h1 + i*h2, i <
// filterHashes), the key mixed with the filter's seed; h2 spans all 64
// bits (bit maps a hash by its high bits) and is odd.
func (f *usedFilter) hashes(key int64) (h1, h2 uint64) {
	sum := mix64(uint64(key) ^ f.seed)
	return sum, bits.RotateLeft64(sum, 32) | 1
}

// bit maps hash h onto the filter's bits by a multiply and shift (Lemire's
// fast range), not a division: the filter's operations took a tenth of the
// CPU of a profile of sustained-shape blocks, seven divisions and closure
// calls a key.
func (f *usedFilter) bit(h uint64) uint64 {
	hi, _ := bits.Mul64(h, uint64(len(f.bits))*64)
	return hi
}

func (f *usedFilter) add(k audit.Nullifier) { f.addKey(nullifierKey(k.State, k.Nullifier)) }

func (f *usedFilter) addKey(key int64) {
	h1, h2 := f.hashes(key)
	for i := range uint64(filterHashes) {
		b := f.bit(h1 + i*h2)
		f.bits[b/64] |= 1 << (b % 64)
	}
	f.keys++
}

// mayHold reports whether k may be used: false means it is not.
// It stops at the first of the key's bits that is not set.
func (f *usedFilter) mayHold(k audit.Nullifier) bool {
	return f.mayHoldKey(nullifierKey(k.State, k.Nullifier))
}

// mayHoldKey reports whether key may have been added: false means it was
// not.
func (f *usedFilter) mayHoldKey(key int64) bool {
	h1, h2 := f.hashes(key)
	for i := range uint64(filterHashes) {
		b := f.bit(h1 + i*h2)
		if f.bits[b/64]&(1<<(b%64)) == 0 {
			return false
		}
	}
	return true
}

// mix64 is splitmix64's finalizer: every bit of x moves every bit of the
// result, so the FNV keys' low entropy in some bits does not cluster.
func mix64(x uint64) uint64 {
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
