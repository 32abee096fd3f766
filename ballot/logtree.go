package ballot

import (
	"errors"
	"fmt"
	"math/bits"
)

// Errors returned (wrapped) by the log tree and VerifyConsistency.
var (
	ErrSizeOutOfRange     = errors.New("ballot: tree size outside the log")
	ErrConsistencyProof   = errors.New("ballot: consistency proof does not match the two roots")
	ErrConsistencyOrder   = errors.New("ballot: a log cannot shrink")
	ErrConsistencyProofSz = errors.New("ballot: consistency proof has the wrong length")
)

// LogTree is an append-only RFC 6962 tree, the tree of a state's intake
// log. It keeps the hash of every complete subtree (level h holds the roots
// of leaves j·2^h … (j+1)·2^h−1), about two hashes per leaf, and answers the
// root, the inclusion proofs and the consistency proofs of any size it has
// reached in O(log² n) hashing. The zero value is an empty log. It is not
// safe for concurrent use.
type LogTree struct {
	levels [][][32]byte
}

// Append adds a leaf hash at index Size().
func (t *LogTree) Append(leaf [32]byte) {
	if len(t.levels) == 0 {
		t.levels = make([][][32]byte, 1)
	}
	t.levels[0] = append(t.levels[0], leaf)
	for h := 0; len(t.levels[h])%2 == 0; h++ {
		level := t.levels[h]
		if h+1 == len(t.levels) {
			t.levels = append(t.levels, nil)
		}
		t.levels[h+1] = append(t.levels[h+1], hashNode(level[len(level)-2], level[len(level)-1]))
	}
}

// Size returns the number of leaves.
func (t *LogTree) Size() uint64 {
	if len(t.levels) == 0 {
		return 0
	}
	return uint64(len(t.levels[0]))
}

// Leaf returns the leaf hash at index.
func (t *LogTree) Leaf(index uint64) ([32]byte, error) {
	if index >= t.Size() {
		return [32]byte{}, fmt.Errorf("%w: index %d, size %d", ErrIndexOutOfRange, index, t.Size())
	}
	return t.levels[0][index], nil
}

// Root returns the root of the first size leaves.
func (t *LogTree) Root(size uint64) ([32]byte, error) {
	if size > t.Size() {
		return [32]byte{}, fmt.Errorf("%w: size %d, log holds %d", ErrSizeOutOfRange, size, t.Size())
	}
	if size == 0 {
		return emptyRoot, nil
	}
	return t.hash(0, size), nil
}

// InclusionProof returns the audit path of leaf index in the tree of the
// first size leaves, leaf-side hash first (RFC 6962 PATH).
func (t *LogTree) InclusionProof(index, size uint64) ([][32]byte, error) {
	if size > t.Size() {
		return nil, fmt.Errorf("%w: size %d, log holds %d", ErrSizeOutOfRange, size, t.Size())
	}
	if index >= size {
		return nil, fmt.Errorf("%w: index %d, size %d", ErrIndexOutOfRange, index, size)
	}
	return t.path(index, 0, size, nil), nil
}

// ConsistencyProof returns the proof that the tree of the first old leaves
// is a prefix of the tree of the first size leaves (RFC 6962 PROOF(m,
// D[n]); empty when old is 0 or equal to size).
func (t *LogTree) ConsistencyProof(old, size uint64) ([][32]byte, error) {
	if size > t.Size() {
		return nil, fmt.Errorf("%w: size %d, log holds %d", ErrSizeOutOfRange, size, t.Size())
	}
	if old > size {
		return nil, fmt.Errorf("%w: from %d to %d", ErrConsistencyOrder, old, size)
	}
	if old == 0 || old == size {
		return nil, nil
	}
	return t.subproof(old, 0, size, true, nil), nil
}

// split returns the largest power of two below n (n > 1).
func split(n uint64) uint64 { return 1 << (bits.Len64(n-1) - 1) }

// hash returns the root of leaves [lo, hi), hi ≤ Size, lo < hi. Every
// subtree the RFC 6962 recursion meets is either complete and aligned (kept)
// or splits into a kept left part and a smaller right part.
func (t *LogTree) hash(lo, hi uint64) [32]byte {
	n := hi - lo
	if n&(n-1) == 0 && lo%n == 0 {
		h := bits.TrailingZeros64(n)
		return t.levels[h][lo>>h]
	}
	k := split(n)
	return hashNode(t.hash(lo, lo+k), t.hash(lo+k, hi))
}

// path appends PATH(m, D[lo:hi]) to out.
func (t *LogTree) path(m, lo, hi uint64, out [][32]byte) [][32]byte {
	if hi-lo <= 1 {
		return out
	}
	k := split(hi - lo)
	if m < lo+k {
		return append(t.path(m, lo, lo+k, out), t.hash(lo+k, hi))
	}
	return append(t.path(m, lo+k, hi, out), t.hash(lo, lo+k))
}

// subproof appends SUBPROOF(m, D[lo:hi], whole) to out, m counted from lo.
func (t *LogTree) subproof(m, lo, hi uint64, whole bool, out [][32]byte) [][32]byte {
	if m == hi-lo {
		if whole {
			return out
		}
		return append(out, t.hash(lo, hi))
	}
	k := split(hi - lo)
	if m <= k {
		return append(t.subproof(m, lo, lo+k, whole, out), t.hash(lo+k, hi))
	}
	return append(t.subproof(m-k, lo+k, hi, false, out), t.hash(lo, lo+k))
}

// VerifyConsistency checks that proof shows the tree of size old with root
// oldRoot to be a prefix of the tree of size size with root root (RFC 9162
// section 2.1.4.2). Any larger tree extends the empty one, and a tree
// extends itself (an empty one included) only with an empty proof and the
// same root. The error wraps
// ErrConsistencyOrder, ErrConsistencyProofSz or ErrConsistencyProof.
func VerifyConsistency(old, size uint64, oldRoot, root [32]byte, proof [][32]byte) error {
	switch {
	case old > size:
		return fmt.Errorf("%w: from %d to %d", ErrConsistencyOrder, old, size)
	case old == size: // before old == 0: two empty trees need equal roots too
		if len(proof) != 0 {
			return fmt.Errorf("%w: %d hashes between equal sizes", ErrConsistencyProofSz, len(proof))
		}
		if oldRoot != root {
			return fmt.Errorf("%w: two roots %x and %x for size %d", ErrConsistencyProof, oldRoot, root, size)
		}
		return nil
	case old == 0:
		if len(proof) != 0 {
			return fmt.Errorf("%w: %d hashes from the empty tree", ErrConsistencyProofSz, len(proof))
		}
		return nil
	case len(proof) == 0:
		return fmt.Errorf("%w: empty proof from %d to %d", ErrConsistencyProofSz, old, size)
	}
	if old&(old-1) == 0 {
		// The old tree is a complete subtree: the proof leaves its root out.
		proof = append([][32]byte{oldRoot}, proof...)
	}
	fn, sn := old-1, size-1
	for fn&1 == 1 {
		fn >>= 1
		sn >>= 1
	}
	fr, sr := proof[0], proof[0]
	for _, c := range proof[1:] {
		if sn == 0 {
			return fmt.Errorf("%w: too long from %d to %d", ErrConsistencyProofSz, old, size)
		}
		if fn&1 == 1 || fn == sn {
			fr, sr = hashNode(c, fr), hashNode(c, sr)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			sr = hashNode(sr, c)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return fmt.Errorf("%w: too short from %d to %d", ErrConsistencyProofSz, old, size)
	}
	if fr != oldRoot || sr != root {
		return fmt.Errorf("%w: from %d to %d", ErrConsistencyProof, old, size)
	}
	return nil
}
