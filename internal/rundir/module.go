package rundir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Module is the project's Go module path, which the go.mod beside its
// Makefile names.
const Module = "github.com/votechain/votechain"

// FindModule is the folder of the go.mod nearest above dir (dir itself
// included) and the module path it declares (ModulePath): the module
// whose packages are in dir, as go finds it. It is an error when no
// folder from dir up holds a go.mod, or the nearest one does not parse.
func FindModule(dir string) (root, module string, err error) {
	for root = dir; ; {
		data, err := os.ReadFile(filepath.Join(root, "go.mod"))
		if err == nil {
			module, err := ModulePath(data)
			if err != nil {
				return "", "", fmt.Errorf("%s: %w", filepath.Join(root, "go.mod"), err)
			}
			return root, module, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", "", err
		}
		parent := filepath.Dir(root)
		if parent == root {
			return "", "", fmt.Errorf("no go.mod in %s or above it", dir)
		}
		root = parent
	}
}

// ModulePath is the module path that go.mod content data declares: the
// word after "module" on its line (quotes removed), with any // comment
// aside. It is an error when no line declares one.
func ModulePath(data []byte) (string, error) {
	for line := range strings.Lines(string(data)) {
		line, _, _ = strings.Cut(line, "//")
		if fields := strings.Fields(line); len(fields) == 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`), nil
		}
	}
	return "", errors.New("go.mod declares no module")
}

// inProject reports whether the working directory is the project's, where
// make's targets run: it holds a Makefile and a go.mod naming Module (a
// Makefile alone may be any other project's).
func inProject() bool {
	info, err := os.Stat("Makefile")
	if err != nil || !info.Mode().IsRegular() {
		return false
	}
	data, err := os.ReadFile("go.mod")
	if err != nil {
		return false
	}
	module, err := ModulePath(data)
	return err == nil && module == Module
}
