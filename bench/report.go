package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// group is the median of the repetitions of one configuration.
type group struct {
	Mode, Path            string
	Conns, Window, Up     int
	Offered               float64
	N                     int
	Throughput            float64
	P50, P99, P999        float64
	CPUPerM, HarnessPerM  float64
	PeakRSS               int64
	Errors                uint64
	EndToEnd, DLRRate     float64
	Right, Wrong, Unknown uint64 // summed over the repetitions
	Missing, Dup          uint64
	Unanswered            uint64
	ReadsPerMsg           float64
	WritesPerMsg          float64
}

// groups returns the rows folded by configuration, in first-run order.
func (b *bench) groups() []group {
	type key struct {
		mode, path       string
		conns, window, u int
		offered          float64
	}
	var order []key
	rows := map[key][]row{}
	for _, r := range b.rows {
		k := key{r.Mode, r.Path, r.Conns, r.Window, r.Upstream, r.Offered}
		if _, ok := rows[k]; !ok {
			order = append(order, k)
		}
		rows[k] = append(rows[k], r)
	}
	var out []group
	for _, k := range order {
		rs := rows[k]
		med := func(f func(row) float64) float64 {
			v := make([]float64, len(rs))
			for i, r := range rs {
				v[i] = f(r)
			}
			return median(v)
		}
		g := group{Mode: k.mode, Path: k.path, Conns: k.conns, Window: k.window, Up: k.u, Offered: k.offered, N: len(rs),
			Throughput:   med(func(r row) float64 { return r.Throughput }),
			P50:          med(func(r row) float64 { return r.P50 }),
			P99:          med(func(r row) float64 { return r.P99 }),
			P999:         med(func(r row) float64 { return r.P999 }),
			CPUPerM:      med(func(r row) float64 { return r.MuxCPUPerM }),
			HarnessPerM:  med(func(r row) float64 { return r.HarnessCPUPerM }),
			EndToEnd:     med(func(r row) float64 { return r.EndToEnd }),
			DLRRate:      med(func(r row) float64 { return r.DLRRate }),
			ReadsPerMsg:  med(func(r row) float64 { return r.MuxReadsPerMsg }),
			WritesPerMsg: med(func(r row) float64 { return r.MuxWritesPerMsg }),
		}
		for _, r := range rs {
			g.PeakRSS = max(g.PeakRSS, r.MuxPeakRSS)
			g.Errors += r.Errors
			g.Right += r.DLRRight
			g.Wrong += r.DLRWrong
			g.Unknown += r.DLRUnknown
			g.Missing += r.DLRMissing
			g.Dup += r.DLRDup
			g.Unanswered += r.Unanswered
		}
		out = append(out, g)
	}
	return out
}

func (b *bench) find(mode, path string, offered float64) (group, bool) {
	for _, g := range b.groups() {
		if g.Mode == mode && g.Path == path && g.Offered == offered {
			return g, true
		}
	}
	return group{}, false
}

// markdown renders the targets summary, the table of medians and the idle
// table.
func (b *bench) markdown() string {
	var sb strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&sb, format, args...) }
	gs := b.groups()
	if len(b.rows) > 0 {
		w("### Targets\n\n| target | measured | met |\n| --- | ---: | :---: |\n")
		if d, ok := b.find("proxy", "direct", 0); ok {
			if m, ok := b.find("proxy", "mux", 0); ok && d.Throughput > 0 {
				ratio := m.Throughput / d.Throughput
				w("| proxy: mux throughput >= 0.5 x direct (%dx%d, %d upstream) | %.0f / %.0f msg/s = %.2f x | %s |\n",
					m.Conns, m.Window, m.Up, m.Throughput, d.Throughput, ratio, yes(ratio >= 0.5))
				w("| proxy: mux CPU <= 1.5 s per million messages (closed loop) | %.2f s | %s |\n", m.CPUPerM, yes(m.CPUPerM <= 1.5))
				for _, g := range gs {
					if g.Mode == "proxy" && g.Path == "mux" && g.Offered > 0 && g.Offered >= 0.45*m.Throughput && g.Offered <= 0.55*m.Throughput {
						if dd, ok := b.find("proxy", "direct", g.Offered); ok {
							added := g.P99 - dd.P99
							w("| proxy: p99 added by the mux <= 1 ms at half the mux's peak (%.0f msg/s) | %.2f - %.2f = %.2f ms | %s |\n",
								g.Offered, g.P99, dd.P99, added, yes(added <= 1))
							w("| proxy: mux CPU at half peak | %.2f s per million | - |\n", g.CPUPerM)
						}
					}
				}
				w("| proxy: mux peak RSS | %.1f MiB | - |\n", mib(m.PeakRSS))
				if r, ok := b.find("proxy", refPath, 0); ok && r.Throughput > 0 {
					ratio := m.Throughput / r.Throughput
					w("| proxy: mux throughput >= 1.5 x the reference (%dx%d, closed loop) | %.0f / %.0f msg/s = %.2f x | %s |\n",
						m.Conns, m.Window, m.Throughput, r.Throughput, ratio, yes(ratio >= 1.5))
				}
			}
		}
		if m, ok := b.find("receipts", "mux-bolt", 0); ok {
			lost := m.Missing + m.Wrong + m.Unknown
			w("| receipts, bolt store: >= 50,000 msg/s end to end | %.0f msg/s | %s |\n", m.EndToEnd, yes(m.EndToEnd >= 50000))
			w("| receipts, bolt store: every receipt routed, none lost (all runs) | right %d, wrong %d, unknown %d, missing %d, dup %d | %s |\n",
				m.Right, m.Wrong, m.Unknown, m.Missing, m.Dup, yes(lost == 0 && m.Right > 0))
			w("| receipts, bolt store: mux CPU per million messages (submit + receipt) | %.2f s | - |\n", m.CPUPerM)
		}
		if m, ok := b.find("receipts", "mux-memory", 0); ok {
			w("| receipts, memory store (comparison) | %.0f msg/s end to end | - |\n", m.EndToEnd)
		}
		if r, ok := b.find("receipts", refPath, 0); ok {
			lost := r.Missing + r.Wrong + r.Unknown + r.Dup
			w("| receipts, reference: every receipt routed, none lost (all runs) | right %d, wrong %d, unknown %d, missing %d, dup %d | %s |\n",
				r.Right, r.Wrong, r.Unknown, r.Missing, r.Dup, yes(lost == 0 && r.Right > 0))
		}
	}
	if first, last, ok := b.idleEnds("mux"); ok {
		per := perBind(first, last)
		w("| idle: <= 8 KiB RSS per downstream bind at %d binds over %d clients (VmRSS, no forced GC, minus the RSS before binds) | %.1f KiB | %s |\n",
			last.Binds, last.Clients, per/1024, yes(per <= 8192))
		if last.RSSAfterGC > 0 {
			w("| idle: the same after a forced GC and `debug.FreeOSMemory` in the mux (the method before) | %.1f KiB | - |\n",
				float64(last.RSSAfterGC-first.RSS)/float64(last.Binds-first.Binds)/1024)
		}
		if rf, rl, ok := b.idleEnds(refPath); ok {
			rper := perBind(rf, rl)
			w("| idle: reference, same method | %.1f KiB per bind (mux/reference %.2f) | - |\n", rper/1024, per/rper)
		}
	}
	if len(gs) > 0 {
		w("\n### Runs (medians of the repetitions)\n\n")
		w("| mode | path | binds x window | upstream | offered msg/s | n | msg/s | mux/direct | mux/ref | p50 ms | p99 ms | p99.9 ms | CPU s/M | syscalls/msg r+w | harness CPU s/M | peak RSS MiB | errors | receipts e2e msg/s | right/wrong/unknown/missing/dup |\n")
		w("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |\n")
		for _, g := range gs {
			offered := "closed loop"
			if g.Offered > 0 {
				offered = fmt.Sprintf("%.0f", g.Offered)
			}
			vsDirect, vsRef, cpu, rss, e2e, dlr, sc := "", "", "", "", "", "", ""
			if r, ok := b.refFor(g); ok {
				vsRef = ratio(g.Throughput, r.Throughput)
			}
			if g.Path != "direct" {
				if d, ok := b.findShape(g.Mode, "direct", g.Conns, g.Window, g.Offered); ok {
					vsDirect = ratio(g.Throughput, d.Throughput)
				}
				cpu = fmt.Sprintf("%.2f", g.CPUPerM)
				rss = fmt.Sprintf("%.1f", mib(g.PeakRSS))
				sc = fmt.Sprintf("%.2f+%.2f", g.ReadsPerMsg, g.WritesPerMsg)
			}
			if g.Mode == "receipts" {
				e2e = fmt.Sprintf("%.0f", g.EndToEnd)
				dlr = fmt.Sprintf("%d/%d/%d/%d/%d", g.Right, g.Wrong, g.Unknown, g.Missing, g.Dup)
			}
			w("| %s | %s | %dx%d | %d | %s | %d | %.0f | %s | %s | %.2f | %.2f | %.2f | %s | %s | %.2f | %s | %d | %s | %s |\n",
				g.Mode, g.Path, g.Conns, g.Window, g.Up, offered, g.N, g.Throughput, vsDirect, vsRef, g.P50, g.P99, g.P999, cpu, sc, g.HarnessPerM, rss, g.Errors, e2e, dlr)
		}
	}
	b.refTable(w)
	if len(b.idle) > 0 {
		w("\n### Idle binds\n\nVmRSS read %v after each step without forcing a GC; per bind: RSS grown since 0 binds, divided by the binds.\n\n", b.o.idleSettle)
		w("| path | clients | binds | RSS MiB | peak RSS MiB | heap in use MiB | stacks MiB | goroutines | RSS per bind since 0 | after forced GC |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		var base idlePoint
		for _, p := range b.idle {
			if p.Binds == 0 {
				base = p
			}
			per, gc := "", ""
			if p.Binds > 0 {
				per = fmt.Sprintf("%.1f KiB", float64(p.RSS-base.RSS)/float64(p.Binds)/1024)
			}
			if p.RSSAfterGC > 0 && p.Binds > 0 {
				gc = fmt.Sprintf("%.1f MiB, %.1f KiB/bind", mib(p.RSSAfterGC), float64(p.RSSAfterGC-base.RSS)/float64(p.Binds)/1024)
			}
			heap, stacks, gs := "-", "-", "-" // the reference is not asked
			if path := cmp.Or(p.Path, "mux"); path != refPath {
				heap, stacks, gs = fmt.Sprintf("%.1f", mib(p.HeapInuse)), fmt.Sprintf("%.1f", mib(p.StackInuse)), fmt.Sprint(p.Goroutines)
			}
			w("| %s | %d | %d | %.1f | %.1f | %s | %s | %s | %s | %s |\n", cmp.Or(p.Path, "mux"), p.Clients, p.Binds, mib(p.RSS), mib(p.HWM), heap, stacks, gs, per, gc)
		}
	}
	if b.refNote != "" {
		w("\nNo reference rows: %s.\n", b.refNote)
	}
	return sb.String()
}

// idleEnds returns the first and last idle points of path, when the
// last has more binds.
func (b *bench) idleEnds(path string) (first, last idlePoint, ok bool) {
	var ps []idlePoint
	for _, p := range b.idle {
		if p.Path == path || (p.Path == "" && path == "mux") {
			ps = append(ps, p)
		}
	}
	if len(ps) < 2 || ps[len(ps)-1].Binds <= ps[0].Binds {
		return idlePoint{}, idlePoint{}, false
	}
	return ps[0], ps[len(ps)-1], true
}

// perBind is the RSS grown from first to last per bind added, in bytes.
func perBind(first, last idlePoint) float64 {
	return float64(last.RSS-first.RSS) / float64(last.Binds-first.Binds)
}

// muxPath tells the mux's paths (mux, mux-bolt, mux-memory, mux-rules).
func muxPath(p string) bool { return strings.HasPrefix(p, "mux") }

// refFor returns the reference run of g's shape; for receipts, the mux's
// stores all compare with it.
func (b *bench) refFor(g group) (group, bool) {
	if !muxPath(g.Path) {
		return group{}, false
	}
	return b.findShape(g.Mode, refPath, g.Conns, g.Window, g.Offered)
}

// refTable renders the mux's runs beside the reference's of the same
// shape: the ratios issue 17 asks for.
func (b *bench) refTable(w func(string, ...any)) {
	first := true
	for _, g := range b.groups() {
		r, ok := b.refFor(g)
		if !ok {
			continue
		}
		if first {
			first = false
			w("\n### Against the reference (medians; mux/ref > 1: the mux carries more, ref/mux CPU > 1: the mux spends less per message)\n\n")
			w("| mode | path | binds x window | upstream | offered msg/s | mux msg/s | ref msg/s | mux/ref | mux CPU s/M | ref CPU s/M | ref/mux CPU | mux p99 ms | ref p99 ms | mux peak RSS MiB | ref peak RSS MiB | ref receipts right/wrong/unknown/missing/dup |\n")
			w("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")
		}
		offered := "closed loop"
		if g.Offered > 0 {
			offered = fmt.Sprintf("%.0f", g.Offered)
		}
		mt, rt := g.Throughput, r.Throughput
		if g.Mode == "receipts" && g.Offered == 0 { // the closed loop is bound by receipts
			mt, rt = g.EndToEnd, r.EndToEnd
		}
		dlr := ""
		if g.Mode == "receipts" {
			dlr = fmt.Sprintf("%d/%d/%d/%d/%d", r.Right, r.Wrong, r.Unknown, r.Missing, r.Dup)
		}
		w("| %s | %s | %dx%d | %d | %s | %.0f | %.0f | %s | %.2f | %.2f | %s | %.2f | %.2f | %.1f | %.1f | %s |\n",
			g.Mode, g.Path, g.Conns, g.Window, g.Up, offered, mt, rt, ratio(mt, rt), g.CPUPerM, r.CPUPerM, ratio(r.CPUPerM, g.CPUPerM),
			g.P99, r.P99, mib(g.PeakRSS), mib(r.PeakRSS), dlr)
	}
}

func ratio(a, b float64) string {
	if b <= 0 {
		return ""
	}
	return fmt.Sprintf("%.2f", a/b)
}

func (b *bench) findShape(mode, path string, conns, window int, offered float64) (group, bool) {
	for _, g := range b.groups() {
		if g.Mode == mode && g.Path == path && g.Conns == conns && g.Window == window && g.Offered == offered {
			return g, true
		}
	}
	return group{}, false
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

// results is the file write saves and -rerender reads.
type results struct {
	Started   time.Time   `json:"started"`
	Args      []string    `json:"args"`
	Reference string      `json:"reference,omitempty"` // what -reference resolved to
	RefNote   string      `json:"reference_note,omitempty"`
	Rows      []row       `json:"runs"`
	Idle      []idlePoint `json:"idle"`
}

// rerender reads a results.json and writes results.md and the plots
// again under o.out, without running anything.
func (b *bench) rerender(path string, stdout io.Writer) error {
	js, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var res results
	if err := json.Unmarshal(js, &res); err != nil {
		return err
	}
	b.rows, b.idle, b.refNote = res.Rows, res.Idle, res.RefNote
	head := fmt.Sprintf("Run %s, re-rendered from %s.\nCommand: `go run ./bench %s`\n", res.Started.Format("2006-01-02 15:04 MST"), path, strings.Join(res.Args, " "))
	if res.Reference != "" {
		head += "Reference: " + res.Reference + ".\n"
	}
	head += "\n"
	md := head + b.markdown()
	fmt.Fprint(stdout, md)
	if err := os.WriteFile(filepath.Join(b.o.out, "results.md"), []byte(md), 0o644); err != nil {
		return err
	}
	return b.plots()
}

// write saves results.json, results.md and the plots under o.out, and
// prints the markdown.
func (b *bench) write(stdout io.Writer, started time.Time) error {
	md := b.markdown()
	host, _ := os.Hostname()
	head := fmt.Sprintf("Run %s (%v), %s/%s, %d CPUs, %s, host %s.\nCommand: `%s`\n",
		started.Format("2006-01-02 15:04 MST"), time.Since(started).Round(time.Second), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), host, strings.TrimSpace("go run ./bench "+strings.Join(os.Args[1:], " ")))
	if b.ref != nil {
		head += "Reference: " + b.ref.name + ": " + b.ref.desc + ".\n"
	}
	head += "\n"
	fmt.Fprint(stdout, head+md)
	if b.o.out == "" {
		return nil
	}
	if err := os.MkdirAll(b.o.out, 0o755); err != nil {
		return err
	}
	res := results{Started: started, Args: os.Args[1:], RefNote: b.refNote, Rows: b.rows, Idle: b.idle}
	if b.ref != nil {
		res.Reference = b.ref.name + ": " + b.ref.desc
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.o.out, "results.json"), js, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.o.out, "results.md"), []byte(head+md), 0o644); err != nil {
		return err
	}
	return b.plots()
}

// series is one line of a plot: x and y per point, sorted by x.
type series struct {
	name string
	xy   plotter.XYs
}

// plots writes one PNG per mode that ran: throughput and p99 against load.
func (b *bench) plots() error {
	gs := b.groups()
	by := func(mode string, x func(group) float64, y func(group) float64, paths ...string) []series {
		var out []series
		for _, p := range paths {
			s := series{name: b.seriesName(mode, p)}
			for _, g := range gs {
				if g.Mode == mode && g.Path == p && (mode != "proxy" || g.Conns == b.o.conns || g.Offered > 0) {
					s.xy = append(s.xy, plotter.XY{X: x(g), Y: y(g)})
				}
			}
			slices.SortFunc(s.xy, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
			if len(s.xy) > 0 {
				out = append(out, s)
			}
		}
		return out
	}
	load := func(g group) float64 { // offered rate; a closed loop carries what it achieved
		if g.Offered > 0 {
			return g.Offered
		}
		return g.Throughput
	}
	thr := func(g group) float64 { return g.Throughput }
	p99 := func(g group) float64 { return g.P99 }
	conns := func(g group) float64 { return float64(g.Conns) }
	type fig struct {
		file, title, xlabel string
		logX                bool
		x                   func(group) float64
		paths               []string
	}
	figs := []fig{
		{"proxy.png", "proxy: submit_sm, no receipts", "offered load, msg/s (rightmost: closed loop)", false, load, []string{"direct", "mux", refPath}},
		{"receipts.png", "receipts: every submit asks for a receipt", "offered load, msg/s (rightmost: closed loop)", false, load, []string{"direct", "mux-bolt", "mux-memory", refPath}},
		{"scaling.png", "scaling: closed loop as client binds grow", "client binds", true, conns, []string{"direct", "mux", refPath}},
	}
	for _, f := range figs {
		tp := by(f.file[:len(f.file)-4], f.x, thr, f.paths...)
		if len(tp) == 0 {
			continue
		}
		lp := by(f.file[:len(f.file)-4], f.x, p99, f.paths...)
		p1 := newPlot(f.title, f.xlabel, "throughput, msg/s", f.logX, false)
		p2 := newPlot(f.title, f.xlabel, "p99 latency, ms (log)", f.logX, true)
		if err := addSeries(p1, tp); err != nil {
			return err
		}
		if err := addSeries(p2, lp); err != nil {
			return err
		}
		if err := savePair(filepath.Join(b.o.out, f.file), p1, p2); err != nil {
			return err
		}
	}
	return b.idlePlot()
}

// seriesName labels a path in a plot; a mux path carries its closed-loop
// throughput ratio to the reference.
func (b *bench) seriesName(mode, path string) string {
	for _, g := range b.groups() {
		if g.Mode != mode || g.Path != path || g.Offered != 0 {
			continue
		}
		if r, ok := b.refFor(g); ok && r.Throughput > 0 {
			mt, rt := g.Throughput, r.Throughput
			if mode == "receipts" {
				mt, rt = g.EndToEnd, r.EndToEnd
			}
			return fmt.Sprintf("%s (%s x reference, %dx%d closed loop)", path, ratio(mt, rt), g.Conns, g.Window)
		}
		break
	}
	return path
}

// idlePlot draws RSS against idle binds for each path, and the mux's Go
// heap and stacks.
func (b *bench) idlePlot() error {
	if len(b.idle) < 2 {
		return nil
	}
	p := newPlot("idle: RSS with downstream binds held open", "downstream binds", "MiB", false, false)
	var rss, refRSS, heap, stack plotter.XYs
	for _, pt := range b.idle {
		x := float64(pt.Binds)
		if pt.Path == refPath {
			refRSS = append(refRSS, plotter.XY{X: x, Y: mib(pt.RSS)})
			continue
		}
		rss = append(rss, plotter.XY{X: x, Y: mib(pt.RSS)})
		heap = append(heap, plotter.XY{X: x, Y: mib(pt.HeapInuse)})
		stack = append(stack, plotter.XY{X: x, Y: mib(pt.StackInuse)})
	}
	args := []any{b.idleName("mux"), rss, "mux: Go heap in use", heap, "mux: goroutine stacks", stack}
	if len(refRSS) > 0 {
		args = append(args, b.idleName(refPath), refRSS)
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return err
	}
	p.Legend.Top, p.Legend.Left = true, true
	return p.Save(6*vg.Inch, 4*vg.Inch, filepath.Join(b.o.out, "idle.png"))
}

// idleName labels a path's RSS line with its RSS per bind.
func (b *bench) idleName(path string) string {
	first, last, ok := b.idleEnds(path)
	if !ok {
		return path + ": RSS"
	}
	return fmt.Sprintf("%s: RSS (%.1f KiB per bind)", path, perBind(first, last)/1024)
}

func newPlot(title, x, y string, logX, logY bool) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Add(plotter.NewGrid())
	if logX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	if logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	p.Legend.Top, p.Legend.Left = true, true
	return p
}

func addSeries(p *plot.Plot, ss []series) error {
	var args []any
	for _, s := range ss {
		xy := s.xy
		if p.Y.Scale != nil {
			if _, ok := p.Y.Scale.(plot.LogScale); ok { // log axes cannot show 0
				xy = slices.Clone(xy)
				for i := range xy {
					xy[i].Y = max(xy[i].Y, 0.001)
				}
			}
		}
		args = append(args, s.name, xy)
	}
	return plotutil.AddLinePoints(p, args...)
}

// savePair draws two plots side by side into one PNG.
func savePair(path string, a, b *plot.Plot) error {
	img := vgimg.New(12*vg.Inch, 4.5*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Inch / 4, PadY: vg.Inch / 8, PadTop: vg.Inch / 8, PadBottom: vg.Inch / 8, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 8}
	cs := plot.Align([][]*plot.Plot{{a, b}}, tiles, dc)
	a.Draw(cs[0][0])
	b.Draw(cs[0][1])
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
