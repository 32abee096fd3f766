package audit_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/votechain/votechain/explorer/audit"
)

// TestKindsIsANewSliceEachCall: a caller's edit of the slice Kinds
// returned does not reach the next call.
func TestKindsIsANewSliceEachCall(t *testing.T) {
	kinds := audit.Kinds()
	want := slices.Clone(kinds)
	kinds[0] = "changed"
	if again := audit.Kinds(); !slices.Equal(again, want) {
		t.Errorf("a caller's change to Kinds' slice shows in the next call: %q", again)
	}
}

// TestKindsComplete keeps audit.Kinds the list of every kind the auditor
// can report, read from the package's source: each Kind* constant is in
// Kinds once and Kinds holds nothing else; every kind an issue is created
// with (by Report.issue, by a function whose first parameter is named
// kind, or an Issue literal) is one of those constants or a variable named
// kind that is only ever given one; and docs/ledger.md's table of checks
// names exactly these kinds.
func TestKindsComplete(t *testing.T) {
	consts, files := parseKinds(t)
	if len(consts) < 19 {
		t.Fatalf("%d Kind constants read from the source; want at least the 19 known", len(consts))
	}
	seen := map[string]bool{}
	for _, k := range audit.Kinds() {
		if seen[k] {
			t.Errorf("kind %q is in Kinds twice", k)
		}
		seen[k] = true
	}
	for name, value := range consts {
		if !seen[value] {
			t.Errorf("%s (%q) is missing from Kinds", name, value)
		}
		delete(seen, value)
	}
	for k := range seen {
		t.Errorf("Kinds holds %q, which no Kind constant declares", k)
	}

	for _, f := range files {
		checkKindUses(t, f.fset, f.file, consts)
	}

	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "ledger.md"))
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile("(?m)\\| `([a-z_]+)` \\|$").FindAllStringSubmatch(auditorSection(t, string(doc)), -1) {
		documented = append(documented, m[1])
	}
	slices.Sort(documented)
	want := slices.Sorted(slices.Values(audit.Kinds()))
	if !slices.Equal(documented, want) {
		t.Errorf("docs/ledger.md's table of the auditor's checks names kinds %v; Kinds are %v", documented, want)
	}
}

type parsedFile struct {
	fset *token.FileSet
	file *ast.File
}

// parseKinds parses the package's non-test files and returns its Kind*
// constants (name → value) and the files.
func parseKinds(t *testing.T) (map[string]string, []parsedFile) {
	t.Helper()
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	var files []parsedFile
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, parsedFile{fset, f})
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if !strings.HasPrefix(n.Name, "Kind") || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: %s is not a string literal", fset.Position(n.Pos()), n.Name)
					}
					consts[n.Name], _ = strconv.Unquote(lit.Value)
				}
			}
		}
	}
	return consts, files
}

// checkKindUses fails t where f creates an issue, or sets a variable
// named kind, with anything but a Kind constant or a variable named kind.
func checkKindUses(t *testing.T, fset *token.FileSet, f *ast.File, consts map[string]string) {
	t.Helper()
	kindTaking := map[string]bool{"issue": true}
	firstParamIsKind := func(ft *ast.FuncType) bool {
		return ft.Params != nil && len(ft.Params.List) > 0 && len(ft.Params.List[0].Names) > 0 &&
			ft.Params.List[0].Names[0].Name == "kind"
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			if firstParamIsKind(n.Type) {
				kindTaking[n.Name.Name] = true
			}
		case *ast.AssignStmt:
			for i, rhs := range n.Rhs {
				fl, ok := rhs.(*ast.FuncLit)
				if !ok || !firstParamIsKind(fl.Type) || i >= len(n.Lhs) {
					continue
				}
				if id, ok := n.Lhs[i].(*ast.Ident); ok {
					kindTaking[id.Name] = true
				}
			}
		case *ast.Field:
			if ft, ok := n.Type.(*ast.FuncType); ok && firstParamIsKind(ft) {
				for _, name := range n.Names {
					kindTaking[name.Name] = true
				}
			}
		}
		return true
	})
	isKind := func(e ast.Expr, forwarded bool) bool {
		id, ok := e.(*ast.Ident)
		return ok && (consts[id.Name] != "" || forwarded && id.Name == "kind")
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			var name string
			switch fn := n.Fun.(type) {
			case *ast.Ident:
				name = fn.Name
			case *ast.SelectorExpr:
				name = fn.Sel.Name
			}
			if kindTaking[name] && len(n.Args) > 0 && !isKind(n.Args[0], true) {
				t.Errorf("%s: %s given a kind that is no Kind constant", fset.Position(n.Pos()), name)
			}
		case *ast.AssignStmt:
			for i, lhs := range n.Lhs {
				if id, ok := lhs.(*ast.Ident); ok && id.Name == "kind" && i < len(n.Rhs) && !isKind(n.Rhs[i], false) {
					t.Errorf("%s: kind set to something other than a Kind constant", fset.Position(n.Pos()))
				}
			}
		case *ast.CompositeLit:
			if id, ok := n.Type.(*ast.Ident); ok && id.Name == "Issue" {
				for _, el := range n.Elts {
					kv, ok := el.(*ast.KeyValueExpr)
					if !ok {
						continue
					}
					if key, _ := kv.Key.(*ast.Ident); key != nil && key.Name == "Kind" && !isKind(kv.Value, true) {
						t.Errorf("%s: Issue literal with a kind that is no Kind constant", fset.Position(n.Pos()))
					}
				}
			}
		}
		return true
	})
}

// auditorSection returns the section of docs/ledger.md that tables the
// auditor's checks.
func auditorSection(t *testing.T, doc string) string {
	t.Helper()
	const heading = "## What an auditor checks, and how\n"
	_, rest, ok := strings.Cut(doc, heading)
	if !ok {
		t.Fatalf("docs/ledger.md has no %q", strings.TrimSpace(heading))
	}
	section, _, _ := strings.Cut(rest, "\n## ")
	return section
}
