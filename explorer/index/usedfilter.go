package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/votechain/votechain/explorer/audit"
)

// usedFilter is a Bloom filter of the keys (nullifierKey) of the used_votes
// and used_votes_recent tables, which the writer's duplicate lookups (UsedNullifiers) consult
// first: on an honest ledger nearly no vote's nullifier was used before, so
// nearly no lookup reaches the table. It answers "maybe" for every key in
// the table (and about 1% of the others), never "no" for one in it. Keys
// of a transaction rolled back stay in it: they only cost a lookup.
//
// It is built from the tables when the index's first Writer begins (a scan
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
	if err := q.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM used_votes) + (SELECT COUNT(*) FROM used_votes_recent)`).Scan(&n); err != nil {
		return nil, fmt.Errorf("size the used nullifiers' filter: %w", err)
	}
	capacity := max(minKeys, 2*n)
	f := &usedFilter{seed: rand.Uint64(), bits: make([]uint64, (capacity*filterBitsPerKey+63)/64), capacity: capacity}
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
	return f, nil
}

// full reports whether the filter holds more keys than it was sized for.
func (f *usedFilter) full() bool { return f.keys > f.capacity }

// positions calls fn with the bit of each of the key's hashes (double
// hashing of the key mixed with the filter's seed).
func (f *usedFilter) positions(key int64, fn func(bit uint64)) {
	sum := mix64(uint64(key) ^ f.seed)
	h1, h2 := sum, sum>>32|1
	m := uint64(len(f.bits) * 64)
	for i := range uint64(filterHashes) {
		fn((h1 + i*h2) % m)
	}
}

func (f *usedFilter) add(k audit.Nullifier) { f.addKey(nullifierKey(k.State, k.Nullifier)) }

func (f *usedFilter) addKey(key int64) {
	f.positions(key, func(bit uint64) { f.bits[bit/64] |= 1 << (bit % 64) })
	f.keys++
}

// mayHold reports whether k may be in the table: false means it is not.
func (f *usedFilter) mayHold(k audit.Nullifier) bool {
	maybe := true
	f.positions(nullifierKey(k.State, k.Nullifier), func(bit uint64) { maybe = maybe && f.bits[bit/64]&(1<<(bit%64)) != 0 })
	return maybe
}

// mix64 is splitmix64's finalizer: every bit of x moves every bit of the
// result, so the FNV keys' low entropy in some bits does not cluster.
func mix64(x uint64) uint64 {
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
