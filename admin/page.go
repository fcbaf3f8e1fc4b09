package admin

import (
	"bytes"
	"cmp"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/smpp-mux/smpp-mux/mux"
)

//go:embed page.html
var pageFS embed.FS

// pageTmpl is the status page. Its script redraws the same tables from
// /status every 2s; the server renders the first state so the page reads
// without JavaScript too.
var pageTmpl = template.Must(template.ParseFS(pageFS, "page.html"))

// pageData is what page.html renders: one snapshot, sorted for people.
type pageData struct {
	Updated    string // server time of the snapshot
	Bound      int    // upstream sessions bound
	Build      buildInfo
	Uptime     string
	Upstream   []upstreamRow
	Hosts      []hostRow
	Clients    []clientRow
	Downstream []mux.DownstreamStatus
	Refusals   []trafficRow
	Lockouts   uint64
	Rules      []ruleRow
	Held       int
	Traffic    []trafficRow
}

type upstreamRow struct {
	mux.UpstreamStatus
	SinceText string // "05:01:02 (3m12s)"
	ErrWhat   string // "bind refused ESME_RINVPASWD", "connect failed", ...
	ErrAt     string
}

type hostRow struct {
	Host           string
	RoundTrips     uint64
	Mean, P50, P99 string
	Answers        string // "ESME_ROK 10 · ESME_RTHROTTLED 2"
}

type clientRow struct {
	Client       string
	Binds        int
	Submits      uint64
	Errors       uint64
	Refused      uint64 // deliveries the client answered with an error
	Queued       int
	BindsRefused string // "wrong_password 3 · max_binds 1"
}

type ruleRow struct {
	Client                  string
	Rule                    int
	Module                  string
	Calls, Errors, Restarts uint64
	Other                   string // any other events, "name n · ..."
}

type trafficRow struct {
	Name  string
	Total uint64
}

func newPageData(sb statusBody) pageData {
	st, c := sb.Status, sb.Counters
	now := time.UnixMilli(c.At)
	d := pageData{
		Updated:    now.Format("15:04:05"),
		Build:      sb.Build,
		Uptime:     age(time.Duration(sb.Build.Uptime) * time.Second),
		Downstream: slices.Clone(st.Downstream),
		Held:       st.Held,
		Lockouts:   c.Lockouts,
	}
	for _, u := range st.Upstream {
		if u.State == "bound" {
			d.Bound++
		}
		r := upstreamRow{UpstreamStatus: u}
		if !u.Since.IsZero() {
			r.SinceText = u.Since.Format("15:04:05") + " (" + age(now.Sub(u.Since)) + ")"
		}
		if u.LastError != "" {
			r.ErrWhat = strings.TrimSpace(strings.ReplaceAll(u.LastErrorKind, "_", " ") + " " + u.LastErrorStatus)
			r.ErrAt = u.LastErrorAt.Format("15:04:05") + " (" + age(now.Sub(u.LastErrorAt)) + " ago)"
		}
		d.Upstream = append(d.Upstream, r)
	}
	slices.SortFunc(d.Upstream, func(a, b upstreamRow) int {
		return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(a.Session, b.Session))
	})
	for host, h := range c.Hosts {
		r := hostRow{Host: host, RoundTrips: h.RoundTrips, Mean: ms(h.MeanMs, h.RoundTrips), P50: ms(h.P50Ms, h.RoundTrips), P99: ms(h.P99Ms, h.RoundTrips)}
		r.Answers = joinCounts(h.Responses, answerOrder(h.Responses))
		d.Hosts = append(d.Hosts, r)
	}
	slices.SortFunc(d.Hosts, func(a, b hostRow) int { return cmp.Compare(a.Host, b.Host) })
	slices.SortFunc(d.Downstream, func(a, b mux.DownstreamStatus) int {
		return cmp.Or(cmp.Compare(a.SystemID, b.SystemID), cmp.Compare(a.Session, b.Session))
	})
	binds := map[string]int{}
	for _, b := range st.Downstream {
		binds[b.SystemID]++
	}
	for id, cl := range c.Clients {
		r := clientRow{Client: id, Binds: binds[id], Submits: cl.Submits, Errors: cl.Errors, Queued: st.Queued[id]}
		for _, v := range cl.Refused {
			r.Refused += v
		}
		r.BindsRefused = joinCounts(cl.BindsRefused, sortedKeys(cl.BindsRefused))
		d.Clients = append(d.Clients, r)
	}
	slices.SortFunc(d.Clients, func(a, b clientRow) int { return cmp.Compare(a.Client, b.Client) })
	for _, reason := range sortedKeys(c.BindsRefused) {
		d.Refusals = append(d.Refusals, trafficRow{reason, c.BindsRefused[reason]})
	}
	for _, rh := range c.Rules {
		r := ruleRow{Client: rh.Client, Rule: rh.Rule, Module: rh.Module, Calls: rh.Events["calls"], Errors: rh.Events["errors"], Restarts: rh.Events["restarts"]}
		other := map[string]uint64{}
		for ev, v := range rh.Events {
			if ev != "calls" && ev != "errors" && ev != "restarts" {
				other[ev] = v
			}
		}
		r.Other = joinCounts(other, sortedKeys(other))
		d.Rules = append(d.Rules, r)
	}
	d.Traffic = append(d.Traffic, trafficRow{"submit_sm received", c.Submits})
	for _, s := range answerOrder(c.Answers) {
		d.Traffic = append(d.Traffic, trafficRow{"answered " + s, c.Answers[s]})
	}
	d.Traffic = append(d.Traffic,
		trafficRow{"receipts stored", c.Reports},
		trafficRow{"MOs stored", c.MOs},
		trafficRow{"deliver_sm acknowledged", c.Delivered})
	return d
}

// age is d for people: "45s", "3m12s", "5h03m", "2d04h"; the page's
// script writes the same.
func age(d time.Duration) string {
	s := int64(max(d, 0) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
}

// ms formats milliseconds, or "–" when nothing was measured.
func ms(v float64, n uint64) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f ms", v)
}

// joinCounts writes counts as "name n · name n" in the order of names.
func joinCounts(counts map[string]uint64, names []string) string {
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %d", n, counts[n]))
	}
	return strings.Join(parts, " · ")
}

func sortedKeys(m map[string]uint64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// answerOrder lists command_status names ESME_ROK first, then by name,
// the order the page's script uses too.
func answerOrder(answers map[string]uint64) []string {
	out := make([]string, 0, len(answers))
	for s := range answers {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b string) int {
		return cmp.Or(-cmp.Compare(boolInt(a == "ESME_ROK"), boolInt(b == "ESME_ROK")), cmp.Compare(a, b))
	})
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *Server) page(w http.ResponseWriter, _ *http.Request) {
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, newPageData(s.snapshot())); err != nil {
		http.Error(w, "rendering the status page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; connect-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; frame-ancestors 'none'")
	_, _ = buf.WriteTo(w)
}
