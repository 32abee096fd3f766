package dedup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/votechain/votechain/gateway/votequeue"
)

// TestBloomFalsePositiveRate fills a partition's filter in Redis to its
// capacity as Rebuild does (the intake sets no bits), then measures the
// false-positive rate over 1 M never-seen nullifiers against the bitmap
// Redis holds. It must be within 2x of the configured rate. Checking every
// inserted nullifier tests positive against the same bitmap proves that the
// Go bit numbering matches Redis's BITFIELD; voting with never-seen voters
// that test positive and negative in Go proves the intake script reads the
// same bits (the positives alone go to the ledger).
func TestBloomFalsePositiveRate(t *testing.T) {
	const (
		capacity = 20_000
		rate     = 0.01
		probes   = 1_000_000
		state    = "FP"
	)
	f := newFixture(t, Config{ExpectedVoters: capacity, FalsePositiveRate: rate})
	ctx := context.Background()
	s, err := f.d.shape(ctx, state)
	p := s.bloom
	if err != nil {
		t.Fatal(err)
	}
	inserted := make([][]byte, capacity)
	src := sliceSource{}
	for i := range inserted {
		raw := make([]byte, 32)
		_, _ = rand.Read(raw)
		inserted[i] = raw
		src[state] = append(src[state], hex.EncodeToString(raw))
	}
	if _, err := f.d.Rebuild(ctx, state, src, nil); err != nil {
		t.Fatal(err)
	}
	bitmap, err := f.rdb.Get(ctx, votequeue.BloomKey(state)).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(bitmap)) > p.Bytes() {
		t.Fatalf("bitmap is %d bytes; the shape allows %d", len(bitmap), p.Bytes())
	}
	for i, raw := range inserted {
		if !p.Test(bitmap, raw) {
			t.Fatalf("inserted nullifier %d tests negative: Go and Redis disagree on bit positions", i)
		}
	}
	for positives, negatives := 0, 0; positives < 5 || negatives < 5; {
		raw := make([]byte, 32)
		_, _ = rand.Read(raw)
		want := p.Test(bitmap, raw)
		if want && positives == 5 || !want && negatives == 5 {
			continue
		}
		f.enroll(t, state, raw)
		calls := f.ledger.calls.Load()
		res, err := f.d.Accept(ctx, attempt(t, state, hex.EncodeToString(raw)))
		if err != nil || res.Outcome != Accepted || res.BloomMaybe != want || (f.ledger.calls.Load() > calls) != want {
			t.Fatalf("never-seen voter testing %v in Go: %+v, %v; want accepted, Bloom maybe and a ledger call only if positive", want, res, err)
		}
		if want {
			positives++
		} else {
			negatives++
		}
	}
	var fp int
	probe := make([]byte, 32)
	for range probes {
		_, _ = rand.Read(probe)
		if p.Test(bitmap, probe) {
			fp++
		}
	}
	measured := float64(fp) / probes
	fill := float64(bitCount(bitmap)) / float64(p.Bits)
	t.Logf("shape %s (%d KiB) for %d keys at %.4f: fill %.4f (expected %.4f), estimated rate %.5f, measured %.5f over %d probes",
		p, p.Bytes()>>10, capacity, rate, fill, p.ExpectedFill(capacity), p.FalsePositiveRate(fill), measured, probes)
	if measured > 2*rate || measured < rate/2 {
		t.Fatalf("measured false-positive rate %.5f not within 2x of %.4f", measured, rate)
	}
}

func bitCount(b []byte) int {
	n := 0
	for _, c := range b {
		for ; c != 0; c &= c - 1 {
			n++
		}
	}
	return n
}
