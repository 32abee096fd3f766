package localnet_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/test-network/localnet"
	"github.com/votechain/votechain/test-network/nettest"
)

// Bad configuration must fail at once with a message that says how to fix it.
func TestBadConfiguration(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, cfg *localnet.Config)
		want  []string
	}{
		{"missing binary", func(t *testing.T, cfg *localnet.Config) {
			cfg.FabricBin = t.TempDir()
		}, []string{"missing", "make fabric-bin"}},
		{"missing chaincode", func(t *testing.T, cfg *localnet.Config) {
			cfg.Chaincode = filepath.Join(t.TempDir(), "nope")
		}, []string{"chaincode binary", "make build"}},
		{"port in use", func(t *testing.T, cfg *localnet.Config) {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", cfg.PortBase+51)) // orderer1
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
		}, []string{fmt.Sprint("in use"), "orderer1", "--port-base"}},
		{"stale data dir", func(t *testing.T, cfg *localnet.Config) {
			if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(cfg.Dir, "leftover"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{"interrupted", "down --wipe"}},
		{"damaged state", func(t *testing.T, cfg *localnet.Config) {
			if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(cfg.Dir, "state.json"), []byte("{"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{"damaged", "down --wipe"}},
		{"other consensus than the instance's", func(t *testing.T, cfg *localnet.Config) {
			writeState(t, cfg.Dir, fmt.Sprintf(`{"port_base":%d,"consensus":"raft","created":true}`, cfg.PortBase))
			cfg.Consensus = network.BFT
		}, []string{"created with consensus raft", "--consensus raft", "down --wipe"}},
		{"instance of the three-orderer layout", func(t *testing.T, cfg *localnet.Config) {
			writeState(t, cfg.Dir, fmt.Sprintf(`{"port_base":%d,"created":true}`, cfg.PortBase))
		}, []string{"older version", "down --wipe"}},
		{"unknown consensus", func(t *testing.T, cfg *localnet.Config) {
			cfg.Consensus = "pbft"
		}, []string{"unknown consensus", "bft", "raft"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := nettest.Config(t)
			c.setup(t, &cfg)
			n, err := localnet.New(cfg)
			if err == nil {
				err = n.Up(context.Background())
				defer n.Down(true)
			}
			if err == nil {
				t.Fatal("bad configuration accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func writeState(t *testing.T, dir, state string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "state.json"), []byte(state), 0o644); err != nil {
		t.Fatal(err)
	}
}
