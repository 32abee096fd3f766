package rundir_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/votechain/votechain/internal/rundir"
)

func ExampleModulePath() {
	module, err := rundir.ModulePath([]byte("// The project.\nmodule github.com/votechain/votechain // its path\n\ngo 1.26\n"))
	fmt.Println(module, err)
	// Output: github.com/votechain/votechain <nil>
}

// TestModulePath: the module line is found however go.mod spaces it,
// quotes its path or comments it; a file with none, or with a commented
// out one, declares none.
func TestModulePath(t *testing.T) {
	for data, want := range map[string]string{
		"module example.com/m\n":                      "example.com/m",
		"go 1.26\n\nmodule example.com/m":             "example.com/m",
		"module\texample.com/m\r\n":                   "example.com/m",
		"  module   \"example.com/m\"  \n":            "example.com/m",
		"module example.com/m // the project's\n":     "example.com/m",
		"// module example.com/old\nmodule new.org\n": "new.org",
	} {
		if got, err := rundir.ModulePath([]byte(data)); err != nil || got != want {
			t.Errorf("ModulePath(%q) = %q, %v; want %q", data, got, err, want)
		}
	}
	for _, data := range []string{"", "go 1.26\n", "// module example.com/m\n", "module\n", "modules example.com/m\n", "module example.com/m extra\n"} {
		if got, err := rundir.ModulePath([]byte(data)); err == nil {
			t.Errorf("ModulePath(%q) = %q, want an error", data, got)
		}
	}
}

// TestFindModule: the nearest go.mod from dir up names the module, a
// nested module's own included; none above, or one declaring no module,
// is an error that names the folder or file.
func TestFindModule(t *testing.T) {
	top := t.TempDir()
	for name, content := range map[string]string{
		"go.mod":        "module example.com/top\n",
		"a/b/keep":      "",
		"nested/go.mod": "module example.com/top/nested\n",
		"nested/c/keep": "",
		"broken/go.mod": "go 1.26\n",
		"broken/d/keep": "",
	} {
		path := filepath.Join(top, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for dir, want := range map[string][2]string{
		".":        {top, "example.com/top"},
		"a/b":      {top, "example.com/top"},
		"nested":   {filepath.Join(top, "nested"), "example.com/top/nested"},
		"nested/c": {filepath.Join(top, "nested"), "example.com/top/nested"},
	} {
		root, module, err := rundir.FindModule(filepath.Join(top, dir))
		if err != nil || root != want[0] || module != want[1] {
			t.Errorf("FindModule(%s) = %s, %s, %v; want %s, %s", dir, root, module, err, want[0], want[1])
		}
	}
	if _, _, err := rundir.FindModule(filepath.Join(top, "broken/d")); err == nil || !strings.Contains(err.Error(), filepath.Join(top, "broken", "go.mod")) {
		t.Errorf("FindModule below a go.mod declaring no module: %v, want an error naming that go.mod", err)
	}
	if _, err := os.Stat("/go.mod"); err == nil {
		t.Skip("/go.mod exists: no folder is without a module")
	}
	none := t.TempDir()
	if _, _, err := rundir.FindModule(none); err == nil || !strings.Contains(err.Error(), "no go.mod in "+none) {
		t.Errorf("FindModule(%s), no go.mod above it: %v, want an error naming the folder", none, err)
	}
}
