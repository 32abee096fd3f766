package roll

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoPackageVars: the package holds no package-level variables outside
// its tests (the blank identifier's compile-time interface checks aside),
// so no caller, and no other call, can change what another call reads
// (house style: no mutable package state; constants and functions that
// return a new value instead).
func TestNoPackageVars(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			if gd, ok := decl.(*ast.GenDecl); ok && gd.Tok == token.VAR {
				for _, spec := range gd.Specs {
					for _, id := range spec.(*ast.ValueSpec).Names {
						if id.Name == "_" {
							continue
						}
						t.Errorf("%s: package variable %s; use a constant or a function that returns a new value", fset.Position(id.Pos()), id.Name)
					}
				}
			}
		}
	}
	if len(files) == 0 {
		t.Fatal("no Go files found in the package's folder")
	}
}
