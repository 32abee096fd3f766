package nettest

import (
	"context"
	"testing"
	"time"

	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/test-network/localnet"
)

// AwaitLeader is the orderer of n that says it leads the channel
// (localnet.Network.Leader), polled for up to within; t fails if none
// does by then.
func AwaitLeader(t testing.TB, n *localnet.Network, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if name, ok := n.Leader(context.Background()); ok {
			return name
		}
		if time.Now().After(deadline) {
			t.Fatalf("no orderer reports itself the leader after %v", within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// OrderersExcept are the network's orderers other than victim.
func OrderersExcept(victim string) []string {
	var names []string
	for i := range network.OrdererCount {
		if name := network.OrdererProcess(i); name != victim {
			names = append(names, name)
		}
	}
	return names
}
