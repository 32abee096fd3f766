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
	listen, _, _ := n.ports.Orderer(i)
	args := []string{"chaincode", "invoke", "-C", network.ChannelName, "-n", network.ChaincodeName,
		"-c", fmt.Sprintf(`{"Args":["probe:Put",%q,%q]}`, key, value),
		"-o", n.Hosts().Orderer(i).Join(listen), "--tls", "--cafile", n.layout.OrdererTLSRoots()}
	for j, o := range network.PeerOrgs {
		peer, _, _ := n.ports.Peer(j)
		args = append(args, "--peerAddresses", n.Hosts().Peer(j).Join(peer), "--tlsRootCertFiles", n.layout.PeerTLSCA(o))
	}
	_, err := proc.Run(ctx, n.peerAdminEnv(0), n.bin("peer"), args...)
	return err
}
