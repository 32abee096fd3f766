package rundir_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/votechain/votechain/internal/rundir"
	"github.com/votechain/votechain/internal/rundir/rundirtest"
)

var tool = rundir.Tool{Name: "votechain", MakeDir: ".run", MakeTargets: map[string]string{"down --wipe": "make down WIPE=1", "up": "make up"}}

// elsewhere changes into a temporary working directory that is not the
// project: holding the files files names (name to content), for the test.
func elsewhere(t *testing.T, files map[string]string) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
}

// TestCommandMakeFormInProjectOnly: the make target is advised only for
// MakeDir (relative or absolute) in the project's working directory
// (a Makefile beside the go.mod of rundir.Module) and with make's ports;
// any other folder, a working directory without a Makefile, or with
// another project's (beside no go.mod, or another module's), or a
// non-default port base gets the program with --dir (and --port-base)
// written out, shell-quoted where needed.
func TestCommandMakeFormInProjectOnly(t *testing.T) {
	root := rundirtest.Project(t)
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
	for why, files := range map[string]map[string]string{
		"no Makefile":                  {"go.mod": "module " + rundir.Module + "\n"},
		"a Makefile but no go.mod":     {"Makefile": "up:\n"},
		"another module's Makefile":    {"Makefile": "up:\n", "go.mod": "module example.com/other\n"},
		"a go.mod naming a sub-module": {"Makefile": "up:\n", "go.mod": "module " + rundir.Module + "/tools\n"},
	} {
		elsewhere(t, files)
		if got, want := tool.Command(".run", 0, "down", "--wipe"), "`bin/votechain --dir .run down --wipe`"; got != want {
			t.Errorf("Command(.run, down --wipe) outside the project (%s) = %s, want %s", why, got, want)
		}
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
	} {
		os.Args[0] = c.arg0
		if got := tool.Program(); got != c.want {
			t.Errorf("Program() run as %q = %s, want %s", c.arg0, got, c.want)
		}
	}
}

// TestProgramBesideTheOneRun: another program's advice names the program
// as it would be run the same way: the file beside the path typed (kept
// relative, "./" kept), the bare name when it was run by a bare name and
// the program is on PATH; else (no such file beside it, not on PATH)
// bin/NAME.
func TestProgramBesideTheOneRun(t *testing.T) {
	ran := os.Args[0]
	t.Cleanup(func() { os.Args[0] = ran })
	tools := t.TempDir()
	for _, name := range []string{"vcnet", "votechain"} {
		if err := os.WriteFile(filepath.Join(tools, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	lone := t.TempDir() // vcnet without votechain beside it
	if err := os.WriteFile(filepath.Join(lone, "vcnet"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(tools)
	t.Setenv("PATH", tools)
	check := func(arg0, want string) {
		t.Helper()
		os.Args[0] = arg0
		if got := tool.Program(); got != want {
			t.Errorf("Program() of votechain from %q = %s, want %s", arg0, got, want)
		}
	}
	check(filepath.Join(tools, "vcnet"), filepath.Join(tools, "votechain"))
	check("./vcnet", "./votechain")
	check("vcnet", "votechain")
	check(filepath.Join(lone, "vcnet"), "bin/votechain")
	t.Setenv("PATH", lone)
	check("vcnet", "bin/votechain")
}
