package layout

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Rule is one row of the table: the packages it covers and what they may
// import, both as patterns (see Match).
type Rule struct {
	Packages []string
	Allowed  []string // nil with Anything: every package
	Anything bool
}

// Table is the rows of docs/imports.md, in order.
type Table []Rule

// ParseTable reads the Markdown table whose header's first cell is
// "package": each row names its packages in the first column and what
// they may import in the last, as backquoted patterns, or "anything", or
// "nothing".
func ParseTable(r io.Reader) (Table, error) {
	var t Table
	in := false
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "|") {
			if in {
				break
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		first := strings.TrimSpace(cells[0])
		switch {
		case !in && first == "package":
			in = true
			continue
		case !in || strings.HasPrefix(first, "---"):
			continue
		}
		rule := Rule{Packages: quoted(first)}
		last := strings.TrimSpace(cells[len(cells)-1])
		switch last {
		case "anything":
			rule.Anything = true
		case "nothing":
		default:
			rule.Allowed = quoted(last)
			if len(rule.Allowed) == 0 {
				return nil, fmt.Errorf("line %d: %q is not backquoted patterns, anything or nothing", n, last)
			}
		}
		if len(rule.Packages) == 0 {
			return nil, fmt.Errorf("line %d: no backquoted package in %q", n, first)
		}
		t = append(t, rule)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(t) == 0 {
		return nil, fmt.Errorf("no table with a \"package\" column")
	}
	return t, nil
}

// quoted returns the backquoted words of s.
func quoted(s string) []string {
	var out []string
	for {
		i := strings.IndexByte(s, '`')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(s[i+1:], '`')
		if j < 0 {
			return out
		}
		out = append(out, s[i+1:i+1+j])
		s = s[i+j+2:]
	}
}

// Match reports whether pattern covers pkg: "x/..." covers x and every
// package below it, anything else only itself. The score says how
// specific the match is: an exact path beats any "x/...", and a longer
// "x/..." a shorter one.
func Match(pattern, pkg string) (score int, ok bool) {
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		if pkg == base || strings.HasPrefix(pkg, base+"/") {
			return len(base), true
		}
		return 0, false
	}
	if pattern == pkg {
		return 1 << 20, true
	}
	return 0, false
}

// RuleFor returns the row of pkg: the one whose pattern matches it most
// specifically.
func (t Table) RuleFor(pkg string) (Rule, bool) {
	best, found := -1, Rule{}
	for _, r := range t {
		for _, p := range r.Packages {
			if s, ok := Match(p, pkg); ok && s > best {
				best, found = s, r
			}
		}
	}
	return found, best >= 0
}

// Check returns one message per import in imports (package -> the
// repository packages its non-test files import, as paths relative to
// the module) that the table does not allow, and per package without a
// row; sorted.
func (t Table) Check(imports map[string][]string) []string {
	var out []string
	for pkg, deps := range imports {
		r, ok := t.RuleFor(pkg)
		if !ok {
			out = append(out, fmt.Sprintf("%s: no row in the table", pkg))
			continue
		}
		for _, d := range deps {
			if !r.allows(d) {
				out = append(out, fmt.Sprintf("%s imports %s, which its row (%s) does not allow", pkg, d, strings.Join(r.Packages, ", ")))
			}
		}
	}
	sort.Strings(out)
	return out
}

func (r Rule) allows(dep string) bool {
	if r.Anything {
		return true
	}
	for _, a := range r.Allowed {
		if _, ok := Match(a, dep); ok {
			return true
		}
	}
	return false
}
