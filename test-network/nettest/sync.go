package nettest

import (
	"context"
	"testing"
	"time"

	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/network/fabricclient"
	"github.com/votechain/votechain/test-network/localnet"
)

// syncWithin bounds SyncPeers: a peer normally trails the other by a block
// for milliseconds, but a loaded machine can hold a commit back for seconds.
const syncWithin = time.Minute

// SyncPeers waits until every organisation's peer holds every block the
// highest of them held when it was called. A client waits only for its own
// peer to commit a transaction; the other peer may be a block behind for a
// moment, so a test that then reads through the other peer (the Observers',
// an explorer's) or has both endorse something that depends on that
// transaction calls SyncPeers first.
func SyncPeers(t testing.TB, n *localnet.Network) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), syncWithin)
	defer cancel()
	ledgers := make([]*fabricclient.Ballot, len(network.PeerOrgs))
	var want uint64
	for i, org := range network.PeerOrgs {
		ledgers[i] = Dial(t, n, org.Name).Ballot()
		h, err := ledgers[i].Height(ctx)
		if err != nil {
			t.Fatalf("height of %s's peer: %v", org.Name, err)
		}
		want = max(want, h)
	}
	began := time.Now()
	for i, org := range network.PeerOrgs {
		for behind := false; ; behind = true {
			h, err := ledgers[i].Height(ctx)
			if err != nil {
				t.Fatalf("%s's peer did not reach height %d within %s: %v", org.Name, want, syncWithin, err)
			}
			if h >= want {
				if behind {
					t.Logf("%s's peer was behind: it reached height %d after %s", org.Name, want, time.Since(began).Round(time.Millisecond))
				}
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%s's peer is at height %d, short of %d, after %s", org.Name, h, want, syncWithin)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}
