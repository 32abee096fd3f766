package ballot

import (
	"fmt"
	"math/bits"
	"testing"
)

// TestLogFrontierMatchesReference: after each append the frontier's root is
// RFC 6962's MTH of the leaves so far (refRoot, literally the RFC), at every
// size from 0 to 300, and it holds one hash per bit set in its size.
func TestLogFrontierMatchesReference(t *testing.T) {
	leaves := testLeaves(300)
	var f LogFrontier
	for n := 0; ; n++ {
		if f.Size() != uint64(n) || f.Root() != refRoot(leaves[:n]) {
			t.Fatalf("size %d: frontier size %d, root %x; want %x", n, f.Size(), f.Root(), refRoot(leaves[:n]))
		}
		if len(f.nodes) > bits.Len64(uint64(n)) {
			t.Fatalf("size %d: %d hashes kept", n, len(f.nodes))
		}
		if n == len(leaves) {
			break
		}
		f.Append(leaves[n])
	}
}

// The frontier and the full tree agree on the Certificate Transparency
// reference tree.
func ExampleLogFrontier() {
	var f LogFrontier
	for _, l := range ctLeaves() {
		f.Append(l)
	}
	fmt.Printf("%d leaves, root %x\n", f.Size(), f.Root())
	// Output: 8 leaves, root 5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328
}
