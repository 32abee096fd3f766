package dedup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/gateway/votequeue"
)

// TestBloomFalsePositiveRate fills a partition's filter in Redis to its
// capacity through the intake script, then measures the false-positive rate
// over 1 M never-seen nullifiers against the bitmap Redis holds. It must be
// within 2x of the configured rate. Checking every inserted nullifier tests
// positive against the same bitmap also proves that the Go bit numbering
// matches Redis SETBIT.
func TestBloomFalsePositiveRate(t *testing.T) {
	const (
		capacity = 20_000
		rate     = 0.01
		probes   = 1_000_000
		state    = "FP"
	)
	f := newFixture(t, Config{ExpectedVoters: capacity, FalsePositiveRate: rate})
	ctx := context.Background()
	s, err := f.d.shape(ctx, state, false)
	p := s.bloom
	if err != nil {
		t.Fatal(err)
	}
	inserted := make([][]byte, capacity)
	batch := make([]*pending, 0, 1000)
	for i := range inserted {
		raw := make([]byte, 32)
		_, _ = rand.Read(raw)
		inserted[i] = raw
		id, _ := ballot.NewVoteID()
		batch = append(batch, &pending{attempt: Attempt{Vote: ballot.Vote{
			ID: id, State: state, Nullifier: hex.EncodeToString(raw), Contest: "race", Choice: "alice", CastAt: time.Now().UnixMilli()}}})
		f.enroll(t, state, raw)
		if len(batch) == cap(batch) {
			// "force" skips the Bloom test: it only claims, sets the bits
			// and enqueues, which is all this test needs.
			if _, err := f.d.call(ctx, "force", batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
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
