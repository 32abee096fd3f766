package nettest

import (
	"context"
	"testing"

	"github.com/votechain/votechain/test-network/localnet"
)

// SyncPeers waits until every organisation's peer holds every block the
// highest of them held when it was called (fabricclient's SyncEndorsers).
// A client waits only for its own peer to commit a transaction; the other
// peer may be a block behind for a moment, so a test that then reads
// through the other peer (the Observers', an explorer's) calls SyncPeers
// first.
func SyncPeers(t testing.TB, n *localnet.Network) {
	t.Helper()
	if err := Dial(t, n, "Commission").Ballot().SyncEndorsers(context.Background()); err != nil {
		t.Fatalf("peers in step: %v", err)
	}
}
