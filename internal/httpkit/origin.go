package httpkit

import (
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// RequestOrigin is the origin a browser sent r to, scheme://host[:port] in
// lower case with the scheme's default port left out. The scheme is https
// when r came over TLS, or over plain HTTP from a proxy Caddy trusts
// (`trusted_proxies`) that says X-Forwarded-Proto: https; http otherwise.
// Host and port are the Host header's: a browser always sends the ones of
// the URL it opened, which a port-forwarding front may map to another
// listener port.
func RequestOrigin(r *http.Request) string {
	scheme := requestScheme(r)
	return scheme + "://" + CanonicalHostPort(scheme, strings.ToLower(r.Host))
}

// LinkOrigin is RequestOrigin with a port that no client chose: Caddy
// matches a site by the Host's name alone, so a port in Host is whatever the
// client claims, and a link made from it could send the token to another
// server on that host. A port that is not the listener's own becomes the
// listener's. A proxy Caddy trusts keeps its Host, since proxies map ports;
// a Host without a port keeps the scheme's default, as a front that maps
// 443 (or 80) to Caddy's port sends it.
func LinkOrigin(r *http.Request) string {
	scheme := requestScheme(r)
	hostport := strings.ToLower(r.Host)
	if host, port, err := net.SplitHostPort(hostport); err == nil && !fromTrustedProxy(r) {
		if listener := listenerPort(r); listener != "" && port != listener {
			hostport = net.JoinHostPort(host, listener)
		}
	}
	return scheme + "://" + CanonicalHostPort(scheme, hostport)
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

// listenerPort is the port of the socket r came in on (TCP, or UDP for
// HTTP/3), or "" when there is none (a unix socket).
func listenerPort(r *http.Request) string {
	addr, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	switch a := addr.(type) {
	case *net.TCPAddr:
		return strconv.Itoa(a.Port)
	case *net.UDPAddr:
		return strconv.Itoa(a.Port)
	}
	return ""
}

// SameOrigin refuses state-changing requests a browser sends on behalf of
// another site. Browsers send Origin, Sec-Fetch-Site or both with every
// POST; a client that sends neither is not a browser and so cannot ride on
// a user's cookie. Origin must be this site's (scheme, host and port), or
// extra (link_origin, the origin a TLS-terminating proxy serves this site
// on), and a browser that says the post is cross-site or same-site is
// believed whatever Origin says.
func SameOrigin(r *http.Request, extra string) bool {
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
	scheme, hostport, err := ParseOrigin(origins[0])
	if err != nil || strings.HasSuffix(origins[0], "/") {
		return false
	}
	origin := scheme + "://" + hostport
	return origin == RequestOrigin(r) || (extra != "" && origin == extra)
}
