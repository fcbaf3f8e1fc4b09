package admin_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
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

// TestPageInBrowser loads the status page in headless Chromium while a
// client is bound and checks the DOM after the page's script has redrawn
// it from /status. Set SMPP_MUX_PAGE_PNG to a file name to keep the
// screenshot for a look.
func TestPageInBrowser(t *testing.T) {
	bin := chromium(t)
	r := startRig(t, nil)
	submitOK(t, r.bind(t, "shop"))

	dom := string(headless(t, bin, r.base+"/", "--dump-dom"))
	m := regexp.MustCompile(`data-refreshed="(\d+)"`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the page's script never drew /status:\n%s", dom)
	}
	for _, want := range []string{"<td>shop</td>", "<td>transceiver</td>", "<td>" + r.sim.Addr() + "</td>", ">bound</span>", "1/1 upstream bound"} {
		if !strings.Contains(dom, want) {
			t.Fatalf("DOM after %s refreshes lacks %q:\n%s", m[1], want, dom)
		}
	}
	if n, _ := strconv.Atoi(m[1]); n >= 2 && !regexp.MustCompile(`<td class="num">\d+\.\d</td>`).MatchString(dom) {
		t.Fatalf("two snapshots but no rate drawn:\n%s", dom)
	}

	png := filepath.Join(t.TempDir(), "page.png")
	headless(t, bin, r.base+"/", "--screenshot="+png, "--window-size=1200,800", "--hide-scrollbars")
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
