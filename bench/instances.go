package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/smpp-mux/smpp-mux/sim"
)

// The instances mode: one and two mux processes on one redis-server and
// one simulated provider account, interleaved.
const (
	// instancesPaced is the total offered rate of the paced runs, where
	// the issue sets its target of Redis commands per message.
	instancesPaced = 2000
	// instancesFsync is Redis's appendfsync: the documented
	// recommendation (store/redis doc), a crash may lose the last second.
	instancesFsync = "everysec"
	// instancesAccount is the provider account every instance binds.
	instancesAccount = "fleet"
	// instancesDLRCap bounds -dlr-cap here: the messages a bind may have
	// awaiting their receipt. With the receipts mode's 2,048 the 16 binds
	// hold ~4 s of receipts at this mode's rates, and a 4 s window sees
	// the backlog fill rather than the steady state it should measure.
	instancesDLRCap = 256
)

// instRow is one run of the instances mode.
type instRow struct {
	Instances int     `json:"instances"`
	Offered   float64 `json:"offered"` // submits/s; 0: closed loop
	Rep       int     `json:"rep"`
	*LoadResult
	Msgs         float64            `json:"msgs"` // in the measure window: (submits answered + receipts at their originator) / 2
	MuxCPUPerM   float64            `json:"mux_cpu_s_per_million"`
	RedisCPUPerM float64            `json:"redis_cpu_s_per_million"`
	HarnessPerM  float64            `json:"harness_cpu_s_per_million"` // clients, simulator and proxy: this process
	ExecPerMsg   float64            `json:"redis_executed_per_msg"`    // INFO commandstats, script commands included
	SentPerMsg   float64            `json:"redis_sent_per_msg"`        // counted by the proxy; paced runs only
	Commands     map[string]cmdStat `json:"commands"`                  // delta over the measure window
}

// instances: every submit asks for a receipt; the simulator sends the
// receipts over every bind of the one account, round-robin, so that with
// two instances half of them reach the instance whose client did not
// send the message. One and two instances alternate, closed loop, then
// paced at instancesPaced msg/s in all. Redis is flushed and the muxes
// started afresh for every run.
func (b *bench) instances(stdout io.Writer) error {
	rs, err := startRedis(b.dir, instancesFsync)
	if err != nil {
		return err
	}
	defer rs.stop()
	s, err := startSim(sim.Config{Window: b.o.simWindow, DLRDelay: b.o.dlrDelay, MaxPending: 1 << 22})
	if err != nil {
		return err
	}
	defer s.close()
	var rows []instRow
	for _, rate := range []float64{0, instancesPaced} {
		for rep := range b.o.reps {
			for _, n := range []int{1, 2} {
				r, err := b.instRun(rs, s, n, rate, rep)
				if err != nil {
					return err
				}
				rows = append(rows, r)
				if b.ctx.Err() != nil {
					return b.ctx.Err()
				}
			}
		}
	}
	fmt.Fprint(stdout, instMarkdown(rows))
	return nil
}

// instRun runs one load against n fresh muxes on the flushed Redis;
// paced runs reach Redis through a proxy that counts the commands sent.
func (b *bench) instRun(rs *redisProc, s *simHosts, n int, rate float64, rep int) (instRow, error) {
	if err := rs.flush(b.ctx); err != nil {
		return instRow{}, err
	}
	redisAddr := rs.addr
	var px *cmdProxy
	if rate > 0 {
		var err error
		if px, err = startProxy(rs.addr); err != nil {
			return instRow{}, err
		}
		defer px.close()
		redisAddr = px.addr()
	}
	muxes := make([]*muxProc, 0, n)
	defer func() {
		for _, mp := range muxes {
			mp.stop()
		}
	}()
	var addrs []string
	for i := range n {
		name := fmt.Sprintf("inst-%d-%c-%d", n, 'a'+i, time.Now().UnixNano())
		var cfg bytes.Buffer
		err := muxTOML.Execute(&cfg, muxConfig{
			Account: instancesAccount, Store: "redis",
			StoreKeys: fmt.Sprintf("url = %q\nprefix = \"bench\"\njournal = %q\ntrace = %t",
				"redis://"+redisAddr+"/0", filepath.Join(b.dir, name+".journal"), b.o.trace),
			SimAddrs: s.addrs, SessionsPerHost: b.o.sessions, UpWindow: b.o.upWindow, DownWindow: b.o.downWindow,
			Clients: b.o.conns, MaxBinds: 1, MaxConnections: 1000,
		})
		if err != nil {
			return instRow{}, err
		}
		mp, err := launchMux(b.dir, name, cfg.Bytes(), len(s.addrs)*b.o.sessions)
		if err != nil {
			return instRow{}, err
		}
		muxes = append(muxes, mp)
		addrs = append(addrs, mp.addr)
	}
	sp := b.spec(addrs, b.o.conns, b.o.window) // bind i goes to instance i mod n
	sp.receipts, sp.dlrCap, sp.drain, sp.rate = true, min(b.o.dlrCap, instancesDLRCap), b.o.dlrDrain, rate

	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(b.ctx)
	defer cancel()
	muxCPU := make([]time.Duration, n)
	var redisCPU, selfCPUd time.Duration
	var stats0, stats1 map[string]cmdStat
	var statsErr error
	var sent int64
	sp.onWindow = func(t0, t1 time.Time) {
		for i, mp := range muxes {
			wg.Go(func() { muxCPU[i] = sampleCPU(ctx, t0, t1, mp.cpu) })
			if prof := b.profilePath(fmt.Sprintf("mux-instances-%d-%c", n, 'a'+i)); prof != "" && rep == 0 && rate == 0 {
				wg.Go(func() { profileWindow(ctx, mp, prof, t0, t1, b.logf) })
			}
		}
		wg.Go(func() { redisCPU = sampleCPU(ctx, t0, t1, rs.cpu) })
		wg.Go(func() { selfCPUd = sampleCPU(ctx, t0, t1, selfCPU) })
		wg.Go(func() {
			sleepUntil(ctx, t0)
			var c0 int64
			if px != nil {
				c0 = px.cmds.Load()
			}
			stats0, statsErr = rs.commandStats(ctx)
			sleepUntil(ctx, t1)
			if px != nil {
				sent = px.cmds.Load() - c0
			}
			if statsErr == nil {
				stats1, statsErr = rs.commandStats(ctx)
			}
		})
	}
	res, err := sp.run(b.ctx)
	cancel()
	wg.Wait()
	if err != nil {
		return instRow{}, fmt.Errorf("instances %d: %w", n, err)
	}
	if statsErr != nil {
		return instRow{}, fmt.Errorf("instances %d: INFO commandstats: %w", n, statsErr)
	}
	// A message costs its submit and its receipt; in a closed loop the
	// window may hold more of one than of the other (binds fill their
	// receipt allowance first), so a message is counted as half of each.
	msgs := (float64(res.OK) + res.DLRRate*b.o.duration.Seconds()) / 2
	r := instRow{Instances: n, Offered: rate, Rep: rep, LoadResult: res, Msgs: msgs, Commands: statsDelta(stats0, stats1)}
	if r.Msgs > 0 {
		var cpu time.Duration
		for _, c := range muxCPU {
			cpu += c
		}
		var calls int64
		for _, st := range r.Commands {
			calls += st.Calls
		}
		r.MuxCPUPerM = cpu.Seconds() / r.Msgs * 1e6
		r.RedisCPUPerM = redisCPU.Seconds() / r.Msgs * 1e6
		r.HarnessPerM = selfCPUd.Seconds() / r.Msgs * 1e6
		r.ExecPerMsg = float64(calls) / r.Msgs
		if px != nil {
			r.SentPerMsg = float64(sent) / r.Msgs
		}
	}
	b.logInst(r)
	return r, nil
}

// profileWindow takes a CPU profile of mp over [t0, t1).
func profileWindow(ctx context.Context, mp *muxProc, path string, t0, t1 time.Time, logf func(string, ...any)) {
	sleepUntil(ctx, t0)
	if _, err := mp.command("cpuprofile " + path); err != nil {
		logf("cpuprofile: %v", err)
		return
	}
	sleepUntil(ctx, t1)
	_, _ = mp.command("cpuprofile-stop")
}

func (b *bench) logInst(r instRow) {
	offered := "closed"
	if r.Offered > 0 {
		offered = fmt.Sprintf("%.0f/s", r.Offered)
	}
	line := fmt.Sprintf("instances %d %-7s e2e=%.0f/s dlr=%.0f/s submit=%.0f/s p50=%.2fms p99=%.2fms right=%d wrong=%d unknown=%d missing=%d dup=%d err=%d"+
		" mux=%.2f redis=%.2f harness=%.2f cpu-s/M redis cmds/msg executed=%.2f",
		r.Instances, offered, r.EndToEnd, r.DLRRate, r.Throughput, r.P50, r.P99, r.DLRRight, r.DLRWrong, r.DLRUnknown, r.DLRMissing, r.DLRDup, r.Errors,
		r.MuxCPUPerM, r.RedisCPUPerM, r.HarnessPerM, r.ExecPerMsg)
	if r.SentPerMsg > 0 {
		line += fmt.Sprintf(" sent=%.2f", r.SentPerMsg)
	}
	if r.Unanswered > 0 || r.ConnFailures > 0 {
		line += fmt.Sprintf(" unanswered=%d connfail=%d", r.Unanswered, r.ConnFailures)
	}
	b.logf("%s", line)
	b.logf("          per msg: %s", commandsLine(r.Commands, r.Msgs))
}

// commandsLine lists commands by calls per message, most first, with
// Redis's time in them in µs per message (commandstats usec: a script's
// includes that of the commands it runs, which count again on their own).
func commandsLine(cmds map[string]cmdStat, msgs float64) string {
	if msgs <= 0 {
		return ""
	}
	names := slices.Collect(maps.Keys(cmds))
	slices.SortFunc(names, func(a, b string) int { return int(cmds[b].Calls - cmds[a].Calls) })
	var sb strings.Builder
	for _, k := range names {
		fmt.Fprintf(&sb, "%s=%.2f(%.1fµs) ", k, float64(cmds[k].Calls)/msgs, cmds[k].Usec/msgs)
	}
	return strings.TrimSpace(sb.String())
}

// instMarkdown is the medians of the runs, by rate and instances, and
// the 2-instance / 1-instance ratios.
func instMarkdown(rows []instRow) string {
	type key struct {
		offered float64
		n       int
	}
	by := map[key][]instRow{}
	var order []key
	for _, r := range rows {
		k := key{r.Offered, r.Instances}
		if _, ok := by[k]; !ok {
			order = append(order, k)
		}
		by[k] = append(by[k], r)
	}
	med := func(rs []instRow, f func(instRow) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		return median(v)
	}
	var sb strings.Builder
	sb.WriteString("| offered | instances | n | e2e msg/s (runs) | p50 / p99 submit ms | mux CPU s/M | Redis CPU s/M | harness CPU s/M | Redis cmds/msg sent | executed | right / wrong / unknown / missing / dup |\n")
	sb.WriteString("| --- | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n")
	for _, k := range order {
		rs := by[k]
		offered := "closed loop"
		if k.offered > 0 {
			offered = fmt.Sprintf("%.0f/s", k.offered)
		}
		var runs []string
		var right, wrong, unknown, missing, dup uint64
		for _, r := range rs {
			runs = append(runs, fmt.Sprintf("%.0f", r.EndToEnd))
			right, wrong, unknown, missing, dup = right+r.DLRRight, wrong+r.DLRWrong, unknown+r.DLRUnknown, missing+r.DLRMissing, dup+r.DLRDup
		}
		sent := "-"
		if k.offered > 0 {
			sent = fmt.Sprintf("%.2f", med(rs, func(r instRow) float64 { return r.SentPerMsg }))
		}
		fmt.Fprintf(&sb, "| %s | %d | %d | %.0f (%s) | %.2f / %.2f | %.2f | %.2f | %.2f | %s | %.2f | %d / %d / %d / %d / %d |\n",
			offered, k.n, len(rs), med(rs, func(r instRow) float64 { return r.EndToEnd }), strings.Join(runs, ", "),
			med(rs, func(r instRow) float64 { return r.P50 }), med(rs, func(r instRow) float64 { return r.P99 }),
			med(rs, func(r instRow) float64 { return r.MuxCPUPerM }), med(rs, func(r instRow) float64 { return r.RedisCPUPerM }),
			med(rs, func(r instRow) float64 { return r.HarnessPerM }),
			sent, med(rs, func(r instRow) float64 { return r.ExecPerMsg }),
			right, wrong, unknown, missing, dup)
	}
	one, two := by[key{0, 1}], by[key{0, 2}]
	var ratios []float64
	for i := range min(len(one), len(two)) { // the runs of one repetition, side by side
		if one[i].EndToEnd > 0 {
			ratios = append(ratios, two[i].EndToEnd/one[i].EndToEnd)
		}
	}
	if len(ratios) > 0 {
		fmt.Fprintf(&sb, "\nClosed loop, 2 instances / 1 instance, msg/s end to end: median %.2f x (per repetition %s).\n",
			median(ratios), fmtList(ratios, "%.2f"))
	}
	return sb.String()
}

func fmtList(v []float64, format string) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(s, ", ")
}
