package verify

import (
	"go/build"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportsNoCommandLine: the package holds verify's checks, not its
// command line, so it links no internal/cli (flags, signals, progress
// bars), directly or through another of the module's packages: the
// command maps verdicts to exit statuses and passes its bars (Bars,
// Progress). The walk reads the sources in process (go/build, the
// module's packages only, test files aside): no go command, no network.
// The package imported internal/cli for the signals' exit statuses and
// the duplicates' bar, and internal/logprogress, which draws a
// cli.Progress.
func TestImportsNoCommandLine(t *testing.T) {
	const module = "github.com/votechain/votechain"
	root := filepath.Join("..", "..")
	var walk func(dir, from string)
	seen := map[string]bool{}
	walk = func(dir, from string) {
		pkg, err := build.Default.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("reading the package in %s: %v", dir, err)
		}
		for _, path := range pkg.Imports {
			rel, ours := strings.CutPrefix(path, module+"/")
			switch {
			case !ours || seen[path]:
			case rel == "internal/cli":
				t.Errorf("%s imports %s", from, path)
			default:
				seen[path] = true
				walk(filepath.Join(root, filepath.FromSlash(rel)), path)
			}
		}
	}
	walk(".", module+"/explorer/verify")
	if !seen[module+"/explorer/logmonitor"] {
		t.Errorf("the walk reached no explorer/logmonitor, which the package imports: %v", seen)
	}
}
