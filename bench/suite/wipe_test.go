package suite

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/votechain/votechain/internal/proc"
	"github.com/votechain/votechain/internal/proc/proctest"
	"github.com/votechain/votechain/internal/rundir"
	"github.com/votechain/votechain/internal/rundir/rundirtest"
	"github.com/votechain/votechain/internal/stack"
)

// TestFreshRefusesForeignDir: --fresh on a --dir no stack made ($HOME
// mistyped) is refused and leaves the folder and its files alone, while
// a run folder's data is deleted and the other commands' folders kept.
func TestFreshRefusesForeignDir(t *testing.T) {
	foreign := t.TempDir()
	thesis := rundirtest.Foreign(t, foreign)
	r := &run{cfg: Config{Stack: StackConfig{Dir: foreign}}}
	rundirtest.Refused(t, "--fresh", r.wipe(), thesis)

	own := filepath.Join(t.TempDir(), "bench")
	if err := rundir.Make(own, nil, nil); err != nil {
		t.Fatal(err)
	}
	makeDirs(t, own, "redis", "deploy", "scaleout")
	r = &run{cfg: Config{Stack: StackConfig{Dir: own}}}
	if err := r.wipe(); err != nil {
		t.Fatalf("wipe of the run folder %s: %v", own, err)
	}
	rundirtest.Left(t, own, map[string]bool{"redis": false, "scaleout": false, rundir.Marker: true, "deploy": true})
}

// writeRecord writes v as JSON to path, in a folder that exists.
func writeRecord(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err == nil {
		err = os.WriteFile(path, data, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// makeDirs makes each folder in dirs under dir.
func makeDirs(t *testing.T, dir string, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFreshStopsRecordedProcesses: --fresh on a run folder whose scale-out
// stack cannot be opened (its --port-base leaves it no valid port plan and
// its record is an older version's: stack.New refuses it), as a run cut
// short left it: the processes its system, its scale-out stack and
// an extra network record (stand-ins started here) are stopped, then their
// data deleted; a process recorded under deploy/, which the wipe keeps, is
// left running.
func TestFreshStopsRecordedProcesses(t *testing.T) {
	bin, own := t.TempDir(), filepath.Join(t.TempDir(), "bench")
	if err := rundir.Make(own, nil, nil); err != nil {
		t.Fatal(err)
	}
	gateway, peer, orderer, kept := proctest.Sleeper(t, bin, "gateway"), proctest.Sleeper(t, bin, "peer"),
		proctest.Sleeper(t, bin, "orderer"), proctest.Sleeper(t, bin, "vcnet")
	makeDirs(t, own, "scaleout/network", "ceiling-raft", "deploy")
	writeRecord(t, filepath.Join(own, "stack.json"), map[string]proc.ID{"gateway": gateway})
	writeRecord(t, filepath.Join(own, "scaleout", "network", "state.json"), map[string]any{"pids": map[string]proc.ID{"peer0.Commission": peer}})
	writeRecord(t, filepath.Join(own, "ceiling-raft", "state.json"), map[string]any{"pids": map[string]proc.ID{"orderer0": orderer}})
	writeRecord(t, filepath.Join(own, "deploy", "state.json"), map[string]any{"pids": map[string]proc.ID{"orderer0": kept}})

	r := &run{cfg: Config{Stack: StackConfig{Dir: own, PortBase: 1100, BinDir: bin, FabricBin: bin, Election: bin}}}
	if _, err := stack.New(r.scaleOutConfig()); err == nil {
		t.Fatalf("the scale-out stack at port base %d opened; the test needs one that cannot", r.scaleOutConfig().PortBase)
	}
	if err := r.wipe(); err != nil {
		t.Fatalf("wipe: %v", err)
	}
	for name, id := range map[string]proc.ID{"gateway": gateway, "scale-out peer": peer, "extra network's orderer": orderer} {
		if proc.Running(id, "") {
			t.Errorf("the %s (PID %d) still runs after the wipe", name, id.PID)
		}
	}
	if !proc.Running(kept, "") {
		t.Errorf("the process recorded under deploy/ (PID %d) was stopped; the wipe keeps deploy/", kept.PID)
	}
	rundirtest.Left(t, own, map[string]bool{"stack.json": false, "scaleout": false, "ceiling-raft": false, "deploy/state.json": true, rundir.Marker: true})
}

// TestFreshRefusesWhatItCannotStop: a record it cannot stop by (a bare PID
// of an older version, held by a running process that cannot be told from
// a later one) makes --fresh refuse, naming the process and how to stop
// it, deleting nothing and leaving the process running.
func TestFreshRefusesWhatItCannotStop(t *testing.T) {
	bin, own := t.TempDir(), filepath.Join(t.TempDir(), "bench")
	if err := rundir.Make(own, nil, nil); err != nil {
		t.Fatal(err)
	}
	redis := proctest.Sleeper(t, bin, "redis-server")
	makeDirs(t, own, "scaleout", "redis")
	writeRecord(t, filepath.Join(own, "scaleout", "stack.json"), map[string]int{"redis0": redis.PID})
	r := &run{cfg: Config{Stack: StackConfig{Dir: own, PortBase: 1100}}}
	err := r.wipe()
	if err == nil {
		t.Fatal("wipe succeeded with a recorded process left running")
	}
	for _, want := range []string{"redis0", filepath.Join(own, "scaleout", "stack.json"), fmt.Sprintf("kill %d", redis.PID), "nothing in it was deleted"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	if !proc.Running(redis, "") {
		t.Errorf("the process (PID %d) was stopped", redis.PID)
	}
	rundirtest.Left(t, own, map[string]bool{"scaleout/stack.json": true, "redis": true, rundir.Marker: true})
}
