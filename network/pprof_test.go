package network

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestNodePprofIsOffUnlessTheEnvironmentAsks(t *testing.T) {
	for value, want := range map[string]bool{"": false, "0": false, "no": false, "1": true, "true": true, "TRUE": true} {
		t.Setenv(NodePprofEnv, value)
		if got := NodePprofFromEnv(); got != want {
			t.Errorf("%s=%q: pprof %v, want %v", NodePprofEnv, value, got, want)
		}
	}
}

// The pprof settings, applied over Fabric's keys, turn each node's
// profiling service on at its own loopback port of the plan.
func TestPprofSettingsEnableEachNodeOnItsOwnPort(t *testing.T) {
	dir := t.TempDir()
	core := filepath.Join(dir, "core.yaml")
	orderer := filepath.Join(dir, "orderer.yaml")
	if err := os.WriteFile(core, []byte("peer:\n  profile:\n    enabled: false\n    listenAddress: 0.0.0.0:6060\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(orderer, []byte("General:\n  Profile:\n    Enabled: false\n    Address: 0.0.0.0:6060\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ports := Ports{Base: 30000}
	seen := map[string]string{}
	check := func(node, addr string, port int) {
		t.Helper()
		if want := fmt.Sprintf("127.0.0.1:%d", port); addr != want {
			t.Errorf("%s profiles on %q, want %q", node, addr, want)
		}
		if other, ok := seen[addr]; ok {
			t.Errorf("%s and %s share pprof address %s", node, other, addr)
		}
		seen[addr] = node
	}
	read := func(path string, into any) {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(data, into); err != nil {
			t.Fatal(err)
		}
	}
	for i, o := range PeerOrgs() {
		dst := filepath.Join(dir, o.Name, "core.yaml")
		if err := PatchYAML(core, dst, PeerPprofSettings(ports, i)); err != nil {
			t.Fatal(err)
		}
		var got struct {
			Peer struct {
				Profile struct {
					Enabled       bool   `yaml:"enabled"`
					ListenAddress string `yaml:"listenAddress"`
				} `yaml:"profile"`
			} `yaml:"peer"`
		}
		read(dst, &got)
		if !got.Peer.Profile.Enabled {
			t.Errorf("peer %s: profile not enabled", o.Name)
		}
		check(PeerProcess(o), got.Peer.Profile.ListenAddress, ports.PeerPprof(i))
	}
	for i := 0; i < OrdererCount; i++ {
		dst := filepath.Join(dir, OrdererProcess(i), "orderer.yaml")
		if err := PatchYAML(orderer, dst, OrdererPprofSettings(ports, i)); err != nil {
			t.Fatal(err)
		}
		var got struct {
			General struct {
				Profile struct {
					Enabled bool   `yaml:"Enabled"`
					Address string `yaml:"Address"`
				} `yaml:"Profile"`
			} `yaml:"General"`
		}
		read(dst, &got)
		if !got.General.Profile.Enabled {
			t.Errorf("%s: profile not enabled", OrdererProcess(i))
		}
		check(OrdererProcess(i), got.General.Profile.Address, ports.OrdererPprof(i))
	}
}
