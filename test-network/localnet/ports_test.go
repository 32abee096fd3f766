package localnet_test

import (
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/test-network/localnet"
	"github.com/votechain/votechain/test-network/nettest"
)

// TestCheckPortsCoversChaincodeServers: a port of a chaincode server's
// slot held by another process is refused before anything starts, naming
// it (it used to pass unchecked, and the server's start was then taken as
// ready on the other process's listener).
func TestCheckPortsCoversChaincodeServers(t *testing.T) {
	cfg, _ := fakeFabric(t)
	cfg.PortBase = nettest.PortBase(t) // a range no other test holds, below the ephemeral ports
	port := network.Ports{Base: cfg.PortBase}.ChaincodeServer(1, 1)
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	n, err := localnet.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = n.CheckPorts()
	if want := fmt.Sprintf("port %d (%s server, slot 1)", port, network.ChaincodeProcess(network.PeerOrgs()[1])); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("checkPorts = %v, want it to name %q", err, want)
	}
}
