package fabricclient

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/votechain/votechain/ballot"
)

// payloadBatches are batches of n votes each, of distinct states.
func payloadBatches(tb testing.TB, states []string, n int) []ballot.Batch {
	tb.Helper()
	out := make([]ballot.Batch, len(states))
	for s, state := range states {
		votes := make([]ballot.Vote, n)
		for i := range votes {
			id := sha256.Sum256(fmt.Appendf(nil, "%s-%d-id", state, i))
			nul := sha256.Sum256(fmt.Appendf(nil, "%s-%d-nullifier", state, i))
			votes[i] = ballot.Vote{ID: hex.EncodeToString(id[:16]), State: state, Contest: "president",
				Nullifier: hex.EncodeToString(nul[:]), Choice: []string{"alice", "bob", "carol"}[i%3], CastAt: 1_700_000_000_000 + int64(i)}
		}
		b, err := ballot.BuildBatch(state, uint64(s+1), votes)
		if err != nil {
			tb.Fatal(err)
		}
		out[s] = b
	}
	return out
}

// TestBatchesPayload: the payload is byte for byte what json.Marshal makes
// of the batch (CommitBatch) or of the list (CommitBatches), and decodes
// back to the batches; a vote of another state is refused.
func TestBatchesPayload(t *testing.T) {
	bs := payloadBatches(t, []string{"CA", "TX", "NY"}, 7)
	for _, tc := range []struct {
		name  string
		in    []ballot.Batch
		multi bool
		want  any
	}{
		{"one", bs[:1], false, bs[0]},
		{"several", bs, true, bs},
		{"list of one", bs[:1], true, bs[:1]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := batchesPayload(tc.in, tc.multi)
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(tc.want)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("payload\n%s\nwant\n%s", got, want)
			}
			var back []ballot.Batch
			if tc.multi {
				err = json.Unmarshal(got, &back)
			} else {
				back = make([]ballot.Batch, 1)
				err = json.Unmarshal(got, &back[0])
			}
			if err != nil || len(back) != len(tc.in) || back[len(back)-1].Root != tc.in[len(tc.in)-1].Root {
				t.Fatalf("decoded %d batches (err %v), want %d", len(back), err, len(tc.in))
			}
		})
	}
	bad := payloadBatches(t, []string{"CA", "TX"}, 2)
	bad[1].Votes[1].State = "CA"
	if _, err := batchesPayload(bad, true); err == nil {
		t.Fatal("a vote of another state was encoded")
	}
}

// BenchmarkBatchesPayload: a shared transaction of ten states' batches of
// 100 votes, encoded by batchesPayload against json.Marshal of the list.
//
//	go test -run '^$' -bench BatchesPayload -benchmem ./network/fabricclient/
func BenchmarkBatchesPayload(b *testing.B) {
	bs := payloadBatches(b, []string{"CA", "TX", "FL", "NY", "PA", "IL", "OH", "GA", "NC", "MI"}, 100)
	b.Run("direct", func(b *testing.B) {
		for range b.N {
			if _, err := batchesPayload(bs, true); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for range b.N {
			if _, err := json.Marshal(bs); err != nil {
				b.Fatal(err)
			}
		}
	})
}
