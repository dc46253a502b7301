package httpkit

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// The scheme of a magic link: https over TLS, or from a trusted proxy that
// says so; X-Forwarded-Proto from anyone else is ignored. Its port: the
// listener's, whatever port the Host claims, unless a trusted proxy sent
// it.
func TestLinkBase(t *testing.T) {
	tcp := func(port int) net.Addr { return &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: port} }
	for _, tc := range []struct {
		name       string
		host       string
		listener   net.Addr
		tls        bool
		trusted    bool
		xfp        string
		linkOrigin string
		want       string
	}{
		{"plain http", "", nil, false, false, "", "", "http://app.example.com/auth/magic"},
		{"tls", "", nil, true, false, "", "", "https://app.example.com/auth/magic"},
		{"tls, proxy says http", "", nil, true, true, "http", "", "https://app.example.com/auth/magic"},
		{"untrusted X-Forwarded-Proto", "", nil, false, false, "https", "", "http://app.example.com/auth/magic"},
		{"trusted proxy", "", nil, false, true, "https", "", "https://app.example.com/auth/magic"},
		{"trusted proxy, list", "", nil, false, true, "HTTPS, http", "", "https://app.example.com/auth/magic"},
		{"trusted proxy says http", "", nil, false, true, "http", "", "http://app.example.com/auth/magic"},
		{"link_origin wins", "", nil, false, false, "", "https://auth.example.com", "https://auth.example.com/auth/magic"},
		{"link_origin wins over the port", "app.example.com:8443", tcp(443), true, false, "", "https://auth.example.com", "https://auth.example.com/auth/magic"},

		{"Host port is the listener's", "app.example.com:8443", tcp(8443), true, false, "", "", "https://app.example.com:8443/auth/magic"},
		{"Host port claimed", "app.example.com:8443", tcp(443), true, false, "", "", "https://app.example.com/auth/magic"},
		{"Host port claimed, listener not default", "app.example.com:8443", tcp(9443), true, false, "", "", "https://app.example.com:9443/auth/magic"},
		{"Host default port claimed", "app.example.com:443", tcp(9443), true, false, "", "", "https://app.example.com:9443/auth/magic"},
		{"Host empty port", "app.example.com:", tcp(8080), false, false, "", "", "http://app.example.com:8080/auth/magic"},
		{"Host default port", "App.Example.com:80", tcp(80), false, false, "", "", "http://app.example.com/auth/magic"},
		{"Host without port, listener not default", "app.example.com", tcp(8080), false, false, "", "", "http://app.example.com/auth/magic"},
		{"IPv6 Host port claimed", "[2001:db8::1]:8443", tcp(8080), false, false, "", "", "http://[2001:db8::1]:8080/auth/magic"},
		{"IPv6 Host without port", "[2001:db8::1]", tcp(8080), false, false, "", "", "http://[2001:db8::1]/auth/magic"},
		{"HTTP/3 listener", "app.example.com:8443", &net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 443}, true, false, "", "", "https://app.example.com/auth/magic"},
		{"unix socket listener", "app.example.com:8443", &net.UnixAddr{Name: "/run/caddy.sock", Net: "unix"}, false, false, "", "", "http://app.example.com:8443/auth/magic"},
		{"trusted proxy keeps its port", "app.example.com:8443", tcp(8080), false, true, "https", "", "https://app.example.com:8443/auth/magic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := &Env{Mount: "/auth", LinkOrigin: tc.linkOrigin}
			r := httptest.NewRequest("POST", "http://app.example.com/auth/start", nil)
			if tc.host != "" {
				r.Host = tc.host
			}
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if tc.xfp != "" {
				r.Header.Set("X-Forwarded-Proto", tc.xfp)
			}
			vars := map[string]any{caddyhttp.TrustedProxyVarKey: tc.trusted}
			ctx := context.WithValue(r.Context(), caddyhttp.VarsCtxKey, vars)
			if tc.listener != nil {
				ctx = context.WithValue(ctx, http.LocalAddrContextKey, tc.listener)
			}
			if got := env.LinkBase(r.WithContext(ctx), "/magic"); got != tc.want {
				t.Fatalf("LinkBase = %q, want %q", got, tc.want)
			}
		})
	}
}
