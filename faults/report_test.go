package faults

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A run of some faults replaces their rows and keeps the others, in fault
// order, saying from which run they come; kept twice, they keep the
// oldest run.
func TestMergeSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "RESULTS.md")
	run := func(date string, faults ...string) {
		t.Helper()
		var rs []Result
		for _, f := range faults {
			rs = append(rs, Result{Fault: f, Extra: []string{date}})
		}
		if err := MergeSection(path, "short", "## short setting\n\nRun "+date+"; more.\n\n", rs); err != nil {
			t.Fatal(err)
		}
	}
	rows := func() []string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "| 0") {
				f, _, _ := strings.Cut(strings.TrimPrefix(l, "| "), " |")
				out = append(out, f+"@"+l[strings.LastIndex(l, "; ")+2:len(l)-2])
			}
		}
		return out
	}
	run("d1", "01 a", "02 b", "03 c")
	run("d2", "02 b")
	if got, want := strings.Join(rows(), ","), "01 a@d1,02 b@d2,03 c@d1"; got != want {
		t.Errorf("rows %s, want %s", got, want)
	}
	run("d3", "03 c", "04 d")
	if got, want := strings.Join(rows(), ","), "01 a@d1,02 b@d2,03 c@d3,04 d@d3"; got != want {
		t.Errorf("rows %s, want %s", got, want)
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "the rows of the other 2 are "+keptFrom+"d1).") {
		t.Errorf("kept rows do not name the oldest run:\n%s", b)
	}
	if strings.Count(string(b), "| --- | --- | --- |") != 1 {
		t.Errorf("not one table head:\n%s", b)
	}
}
