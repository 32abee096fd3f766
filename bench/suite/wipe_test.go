package suite

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/votechain/votechain/internal/rundir"
	"github.com/votechain/votechain/internal/rundir/rundirtest"
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
	for _, d := range []string{"redis", "deploy", "scaleout"} {
		if err := os.MkdirAll(filepath.Join(own, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r = &run{cfg: Config{Stack: StackConfig{Dir: own}}}
	if err := r.wipe(); err != nil {
		t.Fatalf("wipe of the run folder %s: %v", own, err)
	}
	rundirtest.Left(t, own, map[string]bool{"redis": false, "scaleout": false, rundir.Marker: true, "deploy": true})
}
