package localnet_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/votechain/votechain/test-network/nettest"
)

// TestFabricPatchesOwnTests runs the Go tests that
// network/fabricbin/patches/*.patch add to Fabric's source, in the patched
// source that make fabric-bin leaves in bin/fabric/.src: every Test
// function a patch adds must run there and pass. Built without a patch, or
// with an older version of it, the source lacks its tests and this test
// fails saying which. It runs them without -race, which would compile every
// Fabric dependency again (minutes with an empty build cache; docs/ledger.md,
// "The patches' own tests in make test"); the concurrency tests still run.
func TestFabricPatchesOwnTests(t *testing.T) {
	nettest.Integration(t)
	root := nettest.RepoRoot(t)
	patches, err := filepath.Glob(filepath.Join(root, "network", "fabricbin", "patches", "*.patch"))
	if err != nil || len(patches) == 0 {
		t.Fatalf("no patches in network/fabricbin/patches (%v)", err)
	}
	tests := map[string]string{} // test name: the patch that adds it
	var pkgs []string
	for _, p := range patches {
		names, pkgsOf := patchTests(t, p)
		for _, name := range names {
			tests[name] = filepath.Base(p)
		}
		for _, pkg := range pkgsOf {
			if !slices.Contains(pkgs, pkg) {
				pkgs = append(pkgs, pkg)
			}
		}
	}
	if len(tests) == 0 {
		t.Fatal("the patches add no Test function: nothing to run")
	}
	names := make([]string, 0, len(tests))
	for name := range tests {
		names = append(names, name)
	}
	slices.Sort(names)
	slices.Sort(pkgs)
	src := filepath.Join(root, "bin", "fabric", ".src")
	args := append([]string{"test", "-modfile=" + srcModFile(t, src), "-count=1", "-v", "-run", "^(" + strings.Join(names, "|") + ")$"}, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Dir = src
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), src, err, out)
	}
	for _, name := range names {
		if !regexp.MustCompile(`(?m)^--- PASS: ` + name + ` `).Match(out) {
			t.Errorf("%s (network/fabricbin/patches/%s) did not run: bin/fabric was not built with this patch (run make fabric-bin)", name, tests[name])
		}
	}
	if !t.Failed() {
		t.Logf("%d tests of %d patches passed in %s", len(names), len(patches), strings.Join(pkgs, " "))
	}
}

// patchTests returns the Test functions the patch file p adds in new or
// changed _test.go files, and those files' packages in Fabric's module.
func patchTests(t *testing.T, p string) (names, pkgs []string) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	testFunc := regexp.MustCompile(`^\+func (Test\w+)\(t \*testing\.T\)`)
	var file string
	s := bufio.NewScanner(f)
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		line := s.Text()
		if path, ok := strings.CutPrefix(line, "+++ b/"); ok {
			file = strings.TrimSpace(path)
			continue
		}
		m := testFunc.FindStringSubmatch(line)
		if m == nil || !strings.HasSuffix(file, "_test.go") {
			continue
		}
		names = append(names, m[1])
		pkg := "github.com/hyperledger/fabric/" + filepath.Dir(file)
		if !slices.Contains(pkgs, pkg) {
			pkgs = append(pkgs, pkg)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return names, pkgs
}

// srcModFile returns a copy of the go.mod that network/fabricbin/build.sh
// left in src, the patched source, whose replace directives point at the
// patched modules' copies in src: build.sh writes their absolute paths, which
// no longer hold once bin/fabric is copied elsewhere.
func srcModFile(t *testing.T, src string) string {
	t.Helper()
	mod, err := os.ReadFile(filepath.Join(src, "go.mod"))
	if err != nil {
		t.Fatalf("no patched Fabric source in %s: run `make fabric-bin` (make test does it): %v", src, err)
	}
	sum, err := os.ReadFile(filepath.Join(src, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(mod), "\n")
	for i, line := range lines {
		if before, dir, ok := strings.Cut(line, " => "); ok && strings.HasPrefix(before, "replace ") && filepath.IsAbs(strings.TrimSpace(dir)) {
			lines[i] = before + " => " + filepath.Join(src, filepath.Base(strings.TrimSpace(dir)))
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "go.mod")
}
