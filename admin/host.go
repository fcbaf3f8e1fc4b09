package admin

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// loopbackHost refuses, when the server has no token, every request whose
// Host header is not a loopback name or address, /healthz excepted.
//
// Without a token the listener is on loopback (the config refuses any
// other address), so the only way a request with another Host can reach
// it is through the operator's own browser after a DNS rebinding: a page
// at evil.example whose name now resolves to 127.0.0.1 may POST /reload
// with Host and Origin both evil.example, which cross-origin protection
// alone lets through as same-origin. Requiring a loopback Host closes
// that door; scripts and scrapers that use 127.0.0.1 or localhost see no
// change.
func (s *Server) loopbackHost(next http.Handler) http.Handler {
	if s.opts.Token != "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || isLoopbackHost(r.Host) {
			next.ServeHTTP(w, r)
			return
		}
		writeJSON(w, http.StatusMisdirectedRequest, errorBody{
			Error: "without [admin].token only a loopback Host (127.0.0.1, [::1], localhost) is served",
		})
	})
}

// isLoopbackHost reports whether host, a Host header with or without a
// port, names the loopback interface: an address in 127.0.0.0/8 or ::1,
// or localhost (RFC 6761 §6.3: it always resolves to loopback).
func isLoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
