package importcheck_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/votechain/votechain/internal/importcheck"
)

// reports is a T that keeps what Check reports.
type reports []string

func (*reports) Helper() {}

func (r *reports) Errorf(format string, args ...any) { *r = append(*r, fmt.Sprintf(format, args...)) }

// printed is a T that prints what Check reports.
type printed struct{}

func (printed) Helper() {}

func (printed) Errorf(format string, args ...any) { fmt.Printf(format+"\n", args...) }

// ExampleCheck checks package a of testdata/mod, which imports b (which
// imports c) and gw/sub, against a rule forbidding c and all of gw.
func ExampleCheck() {
	importcheck.Check(printed{}, "testdata/mod/a", importcheck.Rule{
		Reaches:   []string{"b", "c"},
		Forbidden: []string{"c", "gw/..."},
	})
	// Output:
	// a links gw/sub, which the rule forbids: a imports gw/sub
	// a links c, which the rule forbids: a imports b imports c
}

// TestCheck: Check reports a package a rule forbids that the package links
// directly or through another of the module's, with the chain of imports,
// and a pattern ending in /... forbids the packages below it (not gw/sub
// for gw/su, a package of its own); it reports neither a package only a
// test file imports, in the package or an external _test one (not
// linked), nor one the package does not link; a package the walk does not
// reach, or a folder it cannot read, is reported too, so a rule cannot
// pass by walking nothing; so is a Forbidden entry that names no package
// of the module (no such folder, the module's path written, a leading
// slash or "./", "./...", a nested module's folder), which would forbid
// nothing, and a Reaches entry that is a pattern. An import of a nested
// module's package, though its path starts with the module's, is not
// followed: neither it nor what it imports is linked of the module.
func TestCheck(t *testing.T) {
	mod, err := filepath.Abs(filepath.Join("testdata", "mod"))
	if err != nil {
		t.Fatal(err)
	}
	namesNone := func(entry string) string {
		return "the rule forbids " + entry + `, which names no package of example.com/mod, so it forbids nothing: name a package by its path in the module ("internal/cli") or a folder of packages ("gateway/...")`
	}
	for name, c := range map[string]struct {
		dir  string
		rule importcheck.Rule
		want []string
	}{
		"linked through another package": {"testdata/mod/a", importcheck.Rule{Forbidden: []string{"c"}},
			[]string{"a links c, which the rule forbids: a imports b imports c"}},
		"below a forbidden folder": {"testdata/mod/a", importcheck.Rule{Forbidden: []string{"gw/..."}},
			[]string{"a links gw/sub, which the rule forbids: a imports gw/sub"}},
		"a pattern's folder itself": {"testdata/mod/a", importcheck.Rule{Forbidden: []string{"gw/sub/..."}},
			[]string{"a links gw/sub, which the rule forbids: a imports gw/sub"}},
		"imported by a test file only":              {"testdata/mod/a", importcheck.Rule{Reaches: []string{"b", "c", "gw/sub"}, Forbidden: []string{"d"}}, nil},
		"imported by an external test package only": {"testdata/mod/a", importcheck.Rule{Reaches: []string{"b"}, Forbidden: []string{"e"}}, nil},
		"a prefix of a package's path":              {"testdata/mod/a", importcheck.Rule{Forbidden: []string{"gw/su", "gw/su/..."}}, nil},
		"a prefix that is no folder": {"testdata/mod/a", importcheck.Rule{Forbidden: []string{"g/...", "gw/s/..."}},
			[]string{namesNone("g/..."), namesNone("gw/s/...")}},
		"mistyped entries": {"testdata/mod/clean", importcheck.Rule{Forbidden: []string{"example.com/mod/c", "/c", "/gw/...", "./c", "./...", "c/", "nested", "nested/..."}},
			[]string{namesNone("example.com/mod/c"), namesNone("/c"), namesNone("/gw/..."), namesNone("./c"), namesNone("./..."), namesNone("c/"), namesNone("nested"), namesNone("nested/...")}},
		"a nested module's package imported": {"testdata/mod/f", importcheck.Rule{Reaches: []string{"nested"}, Forbidden: []string{"c"}},
			[]string{"the walk from f did not reach nested, which the rule says it links; it reached none of the module's packages"}},
		"a pattern to reach": {"testdata/mod/clean", importcheck.Rule{Reaches: []string{"b/...", "c"}},
			[]string{`the rule says the walk reaches b/..., a pattern: name each package it must reach by its path in the module ("internal/cli")`}},
		"not linked": {"testdata/mod/clean", importcheck.Rule{Reaches: []string{"c"}, Forbidden: []string{"gw/...", "a", "d"}}, nil},
		"not reached": {"testdata/mod/clean", importcheck.Rule{Reaches: []string{"d"}},
			[]string{"the walk from clean did not reach d, which the rule says it links; it reached b, c"}},
		"not reached, nothing walked": {"testdata/mod/c", importcheck.Rule{Reaches: []string{"b"}},
			[]string{"the walk from c did not reach b, which the rule says it links; it reached none of the module's packages"}},
		"no package": {"testdata/mod", importcheck.Rule{Forbidden: []string{"c"}},
			[]string{"reading the imports of the package in testdata/mod: package .: no buildable Go source files in " + mod}},
	} {
		t.Run(name, func(t *testing.T) {
			var got reports
			importcheck.Check(&got, c.dir, c.rule)
			if !slices.Equal(got, c.want) {
				t.Errorf("reported %q; want %q", got, c.want)
			}
		})
	}
}
