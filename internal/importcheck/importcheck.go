// Package importcheck checks, in a test, which of its module's packages a
// Go package links: a rule such as "verify's checks link no command line"
// is written once, as a Rule, and Check reports each package it forbids
// that the package imports, directly or through others of the module's,
// with the chain of imports that brings it in. Only tests use it.
//
// The walk reads, in process with go/build, the package clause and the
// imports at the top of each source file (no more of it, but //go:embed
// lines in a file importing embed), choosing the files as build.Default
// does: for its GOOS, GOARCH and cgo setting (this machine's unless the
// environment sets them) with no extra build tags, test files aside. A
// build for another platform or with build tags may link other packages.
// It follows the module's own packages only: it runs no go command and
// needs no network. The module is the one whose go.mod is the nearest
// above the package's folder (rundir.FindModule); a folder below it with a go.mod of its own
// (such as network/fabricbin) holds another module, whose packages, though
// their paths start with the module's, the walk does not follow.
package importcheck

import (
	"errors"
	"fmt"
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/votechain/votechain/internal/rundir"
)

// Rule is what a package may link of its module, each package named by
// its path in the module ("internal/cli": the import path without the
// module's path and the slash after it).
type Rule struct {
	// Reaches are packages the package links, directly or not: the walk
	// must reach each, which shows it read the package's imports (a walk
	// that reached nothing would find no forbidden package either). Each
	// is one package's path, not a pattern ending in "/...".
	Reaches []string
	// Forbidden are packages the package must not link; one ending in
	// "/..." forbids that package and every one below it, as go's
	// patterns do ("gateway/..." is gateway, gateway/roll and so on).
	// Each must name a package of the module: its folder (the part
	// before "/...") must hold one, or, with "/...", it or a folder below
	// it must, so that a mistyped entry does not forbid nothing unseen.
	// "." names the module's root package, but "./..." is refused, as
	// naming no folder of the module (it does not mean every package).
	Forbidden []string
}

// T is the part of *testing.T that Check reports to.
type T interface {
	Helper()
	Errorf(format string, args ...any)
}

// Check walks the imports of the package in folder dir (a test's working
// directory is its package's folder: ".") and reports to t with Errorf,
// the test going on: a walk that fails (no go.mod above dir; a folder of
// the walk holding no Go file for the platform, or files of two packages,
// or a file whose package clause or imports do not parse: the rest of a
// file is not read, but for //go:embed lines in a file importing embed),
// each entry of r.Reaches that is a pattern and each of r.Forbidden that
// names no package of the module, each of r.Reaches the walk did not
// reach, and each package the package links that r.Forbidden forbids,
// naming the chain of imports that links it by the fewest steps ("cmd/roll
// imports internal/electionsetup imports internal/stack").
func Check(t T, dir string, r Rule) {
	t.Helper()
	l, err := walk(dir)
	if err != nil {
		t.Errorf("reading the imports of the package in %s: %v", dir, err)
		return
	}
	for _, f := range r.Forbidden {
		if !l.holdsPackage(f) {
			t.Errorf("the rule forbids %s, which names no package of %s, so it forbids nothing: name a package by its path in the module (%q) or a folder of packages (%q)", f, l.module, "internal/cli", "gateway/...")
		}
	}
	for _, p := range r.Reaches {
		if strings.HasSuffix(p, "/...") {
			t.Errorf("the rule says the walk reaches %s, a pattern: name each package it must reach by its path in the module (%q)", p, "internal/cli")
			continue
		}
		if _, ok := l.from[p]; !ok || p == l.root {
			t.Errorf("the walk from %s did not reach %s, which the rule says it links; it reached %s", l.root, p, l.reached())
		}
	}
	for _, p := range l.order {
		for _, f := range r.Forbidden {
			if forbids(f, p) {
				t.Errorf("%s links %s, which the rule forbids: %s", l.root, p, l.chain(p))
				break
			}
		}
	}
}

// forbids reports whether pattern, a Rule's Forbidden entry, names
// package p (both paths in the module).
func forbids(pattern, p string) bool {
	if below, ok := strings.CutSuffix(pattern, "/..."); ok {
		return p == below || strings.HasPrefix(p, below+"/")
	}
	return p == pattern
}

// holdsPackage reports whether pattern, a Rule's Forbidden entry, names a
// package of l's module: its folder holds one (test files aside) or, with
// "/...", it or a folder below it does. As in go's patterns, folders named
// testdata or starting with "." or "_", and those of another module, hold
// none of the module's; "./..." is refused too, as naming no folder.
func (l links) holdsPackage(pattern string) bool {
	folder, below := strings.CutSuffix(pattern, "/...")
	if !fs.ValidPath(folder) || below && folder == "." {
		return false // "/gateway", "./gateway", "gateway/", "./...": no folder in the module
	}
	start, ok := l.folder(folder, ofModule)
	if !ok {
		return false
	}
	found := false
	filepath.WalkDir(start, func(dir string, e fs.DirEntry, err error) error {
		switch {
		case err != nil || !e.IsDir():
			return nil // a folder not read holds no package found
		case dir != start && !ofModule(dir):
			return filepath.SkipDir
		}
		pkg, err := build.Default.ImportDir(dir, 0)
		if found = err == nil && len(pkg.GoFiles)+len(pkg.CgoFiles) > 0; found || !below {
			return filepath.SkipAll
		}
		return nil
	})
	return found
}

// folder is the folder of path p in l's module ("." its root) and
// whether ok holds for each folder from the module's, that one aside, down
// to it.
func (l links) folder(p string, ok func(dir string) bool) (string, bool) {
	dir := l.modRoot
	if p == "." {
		return dir, true
	}
	for part := range strings.SplitSeq(p, "/") {
		if dir = filepath.Join(dir, part); !ok(dir) {
			return dir, false
		}
	}
	return dir, true
}

// ofModule reports whether folder dir, below a module's folder, may hold
// the module's packages: go's patterns walk it (its name is not testdata
// and starts with neither "." nor "_") and it is of the module (sameModule).
func ofModule(dir string) bool {
	name := filepath.Base(dir)
	if name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
		return false
	}
	return sameModule(dir)
}

// sameModule reports whether folder dir, below a module's folder, is of
// that module: it holds no go.mod of its own.
func sameModule(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "go.mod"))
	return errors.Is(err, fs.ErrNotExist)
}

// links is the module's packages that one package of it links: each by
// its path in the module, with the package the walk reached it from.
type links struct {
	modRoot, module string            // the module's folder and its path
	root            string            // the package walked from
	from            map[string]string // a package linked -> the one that imports it ("" for root)
	order           []string          // the packages linked, root aside, in the walk's order
}

// walk reads the imports of the package in dir and, breadth first, of the
// module's packages it imports, directly or not (go/build, build.Default,
// test files aside); an import of a package in a folder of another module
// below the module's is not followed.
func walk(dir string) (links, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return links{}, err
	}
	modRoot, module, err := rundir.FindModule(abs)
	if err != nil {
		return links{}, err
	}
	rel, err := filepath.Rel(modRoot, abs)
	if err != nil {
		return links{}, err
	}
	l := links{modRoot: modRoot, module: module, root: filepath.ToSlash(rel), from: map[string]string{}}
	l.from[l.root] = ""
	for queue := []string{l.root}; len(queue) > 0; queue = queue[1:] {
		pkg, err := build.Default.ImportDir(filepath.Join(modRoot, filepath.FromSlash(queue[0])), 0)
		if err != nil {
			return links{}, fmt.Errorf("package %s: %w", queue[0], err)
		}
		for _, imp := range pkg.Imports {
			p, ours := inModule(module, imp)
			if _, seen := l.from[p]; !ours || seen {
				continue
			}
			if _, own := l.folder(p, sameModule); !own {
				continue // a nested module's, such as network/fabricbin
			}
			l.from[p] = queue[0]
			l.order = append(l.order, p)
			queue = append(queue, p)
		}
	}
	return l, nil
}

// inModule is import path imp's path in module, and whether imp is one of
// module's packages ("." for the module's root package).
func inModule(module, imp string) (string, bool) {
	if imp == module {
		return ".", true
	}
	return strings.CutPrefix(imp, module+"/")
}

// chain is the imports by which l.root links p, root first.
func (l links) chain(p string) string {
	steps := []string{p}
	for q := l.from[p]; q != ""; q = l.from[q] {
		steps = append(steps, q)
	}
	for i, j := 0, len(steps)-1; i < j; i, j = i+1, j-1 {
		steps[i], steps[j] = steps[j], steps[i]
	}
	return strings.Join(steps, " imports ")
}

// reached lists the packages the walk reached, for a report.
func (l links) reached() string {
	if len(l.order) == 0 {
		return "none of the module's packages"
	}
	return strings.Join(l.order, ", ")
}
