package rundir_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/votechain/votechain/internal/rundir"
)

var tool = rundir.Tool{Name: "votechain", MakeDir: ".run", MakeTargets: map[string]string{"down --wipe": "make down WIPE=1", "up": "make up"}}

// project makes a temporary working directory, holding a Makefile when
// makefile is set, and changes into it for the test.
func project(t *testing.T, makefile bool) string {
	t.Helper()
	dir := t.TempDir()
	if makefile {
		if err := os.WriteFile(filepath.Join(dir, "Makefile"), []byte("up:\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	return dir
}

// TestCommandMakeFormInProjectOnly: the make target is advised only for
// MakeDir (relative or absolute) in a working directory holding a
// Makefile and with make's ports; any other folder, a working directory
// without a Makefile (outside the project, where make has no target) or
// a non-default port base gets the program with --dir (and --port-base)
// written out, shell-quoted where needed.
func TestCommandMakeFormInProjectOnly(t *testing.T) {
	root := project(t, true)
	other := filepath.Join(t.TempDir(), "my run")
	for _, c := range []struct {
		dir      string
		portBase int
		words    []string
		want     string
	}{
		{".run", 0, []string{"down", "--wipe"}, "`make down WIPE=1`"},
		{filepath.Join(root, ".run") + "/", 27000, []string{"up"}, "`make up`"},
		{".run", 0, []string{"status"}, "`bin/votechain --dir .run status`"}, // no make target
		{".run/bench", 0, []string{"down", "--wipe"}, "`bin/votechain --dir .run/bench down --wipe`"},
		{".run/bench", 32000, []string{"up"}, "`bin/votechain --dir .run/bench --port-base 32000 up`"},
		{".run", 32000, []string{"up"}, "`bin/votechain --dir .run --port-base 32000 up`"}, // make up would take 27000
		{other, 0, []string{"down", "--wipe"}, "`bin/votechain --dir '" + other + "' down --wipe`"},
		{"it's", 0, []string{"up"}, "`bin/votechain --dir 'it'\\''s' up`"},
	} {
		if got := tool.Command(c.dir, c.portBase, c.words...); got != c.want {
			t.Errorf("Command(%q, %d, %q) in the project = %s, want %s", c.dir, c.portBase, c.words, got, c.want)
		}
	}
	project(t, false)
	if got, want := tool.Command(".run", 0, "down", "--wipe"), "`bin/votechain --dir .run down --wipe`"; got != want {
		t.Errorf("Command(.run, down --wipe) outside the project (no Makefile) = %s, want %s", got, want)
	}
}

// TestProgramAsRun: the program is named as the user ran it when this
// process is it (a path as typed, or the bare name found on PATH), else
// bin/NAME; go run's build in the temporary folder is not named.
func TestProgramAsRun(t *testing.T) {
	ran := os.Args[0]
	t.Cleanup(func() { os.Args[0] = ran })
	for _, c := range []struct{ arg0, want string }{
		{"./votechain", "./votechain"},
		{"/opt/vote chain/votechain", "'/opt/vote chain/votechain'"},
		{"votechain", "votechain"},
		{filepath.Join(os.TempDir(), "go-build1", "exe", "votechain"), "bin/votechain"},
		{"bin/benchrun", "bin/votechain"}, // another program's advice
	} {
		os.Args[0] = c.arg0
		if got := tool.Program(); got != c.want {
			t.Errorf("Program() run as %q = %s, want %s", c.arg0, got, c.want)
		}
	}
}
