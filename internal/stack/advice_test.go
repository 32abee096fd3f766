package stack

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/votechain/votechain/internal/rundir"
	"github.com/votechain/votechain/internal/rundir/rundirtest"
)

// planBase is the port base of the tests that only build a system's port
// plan and messages: it is never listened on (so it takes no
// internal/testport lock), and lies below the ranges testport hands out
// (10000-31399) and the default base, so no message is mistaken for one of
// a running system.
const planBase = 9000

// TestCommandNamesTheFolder: in the project (a Makefile in the working
// directory), advice names make's target only for make's folder
// (DefaultDir, relative or absolute) on make's ports; for any other --dir
// it is bin/votechain with that folder written out, and a non-default port
// base, so following it acts on the folder the message is about, never on
// the live .run system.
func TestCommandNamesTheFolder(t *testing.T) {
	project := rundirtest.Project(t)
	for _, c := range []struct {
		dir      string
		portBase int
		words    []string
		want     string
	}{
		{DefaultDir, 0, []string{"down", "--wipe"}, "`make down WIPE=1`"},
		{filepath.Join(project, DefaultDir), 0, []string{"down"}, "`make down`"},
		{DefaultDir + "/", 0, []string{"up"}, "`make up`"},
		{DefaultDir, 0, []string{"status"}, "`make status`"},
		{".run/bench", 0, []string{"down", "--wipe"}, "`bin/votechain --dir .run/bench down --wipe`"},
		{".run/bench", 32000, []string{"up"}, "`bin/votechain --dir .run/bench --port-base 32000 up`"},
		{DefaultDir, 0, []string{"close"}, "`bin/votechain --dir .run close`"}, // no make target
	} {
		if got := Command(c.dir, c.portBase, c.words...); got != c.want {
			t.Errorf("Command(%q, %d, %q) = %s, want %s", c.dir, c.portBase, c.words, got, c.want)
		}
	}
}

// TestAdviceNamesTheFolder: the refusals of a system in another folder than
// make's name that folder in their fix, not make's targets: the change of
// Redis mode and of the process counts of a running system.
func TestAdviceNamesTheFolder(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "shape.json"), []byte(`{"gateways":1,"batchers":1,"redis":"single"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := New(Config{Dir: dir, PortBase: planBase, BinDir: dir, FabricBin: dir, Builder: dir, Election: dir, Redis: RedisCluster})
	if want := fmt.Sprintf("`bin/votechain --dir %s --port-base %d down --wipe`", dir, planBase); err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "make down") {
		t.Errorf("New of a single-Redis system in %s as a cluster: %v; want the fix %s", dir, err, want)
	}
}

// TestDamagedNetworkStateNamesTheFolder: New of a system whose
// network/state.json is damaged, in a folder other than make's (run from
// the project, where make's targets exist), is refused as unreadable,
// naming the damaged file and the wipe of the whole system (votechain
// --dir) in place of vcnet's wipe of the network alone, which vcnet
// refuses for a system's network, and no make target, which would wipe
// make's live system.
func TestDamagedNetworkStateNamesTheFolder(t *testing.T) {
	project := rundirtest.Project(t)
	dir := filepath.Join(project, ".run", "bench")
	if err := os.MkdirAll(NetworkDir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(NetworkDir(dir), "state.json"), []byte("{damaged"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := New(Config{Dir: dir, BinDir: dir, FabricBin: dir, Builder: dir, Election: dir})
	if !errors.Is(err, rundir.ErrUnreadable) {
		t.Fatalf("New with a damaged network/state.json: %v; want rundir.ErrUnreadable", err)
	}
	for _, want := range []string{filepath.Join(NetworkDir(dir), "state.json") + " is damaged", "`bin/votechain --dir " + dir + " down --wipe`"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("New with a damaged network/state.json in %s: %v; want it to name %s", dir, err, want)
		}
	}
	if strings.Contains(err.Error(), "vcnet") {
		t.Errorf("New with a damaged network/state.json in %s: %v; want no vcnet wipe (refused for a system's network)", dir, err)
	}
	if strings.Contains(err.Error(), "make ") {
		t.Errorf("New with a damaged network/state.json in %s: %v; want no make target (make's act on .run)", dir, err)
	}
}
