package layout

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// root returns the module's root directory and path, from go.mod above
// this package.
func root(t *testing.T) (dir, modPath string) {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			return dir, strings.TrimSpace(p)
		}
	}
	t.Fatal("go.mod names no module")
	return "", ""
}

// repoImports parses the imports of every non-test Go file under dir
// (testdata left out) and returns, per package directory relative to
// dir, the packages of modPath it imports, relative to modPath.
func repoImports(t *testing.T, dir, modPath string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	seen := map[string]map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); p != dir && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, filepath.Dir(p))
		pkg := filepath.ToSlash(rel)
		if seen[pkg] == nil {
			seen[pkg] = map[string]bool{}
			out[pkg] = nil
		}
		for _, is := range f.Imports {
			ip, _ := strconv.Unquote(is.Path.Value)
			dep, ok := strings.CutPrefix(ip, modPath+"/")
			if ok && !seen[pkg][dep] {
				seen[pkg][dep] = true
				out[pkg] = append(out[pkg], dep)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestImportsFollowTheTable checks every package of the repository
// against docs/imports.md.
func TestImportsFollowTheTable(t *testing.T) {
	dir, modPath := root(t)
	f, err := os.Open(filepath.Join(dir, "docs", "imports.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	table, err := ParseTable(f)
	if err != nil {
		t.Fatalf("docs/imports.md: %v", err)
	}
	imports := repoImports(t, dir, modPath)
	for _, pkg := range []string{"pdu", "module", "mux", "store/bolt", "plugins/msgclass"} {
		if _, ok := imports[pkg]; !ok {
			t.Fatalf("package %s not found: the walk missed the repository", pkg)
		}
	}
	for _, msg := range table.Check(imports) {
		t.Error(msg)
	}
	for _, r := range table {
		for _, p := range r.Packages {
			if !matchesAny(p, imports) {
				t.Errorf("docs/imports.md: %s matches no package", p)
			}
		}
	}
}

func matchesAny(pattern string, imports map[string][]string) bool {
	for pkg := range imports {
		if _, ok := Match(pattern, pkg); ok {
			return true
		}
	}
	return false
}

const sample = `
| package | job | may import from this repo |
|---|---|---|
| ` + "`pdu`" + ` | codec | nothing |
| ` + "`module`" + ` | kernel | ` + "`pdu`" + ` |
| ` + "`store/...`" + ` | stores | ` + "`store`, `module`" + ` |
| ` + "`store/storetest`" + ` | suite | ` + "`store`" + ` |
| ` + "`cmd/...`" + ` | commands | anything |

After the table.
`

// TestCheck runs the check over a made-up repository: the imports the
// table forbids are reported, and a package without a row is too; the
// most specific row wins.
func TestCheck(t *testing.T) {
	table, err := ParseTable(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	got := table.Check(map[string][]string{
		"pdu":             {"mux"},               // nothing allowed
		"module":          {"pdu"},               // allowed
		"store/bolt":      {"store", "module"},   // allowed by store/...
		"store/storetest": {"module"},            // its own row is stricter
		"cmd/smpp-mux":    {"mux", "store/bolt"}, // anything
		"admin":           nil,                   // no row
	})
	want := []string{
		"admin: no row in the table",
		"pdu imports mux, which its row (pdu) does not allow",
		"store/storetest imports module, which its row (store/storetest) does not allow",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Check:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestParseTableErrors checks that a row without patterns is an error,
// not a row that allows nothing.
func TestParseTableErrors(t *testing.T) {
	for _, src := range []string{
		"no table",
		"| package | job | may import |\n|---|---|---|\n| `pdu` | codec | pdu |\n",
		"| package | job | may import |\n|---|---|---|\n| pdu | codec | nothing |\n",
	} {
		if _, err := ParseTable(strings.NewReader(src)); err == nil {
			t.Errorf("ParseTable(%q): no error", src)
		}
	}
}
