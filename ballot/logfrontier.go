package ballot

// LogFrontier is an append-only RFC 6962 tree that keeps only what the root
// of its whole log needs: the roots of the complete subtrees along its right
// edge, one for each bit set in its size (at most 64 hashes). A monitor that
// reads a log once, in order, checks each new head's root with it in
// O(log n) memory, where a LogTree keeps about two hashes per leaf; for the
// root at another size, or proofs, use a LogTree. The zero value is an
// empty log. It is not safe for concurrent use.
type LogFrontier struct {
	size uint64
	// nodes[h], for each bit h set in size, is the root of the 2^h leaves
	// that precede the smaller subtrees of the edge.
	nodes [][32]byte
}

// Append adds a leaf hash at index Size().
func (f *LogFrontier) Append(leaf [32]byte) {
	h, level := leaf, 0
	for ; f.size>>level&1 == 1; level++ { // the subtrees it completes merge
		h = hashNode(f.nodes[level], h)
	}
	if level == len(f.nodes) {
		f.nodes = append(f.nodes, [32]byte{})
	}
	f.nodes[level] = h
	f.size++
}

// Size returns the number of leaves.
func (f *LogFrontier) Size() uint64 { return f.size }

// Root returns the root of the whole log (RFC 6962 MTH): the edge's
// subtrees joined from the smallest up.
func (f *LogFrontier) Root() [32]byte {
	if f.size == 0 {
		return emptyRoot
	}
	var root [32]byte
	first := true
	for h := range f.nodes {
		if f.size>>h&1 == 0 {
			continue
		}
		if first {
			root, first = f.nodes[h], false
			continue
		}
		root = hashNode(f.nodes[h], root)
	}
	return root
}
