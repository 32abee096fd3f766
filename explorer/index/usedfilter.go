package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/maphash"

	"github.com/votechain/votechain/explorer/audit"
)

// usedFilter is a Bloom filter of the keys (state, nullifier) of the used
// table, which the writer's duplicate lookups (UsedNullifiers) consult
// first: on an honest ledger nearly no vote's nullifier was used before, so
// nearly no lookup reaches the table. It answers "maybe" for every key in
// the table (and about 1% of the others), never "no" for one in it. Keys
// of a transaction rolled back stay in it: they only cost a lookup.
//
// It is built from the table when the index's first Writer begins (a scan
// of the table: memory about 1.25 bytes per key) and rebuilt twice as large
// when it holds more keys than it was sized for. A Writer is used by one
// goroutine and the index has one at a time, so it needs no lock.
type usedFilter struct {
	seed     maphash.Seed
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
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM used_keys`).Scan(&n); err != nil {
		return nil, fmt.Errorf("size the used nullifiers' filter: %w", err)
	}
	capacity := max(minKeys, 2*n)
	f := &usedFilter{seed: maphash.MakeSeed(), bits: make([]uint64, (capacity*filterBitsPerKey+63)/64), capacity: capacity}
	rows, err := q.QueryContext(ctx, `SELECT state, nullifier FROM used_keys`)
	if err != nil {
		return nil, fmt.Errorf("build the used nullifiers' filter: %w", err)
	}
	var k audit.Nullifier
	for rows.Next() {
		if err := rows.Scan(&k.State, &k.Nullifier); err != nil {
			rows.Close()
			return nil, fmt.Errorf("build the used nullifiers' filter: %w", err)
		}
		f.add(k)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("build the used nullifiers' filter: %w", err)
	}
	return f, nil
}

// full reports whether the filter holds more keys than it was sized for.
func (f *usedFilter) full() bool { return f.keys > f.capacity }

// positions calls fn with the bit of each of the key's hashes (double
// hashing of one 64-bit hash).
func (f *usedFilter) positions(k audit.Nullifier, fn func(bit uint64)) {
	var h maphash.Hash
	h.SetSeed(f.seed)
	h.WriteString(k.State)
	h.WriteByte(0)
	h.WriteString(k.Nullifier)
	sum := h.Sum64()
	h1, h2 := sum, sum>>32|1
	m := uint64(len(f.bits) * 64)
	for i := range uint64(filterHashes) {
		fn((h1 + i*h2) % m)
	}
}

func (f *usedFilter) add(k audit.Nullifier) {
	f.positions(k, func(bit uint64) { f.bits[bit/64] |= 1 << (bit % 64) })
	f.keys++
}

// mayHold reports whether k may be in the table: false means it is not.
func (f *usedFilter) mayHold(k audit.Nullifier) bool {
	maybe := true
	f.positions(k, func(bit uint64) { maybe = maybe && f.bits[bit/64]&(1<<(bit%64)) != 0 })
	return maybe
}
