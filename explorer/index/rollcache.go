package index

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"

	"github.com/votechain/votechain/explorer/audit"
)

// rollCache is the committed roll table in memory, for the Writers' recount
// (RollContests): an election's roll is millions of entries written once,
// before the votes, and every vote's lookup in the table's b-tree cost
// about a quarter of the explorer's CPU per vote once the index outgrew the
// writer's page cache.
//
// It holds each entry as a 128-bit key (rollKeyOf: SHA-256 of the state
// and nullifier, cut to 128 bits) and a reference to its contest, sorted
// by key, and a table of where each key prefix starts: a lookup reads one
// slot of the table and the few entries of its prefix. Memory is 20 bytes
// an entry plus at most 1 byte an entry for the table: about 63 MB at a
// roll of 3,000,000 voters. Entries committed since the last merge wait in
// a map (about 40 bytes each, at most a quarter of the sorted ones or
// rollMinPending); a merge briefly holds the sorted entries twice.
//
// The keys are hashes, so a nullifier off the roll is found on it if its key
// equals an entry's: for a roll of n entries the chance is n/2^128 a
// lookup, below 10^-31 at 3,000,000 entries, and SHA-256 makes such a
// nullifier no easier to find on purpose.
//
// It is built from the table when the index's first Writer begins (a scan
// of the table); a Writer's roll entries join it when the Writer commits
// (rollWriter), so that a Writer rolled back leaves it as the table is. A
// Writer is used by one goroutine and the index has one at a time, so it
// needs no lock.
type rollCache struct {
	// contests are the entries' contests, by reference; refs the
	// reverse.
	contests []string
	refs     map[string]uint32
	// sorted are the entries by key; starts[p] is the index of the first
	// entry whose key's top bits (64-shift of them) are at least p.
	sorted []rollEntry
	starts []uint32
	shift  uint
	// pending are entries committed since sorted was last merged.
	pending map[rollKey]uint32
}

// rollKey is the key of a state's nullifier in rollCache.
type rollKey [16]byte

// rollEntry is an entry of the roll: its key and contest reference.
type rollEntry struct {
	key     rollKey
	contest uint32
}

// rollMinPending is how many entries may wait in rollCache.pending at
// least before they are merged into the sorted ones.
const rollMinPending = 1 << 16

// rollKeyOf is the key of state's nullifier: the first 128 bits of the
// SHA-256 hash of the state's length, the state and the nullifier.
func rollKeyOf[T ~string | ~[]byte](state, nullifier T) rollKey {
	var buf [128]byte
	b := binary.AppendUvarint(buf[:0], uint64(len(state)))
	b = append(append(b, state...), nullifier...)
	sum := sha256.Sum256(b)
	return rollKey(sum[:16])
}

// compare orders keys as big-endian numbers.
func (k rollKey) compare(o rollKey) int {
	if c := cmp.Compare(binary.BigEndian.Uint64(k[:8]), binary.BigEndian.Uint64(o[:8])); c != 0 {
		return c
	}
	return cmp.Compare(binary.BigEndian.Uint64(k[8:]), binary.BigEndian.Uint64(o[8:]))
}

// loadRollCache reads the roll table as tx sees it.
func loadRollCache(ctx context.Context, tx *sql.Tx) (*rollCache, error) {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM roll`).Scan(&n); err != nil {
		return nil, fmt.Errorf("size the roll's cache: %w", err)
	}
	c := &rollCache{refs: map[string]uint32{}, pending: map[rollKey]uint32{}}
	entries := make([]rollEntry, 0, n)
	rows, err := tx.QueryContext(ctx, `SELECT state, nullifier, contest FROM roll`)
	if err != nil {
		return nil, fmt.Errorf("read the roll: %w", err)
	}
	var state, nullifier, contest sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&state, &nullifier, &contest); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read the roll: %w", err)
		}
		ref, ok := c.refs[string(contest)]
		if !ok {
			ref = c.ref(string(contest))
		}
		entries = append(entries, rollEntry{key: rollKeyOf(state, nullifier), contest: ref})
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("read the roll: %w", err)
	}
	slices.SortFunc(entries, func(a, b rollEntry) int { return a.key.compare(b.key) })
	c.index(entries)
	return c, nil
}

// ref returns the reference of contest, adding it if new.
func (c *rollCache) ref(contest string) uint32 {
	r, ok := c.refs[contest]
	if !ok {
		r = uint32(len(c.contests))
		c.contests = append(c.contests, contest)
		c.refs[contest] = r
	}
	return r
}

// index makes sorted (sorted by key) the cache's sorted entries and
// indexes their prefixes: a slot for every 4 to 8 entries.
func (c *rollCache) index(sorted []rollEntry) {
	prefixBits := bits.Len(uint(len(sorted) / 8))
	c.sorted, c.shift = sorted, uint(64-prefixBits)
	c.starts = slices.Grow(c.starts[:0], 1<<prefixBits+1)[:1<<prefixBits+1]
	i := 0
	for p := range c.starts {
		for i < len(sorted) && c.prefix(sorted[i].key) < uint64(p) {
			i++
		}
		c.starts[p] = uint32(i)
	}
}

// prefix is the slot of key in starts.
func (c *rollCache) prefix(key rollKey) uint64 {
	return binary.BigEndian.Uint64(key[:8]) >> c.shift
}

// lookup returns the contest reference of key, if the roll holds it.
func (c *rollCache) lookup(key rollKey) (uint32, bool) {
	if r, ok := c.pending[key]; ok {
		return r, true
	}
	if len(c.sorted) == 0 {
		return 0, false
	}
	p := c.prefix(key)
	for _, e := range c.sorted[c.starts[p]:c.starts[p+1]] {
		if e.key == key {
			return e.contest, true
		}
	}
	return 0, false
}

// add adds a committed entry, unless the roll holds its key (the table
// keeps the first entry of a state's nullifier: INSERT OR IGNORE).
func (c *rollCache) add(key rollKey, contest string) {
	if _, ok := c.lookup(key); ok {
		return
	}
	c.pending[key] = c.ref(contest)
	if len(c.pending) > max(rollMinPending, len(c.sorted)/4) {
		c.merge()
	}
}

// merge moves the pending entries into the sorted ones.
func (c *rollCache) merge() {
	add := make([]rollEntry, 0, len(c.pending))
	for k, r := range c.pending {
		add = append(add, rollEntry{key: k, contest: r})
	}
	slices.SortFunc(add, func(a, b rollEntry) int { return a.key.compare(b.key) })
	// Merged from the back, in place: the sorted entries grow by the new.
	old := len(c.sorted)
	s := slices.Grow(c.sorted, len(add))[:old+len(add)]
	i, j := old-1, len(add)-1
	for k := len(s) - 1; j >= 0; k-- {
		if i >= 0 && s[i].key.compare(add[j].key) > 0 {
			s[k], i = s[i], i-1
		} else {
			s[k], j = add[j], j-1
		}
	}
	clear(c.pending)
	c.index(s)
}

// rollWriter is a Writer's view of the roll: the index's cache and the
// entries the Writer saved, which join the cache when it commits.
type rollWriter struct {
	cache *rollCache
	added map[rollKey]string
}

// add records an entry the Writer saved, unless the roll holds its key.
func (r *rollWriter) add(state, nullifier, contest string) {
	key := rollKeyOf(state, nullifier)
	if _, ok := r.cache.lookup(key); ok {
		return
	}
	if _, ok := r.added[key]; ok {
		return
	}
	if r.added == nil {
		r.added = map[rollKey]string{}
	}
	r.added[key] = contest
}

// committed adds the Writer's entries to the cache, once its transaction
// committed.
func (r *rollWriter) committed() {
	for k, contest := range r.added {
		r.cache.add(k, contest)
	}
	r.added = nil
}

// RollContests implements audit.History: the contest of each of keys on
// the roll as of the last block saved, from the roll's cache and the
// Writer's own entries, without reading the table.
func (w *Writer) RollContests(_ context.Context, keys []audit.Nullifier) (map[audit.Nullifier]string, error) {
	out := map[audit.Nullifier]string{}
	c := w.roll.cache
	for _, k := range keys {
		key := rollKeyOf(k.State, k.Nullifier)
		if ref, ok := c.lookup(key); ok {
			out[k] = c.contests[ref]
		} else if contest, ok := w.roll.added[key]; ok {
			out[k] = contest
		}
	}
	return out, nil
}
