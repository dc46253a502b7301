package caddymodule

import (
	"net/http"
	"strings"
)

// dropFrom removes the session cookie from a request about to go on to the
// next handler, keeping every other cookie. The upstream learns who the
// user is from the identity headers; the session secret is no business of
// its own, and an upstream that logs request headers must not be able to
// leak sessions. It also keeps the proxied request small: forwarding the
// cookie was a measurable part of the hot path's cost.
func (c sessionCookie) dropFrom(h http.Header) {
	lines, ok := h["Cookie"]
	if !ok {
		return
	}
	prefix := c.name + "="
	kept := lines[:0]
	for _, line := range lines {
		if !strings.Contains(line, prefix) {
			kept = append(kept, line)
			continue
		}
		var b strings.Builder
		for part := range strings.SplitSeq(line, ";") {
			pair := strings.TrimSpace(part)
			if pair == "" || strings.HasPrefix(pair, prefix) {
				continue
			}
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(pair)
		}
		if b.Len() > 0 {
			kept = append(kept, b.String())
		}
	}
	if len(kept) == 0 {
		delete(h, "Cookie")
		return
	}
	h["Cookie"] = kept
}
