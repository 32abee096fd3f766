package localnet_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/votechain/votechain/internal/rundir"
	"github.com/votechain/votechain/internal/rundir/rundirtest"
	"github.com/votechain/votechain/network"
	"github.com/votechain/votechain/test-network/localnet"
)

// TestPortPlanFromTheRecord: with no port base given, an instance's port
// plan, and so the ports its status reports, is the one of the base
// state.json records (31800 here, the benchmark's), not the default's; the
// recorded base given explicitly is accepted, another one refused naming
// both and the fixes, the wipe of that folder among them; a new instance
// without a base takes the default. It
// starts nothing: the folder holds the record alone.
func TestPortPlanFromTheRecord(t *testing.T) {
	const recorded = 31800
	dir := filepath.Join(t.TempDir(), "network")
	writeState(t, dir, `{"port_base":31800,"consensus":"bft","created":true}`)
	tools := t.TempDir()
	cfg := localnet.Config{Dir: dir, FabricBin: tools, Chaincode: tools, Builder: tools}

	n, err := localnet.New(cfg)
	if err != nil {
		t.Fatalf("New without a port base: %v", err)
	}
	if got := n.Ports().Base; got != recorded {
		t.Errorf("port plan without a port base starts at %d; want the recorded %d", got, recorded)
	}
	st := n.Status(context.Background())
	orderer0, _, _ := network.Ports{Base: recorded}.Orderer(0)
	var listed bool
	for _, p := range st.Processes {
		if p.Name == network.OrdererProcess(0) {
			listed = true
			if p.Port != orderer0 {
				t.Errorf("status lists %s on port %d; want %d, its port in the recorded plan", p.Name, p.Port, orderer0)
			}
		}
	}
	if st.PortBase != recorded || !listed {
		t.Errorf("status: port base %d, %s listed %v; want %d and listed", st.PortBase, network.OrdererProcess(0), listed, recorded)
	}

	cfg.PortBase = recorded
	if n, err := localnet.New(cfg); err != nil || n.Ports().Base != recorded {
		t.Errorf("New with the recorded port base: %v; want the recorded plan", err)
	}

	cfg.PortBase = network.DefaultPortBase
	_, err = localnet.New(cfg)
	for _, want := range []string{"port base 31800, not 27000", "leave --port-base out", "--port-base 31800", "`bin/vcnet --dir " + dir + " down --wipe`"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New with port base %d on an instance created with %d: %v; want a refusal saying %q", cfg.PortBase, recorded, err, want)
		}
	}

	fresh := localnet.Config{Dir: filepath.Join(t.TempDir(), "network"), FabricBin: tools, Chaincode: tools, Builder: tools}
	if n, err := localnet.New(fresh); err != nil || n.Ports().Base != network.DefaultPortBase {
		t.Errorf("New of a new instance without a port base: %v; want the default plan (%d)", err, network.DefaultPortBase)
	}
}

// TestRecordedPortBaseOutOfRange: a state.json recording a base out of
// range (0 here: a damaged record) is refused as an unreadable record,
// naming the file and how to wipe it, not as if a flag were wrong. The
// wipe names the folder (vcnet --dir), even run from the project (its
// Makefile in the working directory): make's targets act on .run/network,
// and with no --dir vcnet does too. For .run/network itself it is make's
// target.
func TestRecordedPortBaseOutOfRange(t *testing.T) {
	project := rundirtest.Project(t)
	dir := filepath.Join(project, ".run", "bench", "network")
	writeState(t, dir, `{"port_base":0,"consensus":"bft","created":true}`)
	tools := t.TempDir()
	_, err := localnet.New(localnet.Config{Dir: dir, FabricBin: tools, Chaincode: tools, Builder: tools})
	if !errors.Is(err, rundir.ErrUnreadable) {
		t.Errorf("New on a state.json with port base 0: %v; want rundir.ErrUnreadable", err)
	}
	for _, want := range []string{filepath.Join(dir, "state.json"), "port base 0", "`bin/vcnet --dir " + dir + " down --wipe`"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New on a state.json with port base 0: %v; want it to say %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "make ") {
		t.Errorf("New on a state.json with port base 0 in %s: %v; want no make target (make's act on .run/network)", dir, err)
	}
	writeState(t, filepath.Join(project, ".run", "network"), `{"port_base":0,"consensus":"bft","created":true}`)
	_, err = localnet.New(localnet.Config{Dir: filepath.Join(".run", "network"), FabricBin: tools, Chaincode: tools, Builder: tools})
	if want := "`make network-down WIPE=1`"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("New on make's network with port base 0: %v; want it to say %s", err, want)
	}
}
