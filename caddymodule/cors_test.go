package caddymodule_test

import (
	"testing"

	"github.com/passgate/caddy-passgate/internal/testenv"
)

// With `cors`, a browser app on a listed origin may call the native API
// from there: its preflight is answered, its posts pass the cross-site
// check, and the answers carry the CORS headers. Any other origin gets no
// CORS headers and its posts stay refused.
func TestCORSOnTheNativeAPI(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithExtra("cors https://app.example.com http://localhost:3000"))
	c := g.NewClient()
	pre := c.Do("OPTIONS", "/auth/start", nil, "Origin", "https://app.example.com",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type")
	if pre.Status != 204 || pre.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		pre.Header.Get("Access-Control-Allow-Credentials") != "true" || pre.Header.Get("Access-Control-Allow-Headers") == "" {
		t.Fatalf("preflight: %d %v", pre.Status, pre.Header)
	}
	r := c.Do("POST", "/auth/start", map[string]any{"email": "cy@example.com"},
		"Origin", "https://app.example.com", "Sec-Fetch-Site", "cross-site")
	if r.Status != 200 || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("start from the app's origin: %d %v %s", r.Status, r.Header, r.Body)
	}
	for _, origin := range []string{"https://evil.example", "https://app.example.com.evil.example"} {
		pre := c.Do("OPTIONS", "/auth/start", nil, "Origin", origin, "Access-Control-Request-Method", "POST")
		if pre.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("preflight from %s allowed: %v", origin, pre.Header)
		}
		r := c.Do("POST", "/auth/start", map[string]any{"email": "cy@example.com"}, "Origin", origin, "Sec-Fetch-Site", "cross-site")
		if r.Status != 403 || r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("start from %s: %d %v", origin, r.Status, r.Header)
		}
	}
}
