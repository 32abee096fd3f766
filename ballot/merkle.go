package ballot

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math/bits"
)

// The Merkle tree is the RFC 6962 (Certificate Transparency) tree over leaf
// hashes: the root of n > 1 leaves is SHA-256(0x01 || root(first k) ||
// root(rest)) where k is the largest power of two below n; one leaf is its own
// root; no leaves is SHA-256(""). Building level by level and carrying an
// unpaired last node up unchanged yields exactly that shape.

// Errors returned (wrapped) by VerifyInclusion, for callers that need the reason.
var (
	ErrIndexOutOfRange = errors.New("ballot: leaf index outside the tree")
	ErrProofLength     = errors.New("ballot: inclusion proof has the wrong length")
	ErrRootMismatch    = errors.New("ballot: inclusion proof does not lead to the root")
)

// emptyRoot is the root of the empty tree, SHA-256("").
var emptyRoot = sha256.Sum256(nil)

// hashNode returns SHA-256(0x01 || l || r).
func hashNode(l, r [32]byte) [32]byte {
	var buf [1 + 32 + 32]byte
	buf[0] = nodePrefix
	copy(buf[1:], l[:])
	copy(buf[33:], r[:])
	return sha256.Sum256(buf[:])
}

// nextLevel hashes adjacent pairs of level into dst (which may alias level)
// and carries an unpaired last node up unchanged.
func nextLevel(dst, level [][32]byte) [][32]byte {
	dst = dst[:0]
	for i := 0; i+1 < len(level); i += 2 {
		dst = append(dst, hashNode(level[i], level[i+1]))
	}
	if len(level)%2 == 1 {
		dst = append(dst, level[len(level)-1])
	}
	return dst
}

// MerkleRoot returns the RFC 6962 root over leaves. leaves is not modified.
func MerkleRoot(leaves [][32]byte) [32]byte {
	if len(leaves) == 0 {
		return emptyRoot
	}
	level := append([][32]byte(nil), leaves...)
	for len(level) > 1 {
		level = nextLevel(level, level)
	}
	return level[0]
}

// Tree keeps every level of a Merkle tree, so the proofs of all n leaves of
// a batch cost O(n) hashing in total instead of O(n) each.
type Tree struct {
	levels [][][32]byte // levels[0] are the leaves; the last level is the root
}

// NewTree builds the tree over leaves (copied).
func NewTree(leaves [][32]byte) *Tree {
	t := &Tree{levels: [][][32]byte{append([][32]byte(nil), leaves...)}}
	for level := t.levels[0]; len(level) > 1; {
		level = nextLevel(make([][32]byte, 0, (len(level)+1)/2), level)
		t.levels = append(t.levels, level)
	}
	return t
}

// Size returns the number of leaves.
func (t *Tree) Size() int { return len(t.levels[0]) }

// Root returns the tree's RFC 6962 root.
func (t *Tree) Root() [32]byte {
	if t.Size() == 0 {
		return emptyRoot
	}
	return t.levels[len(t.levels)-1][0]
}

// Proof returns the audit path of leaf index, leaf-side hash first (RFC 6962
// section 2.1.1).
func (t *Tree) Proof(index int) ([][32]byte, error) {
	if index < 0 || index >= t.Size() {
		return nil, fmt.Errorf("%w: index %d, size %d", ErrIndexOutOfRange, index, t.Size())
	}
	var proof [][32]byte
	for _, level := range t.levels[:len(t.levels)-1] {
		if sib := index ^ 1; sib < len(level) {
			proof = append(proof, level[sib])
		}
		index >>= 1
	}
	return proof, nil
}

// InclusionProof returns the audit path of leaves[index] in the tree over
// leaves. To prove many leaves of one tree, use NewTree and Tree.Proof.
func InclusionProof(leaves [][32]byte, index int) ([][32]byte, error) {
	return NewTree(leaves).Proof(index)
}

// VerifyInclusion checks that proof shows leaf at index in a tree of size
// leaves with the given root (RFC 9162 section 2.1.3.2). The error wraps
// ErrIndexOutOfRange, ErrProofLength or ErrRootMismatch.
func VerifyInclusion(leaf [32]byte, index, size int, proof [][32]byte, root [32]byte) error {
	if index < 0 || size <= 0 || index >= size {
		return fmt.Errorf("%w: index %d, size %d", ErrIndexOutOfRange, index, size)
	}
	// inner: levels where the path runs inside the complete subtree that
	// contains both index and the last leaf; border: levels above it where
	// index's subtree has a left sibling.
	inner := bits.Len(uint(index) ^ uint(size-1))
	border := bits.OnesCount(uint(index) >> inner)
	if want := inner + border; len(proof) != want {
		return fmt.Errorf("%w: %d hashes, want %d for index %d of size %d", ErrProofLength, len(proof), want, index, size)
	}
	h := leaf
	for i, p := range proof {
		if i < inner && (index>>i)&1 == 0 {
			h = hashNode(h, p)
		} else {
			h = hashNode(p, h)
		}
	}
	if h != root {
		return fmt.Errorf("%w: computed %x, want %x", ErrRootMismatch, h, root)
	}
	return nil
}
