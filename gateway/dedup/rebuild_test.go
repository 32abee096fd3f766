package dedup

import (
	"context"
	"encoding/hex"
	"testing"

	"github.com/votechain/votechain/gateway/votequeue"
)

// sliceSource is a NullifierSource over a map of state to nullifiers.
type sliceSource map[string][]string

func (s sliceSource) Nullifiers(_ context.Context, state string, fn func(string) error) error {
	for _, n := range s[state] {
		if err := fn(n); err != nil {
			return err
		}
	}
	return nil
}

func TestRebuildAfterBloomLoss(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	a, b := f.voter(t, "CA", true), f.voter(t, "CA", true)
	if res, err := f.d.Accept(ctx, attempt(t, "CA", a)); err != nil || res.Outcome != Accepted {
		t.Fatalf("accept: %+v, %v", res, err)
	}
	// a and b are on the ledger (b through another gateway); then Redis
	// lost the Bloom filter and the roll, and the roll was reloaded.
	f.ledger.mark("CA", a)
	f.ledger.mark("CA", b)
	f.rdb.Del(ctx, votequeue.BloomKey("CA"))
	rawA, _ := hex.DecodeString(a)
	f.unvote(t, "CA", rawA)

	var reported int
	st, err := f.d.Rebuild(ctx, "CA", sliceSource{"CA": {a, b}, "NY": {f.voter(t, "NY", false)}}, func(n int) { reported = n })
	if err != nil || st.Nullifiers != 2 || st.MarkedVoted != 2 || reported != 2 {
		t.Fatalf("rebuild: %+v, %v, progress %d; want 2 nullifiers, 2 marked voted", st, err, reported)
	}
	p, _ := f.d.Params(ctx, "CA")
	bitmap, _ := f.rdb.Get(ctx, votequeue.BloomKey("CA")).Bytes()
	for _, n := range []string{a, b} {
		raw, _ := hex.DecodeString(n)
		if !p.Test(bitmap, raw) {
			t.Fatalf("nullifier %s not in the rebuilt filter", n)
		}
		res, err := f.d.Accept(ctx, attempt(t, "CA", n))
		if err != nil || res.Outcome != Duplicate || res.BloomMaybe {
			t.Fatalf("voting again after rebuild: %+v, %v; want duplicate from the roll", res, err)
		}
	}
	if c := f.ledger.calls.Load(); c != 0 {
		t.Fatalf("ledger asked %d times after the rebuild; want 0", c)
	}
	if _, err := f.d.Rebuild(ctx, "CA", sliceSource{"CA": {"not-hex"}}, nil); err == nil {
		t.Fatal("rebuild accepted a malformed nullifier")
	}
}
