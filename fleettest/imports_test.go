package fleettest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// imports maps each package of the module (its path) to the packages of the
// module its non-test files import.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	const module = "github.com/fleetscore/fleetscore"
	out := map[string][]string{}
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		pkg := module
		if dir := filepath.ToSlash(filepath.Dir(strings.TrimPrefix(path, "../"))); dir != "." && dir != ".." {
			pkg += "/" + dir
		}
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); strings.HasPrefix(p, module+"/") {
				out[pkg] = append(out[pkg], p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNoImportRunsBackUp: a package under internal/ serves the packages
// above it, so it never imports one of them that itself imports internal/
// (as internal/fleettest once imported sqlite, which is built on
// internal/relational).
func TestNoImportRunsBackUp(t *testing.T) {
	deps := imports(t)
	internal := func(p string) bool { return strings.Contains(p, "/internal/") }
	for pkg, ps := range deps {
		if !internal(pkg) {
			continue
		}
		for _, p := range ps {
			if internal(p) {
				continue
			}
			for _, q := range deps[p] {
				if internal(q) {
					t.Errorf("%s imports %s, which imports %s: the import runs back up", pkg, p, q)
				}
			}
		}
	}
}

// TestOnlyTestsImportIt keeps the fixture where only tests reach it: it
// wires a store, the collector and the emulator together, which no package
// of the program may depend on.
func TestOnlyTestsImportIt(t *testing.T) {
	const self = "github.com/fleetscore/fleetscore/fleettest"
	for pkg, ps := range imports(t) {
		for _, p := range ps {
			if p == self {
				t.Errorf("%s imports %s: only tests may", pkg, self)
			}
		}
	}
}
