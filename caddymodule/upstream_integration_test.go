package caddymodule_test

import (
	"net/http"
	"testing"
)

// The upstream gets the identity headers and the app's own cookies, never
// the session cookie, on protected and public paths alike.
func TestUpstreamDoesNotSeeSessionCookie(t *testing.T) {
	g := startGateway(t)
	c := g.newClient()
	c.signIn("sam@example.com")
	for _, path := range []string{"/app", "/public/x"} {
		if h := echoed(t, c.do("GET", path, nil)); h.Get("Cookie") != "" {
			t.Fatalf("%s: upstream got Cookie %q, want none", path, h.Get("Cookie"))
		}
	}
	c.hc.Jar.SetCookies(mustURL(g.base), []*http.Cookie{{Name: "app", Value: "1", Path: "/"}})
	h := echoed(t, c.do("GET", "/app", nil))
	if got := h.Values("Cookie"); len(got) != 1 || got[0] != "app=1" {
		t.Fatalf("upstream got Cookie %q, want only app=1", got)
	}
	if h.Get("X-Auth-Email") != "sam@example.com" {
		t.Fatalf("identity headers missing: %v", h)
	}
}
