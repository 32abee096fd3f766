package chaincode

import (
	"encoding/json"
	"fmt"
	"testing"
)

// BenchmarkCommitBatch measures CommitBatch's own CPU per vote (decode,
// root and tally recomputation, election checks, key building, nullifier
// records) against the in-memory fake stub, so no ledger round trips: on a
// peer each GetState/PutState adds a round trip to the peer (FABRIC.md).
// Every vote is new, so each takes the full path: one read, one write.
func BenchmarkCommitBatch(b *testing.B) {
	for _, size := range []int{100, 1_000, 5_000} {
		b.Run(fmt.Sprintf("votes=%d", size), func(b *testing.B) {
			h := newHarness(b)
			h.open()
			data, err := json.Marshal(batch(b, "CA", 1, votes("CA", 0, size)))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context(h.stub, commissionClient)
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for range b.N {
				h.stub.begin("tx", h.now) // writes are never committed: every run is a first commit
				if _, err := h.cc.CommitBatch(ctx, string(data)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/vote")
		})
	}
}
