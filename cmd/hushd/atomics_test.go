package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoPlainAccessToAtomics: no code in the module turns the address of a sync/atomic
// value into a plain pointer ((*uint64)(unsafe.Pointer(&x)) and the like). A plain store
// or load of a value that another goroutine reads or writes atomically is a data race
// under the Go memory model whatever the processor guarantees, and the race detector
// cannot see it once a build tag gives race builds the atomic twin. Files of every build
// tag are read. Passing such an address to unsafe.Pointer alone (a prefetch) is allowed.
func TestNoPlainAccessToAtomics(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	files := map[string][]*ast.File{} // by directory: a package's files
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files[filepath.Dir(path)] = append(files[filepath.Dir(path)], f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("read %d packages: the walk missed the module", len(files))
	}
	for _, pkg := range files {
		// Names declared with an atomic type anywhere in the package: struct fields,
		// parameters, variables. A name is enough to suspect an operand.
		atomics := map[string]bool{}
		for _, f := range pkg {
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.Field:
					if isAtomicType(n.Type) {
						for _, id := range n.Names {
							atomics[id.Name] = true
						}
					}
				case *ast.ValueSpec:
					if n.Type != nil && isAtomicType(n.Type) {
						for _, id := range n.Names {
							atomics[id.Name] = true
						}
					}
				}
				return true
			})
		}
		for _, f := range pkg {
			ast.Inspect(f, func(n ast.Node) bool {
				conv, ok := n.(*ast.CallExpr)
				if !ok || len(conv.Args) != 1 {
					return true
				}
				paren, ok := conv.Fun.(*ast.ParenExpr)
				if !ok {
					return true
				}
				if _, ok := paren.X.(*ast.StarExpr); !ok {
					return true
				}
				inner, ok := conv.Args[0].(*ast.CallExpr)
				if !ok || len(inner.Args) != 1 || !isSelector(inner.Fun, "unsafe", "Pointer") {
					return true
				}
				if name := operandName(inner.Args[0]); atomics[name] {
					rel, _ := filepath.Rel(root, fset.Position(conv.Pos()).Filename)
					t.Errorf("%s:%d: %s, an atomic value, reached through a plain pointer",
						rel, fset.Position(conv.Pos()).Line, name)
				}
				return true
			})
		}
	}
}

// isAtomicType reports whether e is sync/atomic's type, a pointer to one or an array of
// them: atomic.Uint64, *atomic.Uint64, [2]atomic.Uint64, atomic.Pointer[T].
func isAtomicType(e ast.Expr) bool {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.ArrayType:
			e = x.Elt
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.SelectorExpr:
			id, ok := x.X.(*ast.Ident)
			return ok && id.Name == "atomic"
		default:
			return false
		}
	}
}

func isSelector(e ast.Expr, pkg, name string) bool {
	s, ok := e.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	id, ok := s.X.(*ast.Ident)
	return ok && id.Name == pkg && s.Sel.Name == name
}

// operandName is the name an address refers to: p, &x, &s.f, &s.f[i] give p, x, f, f.
func operandName(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.UnaryExpr:
			e = x.X
		case *ast.ParenExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.SelectorExpr:
			return x.Sel.Name
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}
