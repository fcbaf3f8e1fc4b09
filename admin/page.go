package admin

import (
	"bytes"
	"cmp"
	"embed"
	"html/template"
	"net/http"
	"slices"
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
	Upstream   []mux.UpstreamStatus
	Downstream []mux.DownstreamStatus
	Queues     []queueRow
	Held       int
	Traffic    []trafficRow
}

type queueRow struct {
	Client string
	Queued int
}

type trafficRow struct {
	Name  string
	Total uint64
}

func newPageData(sb statusBody) pageData {
	st, c := sb.Status, sb.Counters
	d := pageData{
		Updated:    time.UnixMilli(c.At).Format("15:04:05"),
		Upstream:   slices.Clone(st.Upstream),
		Downstream: slices.Clone(st.Downstream),
		Held:       st.Held,
	}
	for _, u := range d.Upstream {
		if u.State == "bound" {
			d.Bound++
		}
	}
	slices.SortFunc(d.Upstream, func(a, b mux.UpstreamStatus) int {
		return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(a.Session, b.Session))
	})
	slices.SortFunc(d.Downstream, func(a, b mux.DownstreamStatus) int {
		return cmp.Or(cmp.Compare(a.SystemID, b.SystemID), cmp.Compare(a.Session, b.Session))
	})
	// A bound client with nothing queued still gets its row.
	queued := map[string]int{}
	for _, b := range st.Downstream {
		queued[b.SystemID] = 0
	}
	for cl, n := range st.Queued {
		queued[cl] = n
	}
	for cl, n := range queued {
		d.Queues = append(d.Queues, queueRow{Client: cl, Queued: n})
	}
	slices.SortFunc(d.Queues, func(a, b queueRow) int { return cmp.Compare(a.Client, b.Client) })
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
