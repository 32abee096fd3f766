// Package rundirtest helps test run folders: that a wipe leaves a folder
// it did not make alone, and advice in and out of the project.
package rundirtest

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/votechain/votechain/internal/rundir"
)

// Foreign creates dir (if need be) holding an unrelated file, as $HOME
// given by mistake as --dir would, and returns the file's path.
func Foreign(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "thesis.tex")
	if err := os.WriteFile(file, []byte("years of work"), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// Refused fails t unless err is the refusal of a foreign folder
// (rundir.ErrForeign) and file, from Foreign, is still there.
func Refused(t *testing.T, what string, err error, file string) {
	t.Helper()
	if !errors.Is(err, rundir.ErrForeign) {
		t.Errorf("%s in %s = %v, want it refused as not a run folder", what, filepath.Dir(file), err)
	}
	if _, err := os.Stat(file); err != nil {
		t.Errorf("%s deleted the unrelated file: %v", what, err)
	}
}

// Left fails t unless each name in want (a path relative to dir) exists
// exactly when want says it is kept.
func Left(t *testing.T, dir string, want map[string]bool) {
	t.Helper()
	for name, kept := range want {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) != kept {
			t.Errorf("after the wipe %s exists: %v, want %v", name, err == nil, kept)
		}
	}
}

// Project makes a temporary folder that advice takes for the project's
// (a Makefile beside a go.mod naming rundir.Module), where make's targets
// are named, changes into it for the test and returns it.
func Project(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{"Makefile": "up:\n", "go.mod": "module " + rundir.Module + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	return dir
}
