package caddymodule

import (
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// requestOrigin is the origin a browser sent r to, scheme://host[:port] in
// lower case with the scheme's default port left out. The scheme is https
// when r came over TLS, or over plain HTTP from a proxy Caddy trusts
// (`trusted_proxies`) that says X-Forwarded-Proto: https; http otherwise.
// Host and port are the Host header's.
func requestOrigin(r *http.Request) string {
	scheme := requestScheme(r)
	return scheme + "://" + canonicalHostPort(scheme, strings.ToLower(r.Host))
}

func requestScheme(r *http.Request) string {
	if r.TLS != nil || forwardedHTTPS(r) {
		return "https"
	}
	return "http"
}

func forwardedHTTPS(r *http.Request) bool {
	if !fromTrustedProxy(r) {
		return false
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

func fromTrustedProxy(r *http.Request) bool {
	trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool)
	return trusted
}

// sameOrigin refuses state-changing requests a browser sends on behalf of
// another site. Browsers send Origin, Sec-Fetch-Site or both with every
// POST; a client that sends neither is not a browser and so cannot ride on
// a user's cookie. Origin must be this site's (scheme, host and port), or
// extra (link_origin, the origin a TLS-terminating proxy serves this site
// on), and a browser that says the post is cross-site or same-site is
// believed whatever Origin says.
func sameOrigin(r *http.Request, extra string) bool {
	site := r.Header.Get("Sec-Fetch-Site")
	switch site {
	case "", "same-origin", "none":
	default: // cross-site, same-site, or a value no browser sends
		return false
	}
	origins := r.Header.Values("Origin")
	switch {
	case len(origins) == 0 || len(origins) == 1 && origins[0] == "":
		return true
	case len(origins) > 1:
		return false
	case origins[0] == "null":
		// A page served with Referrer-Policy: no-referrer (the magic-link
		// page) makes the browser send "null" even to its own origin; then
		// only Sec-Fetch-Site can vouch for it.
		return site == "same-origin"
	}
	scheme, hostport, err := parseOrigin(origins[0])
	if err != nil || strings.HasSuffix(origins[0], "/") {
		return false
	}
	origin := scheme + "://" + hostport
	return origin == requestOrigin(r) || (extra != "" && origin == extra)
}
