package httpkit

import (
	"net/http"
	"net/textproto"
	"strings"
)

// CookieValue returns the value of the first cookie called name in h, or
// "", as (*http.Request).Cookie reads it (FuzzCookieValue holds the two to
// the same answer), but without building a Cookie for every one sent: it
// runs on every request. name must be a valid cookie name.
func CookieValue(h http.Header, name string) string {
	lines := h["Cookie"]
	count := 0
	for _, line := range lines {
		count += strings.Count(line, ";") + 1
	}
	if count > maxCookies {
		return ""
	}
	for _, line := range lines {
		for rest := textproto.TrimString(line); rest != ""; {
			var part string
			part, rest, _ = strings.Cut(rest, ";")
			n, v, _ := strings.Cut(textproto.TrimString(part), "=")
			if textproto.TrimString(n) != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if validCookieValue(v) {
				return v
			}
		}
	}
	return ""
}

// maxCookies is net/http's limit (its GODEBUG httpcookiemaxnum default):
// a request with more cookies has none.
const maxCookies = 3000

func validCookieValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < 0x20 || b >= 0x7f || b == '"' || b == ';' || b == '\\' {
			return false
		}
	}
	return true
}

// RemoveCookie removes every cookie called name from h's Cookie lines,
// keeping the others as sent.
func RemoveCookie(h http.Header, name string) {
	lines, ok := h["Cookie"]
	if !ok {
		return
	}
	var kept []string
	for _, line := range lines {
		if !strings.Contains(line, name) {
			kept = append(kept, line)
			continue
		}
		var b strings.Builder
		for part := range strings.SplitSeq(line, ";") {
			part = textproto.TrimString(part)
			// Trimmed as net/http trims it, so that whatever it would
			// read as the session cookie goes.
			if n, _, _ := strings.Cut(part, "="); textproto.TrimString(n) == name || part == "" {
				continue
			}
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(part)
		}
		if b.Len() > 0 {
			kept = append(kept, b.String())
		}
	}
	if len(kept) == 0 {
		delete(h, "Cookie")
	} else {
		h["Cookie"] = kept
	}
}
