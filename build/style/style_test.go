// Package style holds checks of the code's shape that no linter makes.
package style

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// maxLines bounds a function of the product: a longer one does too much
// to read at once.
const maxLines = 80

// TestProductFunctionsAreShort: no function of the product (pkg/ but the
// test bed, and cmd/gokeyvault) is longer than maxLines.
func TestProductFunctionsAreShort(t *testing.T) {
	fset := token.NewFileSet()
	checked := 0
	for _, root := range []string{"../../pkg", "../../cmd/gokeyvault"} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			switch {
			case err != nil:
				return err
			case d.IsDir() && d.Name() == "testbed":
				return filepath.SkipDir
			case d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go"):
				return nil
			}
			f, err := parser.ParseFile(fset, p, nil, 0)
			if err != nil {
				return err
			}
			for _, decl := range f.Decls {
				fd, ok := decl.(*ast.FuncDecl)
				if !ok || fd.Body == nil {
					continue
				}
				checked++
				if n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1; n > maxLines {
					t.Errorf("%s: %s is %d lines long; split it (at most %d)", fset.Position(fd.Pos()), fd.Name.Name, n, maxLines)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 100 {
		t.Fatalf("only %d functions checked: the walk missed the product", checked)
	}
}

// TestBinariesLinkNoTesting: the task's binary and the tools that start a
// test world for people (the demo, the bench, the local cloud) do not link
// the testing package: only pkg/testbed/harness, which tests use, does.
func TestBinariesLinkNoTesting(t *testing.T) {
	pkgs := []string{"../../cmd/gokeyvault", "../../build/demo", "../../build/bench", "../../cmd/localcloud", "../../cmd/agentrun"}
	out, err := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...).Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == "testing" {
			t.Errorf("%s link the testing package", strings.Join(pkgs, ", "))
		}
	}
}
