package faults

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// Check is one invariant of a fault run and whether it held.
type Check struct {
	Name   string
	OK     bool
	Detail string
}

// Result is one fault's row in the table.
type Result struct {
	Fault    string
	Counts   Counts
	Baseline float64 // steady ESME_ROK/s before the fault
	During   float64 // steady ESME_ROK/s while it lasted; < 0: an instant fault
	Recovery time.Duration
	Bound    time.Duration
	Recov    bool
	Checks   []Check
	Extra    []string
}

// Held summarises the checks: "all held" or the failed ones.
func (r Result) Held() string {
	var failed []string
	for _, c := range r.Checks {
		if !c.OK {
			failed = append(failed, "FAILED "+c.Name+" ("+c.Detail+")")
		}
	}
	if len(failed) == 0 {
		names := make([]string, len(r.Checks))
		for i, c := range r.Checks {
			names[i] = c.Name
		}
		return "all held: " + strings.Join(names, "; ")
	}
	return strings.Join(failed, "; ")
}

// Figures formats the counts of a run.
func (r Result) Figures() string {
	c := r.Counts
	rec := "not within " + r.Bound.String()
	if r.Recov {
		rec = r.Recovery.Round(100*time.Millisecond).String() + " (bound " + r.Bound.String() + ")"
	}
	s := fmt.Sprintf("submits sent %d, answered %d [%s], unanswered %d (timed out %d, conn lost %d), lost to kill -9 %d, abandoned by client %d; "+
		"DLR expected %d, delivered %d, duplicated %d, lost %d, unknown-id %d, misrouted %d; "+
		"ok/s before %.0f, during %s; recovery %s",
		c.Sent, c.Answered, c.Statuses(), c.Unanswered, c.TimedOut, c.ConnLost, c.LostToKill, c.Abandon,
		c.DLRExpected, c.DLRDelivered, c.DLRDup, c.DLRLost, c.DLRUnknown, c.Misrouted,
		r.Baseline, r.during(), rec)
	for _, e := range append(append([]string(nil), c.Notes...), r.Extra...) {
		s += "; " + e
	}
	return s
}

func (r Result) during() string {
	if r.During < 0 {
		return "n/a (instant fault)"
	}
	return fmt.Sprintf("%.0f", r.During)
}

// tableHead is the head of a results table.
const tableHead = "| fault | what held | figures |\n| --- | --- | --- |\n"

// Markdown renders results as a table.
func Markdown(rs []Result) string {
	var b strings.Builder
	b.WriteString(tableHead)
	for _, r := range rs {
		b.WriteString(row(r))
	}
	return b.String()
}

func row(r Result) string {
	return fmt.Sprintf("| %s | %s | %s |\n", esc(r.Fault), esc(r.Held()), esc(r.Figures()))
}

// keptFrom introduces the oldest run that kept rows of a section come from.
const keptFrom = "kept from earlier runs of this setting (the oldest: "

// MergeSection is WriteSection for a run of some of the faults: the rows
// of the faults it did not run are kept from the section in the file, with
// a line that says which run they come from, and the rows are in fault
// order. head is the run's heading, before the table.
func MergeSection(path, name, head string, rs []Result) error {
	ran := map[string]bool{}
	rows := make([]string, 0, len(rs))
	for _, r := range rs {
		ran[r.Fault] = true
		rows = append(rows, row(r))
	}
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	var kept []string
	var from string
	begin, end := "<!-- "+name+":begin -->", "<!-- "+name+":end -->"
	if s := string(old); strings.Contains(s, begin) && strings.Contains(s, end) {
		sec := s[strings.Index(s, begin):strings.Index(s, end)]
		for _, line := range strings.Split(sec, "\n") {
			switch {
			case strings.HasPrefix(line, "Run ") && from == "":
				from, _, _ = strings.Cut(strings.TrimPrefix(line, "Run "), ";")
			case strings.Contains(line, keptFrom):
				// Rows kept once already: their run is older still.
				_, from, _ = strings.Cut(line, keptFrom)
				from = strings.TrimSuffix(from, ").")
			case strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| fault |") && !strings.HasPrefix(line, "| --- |"):
				fault, _, _ := strings.Cut(strings.TrimPrefix(line, "| "), " | ")
				if !ran[strings.ReplaceAll(fault, "\\|", "|")] {
					kept = append(kept, line+"\n")
				}
			}
		}
	}
	if len(kept) > 0 {
		head += fmt.Sprintf("This run ran %d of the faults; the rows of the other %d are %s%s).\n\n", len(rs), len(kept), keptFrom, from)
	}
	rows = append(rows, kept...)
	sort.Strings(rows) // rows start with the fault's number
	return WriteSection(path, name, head+tableHead+strings.Join(rows, ""))
}

func esc(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

// WriteSection replaces (or appends) the section named name in the
// Markdown file at path, between HTML comment markers, keeping the rest.
func WriteSection(path, name, body string) error {
	begin, end := "<!-- "+name+":begin -->", "<!-- "+name+":end -->"
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(old)
	if s == "" {
		s = "# Fault suite results\n\nWritten by `go test ./faults/` (see faults/doc.go). Each section is replaced by the run of its setting.\n\n"
	}
	block := begin + "\n" + body + "\n" + end
	if i := strings.Index(s, begin); i >= 0 {
		if j := strings.Index(s, end); j > i {
			s = s[:i] + block + s[j+len(end):]
			return os.WriteFile(path, []byte(s), 0o644)
		}
	}
	s = strings.TrimRight(s, "\n") + "\n\n" + block + "\n"
	return os.WriteFile(path, []byte(s), 0o644)
}
