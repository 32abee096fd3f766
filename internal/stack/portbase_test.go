package stack

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/votechain/votechain/network"
)

// TestPortPlanFromTheRecord: a system opened without a port base (close,
// finalise, status) reaches its services at the ports of the base its
// network recorded, 32000 here, not the default's: Redis,
// which finalise connects to, the gateway and the scale-out's cluster
// ports; another base than the recorded is refused naming both. It starts
// nothing: the folder holds the network's record alone.
func TestPortPlanFromTheRecord(t *testing.T) {
	const recorded = 32000
	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, "network", "state.json"), map[string]any{"port_base": recorded, "consensus": "bft", "created": true})
	cfg := Config{Dir: dir, BinDir: dir, FabricBin: dir, Builder: dir, Election: dir}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New without a port base: %v", err)
	}
	plan := network.Ports{Base: recorded}
	if want := net.JoinHostPort(network.LocalHost().Addr, strconv.Itoa(plan.Redis())); s.RedisAddr() != want {
		t.Errorf("Redis at %s; want %s, in the recorded plan", s.RedisAddr(), want)
	}
	if want := "http://" + net.JoinHostPort(network.LocalHost().Addr, strconv.Itoa(plan.Gateway())); s.GatewayURL() != want {
		t.Errorf("gateway at %s; want %s, in the recorded plan", s.GatewayURL(), want)
	}
	if got := s.clusterPort(0); got != recorded+340 {
		t.Errorf("cluster node 0 at port %d; want %d, in the recorded plan", got, recorded+340)
	}

	cfg.PortBase = network.DefaultPortBase
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "port base 32000, not 27000") {
		t.Errorf("New with port base %d on a system created with %d: %v; want a refusal naming both", cfg.PortBase, recorded, err)
	}
}
