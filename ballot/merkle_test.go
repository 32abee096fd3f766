package ballot

import (
	"crypto/sha256"
	"errors"
	"testing"
)

// refRoot is RFC 6962's MTH written literally from its definition, to check
// the level-by-level implementation against.
func refRoot(leaves [][32]byte) [32]byte {
	switch n := len(leaves); n {
	case 0:
		return sha256.Sum256(nil)
	case 1:
		return leaves[0]
	default:
		k := 1
		for k*2 < n {
			k *= 2
		}
		l, r := refRoot(leaves[:k]), refRoot(leaves[k:])
		return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
	}
}

// refPath is RFC 6962's PATH(m, D[n]), literally.
func refPath(m int, leaves [][32]byte) [][32]byte {
	n := len(leaves)
	if n <= 1 {
		return nil
	}
	k := 1
	for k*2 < n {
		k *= 2
	}
	if m < k {
		return append(refPath(m, leaves[:k]), refRoot(leaves[k:]))
	}
	return append(refPath(m-k, leaves[k:]), refRoot(leaves[:k]))
}

func leafOf(data []byte) [32]byte { return sha256.Sum256(append([]byte{0}, data...)) }

func testLeaves(n int) [][32]byte {
	leaves := make([][32]byte, n)
	for i := range leaves {
		leaves[i] = leafOf([]byte{byte(i), byte(i >> 8)})
	}
	return leaves
}

func node(l, r [32]byte) [32]byte {
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}

func TestMerkleRootByHand(t *testing.T) {
	l := testLeaves(5)
	tests := []struct {
		n    int
		want [32]byte
	}{
		{0, sha256.Sum256([]byte(""))},
		{1, l[0]},
		{2, node(l[0], l[1])},
		{3, node(node(l[0], l[1]), l[2])},
		{4, node(node(l[0], l[1]), node(l[2], l[3]))},
		{5, node(node(node(l[0], l[1]), node(l[2], l[3])), l[4])},
	}
	for _, tt := range tests {
		if got := MerkleRoot(l[:tt.n]); got != tt.want {
			t.Errorf("MerkleRoot(%d leaves) = %x, want %x", tt.n, got, tt.want)
		}
	}
}

// TestMerkleRootCTVectors checks the roots of the Certificate Transparency
// reference tree (leaf inputs as in RFC 6962's reference test data).
func TestMerkleRootCTVectors(t *testing.T) {
	inputs := []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"}
	roots := []string{
		"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
		"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
		"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
		"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
		"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
		"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
	}
	var leaves [][32]byte
	for i, in := range inputs {
		data := make([]byte, len(in)/2)
		for j := range data {
			data[j] = byte(hexVal(in[2*j])<<4 | hexVal(in[2*j+1]))
		}
		leaves = append(leaves, leafOf(data))
		if got := HashHex(MerkleRoot(leaves)); got != roots[i] {
			t.Errorf("root of %d CT leaves = %s, want %s", i+1, got, roots[i])
		}
	}
}

func hexVal(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

func TestTreeMatchesReference(t *testing.T) {
	for n := 0; n <= 70; n++ {
		leaves := testLeaves(n)
		tree := NewTree(leaves)
		want := refRoot(leaves)
		if got := MerkleRoot(leaves); got != want {
			t.Fatalf("n=%d: MerkleRoot %x, want %x", n, got, want)
		}
		if tree.Root() != want || tree.Size() != n {
			t.Fatalf("n=%d: Tree root/size wrong", n)
		}
		for i := range n {
			proof, err := tree.Proof(i)
			if err != nil {
				t.Fatal(err)
			}
			if ref := refPath(i, leaves); !equalHashes(proof, ref) {
				t.Fatalf("n=%d i=%d: proof differs from RFC 6962 PATH", n, i)
			}
		}
	}
}

func equalHashes(a, b [][32]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestVerifyInclusionAllIndices(t *testing.T) {
	for n := 1; n <= 40; n++ {
		leaves := testLeaves(n)
		root := MerkleRoot(leaves)
		for i := range n {
			proof, err := InclusionProof(leaves, i)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyInclusion(leaves[i], i, n, proof, root); err != nil {
				t.Fatalf("n=%d i=%d: %v", n, i, err)
			}
			checkTampered(t, leaves, i, proof, root)
		}
	}
}

// checkTampered checks that every single change to a valid proof fails.
func checkTampered(t *testing.T, leaves [][32]byte, i int, proof [][32]byte, root [32]byte) {
	t.Helper()
	n := len(leaves)
	fail := func(what string, err error, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Fatalf("n=%d i=%d %s: error %v, want %v", n, i, what, err, want)
		}
	}
	for j := range proof {
		bad := append([][32]byte(nil), proof...)
		bad[j][j%32] ^= 1
		fail("flipped proof bit", VerifyInclusion(leaves[i], i, n, bad, root), ErrRootMismatch)
	}
	wrongLeaf := leaves[i]
	wrongLeaf[0] ^= 0x80
	fail("wrong leaf", VerifyInclusion(wrongLeaf, i, n, proof, root), ErrRootMismatch)
	wrongRoot := root
	wrongRoot[31] ^= 1
	fail("wrong root", VerifyInclusion(leaves[i], i, n, proof, wrongRoot), ErrRootMismatch)
	fail("extra hash", VerifyInclusion(leaves[i], i, n, append(append([][32]byte(nil), proof...), root), root), ErrProofLength)
	if len(proof) > 0 {
		fail("missing hash", VerifyInclusion(leaves[i], i, n, proof[:len(proof)-1], root), ErrProofLength)
	}
	if n > 1 {
		// Another index never verifies with this leaf and proof: either the
		// proof length differs or the hashes come out in another order.
		other := (i + 1) % n
		if err := VerifyInclusion(leaves[i], other, n, proof, root); err == nil {
			t.Fatalf("n=%d: proof of %d verified at index %d", n, i, other)
		}
	}
	fail("index = size", VerifyInclusion(leaves[i], n, n, proof, root), ErrIndexOutOfRange)
}

func TestVerifyInclusionOutOfRange(t *testing.T) {
	leaf := leafOf(nil)
	for _, c := range []struct{ index, size int }{{-1, 1}, {0, 0}, {1, 1}, {5, 3}, {0, -1}} {
		if err := VerifyInclusion(leaf, c.index, c.size, nil, leaf); !errors.Is(err, ErrIndexOutOfRange) {
			t.Errorf("index %d size %d: %v", c.index, c.size, err)
		}
	}
	if _, err := InclusionProof(testLeaves(3), 3); !errors.Is(err, ErrIndexOutOfRange) {
		t.Errorf("InclusionProof out of range: %v", err)
	}
	if _, err := NewTree(nil).Proof(0); !errors.Is(err, ErrIndexOutOfRange) {
		t.Errorf("Proof on empty tree: %v", err)
	}
}

func TestMerkleRootDoesNotModifyLeaves(t *testing.T) {
	leaves := testLeaves(7)
	saved := append([][32]byte(nil), leaves...)
	MerkleRoot(leaves)
	if !equalHashes(leaves, saved) {
		t.Fatal("MerkleRoot modified its input")
	}
}

// FuzzVerifyInclusion: VerifyInclusion never panics, accepts exactly the
// genuine proof and refuses it at any other index or size.
func FuzzVerifyInclusion(f *testing.F) {
	f.Add(uint16(5), uint16(3), uint16(5), []byte{0})
	f.Add(uint16(1), uint16(0), uint16(1), []byte{})
	f.Fuzz(func(t *testing.T, n, index, claimedSize uint16, junk []byte) {
		size := int(n%300) + 1
		i := int(index) % size
		leaves := testLeaves(size)
		root := MerkleRoot(leaves)
		proof, err := InclusionProof(leaves, i)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyInclusion(leaves[i], i, size, proof, root); err != nil {
			t.Fatalf("genuine proof refused: %v", err)
		}
		// Arbitrary proof bytes and claimed shapes: no panic, and no
		// acceptance unless the claim is the genuine one.
		forged := make([][32]byte, len(junk)%20)
		for j := range forged {
			forged[j] = sha256.Sum256(append([]byte{byte(j)}, junk...))
		}
		genuine := int(index) == i && int(claimedSize) == size && equalHashes(forged, proof)
		if VerifyInclusion(leaves[i], int(index), int(claimedSize), forged, root) == nil && !genuine {
			t.Fatalf("forged proof accepted: index %d size %d", index, claimedSize)
		}
	})
}
