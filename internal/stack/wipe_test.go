package stack

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/votechain/votechain/internal/rundir"
	"github.com/votechain/votechain/internal/rundir/rundirtest"
)

// TestDownWipeRefusesForeignDir: `votechain --dir $HOME down --wipe` is
// refused before anything is deleted, and up refuses to claim (mark and
// write into) that folder; in a run folder the stack made, a wipe deletes
// the system's entries and keeps OthersInRunDir.
func TestDownWipeRefusesForeignDir(t *testing.T) {
	dir := t.TempDir()
	keep := rundirtest.Foreign(t, dir)
	s, err := New(Config{Dir: dir, PortBase: 42700, BinDir: dir, FabricBin: dir, Builder: dir, Election: dir})
	if err != nil {
		t.Fatal(err)
	}
	rundirtest.Refused(t, "down --wipe", s.Down(true), keep)
	rundirtest.Refused(t, "saving the shape", s.saveShape(), keep)

	if err := os.Remove(keep); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "deploy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.saveShape(); err != nil { // a folder holding only other commands' folders is the system's to make
		t.Fatal(err)
	}
	if err := s.Down(true); err != nil {
		t.Fatalf("down --wipe of the run folder: %v", err)
	}
	rundirtest.Left(t, dir, map[string]bool{"shape.json": false, rundir.Marker: true, "deploy": true})
	// Wiped, the folder stays the system's: the benchmark writes its roll
	// there before the next up (make bench, which was refused so).
	if err := os.MkdirAll(filepath.Join(dir, "roll"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := MakeRunDir(dir); err != nil {
		t.Fatalf("making the wiped run folder again, a roll in it: %v", err)
	}
}
