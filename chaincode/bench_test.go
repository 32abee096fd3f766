package chaincode

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// BenchmarkCommitBatch measures CommitBatch's own CPU per vote (decode,
// root and tally recomputation, election checks, key building, nullifier
// records) against the in-memory fake stub, so no ledger round trips: on a
// peer its one GetMultipleStates and its one write batch are each an
// exchange with the peer. Every vote is new, so each takes the full path:
// its nullifier key read, its nullifier record written.
func BenchmarkCommitBatch(b *testing.B) {
	for _, size := range []int{100, 1_000, 5_000} {
		b.Run(fmt.Sprintf("votes=%d", size), func(b *testing.B) {
			h := newHarness(b)
			h.open()
			data, err := json.Marshal(batch(b, "CA", 1, votes("CA", 0, size)))
			if err != nil {
				b.Fatal(err)
			}
			ctx := txContext(h.stub, commissionClient)
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

// BenchmarkInvokeCommitBatch is BenchmarkCommitBatch through contractapi's
// dispatch (argument conversion, cid certificate parsing), as the peer calls
// it; the difference is the framework's cost. serializer=json is
// contractapi's own serializer, whose schema check marshals the batch to
// JSON and decodes it again; serializer=plain is NewChaincode's
// (PlainStrings), which does not check a string's schema.
func BenchmarkInvokeCommitBatch(b *testing.B) {
	builds := []struct {
		name  string
		build func(...contractapi.ContractInterface) (*contractapi.ContractChaincode, error)
	}{{"json", contractapi.NewChaincode}, {"plain", NewChaincode}}
	for _, size := range []int{100, 1_000, 5_000} {
		for _, build := range builds {
			b.Run(fmt.Sprintf("votes=%d/serializer=%s", size, build.name), func(b *testing.B) {
				benchInvokeCommitBatch(b, size, build.build)
			})
		}
	}
}

func benchInvokeCommitBatch(b *testing.B, size int, build func(...contractapi.ContractInterface) (*contractapi.ContractChaincode, error)) {
	h := newHarness(b)
	h.open()
	cc, err := build(h.cc) // the harness's contract, whose clock is the transaction time
	if err != nil {
		b.Fatal(err)
	}
	data, err := json.Marshal(batch(b, "CA", 1, votes("CA", 0, size)))
	if err != nil {
		b.Fatal(err)
	}
	h.stub.creator = serializedIdentity(b, CommissionMSP, "client", batcherCN) // the batcher the test election names
	h.stub.args = []string{"CommitBatch", string(data)}
	b.ResetTimer()
	for range b.N {
		h.stub.begin("tx", h.now)
		if resp := cc.Invoke(h.stub); resp.Status != shim.OK {
			b.Fatal(resp.Message)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/vote")
}

// BenchmarkShared compares the chaincode's CPU for two states' small
// batches (20 votes each, the size a lane cuts at the referendum rate)
// committed as two CommitBatch calls and as one CommitBatches call, against
// the fake stub: the chaincode's share of the per-transaction cost a shared
// transaction saves (the peers' and orderers' shares are not measured here).
func BenchmarkShared(b *testing.B) {
	h := newHarness(b)
	h.open()
	ctx := txContext(h.stub, commissionClient)
	ca, ny := batch(b, "CA", 1, votes("CA", 0, 20)), batch(b, "NY", 1, votes("NY", 0, 20))
	encode := func(v any) string {
		data, err := json.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		return string(data)
	}
	type call struct {
		fn  func(contractapi.TransactionContextInterface, string) (string, error)
		arg string
	}
	calls := map[string][]call{
		"separate": {{h.cc.CommitBatch, encode(ca)}, {h.cc.CommitBatch, encode(ny)}},
		"shared":   {{h.cc.CommitBatches, encode([]any{ca, ny})}},
	}
	for _, name := range []string{"separate", "shared"} {
		b.Run(name, func(b *testing.B) {
			for range b.N {
				for _, c := range calls[name] {
					h.stub.begin("tx", h.now)
					if _, err := c.fn(ctx, c.arg); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*40), "ns/vote")
		})
	}
}
