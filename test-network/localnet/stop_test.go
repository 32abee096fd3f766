package localnet_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/votechain/votechain/internal/proc"
	"github.com/votechain/votechain/internal/proc/proctest"
	"github.com/votechain/votechain/test-network/localnet"
	"github.com/votechain/votechain/test-network/nettest"
)

// fakeFabric is a folder of Fabric binaries whose orderer is a copy of
// sleep, and a network Config over it (nothing else is used by Down and
// Status).
func fakeFabric(t *testing.T) (localnet.Config, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	fabric := filepath.Join(dir, "fabric")
	proctest.CopySleep(t, fabric, "orderer")
	var logs bytes.Buffer
	return localnet.Config{Dir: filepath.Join(dir, "network"), PortBase: nettest.PortBase(t), FabricBin: fabric,
		Chaincode: filepath.Join(dir, "ballotcc"), Builder: dir, Log: slog.New(slog.NewTextHandler(&logs, nil))}, &logs
}

// startOrderer starts the fake orderer binary for 30 s.
func startOrderer(t *testing.T, cfg localnet.Config) proc.ID {
	t.Helper()
	bin := filepath.Join(cfg.FabricBin, "orderer")
	id, err := proc.Start(context.Background(), proc.Spec{Name: "sleeper", Bin: bin, Args: []string{"30"}}, filepath.Join(cfg.Dir, "..", "sleep.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proc.Signal(id, bin, syscall.SIGKILL) })
	return id
}

// running reports whether the process id runs, whatever its binary.
func running(id proc.ID) bool { return proc.Running(id, "") }

// TestDownByStartTime: the network's state records each process's start
// time beside its PID. With the binaries' folder moved (swapped for a new
// build) while the network ran, status shows the recorded process running
// and down stops it; a recorded PID now held by a process started at
// another time (the start time faked in the state) shows as stopped, with
// why, and
// down leaves that process alone, says so, and forgets the record.
func TestDownByStartTime(t *testing.T) {
	cfg, logs := fakeFabric(t)
	mine, other := startOrderer(t, cfg), startOrderer(t, cfg)
	reused := proc.ID{PID: other.PID, Start: other.Start - 1}
	writeState(t, cfg.Dir, stateWith(t, cfg, map[string]any{"orderer0": mine, "orderer1": reused}))
	if err := os.Rename(cfg.FabricBin, cfg.FabricBin+"-old"); err != nil {
		t.Fatal(err)
	}
	n, err := localnet.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st := map[string]localnet.ProcessStatus{}
	for _, p := range n.Status(context.Background()).Processes {
		st[p.Name] = p
	}
	if !st["orderer0"].Running || st["orderer1"].Running {
		t.Errorf("status: orderer0 running %v, orderer1 running %v; want true (its binary moved), false (its PID reused)", st["orderer0"].Running, st["orderer1"].Running)
	}
	var printed bytes.Buffer
	n.Status(context.Background()).Print(&printed)
	if want := fmt.Sprintf("(exited; PID %d now belongs to a later process)", other.PID); st["orderer1"].Note == "" || !strings.Contains(printed.String(), want) {
		t.Errorf("status does not say why orderer1 is stopped (note %q); printed:\n%s", st["orderer1"].Note, printed.String())
	}
	if err := n.Down(false); err != nil {
		t.Fatal(err)
	}
	if waitStopped(mine); running(mine) {
		t.Error("the recorded process, its binary moved, still runs after down")
	}
	if !running(other) {
		t.Error("down signalled the process holding a reused PID")
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), fmt.Sprintf("pid=%d", other.PID)) || !strings.Contains(logs.String(), "left alone") {
		t.Errorf("down did not report the reused PID at warn:\n%s", logs)
	}
	if pids := recordedPIDs(t, cfg); len(pids) != 0 {
		t.Errorf("after down the state still records %s", pids)
	}
}

// TestDownOfAnOldState: a state written before start times were kept (bare
// PIDs) is read; its processes are checked by executable, as before: one
// running the recorded binary is stopped, and after a move of the
// binaries' folder down refuses, naming the node (its process name, not
// only the binary proc.Stop knows) and the PID it left running.
func TestDownOfAnOldState(t *testing.T) {
	cfg, _ := fakeFabric(t)
	first, second := startOrderer(t, cfg), startOrderer(t, cfg)
	writeState(t, cfg.Dir, stateWith(t, cfg, map[string]any{"orderer0": first.PID}))
	n, err := localnet.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Down(false); err != nil {
		t.Fatal(err)
	}
	if waitStopped(first); running(first) {
		t.Error("the recorded process still runs after down")
	}

	writeState(t, cfg.Dir, stateWith(t, cfg, map[string]any{"orderer0": second.PID}))
	if err := os.Rename(cfg.FabricBin, cfg.FabricBin+"-old"); err != nil {
		t.Fatal(err)
	}
	if n, err = localnet.New(cfg); err != nil {
		t.Fatal(err)
	}
	if err := n.Down(false); err == nil || !strings.HasPrefix(err.Error(), "stop orderer0: ") || !strings.Contains(err.Error(), fmt.Sprintf("kill %d", second.PID)) {
		t.Fatalf("down of an old state after the binaries moved: %v; want it refused, naming the node (orderer0, not only its binary) and pid %d", err, second.PID)
	}
	if !running(second) {
		t.Error("down signalled a process recorded without a start time whose binary moved")
	}
}

// stateWith is a created network's state.json recording pids.
func stateWith(t *testing.T, cfg localnet.Config, pids map[string]any) string {
	t.Helper()
	data, err := json.Marshal(map[string]any{"port_base": cfg.PortBase, "consensus": "raft", "created": true, "pids": pids})
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// recordedPIDs is the pids object of cfg's state.json.
func recordedPIDs(t *testing.T, cfg localnet.Config) map[string]json.RawMessage {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(cfg.Dir, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		PIDs map[string]json.RawMessage `json:"pids"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	return st.PIDs
}

// waitStopped waits up to 5 s for id to stop running.
func waitStopped(id proc.ID) {
	for end := time.Now().Add(5 * time.Second); running(id) && time.Now().Before(end); {
		time.Sleep(20 * time.Millisecond)
	}
}
