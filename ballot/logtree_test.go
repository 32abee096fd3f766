package ballot

import (
	"errors"
	"testing"
)

// refSubproof is RFC 6962's SUBPROOF(m, D[n], b), literally.
func refSubproof(m int, leaves [][32]byte, whole bool) [][32]byte {
	n := len(leaves)
	if m == n {
		if whole {
			return nil
		}
		return [][32]byte{refRoot(leaves)}
	}
	k := 1
	for k*2 < n {
		k *= 2
	}
	if m <= k {
		return append(refSubproof(m, leaves[:k], whole), refRoot(leaves[k:]))
	}
	return append(refSubproof(m-k, leaves[k:], false), refRoot(leaves[:k]))
}

func logOf(leaves [][32]byte) *LogTree {
	var t LogTree
	for _, l := range leaves {
		t.Append(l)
	}
	return &t
}

// ctLeaves are the leaves of the Certificate Transparency reference tree.
func ctLeaves() [][32]byte {
	var leaves [][32]byte
	for _, in := range []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"} {
		data := make([]byte, len(in)/2)
		for j := range data {
			data[j] = hexVal(in[2*j])<<4 | hexVal(in[2*j+1])
		}
		leaves = append(leaves, leafOf(data))
	}
	return leaves
}

func mustHashes(t *testing.T, hexes ...string) [][32]byte {
	t.Helper()
	out := make([][32]byte, len(hexes))
	for i, h := range hexes {
		var err error
		if out[i], err = ParseHash(h); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestConsistencyCTVectors checks the consistency proofs of the Certificate
// Transparency reference tree (its published test vectors).
func TestConsistencyCTVectors(t *testing.T) {
	log := logOf(ctLeaves())
	vectors := []struct {
		old, size uint64
		proof     [][32]byte
	}{
		{1, 1, nil},
		{1, 8, mustHashes(t,
			"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
			"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
			"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")},
		{6, 8, mustHashes(t,
			"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
			"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
			"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")},
		{2, 5, mustHashes(t,
			"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
			"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")},
	}
	for _, v := range vectors {
		got, err := log.ConsistencyProof(v.old, v.size)
		if err != nil || !equalHashes(got, v.proof) {
			t.Errorf("ConsistencyProof(%d, %d) = %x, %v; want %x", v.old, v.size, got, err, v.proof)
		}
		oldRoot, _ := log.Root(v.old)
		root, _ := log.Root(v.size)
		if err := VerifyConsistency(v.old, v.size, oldRoot, root, v.proof); err != nil {
			t.Errorf("VerifyConsistency(%d, %d): %v", v.old, v.size, err)
		}
	}
}

// The log tree gives the reference roots, inclusion paths and consistency
// proofs for every size it has reached, not only its current one.
func TestLogTreeMatchesReference(t *testing.T) {
	leaves := testLeaves(70)
	log := logOf(leaves)
	for n := 0; n <= len(leaves); n++ {
		root, err := log.Root(uint64(n))
		if err != nil || root != refRoot(leaves[:n]) {
			t.Fatalf("Root(%d) = %x, %v", n, root, err)
		}
		for i := range n {
			proof, err := log.InclusionProof(uint64(i), uint64(n))
			if err != nil || !equalHashes(proof, refPath(i, leaves[:n])) {
				t.Fatalf("InclusionProof(%d, %d) differs from PATH: %v", i, n, err)
			}
		}
		for m := 1; m < n; m++ {
			proof, err := log.ConsistencyProof(uint64(m), uint64(n))
			if err != nil || !equalHashes(proof, refSubproof(m, leaves[:n], true)) {
				t.Fatalf("ConsistencyProof(%d, %d) differs from PROOF: %v", m, n, err)
			}
		}
	}
}

func TestVerifyConsistencyAllSizes(t *testing.T) {
	leaves := testLeaves(40)
	log := logOf(leaves)
	for n := uint64(1); n <= 40; n++ {
		root, _ := log.Root(n)
		for m := uint64(0); m <= n; m++ {
			oldRoot, _ := log.Root(m)
			proof, err := log.ConsistencyProof(m, n)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyConsistency(m, n, oldRoot, root, proof); err != nil {
				t.Fatalf("m=%d n=%d: %v", m, n, err)
			}
			if m == 0 {
				continue
			}
			// A rewritten log: the same sizes, another leaf among the old ones.
			forked := append([][32]byte(nil), leaves[:n]...)
			forked[m-1][0] ^= 1
			fr := logOf(forked)
			forkedRoot, _ := fr.Root(n)
			if VerifyConsistency(m, n, oldRoot, forkedRoot, proof) == nil {
				t.Fatalf("m=%d n=%d: a rewritten log passed", m, n)
			}
			if fp, _ := fr.ConsistencyProof(m, n); VerifyConsistency(m, n, oldRoot, forkedRoot, fp) == nil {
				t.Fatalf("m=%d n=%d: the rewritten log's own proof passed against the old root", m, n)
			}
			for j := range proof {
				bad := append([][32]byte(nil), proof...)
				bad[j][5] ^= 1
				if err := VerifyConsistency(m, n, oldRoot, root, bad); !errors.Is(err, ErrConsistencyProof) {
					t.Fatalf("m=%d n=%d: flipped hash %d: %v", m, n, j, err)
				}
			}
			if m < n {
				if err := VerifyConsistency(m, n, oldRoot, root, append(proof, root)); err == nil {
					t.Fatalf("m=%d n=%d: a proof with an extra hash passed", m, n)
				}
				if err := VerifyConsistency(m, n, oldRoot, root, proof[:len(proof)-1]); err == nil {
					t.Fatalf("m=%d n=%d: a proof with a hash missing passed", m, n)
				}
			}
		}
	}
}

func TestConsistencyRefusals(t *testing.T) {
	log := logOf(testLeaves(5))
	r3, _ := log.Root(3)
	r5, _ := log.Root(5)
	if err := VerifyConsistency(5, 3, r5, r3, nil); !errors.Is(err, ErrConsistencyOrder) {
		t.Errorf("shrinking log: %v", err)
	}
	if err := VerifyConsistency(3, 3, r3, r5, nil); !errors.Is(err, ErrConsistencyProof) {
		t.Errorf("two roots for one size: %v", err)
	}
	if err := VerifyConsistency(0, 0, emptyRoot, r3, nil); !errors.Is(err, ErrConsistencyProof) {
		t.Errorf("two roots for size 0: %v", err)
	}
	if err := VerifyConsistency(0, 0, emptyRoot, emptyRoot, nil); err != nil {
		t.Errorf("the empty tree and itself: %v", err)
	}
	if err := VerifyConsistency(3, 5, r3, r5, nil); !errors.Is(err, ErrConsistencyProofSz) {
		t.Errorf("empty proof: %v", err)
	}
	if _, err := log.ConsistencyProof(2, 6); !errors.Is(err, ErrSizeOutOfRange) {
		t.Errorf("size beyond the log: %v", err)
	}
	if _, err := log.InclusionProof(5, 5); !errors.Is(err, ErrIndexOutOfRange) {
		t.Errorf("index = size: %v", err)
	}
	if _, err := log.Root(6); !errors.Is(err, ErrSizeOutOfRange) {
		t.Errorf("root beyond the log: %v", err)
	}
}

// FuzzVerifyConsistency: VerifyConsistency never panics, accepts the
// genuine proof and refuses arbitrary hashes for any other claim.
func FuzzVerifyConsistency(f *testing.F) {
	f.Add(uint16(6), uint16(8), uint16(6), uint16(8), []byte{0})
	f.Add(uint16(1), uint16(1), uint16(0), uint16(3), []byte{})
	leaves := testLeaves(300)
	log := logOf(leaves)
	f.Fuzz(func(t *testing.T, m, n, cm, cn uint16, junk []byte) {
		size := uint64(n%300) + 1
		old := uint64(m) % (size + 1)
		oldRoot, _ := log.Root(old)
		root, _ := log.Root(size)
		proof, err := log.ConsistencyProof(old, size)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyConsistency(old, size, oldRoot, root, proof); err != nil {
			t.Fatalf("genuine proof %d -> %d refused: %v", old, size, err)
		}
		forged := make([][32]byte, len(junk)%20)
		for j := range forged {
			forged[j] = leafOf(append([]byte{byte(j)}, junk...))
		}
		claimOld, claimSize := uint64(cm), uint64(cn)
		genuine := claimOld == old && claimSize == size && equalHashes(forged, proof)
		if claimOld == 0 || claimOld == claimSize && len(forged) == 0 {
			return // the empty tree, or a tree and itself: no hashes to forge
		}
		if VerifyConsistency(claimOld, claimSize, oldRoot, root, forged) == nil && !genuine {
			t.Fatalf("forged proof accepted: %d -> %d", claimOld, claimSize)
		}
	})
}

func BenchmarkLogTreeAppend(b *testing.B) {
	leaves := testLeaves(1024)
	var log LogTree
	for i := 0; b.Loop(); i++ {
		log.Append(leaves[i%len(leaves)])
	}
}

func BenchmarkLogTreeInclusionProof(b *testing.B) {
	log := logOf(testLeaves(1 << 16))
	size := log.Size() - 7 // not a power of two
	for i := uint64(0); b.Loop(); i++ {
		if _, err := log.InclusionProof(i%size, size); err != nil {
			b.Fatal(err)
		}
	}
}
