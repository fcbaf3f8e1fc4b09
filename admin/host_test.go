package admin_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/smpp-mux/smpp-mux/admin"
)

// TestDNSRebindingRefused: without a token, a request whose Host is not
// loopback (what a browser sends after evil.example was rebound to
// 127.0.0.1) changes nothing and reads nothing; the same request with a
// loopback Host, or with the token, is served.
func TestDNSRebindingRefused(t *testing.T) {
	var reloads int
	r := startRig(t, func(r *rig) admin.Options {
		return admin.Options{Reload: func() error { reloads++; return nil }}
	})
	send := func(method, path, host, origin string) int {
		t.Helper()
		return sendHost(t, method, r.base+path, host, origin, "")
	}
	port := r.base[strings.LastIndex(r.base, ":"):]
	for _, tc := range []struct {
		method, path, host, origin string
		want                       int
	}{
		{"POST", "/reload", "evil.example" + port, "http://evil.example" + port, http.StatusMisdirectedRequest},
		{"POST", "/reload", "evil.example", "", http.StatusMisdirectedRequest},
		{"GET", "/status", "evil.example" + port, "", http.StatusMisdirectedRequest},
		{"GET", "/metrics", "127.0.0.1.evil.example" + port, "", http.StatusMisdirectedRequest},
		{"GET", "/", "10.0.0.1" + port, "", http.StatusMisdirectedRequest},
		{"GET", "/healthz", "evil.example" + port, "", http.StatusOK}, // balancers' probe, read-only
		{"GET", "/status", "localhost" + port, "", http.StatusOK},
		{"GET", "/status", "LOCALHOST.", "", http.StatusOK},
		{"GET", "/status", "127.0.0.1" + port, "", http.StatusOK},
		{"GET", "/status", "127.8.9.10", "", http.StatusOK},
		{"GET", "/status", "[::1]" + port, "", http.StatusOK},
		{"POST", "/reload", "127.0.0.1" + port, "", http.StatusOK},
	} {
		if got := send(tc.method, tc.path, tc.host, tc.origin); got != tc.want {
			t.Errorf("%s %s Host %q Origin %q: %d, want %d", tc.method, tc.path, tc.host, tc.origin, got, tc.want)
		}
	}
	if reloads != 1 {
		t.Errorf("%d reloads, want 1 (the loopback one)", reloads)
	}

	// With a token the token decides: the Host is the operator's business
	// (a proxy in front, a scrape by name).
	withToken := startRig(t, func(*rig) admin.Options { return admin.Options{Token: "s3cret"} })
	if code := sendHost(t, "GET", withToken.base+"/status", "mux.example", "", "s3cret"); code != http.StatusOK {
		t.Errorf("with token, Host mux.example: %d, want 200", code)
	}
	if code := sendHost(t, "GET", withToken.base+"/status", "mux.example", "", ""); code != http.StatusUnauthorized {
		t.Errorf("without the token, Host mux.example: %d, want 401", code)
	}
}

// sendHost sends a request with the given Host header, Origin and bearer
// token (each left out when empty) and returns the status code.
func sendHost(t *testing.T, method, url, host, origin, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(`{"level":"debug"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}
