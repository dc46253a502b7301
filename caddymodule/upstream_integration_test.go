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

// The access token that authenticated a request is not forwarded either;
// on a public path an Authorization header is the upstream's business.
func TestUpstreamDoesNotSeeAccessToken(t *testing.T) {
	g := startGateway(t)
	out := g.newClient().signInTokens("tom@example.com")
	api := g.newClient()
	h := echoed(t, api.do("GET", "/app", nil, bearer(out["access_token"])...))
	if h.Get("Authorization") != "" || h.Get("X-Auth-Email") != "tom@example.com" {
		t.Fatalf("upstream got Authorization %q, identity %q; want none and tom", h.Get("Authorization"), h.Get("X-Auth-Email"))
	}
	h = echoed(t, api.do("GET", "/public/x", nil, "Authorization", "Bearer app-token"))
	if h.Get("Authorization") != "Bearer app-token" {
		t.Fatalf("public path: upstream got Authorization %q, want it kept", h.Get("Authorization"))
	}
}
