package localnet

import (
	"context"
	"fmt"

	"github.com/votechain/votechain/internal/proc"
	"github.com/votechain/votechain/network"
)

// InvokeThroughOrderer has both peers endorse a probe Put and broadcasts the
// transaction to orderer i alone (the peer CLI, not the gateway, which would
// refuse it without a quorum of orderers). It returns once the orderer has
// accepted the transaction, not when it commits.
func (n *Network) InvokeThroughOrderer(ctx context.Context, i int, key, value string) error {
	args := []string{"chaincode", "invoke", "-C", network.ChannelName, "-n", network.ChaincodeName,
		"-c", fmt.Sprintf(`{"Args":["probe:Put",%q,%q]}`, key, value)}
	args = append(args, network.OrdererArgs(n.layout, n.ports, n.Hosts(), i)...)
	args = append(args, network.CommitPeerArgs(n.layout, n.ports, n.Hosts())...)
	_, err := proc.Run(ctx, n.peerAdminEnv(0), n.bin("peer"), args...)
	return err
}

// CheckPorts is checkPorts, for the tests.
func (n *Network) CheckPorts() error { return n.checkPorts() }

// Gauge is node name's metric on the election channel, as Status reads
// heights from its operations endpoint, and whether the node reported it
// (not when it does not run or answer within 2 s).
func (n *Network) Gauge(ctx context.Context, name, metric string) (float64, bool) {
	addr, ok := n.operationsAddrs()[name]
	if !ok {
		return 0, false
	}
	v, ok := scrape(ctx, addr)[metric]
	return v, ok
}
