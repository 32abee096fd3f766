// Package bloom computes the shape and bit positions of the Bloom filters that
// pre-screen nullifiers for duplicates. The bits themselves live in plain Redis
// bitmaps (SETBIT/GETBIT, one bitmap per partition), because Debian's Redis has
// no Bloom module; this package only does the arithmetic, so the gateway, the
// rebuild tool and tests agree on it.
//
// Positions come from xxhash64 double hashing (Kirsch and Mitzenmacher):
// position i = (h1 + i*h2) mod bits, with h1 the unseeded and h2 a seeded
// xxhash64 of the key, h2 forced odd.
package bloom

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// MaxBits is the largest filter one Redis string can hold (512 MiB).
const MaxBits = 1 << 32

// MaxHashes bounds the number of hash functions; more only costs round trips.
const MaxHashes = 32

// seed2 seeds the second hash; any constant other than 0 works, but it must
// never change while a filter is in use.
const seed2 = 0x9e3779b97f4a7c15

// Params is the shape of one filter.
type Params struct {
	Bits   uint64 // number of bits, m
	Hashes int    // number of hash functions, k
}

// ForCapacity sizes a filter for n keys at false-positive rate p with the
// classical optimum m = -n ln p / (ln 2)^2, k = (m/n) ln 2.
func ForCapacity(n uint64, p float64) (Params, error) {
	if n == 0 {
		n = 1
	}
	if !(p > 0 && p < 1) {
		return Params{}, fmt.Errorf("bloom: false-positive rate %v not in (0,1)", p)
	}
	m := math.Ceil(-float64(n) * math.Log(p) / (math.Ln2 * math.Ln2))
	if m > MaxBits {
		return Params{}, fmt.Errorf("bloom: %d keys at rate %v need %.0f bits, more than one Redis string holds (%d); split the partition", n, p, m, uint64(MaxBits))
	}
	m = math.Max(m, 64)
	k := int(math.Round(m / float64(n) * math.Ln2))
	k = min(max(k, 1), MaxHashes)
	return Params{Bits: uint64(m), Hashes: k}, nil
}

// Validate reports whether p is a usable shape.
func (p Params) Validate() error {
	if p.Bits == 0 || p.Bits > MaxBits {
		return fmt.Errorf("bloom: bits %d not in [1,%d]", p.Bits, uint64(MaxBits))
	}
	if p.Hashes < 1 || p.Hashes > MaxHashes {
		return fmt.Errorf("bloom: hashes %d not in [1,%d]", p.Hashes, MaxHashes)
	}
	return nil
}

// String encodes p as "bits,hashes", the form stored in Redis.
func (p Params) String() string {
	return strconv.FormatUint(p.Bits, 10) + "," + strconv.Itoa(p.Hashes)
}

// ParseParams decodes the form written by Params.String.
func ParseParams(s string) (Params, error) {
	bits, hashes, ok := strings.Cut(s, ",")
	if !ok {
		return Params{}, errors.New("bloom: params not of the form bits,hashes")
	}
	var p Params
	var err error
	if p.Bits, err = strconv.ParseUint(bits, 10, 64); err != nil {
		return Params{}, fmt.Errorf("bloom: params bits: %w", err)
	}
	if p.Hashes, err = strconv.Atoi(hashes); err != nil {
		return Params{}, fmt.Errorf("bloom: params hashes: %w", err)
	}
	return p, p.Validate()
}

// Positions appends to dst the bit positions of key and returns the result.
// Passing a reused dst keeps the hot path free of allocations.
func (p Params) Positions(dst []uint64, key []byte) []uint64 {
	h1 := xxhash.Sum64(key)
	var d xxhash.Digest
	d.ResetWithSeed(seed2)
	_, _ = d.Write(key) // never fails
	h2 := d.Sum64() | 1
	for i := range p.Hashes {
		dst = append(dst, (h1+uint64(i)*h2)%p.Bits)
	}
	return dst
}

// FalsePositiveRate estimates the probability that a never-seen key tests
// positive when a fraction fill of the bits is set: fill^k.
func (p Params) FalsePositiveRate(fill float64) float64 {
	return math.Pow(fill, float64(p.Hashes))
}

// ExpectedFill is the fraction of bits set after n distinct keys:
// 1 - e^(-kn/m).
func (p Params) ExpectedFill(n uint64) float64 {
	return -math.Expm1(-float64(p.Hashes) * float64(n) / float64(p.Bits))
}

// Bytes is the size of the filter's bitmap in bytes.
func (p Params) Bytes() uint64 { return (p.Bits + 7) / 8 }

// Test reports whether every position of key is set in bitmap, a copy of the
// Redis string (Redis numbers bits from the most significant bit of byte 0).
// Bits past the end of bitmap read as 0, as GETBIT does.
func (p Params) Test(bitmap []byte, key []byte) bool {
	var buf [MaxHashes]uint64
	for _, pos := range p.Positions(buf[:0], key) {
		i := pos / 8
		if i >= uint64(len(bitmap)) || bitmap[i]&(0x80>>(pos%8)) == 0 {
			return false
		}
	}
	return true
}
