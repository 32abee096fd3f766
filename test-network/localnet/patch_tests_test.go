package localnet_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/votechain/votechain/test-network/nettest"
)

// TestFabricPatchesOwnTests runs the Go tests that
// network/fabricbin/patches/*.patch add to Fabric's source, and
// patches/SmartBFT/*.patch to SmartBFT's, in the patched source that make
// fabric-bin leaves in bin/fabric/.src: every Test function a patch adds
// must run in the package the patch adds it to, and pass. Built without a patch, or with an older version of it, the source
// lacks its tests and this test fails saying which. It runs them without
// -race, which would compile every Fabric dependency again (minutes with an
// empty build cache; docs/ledger.md, "The patches' own tests in make
// test"); the concurrency tests still run.
func TestFabricPatchesOwnTests(t *testing.T) {
	nettest.Integration(t)
	root := nettest.RepoRoot(t)
	var patches []string
	var tests []patchTest
	for _, m := range []struct{ dir, module string }{
		{"patches", "github.com/hyperledger/fabric"},
		{"patches/SmartBFT", "github.com/hyperledger-labs/SmartBFT"},
	} {
		ps, err := filepath.Glob(filepath.Join(root, "network", "fabricbin", m.dir, "*.patch"))
		if err != nil || len(ps) == 0 {
			t.Fatalf("no patches in network/fabricbin/%s (%v)", m.dir, err)
		}
		for _, p := range ps {
			tests = append(tests, patchTests(t, p, m.module)...)
		}
		patches = append(patches, ps...)
	}
	if len(tests) == 0 {
		t.Fatal("the patches add no Test function: nothing to run")
	}
	var names, pkgs []string
	for _, pt := range tests {
		if !slices.Contains(names, pt.name) {
			names = append(names, pt.name)
		}
		if !slices.Contains(pkgs, pt.pkg) {
			pkgs = append(pkgs, pt.pkg)
		}
	}
	slices.Sort(names)
	slices.Sort(pkgs)
	src := filepath.Join(root, "bin", "fabric", ".src")
	// One go test for every package, so that they build in parallel; -json
	// tells which package each result is of.
	args := append([]string{"test", "-modfile=" + srcModFile(t, src), "-count=1", "-json", "-run", "^(" + strings.Join(names, "|") + ")$"}, pkgs...)
	cmd := exec.Command(goCommand(t), args...)
	cmd.Dir = src
	out, err := cmd.CombinedOutput()
	results, outputs, text := testResults(out)
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), src, err, text)
	}
	for _, pt := range tests {
		switch results[pt.pkg+" "+pt.name] {
		case "pass":
		case "skip":
			t.Errorf("%s (network/fabricbin/patches/%s) skipped itself in %s: a patch's test must run\n%s", pt.name, pt.patch, pt.pkg, outputs[pt.pkg+" "+pt.name])
		default:
			t.Errorf("%s (network/fabricbin/patches/%s) did not run in %s: bin/fabric was not built with this patch (run make fabric-bin)", pt.name, pt.patch, pt.pkg)
		}
	}
	if !t.Failed() {
		t.Logf("%d tests of %d patches passed in %s", len(tests), len(patches), strings.Join(pkgs, " "))
	}
}

// goCommand returns the go command of the toolchain running this test: the
// one in runtime.GOROOT, or, where the test was built with -trimpath and
// knows no GOROOT, the first in PATH, where go test puts its own GOROOT/bin.
func goCommand(t *testing.T) string {
	t.Helper()
	if root := runtime.GOROOT(); root != "" {
		return filepath.Join(root, "bin", "go")
	}
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command: %v", err)
	}
	return p
}

// testResults returns, from the output of go test -json, the last action
// (pass, fail, skip) of each top-level test and what it printed, by
// "package name", and the output the tests and the build printed, as go
// test without -json prints it.
func testResults(out []byte) (results, outputs map[string]string, text string) {
	results, outputs = map[string]string{}, map[string]string{}
	var b strings.Builder
	for line := range strings.Lines(string(out)) {
		var ev struct{ Action, Package, Test, Output string }
		if json.Unmarshal([]byte(line), &ev) != nil {
			b.WriteString(line) // not an event: the go command's own output
			continue
		}
		b.WriteString(ev.Output)
		if ev.Test == "" || strings.Contains(ev.Test, "/") {
			continue
		}
		key := ev.Package + " " + ev.Test
		outputs[key] += ev.Output
		switch ev.Action {
		case "pass", "fail", "skip":
			results[key] = ev.Action
		}
	}
	return results, outputs, b.String()
}

// patchTest is a Test function a patch file adds to Fabric's source.
type patchTest struct {
	patch string // the patch file's path under network/fabricbin/patches
	pkg   string // the test's package in Fabric's module
	name  string
}

// patchTests returns the Test functions the patch file p, a patch to module,
// adds in new or changed _test.go files.
func patchTests(t *testing.T, p, module string) []patchTest {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	testFunc := regexp.MustCompile(`^\+func (Test\w+)\(t \*testing\.T\)`)
	var tests []patchTest
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
		tests = append(tests, patchTest{patch: patchName(p), pkg: module + "/" + filepath.Dir(file), name: m[1]})
	}
	if err := s.Err(); err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return tests
}

// patchName is p's path under network/fabricbin/patches.
func patchName(p string) string {
	if filepath.Base(filepath.Dir(p)) == "SmartBFT" {
		return "SmartBFT/" + filepath.Base(p)
	}
	return filepath.Base(p)
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
