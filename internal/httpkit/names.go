package httpkit

import (
	"net/http"
	"strings"
)

// ValidPath reports whether p is a path of one or more plain segments
// (letters, digits, -, _, . and ~), like /auth: fit for a mount.
func ValidPath(bp string) bool {
	bp = strings.TrimSuffix(bp, "/")
	if !strings.HasPrefix(bp, "/") || len(bp) < 2 {
		return false
	}
	for _, seg := range strings.Split(bp[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !(c == '-' || c == '_' || c == '.' || c == '~' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
				return false
			}
		}
	}
	return true
}

// reservedHeaders may not be identity headers: stripping them from every
// request would break the protocol or sign-in itself.
var reservedHeaders = map[string]bool{
	"Authorization": true, "Connection": true, "Content-Length": true, "Content-Type": true,
	"Cookie": true, "Host": true, "Keep-Alive": true, "Proxy-Authorization": true, "Proxy-Connection": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true, "Origin": true,
	"Accept": true, "Sec-Fetch-Site": true, "X-Forwarded-For": true, "X-Forwarded-Proto": true,
	"X-Forwarded-Host": true, "Forwarded": true,
}

// ValidHeaderName reports whether s may name a header passgate sets or
// removes: letters, digits and -, and not one HTTP or sign-in needs.
func ValidHeaderName(s string) bool {
	if reservedHeaders[http.CanonicalHeaderKey(s)] {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return s != ""
}

// ValidCookieName is ValidHeaderName, with _ allowed.
func ValidCookieName(s string) bool {
	return ValidHeaderName(strings.ReplaceAll(s, "_", "-"))
}
