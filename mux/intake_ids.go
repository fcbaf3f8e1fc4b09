package mux

import (
	"strconv"
	"strings"
)

// IDKey returns the form of a provider message id under which it is
// stored: trimmed, lowercase, leading zeros removed. A submit_sm_resp's
// "0A1B" and a receipt's "a1b" are then the same key.
func IDKey(id string) string {
	id = strings.ToLower(strings.TrimSpace(id))
	k := strings.TrimLeft(id, "0")
	if k == "" && id != "" {
		return "0"
	}
	return k
}

// idCandidates returns the keys a receipt's id may have been stored under:
// its own key, and, when it reads as a number, the same number in the other
// base. Some SMSCs answer submit_sm_resp with a hex id and report it in
// decimal, or the other way round: a classic cause of lost reports.
func idCandidates(id string, dst []string) []string {
	k := IDKey(id)
	dst = append(dst, k)
	if isDigits(k, 10) {
		if v, err := strconv.ParseUint(k, 10, 64); err == nil {
			if h := strconv.FormatUint(v, 16); h != k {
				dst = append(dst, h)
			}
		}
	}
	if isDigits(k, 16) {
		if v, err := strconv.ParseUint(k, 16, 64); err == nil {
			if d := strconv.FormatUint(v, 10); d != k {
				dst = append(dst, d)
			}
		}
	}
	return dst
}

func isDigits(s string, base int) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
		case base == 16 && c >= 'a' && c <= 'f':
		default:
			return false
		}
	}
	return true
}

// NormalizeNumber returns the form of a phone number used to match
// mo_numbers: digits only, without a leading "+" or international "00".
func NormalizeNumber(n string) string {
	var b strings.Builder
	for _, c := range n {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return strings.TrimPrefix(b.String(), "00")
}
