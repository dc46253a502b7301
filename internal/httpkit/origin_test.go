package httpkit

import (
	"context"
	"crypto/tls"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// The cross-site check over header combinations: the Origin must be this
// site's by scheme, host and port (default ports normalised), or
// link_origin; Sec-Fetch-Site cross-site or same-site refuses whatever
// Origin says; Origin null passes only with Sec-Fetch-Site same-origin.
func TestSameOrigin(t *testing.T) {
	type site struct {
		url        string // scheme and Host of the request
		trusted    bool   // from a trusted proxy saying X-Forwarded-Proto: https
		LinkOrigin string
	}
	var (
		plain   = site{url: "http://app.example.com"}
		plain80 = site{url: "http://app.example.com:80"}
		port    = site{url: "http://app.example.com:8080"}
		secure  = site{url: "https://app.example.com"}
		proxied = site{url: "http://app.example.com", trusted: true}
		v6      = site{url: "http://[2001:db8::1]:8080"}
		behind  = site{url: "http://app.example.com", LinkOrigin: "https://app.example.com"}
	)
	for _, tc := range []struct {
		site   site
		origin []string // Origin header values; nil: none
		fetch  string   // Sec-Fetch-Site
		want   bool
	}{
		// No Origin: not a browser, or a browser's own navigation.
		{plain, nil, "", true},
		{plain, nil, "same-origin", true},
		{plain, nil, "none", true},
		{plain, nil, "cross-site", false},
		{plain, nil, "same-site", false},
		{plain, nil, "sideways", false},

		// The site's own origin.
		{plain, []string{"http://app.example.com"}, "", true},
		{plain, []string{"http://app.example.com"}, "same-origin", true},
		{plain, []string{"http://app.example.com"}, "none", true},
		{plain, []string{"HTTP://APP.EXAMPLE.COM"}, "", true},
		{plain, []string{"http://app.example.com:80"}, "", true},
		{plain80, []string{"http://app.example.com"}, "", true},
		{port, []string{"http://app.example.com:8080"}, "same-origin", true},
		{secure, []string{"https://app.example.com"}, "same-origin", true},
		{secure, []string{"https://app.example.com:443"}, "", true},
		{proxied, []string{"https://app.example.com"}, "same-origin", true},
		{v6, []string{"http://[2001:db8::1]:8080"}, "same-origin", true},

		// The right origin, but the browser says another site sent it.
		{plain, []string{"http://app.example.com"}, "cross-site", false},
		{plain, []string{"http://app.example.com"}, "same-site", false},
		{secure, []string{"https://app.example.com"}, "cross-site", false},
		{secure, []string{"https://app.example.com"}, "same-site", false},
		{behind, []string{"https://app.example.com"}, "cross-site", false},
		{plain, []string{"http://app.example.com"}, "Same-Origin", false},

		// Another scheme.
		{plain, []string{"https://app.example.com"}, "", false},
		{plain, []string{"https://app.example.com"}, "same-origin", false},
		{secure, []string{"http://app.example.com"}, "", false},
		{proxied, []string{"http://app.example.com"}, "", false},
		{plain, []string{"ftp://app.example.com"}, "", false},
		{plain, []string{"ws://app.example.com"}, "", false},
		{plain, []string{"file://app.example.com"}, "", false},
		{plain, []string{"app.example.com"}, "", false},
		{plain, []string{"//app.example.com"}, "", false},

		// Another port.
		{plain, []string{"http://app.example.com:8080"}, "", false},
		{port, []string{"http://app.example.com"}, "", false},
		{port, []string{"http://app.example.com:80"}, "", false},
		{port, []string{"http://app.example.com:8081"}, "", false},
		{secure, []string{"https://app.example.com:80"}, "", false},
		{v6, []string{"http://[2001:db8::1]"}, "", false},

		// Another host.
		{plain, []string{"http://evil.example"}, "", false},
		{plain, []string{"http://app.example.com.evil.example"}, "", false},
		{plain, []string{"http://evil.example/app.example.com"}, "", false},
		{plain, []string{"http://sub.app.example.com"}, "", false},
		{plain, []string{"http://example.com"}, "", false},

		// Not an origin.
		{plain, []string{"http://app.example.com/"}, "", false},
		{plain, []string{"http://app.example.com/path"}, "", false},
		{plain, []string{"http://user@app.example.com"}, "", false},
		{plain, []string{"http://app.example.com?x"}, "", false},
		{plain, []string{"http://app.example.com#x"}, "", false},
		{plain, []string{"http://app.example.com%2f"}, "", false},
		{plain, []string{"http://app.exаmple.com"}, "", false}, // Cyrillic а
		{plain, []string{""}, "", true},                        // as none
		{plain, []string{""}, "cross-site", false},
		{plain, []string{" http://app.example.com"}, "", false},
		{plain, []string{"http://"}, "", false},
		{plain, []string{"http://app.example.com", "http://evil.example"}, "", false},
		{plain, []string{"http://app.example.com", "http://app.example.com"}, "", false},

		// Origin null: a no-referrer page of this site, vouched for by
		// Sec-Fetch-Site only.
		{plain, []string{"null"}, "same-origin", true},
		{plain, []string{"null"}, "", false},
		{plain, []string{"null"}, "none", false},
		{plain, []string{"null"}, "same-site", false},
		{plain, []string{"null"}, "cross-site", false},
		{plain, []string{"NULL"}, "same-origin", false},

		// link_origin: the origin a TLS-terminating proxy serves the site on.
		{behind, []string{"https://app.example.com"}, "same-origin", true},
		{behind, []string{"https://app.example.com:443"}, "", true},
		{behind, []string{"http://app.example.com"}, "", true},
		{behind, []string{"https://app.example.com:8443"}, "", false},
		{behind, []string{"https://evil.example"}, "", false},
	} {
		r := httptest.NewRequest("POST", tc.site.url+"/auth/start", nil)
		if strings.HasPrefix(tc.site.url, "https:") {
			r.TLS = &tls.ConnectionState{}
		}
		if tc.site.trusted {
			r.Header.Set("X-Forwarded-Proto", "https")
		}
		vars := map[string]any{caddyhttp.TrustedProxyVarKey: tc.site.trusted}
		r = r.WithContext(context.WithValue(r.Context(), caddyhttp.VarsCtxKey, vars))
		for _, o := range tc.origin {
			r.Header.Add("Origin", o)
		}
		if tc.fetch != "" {
			r.Header.Set("Sec-Fetch-Site", tc.fetch)
		}
		if got := SameOrigin(r, tc.site.LinkOrigin); got != tc.want {
			t.Errorf("site %+v, Origin %q, Sec-Fetch-Site %q: SameOrigin %v, want %v", tc.site, tc.origin, tc.fetch, got, tc.want)
		}
	}
}
