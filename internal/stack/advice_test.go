package stack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommandNamesTheFolder: advice names make's target only for make's
// folder (DefaultDir, relative or absolute); for any other --dir it is
// bin/votechain with that folder written out (shell-quoted where needed),
// so following it acts on the folder the message is about, never on the
// live .run system.
func TestCommandNamesTheFolder(t *testing.T) {
	abs, err := filepath.Abs(DefaultDir)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "my run")
	for _, c := range []struct {
		dir   string
		words []string
		want  string
	}{
		{DefaultDir, []string{"down", "--wipe"}, "`make down WIPE=1`"},
		{abs, []string{"down"}, "`make down`"},
		{DefaultDir + "/", []string{"up"}, "`make up`"},
		{".run/bench", []string{"down", "--wipe"}, "`bin/votechain --dir .run/bench down --wipe`"},
		{".run/bench", []string{"up"}, "`bin/votechain --dir .run/bench up`"},
		{other, []string{"down", "--wipe"}, "`bin/votechain --dir '" + other + "' down --wipe`"},
		{"it's", []string{"status"}, "`bin/votechain --dir 'it'\\''s' status`"},
		{DefaultDir, []string{"close"}, "`bin/votechain --dir .run close`"}, // no make target
	} {
		if got := Command(c.dir, c.words...); got != c.want {
			t.Errorf("Command(%q, %q) = %s, want %s", c.dir, c.words, got, c.want)
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
	_, err := New(Config{Dir: dir, PortBase: 42700, BinDir: dir, FabricBin: dir, Builder: dir, Election: dir, Redis: RedisCluster})
	if want := "`bin/votechain --dir " + dir + " down --wipe`"; err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "make down") {
		t.Errorf("New of a single-Redis system in %s as a cluster: %v; want the fix %s", dir, err, want)
	}
}
