package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smpp-mux/smpp-mux/internal/esme"
	"github.com/smpp-mux/smpp-mux/internal/eventually"
	"github.com/smpp-mux/smpp-mux/mux"
)

// chromium returns the path of a Chromium binary. Without one the test
// is skipped, except in CI (env CI set), where it fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found; CI installs it with: apt-get install -y chromium chromium-driver")
	}
	t.Skip("chromium not found (apt-get install -y chromium chromium-driver)")
	return ""
}

// headless runs Chromium headless on url with extra flags and returns its
// stdout, within 60s.
func headless(t *testing.T, bin, url string, extra ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=3000",
	}, extra...)
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", extra, err, stderr.Bytes())
	}
	return stdout.Bytes()
}

// TestPageInBrowser loads the status page in headless Chromium and
// checks the DOM after the page's script has redrawn it from /status:
// first with a client bound, a plugin rule counting calls and two of the
// client's binds refused; then with the provider's host stopped, when
// the upstream session is down and says why. Set SMPP_MUX_PAGE_PNG to a
// file name to keep the screenshot of the second state (the one in
// docs/status-page.png).
func TestPageInBrowser(t *testing.T) {
	bin := chromium(t)
	r := startRigWith(t, "", pluginRule(pluginBin(t)), nil)
	c := r.bind(t, "shop")
	for range 3 {
		submitOK(t, c)
	}
	for range 2 {
		if c, err := esme.Dial(r.m.Addrs()[0].String(), "shop", "wrong", esme.Options{}); err == nil {
			c.Close()
			t.Fatal("a bind with the wrong password was accepted")
		}
	}

	dom, n := drawn(t, bin, r.base+"/")
	for _, want := range []string{
		"<td>shop</td>", "<td>transceiver</td>", "<td>" + r.sim.Addr() + "</td>", ">bound</span>", "1/1 upstream bound",
		`<td class="hot">wrong_password 2</td>`,           // the client's refused binds
		"<td>wrong_password</td><td class=\"num\">2</td>", // and all refused binds by reason
		"<td>plugin</td><td class=\"num\">3</td>",         // the rule's calls
		"ESME_ROK 3", " ms</td>", "go1.", ", up ",
	} {
		if !strings.Contains(dom, want) {
			t.Fatalf("DOM lacks %q:\n%s", want, dom)
		}
	}
	if n >= 2 && !regexp.MustCompile(`<td class="num">\d+\.\d</td>`).MatchString(dom) {
		t.Fatalf("two snapshots but no rate drawn:\n%s", dom)
	}

	r.sim.StopHost(0)
	eventually.That(t, 10*time.Second, "the stopped host's session reports connect_failed", func() bool {
		var st mux.Status
		_, body := get(t, r.base+"/status")
		return json.Unmarshal([]byte(body), &st) == nil && len(st.Upstream) == 1 && st.Upstream[0].LastErrorKind == "connect_failed"
	})
	dom, _ = drawn(t, bin, r.base+"/")
	for _, want := range []string{">down</span>", "0/1 upstream bound", `<span class="why">connect failed</span>`, "connection refused"} {
		if !strings.Contains(dom, want) {
			t.Fatalf("DOM with the host stopped lacks %q:\n%s", want, dom)
		}
	}

	png := filepath.Join(t.TempDir(), "page.png")
	headless(t, bin, r.base+"/", "--screenshot="+png, "--window-size=1280,1240", "--hide-scrollbars")
	b, err := os.ReadFile(png)
	if err != nil || len(b) < 1000 || !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot: %d bytes, %v", len(b), err)
	}
	if keep := os.Getenv("SMPP_MUX_PAGE_PNG"); keep != "" {
		if err := os.WriteFile(keep, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// drawn returns the page's DOM once its script has drawn /status, and
// how many times it did (from 2, rates are drawn too).
func drawn(t *testing.T, bin, url string) (string, int) {
	t.Helper()
	dom := string(headless(t, bin, url, "--dump-dom"))
	m := regexp.MustCompile(`data-refreshed="(\d+)"`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the page's script never drew /status:\n%s", dom)
	}
	n, _ := strconv.Atoi(m[1])
	return dom, n
}
