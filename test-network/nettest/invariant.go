package nettest

import (
	"context"
	"fmt"
	"testing"

	"golang.org/x/sync/errgroup"

	"github.com/votechain/votechain/ballot"
	"github.com/votechain/votechain/network/fabricclient"
)

// CheckCountedOnce asserts the durability invariant the fault tests share:
// every vote's nullifier is on the ledger and names that vote, the ledger
// counts exactly len(votes) votes, and its tallies per state equal the votes'.
func CheckCountedOnce(t testing.TB, ledger *fabricclient.Ballot, votes []ballot.Vote) {
	t.Helper()
	ctx := context.Background()
	want := map[string]ballot.Tally{}
	var g errgroup.Group
	g.SetLimit(8)
	for _, v := range votes {
		if want[v.State] == nil {
			want[v.State] = ballot.Tally{}
		}
		want[v.State].Add(v.Contest, v.Choice, 1)
		g.Go(func() error {
			rec, err := ledger.LocateNullifier(ctx, v.State, v.Nullifier)
			if err != nil || rec.VoteID != v.ID {
				return fmt.Errorf("vote %s: the ledger locates its nullifier at %+v, %v", v.ID, rec, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	res, err := ledger.Results(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Counted != uint64(len(votes)) {
		t.Fatalf("the ledger counts %d votes; %d were accepted", res.Counted, len(votes))
	}
	for st, tally := range want {
		if !res.States[st].Tallies.Equal(tally) {
			t.Errorf("state %s: ledger %v, accepted %v", st, res.States[st].Tallies, tally)
		}
	}
}
