package logmonitor

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/votechain/votechain/ballot"
)

func leavesOf(first, n int) [][32]byte {
	out := make([][32]byte, n)
	for i := range out {
		out[i] = sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(first+i)))
	}
	return out
}

// TestPlacedAsTheRecordSays: each vote's place is the batch's seq and its
// index, its status and reason what ballot.BatchRecord says of that index
// (a listed index without a reason a duplicate; an index listed twice read
// from its first listing; an empty reason counted); a vote counted before
// keeps that place, one rejected before takes the later one; the nil
// Placed holds nothing.
func TestPlacedAsTheRecordSays(t *testing.T) {
	leaves := leavesOf(0, 6)
	rec := ballot.BatchRecord{State: "CA", Seq: 7, Votes: 6,
		Rejected: []int{1, 2, 3, 1, 5}, Reasons: []string{ballot.RejectNotOnRoll, ballot.RejectOutsideWindow, "", "ignored"}}
	p := NewPlaced()
	p.add(rec, leaves, nil)
	if p.Len() != 6 {
		t.Fatalf("placed %d votes; want 6", p.Len())
	}
	for i, l := range leaves {
		got, ok := p.Of(l)
		want := Placement{Seq: 7, Index: i, Status: rec.Status(i), Reason: rec.Reason(i)}
		if !ok || got != want {
			t.Errorf("vote %d: %+v, %v; want %+v", i, got, ok, want)
		}
	}
	if got, _ := p.Of(leaves[5]); got.Status != ballot.ReceiptDuplicate || got.Reason != ballot.RejectDuplicate {
		t.Errorf("a listed index past the reasons: %+v; want a duplicate", got)
	}
	if got, _ := p.Of(leaves[3]); got.Status != ballot.ReceiptCounted {
		t.Errorf("an empty reason: %+v; want counted, as BatchRecord.Status says", got)
	}

	// A later batch holding votes 0 (counted) and 1 (rejected) again.
	p.add(ballot.BatchRecord{State: "CA", Seq: 9, Votes: 2}, [][32]byte{leaves[1], leaves[0]}, nil)
	if got, _ := p.Of(leaves[0]); got.Seq != 7 || got.Index != 0 {
		t.Errorf("a counted vote placed again: %+v; want its counted place, seq 7", got)
	}
	if got, _ := p.Of(leaves[1]); got != (Placement{Seq: 9, Index: 0, Status: ballot.ReceiptCounted}) {
		t.Errorf("a rejected vote counted later: %+v; want seq 9, index 0, counted", got)
	}
	if _, ok := p.Of(leavesOf(100, 1)[0]); ok {
		t.Error("a vote of no batch placed")
	}
	var none *Placed
	if _, ok := none.Of(leaves[0]); ok || none.Len() != 0 {
		t.Error("the nil Placed holds a vote")
	}
}

// TestForgetReleasesTheRoom: a large Placed that forgot most of its votes
// moves the rest to a new map, which still places each of them.
func TestForgetReleasesTheRoom(t *testing.T) {
	leaves := leavesOf(0, minRebuild+1000)
	p := NewPlaced()
	p.add(ballot.BatchRecord{State: "CA", Seq: 1, Votes: len(leaves)}, leaves, nil)
	keep := leaves[:minRebuild/8]
	for _, l := range leaves[len(keep):] {
		p.forget(l)
	}
	if p.Len() != len(keep) || p.peak >= minRebuild {
		t.Fatalf("after forgetting all but %d votes: %d held, peak %d; want them in a map rebuilt once under a quarter of %d", len(keep), p.Len(), p.peak, minRebuild+1000)
	}
	for i, l := range keep {
		if got, ok := p.Of(l); !ok || got.Seq != 1 || got.Index != i {
			t.Fatalf("vote %d after the rebuild: %+v, %v", i, got, ok)
		}
	}
	if _, ok := p.Of(leaves[len(keep)]); ok {
		t.Error("a forgotten vote is still placed")
	}
}

// BenchmarkPlaceLeaves places batches of 2,000 counted votes into a Placed
// holding a million votes already, as a monitor of a large election does
// for each batch it indexes, against the map of Placement values the
// monitor kept before (two strings a vote). live-bytes/vote is the heap
// after a collection over the votes placed; gc-ns/vote the collection's
// wall time per vote held (a full collection marks every pointer of the
// heap: the strings map's values are scanned, the compact ones are not).
func BenchmarkPlaceLeaves(b *testing.B) {
	const held, perBatch = 1_000_000, 2_000
	for _, c := range []string{"compact", "strings"} {
		b.Run(c, func(b *testing.B) {
			p := NewPlaced()
			old := map[[32]byte]Placement{}
			place := func(seq int, leaves [][32]byte) {
				rec := ballot.BatchRecord{Seq: uint64(seq), Votes: len(leaves)}
				if c == "compact" {
					p.add(rec, leaves, nil)
					return
				}
				for i, l := range leaves {
					if prev, ok := old[l]; ok && prev.Status == ballot.ReceiptCounted {
						continue
					}
					old[l] = Placement{Seq: rec.Seq, Index: i, Status: rec.Status(i), Reason: rec.Reason(i)}
				}
			}
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			for s := 0; s < held/perBatch; s++ {
				place(s, leavesOf(s*perBatch, perBatch))
			}
			batches := make([][][32]byte, b.N)
			for i := range batches {
				batches[i] = leavesOf(held+i*perBatch, perBatch)
			}
			b.ResetTimer()
			for i, leaves := range batches {
				place(held/perBatch+i, leaves)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perBatch), "ns/vote")
			batches = nil
			runtime.GC()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			votes := held + b.N*perBatch
			if got := p.Len() + len(old); got != votes {
				b.Fatalf("placed %d votes; want %d", got, votes)
			}
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(votes), "live-bytes/vote")
			gcStart := time.Now()
			runtime.GC()
			b.ReportMetric(float64(time.Since(gcStart).Nanoseconds())/float64(votes), "gc-ns/vote")
			runtime.KeepAlive(p)
			runtime.KeepAlive(old)
		})
	}
}

func ExampleUnloggedVote_Where() {
	fmt.Println(UnloggedVote{Seq: 4, Index: 7, CastAt: 1_764_928_800_000}.Where("CA"))
	// Output: batch CA/4, vote 7, cast 2025-12-05T10:00:00Z
}

// TestPlacementsRefuseAMismatchedRecord: a batch record whose transaction's
// votes are not as many as it counts, or do not give its root, fails the
// placements (verify) and the monitor's check, handed over by the
// follower or not, with ErrRecordMismatch (a finding, not a failed read)
// rather than placing the votes by the record.
func TestPlacementsRefuseAMismatchedRecord(t *testing.T) {
	ctx := context.Background()
	for name, c := range map[string]struct {
		edit func(rec *ballot.BatchRecord)
		want string
	}{
		"root":  {func(rec *ballot.BatchRecord) { rec.Root = ballot.HashHex([32]byte{1}) }, "has root " + ballot.HashHex([32]byte{1})},
		"count": {func(rec *ballot.BatchRecord) { rec.Votes++ }, "counts 5 votes, its transaction tx0 carries 4"},
	} {
		s := newScene(t)
		if _, err := Placements(ctx, s.ledger, "CA"); err != nil {
			t.Fatalf("%s: the scene as built: %v", name, err)
		}
		c.edit(&s.ledger.records[0])
		if _, err := Placements(ctx, s.ledger, "CA"); !errors.Is(err, ErrRecordMismatch) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: placements: %v; want %v saying %q", name, err, ErrRecordMismatch, c.want)
		}
		m := s.monitor(s.entries)
		leaves, err := ballot.Leaves(s.ledger.batches[0].Votes)
		if err != nil {
			t.Fatal(err)
		}
		m.Committed("CA", 1, "tx0", s.ledger.batches[0].Votes, leaves)
		if _, err := m.Check(ctx, nil); !errors.Is(err, ErrRecordMismatch) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: the monitor's check, the batch handed over: %v; want %v saying %q", name, err, ErrRecordMismatch, c.want)
		}
	}
}
