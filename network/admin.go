package network

import (
	"strconv"
)

// The organisations' admin commands, built from the files under a Layout:
// localnet runs them against the network it started, and WriteBundles
// writes them into each organisation's setup script for its own machine.

// PeerAdminEnv is the environment for the peer CLI acting as the admin of
// the i-th organisation in PeerOrgs against its own peer.
func PeerAdminEnv(l Layout, ports Ports, hosts Placement, i int) []string {
	o := PeerOrgs()[i]
	listen, _, _ := ports.Peer(i)
	return []string{
		"FABRIC_CFG_PATH=" + l.NodeConfigDir(PeerProcess(o)),
		"CORE_PEER_LOCALMSPID=" + o.MSPID,
		"CORE_PEER_MSPCONFIGPATH=" + l.UserMSP(o, "Admin"),
		"CORE_PEER_ADDRESS=" + hosts.Peer(i).Join(listen),
		"CORE_PEER_TLS_ENABLED=true",
		"CORE_PEER_TLS_ROOTCERT_FILE=" + l.PeerTLSCA(o),
	}
}

// OrdererJoinArgs are osnadmin's arguments that join orderer i to the
// election channel from the genesis block, as its organisation's orderer
// admin (the only client its admin endpoint accepts).
func OrdererJoinArgs(l Layout, ports Ports, hosts Placement, i int) []string {
	_, admin, _ := ports.Orderer(i)
	cert, key := l.OrdererAdminTLS(OrdererOrg(i))
	return []string{"channel", "join", "--channelID", ChannelName, "--config-block", l.GenesisBlock(),
		"-o", hosts.Orderer(i).Join(admin), "--ca-file", l.OrdererTLSRoots(), "--client-cert", cert, "--client-key", key}
}

// OrdererArgs point a peer CLI transaction at orderer i over TLS.
func OrdererArgs(l Layout, ports Ports, hosts Placement, i int) []string {
	listen, _, _ := ports.Orderer(i)
	return []string{"-o", hosts.Orderer(i).Join(listen), "--tls", "--cafile", l.OrdererTLSRoots()}
}

// ChaincodeDefinitionArgs name the chaincode definition of a label and
// sequence for `peer lifecycle chaincode approveformyorg` and `commit`.
func ChaincodeDefinitionArgs(label string, sequence int64) []string {
	return []string{
		"--channelID", ChannelName, "--name", ChaincodeName,
		"--version", label, "--sequence", strconv.FormatInt(sequence, 10),
		"--signature-policy", EndorsementPolicy,
	}
}

// CommitPeerArgs name every organisation's peer, with its TLS CA, for
// `peer lifecycle chaincode commit`: the endorsement policy needs both.
func CommitPeerArgs(l Layout, ports Ports, hosts Placement) []string {
	var args []string
	for i, o := range PeerOrgs() {
		listen, _, _ := ports.Peer(i)
		args = append(args, "--peerAddresses", hosts.Peer(i).Join(listen), "--tlsRootCertFiles", l.PeerTLSCA(o))
	}
	return args
}
