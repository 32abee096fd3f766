package batcher

import "testing"

// The floor is the lowest entry a lane may still have to settle: what it
// holds read, and every other batch not yet settled; never above either.
func TestFloor(t *testing.T) {
	var f floor
	want := func(seq uint64, floor string) {
		t.Helper()
		if got := f.settling(seq); got != floor {
			t.Fatalf("settling batch %d: floor %q, want %q", seq, got, floor)
		}
	}
	want(1, "") // nothing read yet: nothing below is known settled
	f.hold("5-0", "")
	want(1, "5-0")
	f.batch(1, []string{"5-0", "5-1"})
	f.hold("6-0", "") // 6-0 still held
	f.batch(2, []string{"6-0"})
	f.hold("", "6-0") // nothing held: every entry up to 6-0 is in a batch
	want(2, "5-0")    // batch 1 is not settled: none of its entries may go
	f.settled(2)
	want(1, "6-1") // batch 1 is the oldest: trimmed whole
	f.hold("5-9", "")
	want(1, "6-1") // the floor never falls back below what was passed
	f.batch(3, []string{"7-3", "7-1", "7-2"})
	f.hold("", "7-3")
	want(4, "5-0") // the lowest batch, whatever the order of its ids
	f.settled(1)
	want(4, "7-1")
	f.batch(5, []string{"not-an-id"})
	want(4, "") // an entry it cannot place: trim nothing until it settles
	f.settled(5)
	want(3, "7-4")
	if id, ok := parseStreamID("12-18446744073709551615"); !ok || id.next().String() != "13-0" {
		t.Fatalf("the id after %v: %v", id, id.next())
	}
}
