package caddymodule

import (
	"context"
	"crypto/tls"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// The scheme of a magic link: https over TLS, or from a trusted proxy that
// says so; X-Forwarded-Proto from anyone else is ignored.
func TestMagicLinkBase(t *testing.T) {
	for _, tc := range []struct {
		name       string
		tls        bool
		trusted    bool
		xfp        string
		linkOrigin string
		want       string
	}{
		{"plain http", false, false, "", "", "http://app.example.com/auth/magic"},
		{"tls", true, false, "", "", "https://app.example.com/auth/magic"},
		{"tls, proxy says http", true, true, "http", "", "https://app.example.com/auth/magic"},
		{"untrusted X-Forwarded-Proto", false, false, "https", "", "http://app.example.com/auth/magic"},
		{"trusted proxy", false, true, "https", "", "https://app.example.com/auth/magic"},
		{"trusted proxy, list", false, true, "HTTPS, http", "", "https://app.example.com/auth/magic"},
		{"trusted proxy says http", false, true, "http", "", "http://app.example.com/auth/magic"},
		{"link_origin wins", false, false, "", "https://auth.example.com", "https://auth.example.com/auth/magic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Passgate{BasePath: "/auth", LinkOrigin: tc.linkOrigin}
			r := httptest.NewRequest("POST", "http://app.example.com/auth/start", nil)
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if tc.xfp != "" {
				r.Header.Set("X-Forwarded-Proto", tc.xfp)
			}
			vars := map[string]any{caddyhttp.TrustedProxyVarKey: tc.trusted}
			r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, vars))
			if got := p.magicLinkBase(r); got != tc.want {
				t.Fatalf("magicLinkBase = %q, want %q", got, tc.want)
			}
		})
	}
}
