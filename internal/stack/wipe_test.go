package stack

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/votechain/votechain/internal/proc"
	"github.com/votechain/votechain/internal/rundir"
	"github.com/votechain/votechain/internal/rundir/rundirtest"
	"github.com/votechain/votechain/test-network/nettest"
)

// TestDownWipeRefusesForeignDir: `votechain --dir $HOME down --wipe` is
// refused before anything is deleted, and up refuses to claim (mark and
// write into) that folder; in a run folder the stack made, a wipe deletes
// the system's entries and keeps OthersInRunDir.
func TestDownWipeRefusesForeignDir(t *testing.T) {
	dir := t.TempDir()
	keep := rundirtest.Foreign(t, dir)
	s, err := New(Config{Dir: dir, PortBase: nettest.PortBase(t), BinDir: dir, FabricBin: dir, Builder: dir, Election: dir})
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

// TestDownLeavesForeignDirUnclaimed: a plain `votechain --dir $HOME down`
// writes no stack.json into a folder holding files but neither marker nor
// record, so a later down --wipe (make clean) is still refused and
// deletes nothing; in the system's own folder down records what it
// stopped.
func TestDownLeavesForeignDirUnclaimed(t *testing.T) {
	dir := t.TempDir()
	keep := rundirtest.Foreign(t, dir)
	cfg := Config{Dir: dir, PortBase: nettest.PortBase(t), BinDir: dir, FabricBin: dir, Builder: dir, Election: dir}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Down(false); err != nil {
		t.Fatal(err)
	}
	rundirtest.Left(t, dir, map[string]bool{"stack.json": false, "network/state.json": false})
	if s, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	rundirtest.Refused(t, "down --wipe after a plain down", s.Down(true), keep)

	own := t.TempDir()
	if err := MakeRunDir(own); err != nil {
		t.Fatal(err)
	}
	cfg.Dir = own
	if s, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	if err := s.Down(false); err != nil {
		t.Fatal(err)
	}
	rundirtest.Left(t, own, map[string]bool{"stack.json": true})
}

// TestRecordsAreReplacedWhole: stack.json and shape.json are written to a
// new file put in place of the old (privatefile), never rewritten in
// place, where a crash midway left a record cut short that New refuses: a
// reader of the old file still reads it whole after a save.
func TestRecordsAreReplacedWhole(t *testing.T) {
	dir := t.TempDir()
	s, err := New(Config{Dir: dir, PortBase: planBase, BinDir: dir, FabricBin: dir, Builder: dir, Election: dir})
	if err != nil {
		t.Fatal(err)
	}
	for name, save := range map[string]func() error{"stack.json": s.save, "shape.json": s.saveShape} {
		if err := save(); err != nil {
			t.Fatal(err)
		}
		old, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		before, _ := os.ReadFile(filepath.Join(dir, name))
		s.pids["gateway"] = proc.ID{PID: 12345, Start: 678}
		s.cfg.Batchers++
		if err := save(); err != nil {
			t.Fatal(err)
		}
		read, _ := io.ReadAll(old)
		old.Close()
		if string(read) != string(before) {
			t.Errorf("%s was rewritten in place: a reader of the old file read %q, want %q", name, read, before)
		}
	}
}

// TestNewRefusesDamagedRecordAsUnreadable: a stack.json or shape.json cut
// short is refused with rundir.ErrUnreadable, which down --wipe and clean
// take as their cue to wipe by the process records alone. The advice names
// the run folder (a temporary one here, not make's .run: `make down
// WIPE=1` would wipe another system) and says what the wipe then does: for
// shape.json it stops what the other records name and wipes
// (WipeUnopened succeeds); stack.json, the record of the processes to
// stop, it refuses, stopping and deleting nothing, so the advice says to
// stop them by hand and delete the record first (it used to promise the
// wipe would stop them).
func TestNewRefusesDamagedRecordAsUnreadable(t *testing.T) {
	for name, want := range map[string][]string{
		"stack.json": {"cannot be found from it", "refuses it too, stopping nothing", "stop those processes by hand", "logs", "delete "},
		"shape.json": {"which stops the processes its records name"},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(`{"gateway": {"pid": 12`), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := New(Config{Dir: dir, PortBase: planBase, BinDir: dir, FabricBin: dir, Builder: dir, Election: dir})
		if !errors.Is(err, rundir.ErrUnreadable) {
			t.Fatalf("New with a damaged %s = %v, want rundir.ErrUnreadable", name, err)
		}
		for _, w := range append(want, "`bin/votechain --dir "+dir+" down --wipe`") {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("New with a damaged %s: %q lacks %q", name, err, w)
			}
		}
		if strings.Contains(err.Error(), "make down") {
			t.Errorf("New with a damaged %s in %s: %q sends the operator to make's system", name, dir, err)
		}
		wipeErr := WipeUnopened(dir, nil)
		_, statErr := os.Stat(filepath.Join(dir, name))
		if stackRecord := name == "stack.json"; stackRecord != (wipeErr != nil) || stackRecord != (statErr == nil) {
			t.Errorf("down --wipe after a damaged %s: %v, record left: %v; want it refused, deleting nothing, for stack.json alone", name, wipeErr, statErr == nil)
		}
	}
}

// TestDamagedProcessRecordAdviceFindsLogWriters: the advice for a damaged
// stack.json names a command that lists the processes writing the run
// folder's logs with what every Debian system has, not psmisc's fuser,
// which the project does not install: run with find alone on its PATH, it
// prints the /proc entry of a process whose output goes to a file in
// logs/, in a run folder given through a symbolic link whose real path
// holds a pattern character.
func TestDamagedProcessRecordAdviceFindsLogWriters(t *testing.T) {
	real := filepath.Join(t.TempDir(), "run[1]")
	dir := filepath.Join(t.TempDir(), "run")
	if err := errors.Join(os.MkdirAll(filepath.Join(real, "logs"), 0o755), os.Symlink(real, dir),
		os.WriteFile(filepath.Join(real, "stack.json"), []byte(`{"gateway": {"pid": 12`), 0o644)); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(real, "logs", "gateway.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	writer := exec.Command("sleep", "30")
	writer.Stdout = out
	if err := writer.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { writer.Process.Kill(); writer.Wait() }()

	_, err = New(Config{Dir: dir, PortBase: planBase, BinDir: dir, FabricBin: dir, Builder: dir, Election: dir})
	advised := regexp.MustCompile("`([^`]*)` lists them").FindStringSubmatch(fmt.Sprint(err))
	if advised == nil {
		t.Fatalf("New with a damaged stack.json: %v; want advice naming a command that lists the processes writing its logs", err)
	}
	bin := t.TempDir()
	find, err := exec.LookPath("find")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(find, filepath.Join(bin, "find")); err != nil {
		t.Fatal(err)
	}
	run := exec.Command("/bin/sh", "-c", advised[1])
	run.Env = []string{"PATH=" + bin}
	listed, runErr := run.Output() // find exits 1 for other users' processes it may not read
	if want := fmt.Sprintf("/proc/%d/fd/1\n", writer.Process.Pid); !strings.Contains(string(listed), want) {
		t.Errorf("advised %q with find alone on PATH: %q (%v); want it to list %q", advised[1], listed, runErr, want)
	}
}
