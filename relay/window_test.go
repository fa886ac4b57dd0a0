package relay

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// TestLockOnlyInWindow keeps the one lock in one file: outside window.go no
// code of the package takes a lock or declares a mutex, so everything the
// submitting loop and the tracker share goes through the window's methods.
func TestLockOnlyInWindow(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	sites := map[string]int{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				switch n.Sel.Name {
				case "Lock", "RLock", "TryLock", "TryRLock":
					sites[name]++
					if name != "window.go" {
						t.Errorf("%s: a lock taken outside window.go", fset.Position(n.Pos()))
					}
				}
				if x, ok := n.X.(*ast.Ident); ok && x.Name == "sync" && (n.Sel.Name == "Mutex" || n.Sel.Name == "RWMutex") && name != "window.go" {
					t.Errorf("%s: a mutex declared outside window.go", fset.Position(n.Pos()))
				}
			}
			return true
		})
	}
	if sites["window.go"] == 0 {
		t.Error("window.go takes no lock: the test no longer looks at the right thing")
	}
	t.Logf("lock sites per file: %v", sites)
}
