package localnet_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/votechain/votechain/internal/rundir"
	"github.com/votechain/votechain/internal/rundir/rundirtest"
	"github.com/votechain/votechain/test-network/localnet"
)

// TestWipeRefusesForeignFolder: `vcnet --dir $HOME down --wipe` (a folder
// holding files but neither the run folder marker nor state.json) is
// refused and deletes nothing, where a run folder with its marker is
// deleted. A plain `vcnet --dir $HOME down` before it writes no state.json
// there (it did, and the wipe then took the folder for a run folder and
// deleted it whole).
func TestWipeRefusesForeignFolder(t *testing.T) {
	cfg, _ := fakeFabric(t)
	keep := rundirtest.Foreign(t, cfg.Dir)
	n, err := localnet.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Down(false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, "state.json")); err == nil {
		t.Error("down wrote state.json into a folder it did not make")
	}
	if n, err = localnet.New(cfg); err != nil {
		t.Fatal(err)
	}
	rundirtest.Refused(t, "down --wipe after a plain down", n.Down(true), keep)

	if err := os.WriteFile(filepath.Join(cfg.Dir, rundir.Marker), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := n.Down(true); err != nil {
		t.Fatalf("down --wipe of a run folder: %v", err)
	}
	if _, err := os.Stat(cfg.Dir); !os.IsNotExist(err) {
		t.Errorf("the run folder %s is still there after down --wipe (%v)", cfg.Dir, err)
	}
}
