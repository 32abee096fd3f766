package index

import (
	"fmt"
	"testing"
)

// TestRollCache: the roll's cache finds every entry added (through merges
// of the pending entries into the sorted ones, several times over) with its
// contest, keeps the first contest of a key added twice, as the table's
// INSERT OR IGNORE does, and finds no key it was not given.
func TestRollCache(t *testing.T) {
	c := &rollCache{refs: map[string]uint32{}, pending: map[rollKey]uint32{}}
	c.index(nil)
	const n = 3 * rollMinPending
	contestOf := func(i int) string { return fmt.Sprintf("contest-%d", i%3) }
	for i := range n {
		c.add(rollKeyOf("CA", fmt.Sprint(i)), contestOf(i))
		if i == 10 {
			c.add(rollKeyOf("CA", "0"), "another") // ignored: the key is there
		}
	}
	if len(c.sorted) < 2*rollMinPending || len(c.pending) > max(rollMinPending, len(c.sorted)/4) || len(c.pending) == 0 {
		t.Fatalf("%d entries sorted, %d pending: not merged as due, or none pending (both are looked up)", len(c.sorted), len(c.pending))
	}
	for i := range n {
		ref, ok := c.lookup(rollKeyOf("CA", fmt.Sprint(i)))
		if !ok || c.contests[ref] != contestOf(i) {
			t.Fatalf("entry %d: %v %v; want %s", i, ok, ref, contestOf(i))
		}
		if _, ok := c.lookup(rollKeyOf("NY", fmt.Sprint(i))); ok {
			t.Fatalf("entry %d found in another state", i)
		}
	}
	if _, ok := c.lookup(rollKeyOf("CA", fmt.Sprint(n))); ok {
		t.Fatal("an entry never added was found")
	}
	// The state's length is part of the key: no state and nullifier run
	// into another pair's.
	if rollKeyOf("CA", "1x") == rollKeyOf("CA1", "x") {
		t.Fatal("(CA, 1x) and (CA1, x) share a key")
	}
}
