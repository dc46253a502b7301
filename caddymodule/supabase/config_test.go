package supabase_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/passgate/caddy-passgate/internal/testenv"
)

// With anon_key, a request without one of the keys as apikey gets the
// gateway's 401, as hosted Supabase's does; the emailed link, its page's
// form and the JWKS need none.
func TestAnonKey(t *testing.T) {
	t.Setenv("SUPABASE_TEST_KEY", anonKey)
	g := testenv.StartGateway(t, testenv.WithExtra(`compat supabase {
			anon_key {env.SUPABASE_TEST_KEY} sb_publishable_other
		}`))
	c := newClient(g)
	body := map[string]any{"email": "ida@example.com"}
	e := wantError(t, c.Do("POST", "/auth/v1/otp", body), 401, "no_authorization")
	if e["message"] != "No API key found in request" {
		t.Fatalf("without a key: %v", e)
	}
	e = wantError(t, c.Do("POST", "/auth/v1/otp", body, "apikey", "sb_publishable_wrong"), 401, "no_authorization")
	if e["message"] != "Invalid authentication credentials" {
		t.Fatalf("wrong key: %v", e)
	}
	wantError(t, c.Do("GET", "/auth/v1/health", nil), 401, "no_authorization")
	wantError(t, c.Do("POST", "/auth/v1/otp", body, "apikey", anonKey, "apikey", "x"), 401, "no_authorization")
	if r := c.Do("POST", "/auth/v1/otp", body, "apikey", "sb_publishable_other"); r.Status != 200 {
		t.Fatalf("the second key: %d %s", r.Status, r.Body)
	}
	if r := c.Do("GET", "/auth/v1/.well-known/jwks.json", nil); r.Status != 200 {
		t.Fatalf("jwks without a key: %d", r.Status)
	}
	link, _ := url.Parse(g.LinkFor("ida@example.com"))
	if r := c.Do("GET", link.RequestURI(), nil); r.Status != 200 {
		t.Fatalf("the link without a key: %d %s", r.Status, r.Body)
	}
	form := openLink(t, c, link.String())
	if r := c.continueLink(form); r.Status != 303 || !strings.Contains(r.Header.Get("Location"), "#access_token=") {
		t.Fatalf("the link's form without a key: %d %v", r.Status, r.Header)
	}
}

// CORS: a page on an allowed origin may call with the headers
// supabase-js sends and read the version header; other origins get no
// CORS headers.
func TestCORS(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithExtra("compat supabase\n\t\tcors https://app.example.com"))
	c := newClient(g)
	pre := c.Do("OPTIONS", "/auth/v1/otp", nil, "Origin", "https://app.example.com",
		"Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "apikey,authorization,content-type,x-client-info,x-supabase-api-version")
	allow := pre.Header.Get("Access-Control-Allow-Headers")
	if pre.Status != 204 || pre.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		pre.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("preflight: %d %v", pre.Status, pre.Header)
	}
	for _, h := range []string{"apikey", "authorization", "content-type", "x-client-info", "x-supabase-api-version"} {
		if !strings.Contains(allow, h) {
			t.Fatalf("preflight does not allow %s: %q", h, allow)
		}
	}
	r := c.call("POST", "/verify", map[string]any{"email": "jo@example.com", "token": "123456", "type": "email"}, "Origin", "https://app.example.com")
	wantError(t, r, 403, "otp_expired")
	if r.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "X-Supabase-Api-Version") {
		t.Fatalf("answer to the app's origin: %v", r.Header)
	}
	for _, origin := range []string{"https://evil.example", "null"} {
		pre := c.Do("OPTIONS", "/auth/v1/otp", nil, "Origin", origin, "Access-Control-Request-Method", "POST")
		r := c.call("GET", "/health", nil, "Origin", origin)
		if pre.Header.Get("Access-Control-Allow-Origin") != "" || r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("%s got CORS headers: %v %v", origin, pre.Header, r.Header)
		}
	}
}

// The Caddyfile's compat supabase block: its options and their rules.
func TestCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		name, block, err string
	}{
		{"defaults", "compat supabase", ""},
		{"all options", "compat supabase /x/auth/v1 {\n anon_key a b\n anon_key {env.K}\n issuer https://app.example.com/auth/v1\n access_ttl 30m\n}", ""},
		{"mount without auth/v1", "compat supabase /gotrue", "must end in /auth/v1"},
		{"short ttl", "compat supabase {\n access_ttl 1m\n}", "access_ttl"},
		{"long ttl", "compat supabase {\n access_ttl 2h\n}", "access_ttl"},
		{"unknown option", "compat supabase {\n site_url x\n}", `unknown compat supabase option "site_url"`},
		{"anon_key without key", "compat supabase {\n anon_key\n}", "argument"},
		{"same mount twice", "compat supabase\n compat supabase /auth/v1", "already another door's"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "{\n admin off\n}\n:0 {\n passgate {\n secret " + testenv.Secret + "\n email log\n allow email *@example.com\n " + tc.block + "\n }\n}\n"
			_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt(caddyfile.Format([]byte(src)), nil)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("got %v, want an error with %q", err, tc.err)
			}
		})
	}
}

// Two Supabase doors on two mounts: each answers on its own, with tokens
// of its own issuer, and both pass the gate.
func TestTwoDoors(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithExtra("compat supabase\n\t\tcompat supabase /tenant/auth/v1 {\n\t\t\tissuer https://tenant.example.com/auth/v1\n\t\t}"))
	c := newClient(g)
	if r := c.Do("POST", "/tenant/auth/v1/otp", map[string]any{"email": "kim@example.com"}); r.Status != 200 {
		t.Fatalf("second door: %d %s", r.Status, r.Body)
	}
	msg := g.Delivery("kim@example.com")
	if link := msg["link"].(string); !strings.HasPrefix(link, g.Base+"/tenant/auth/v1/verify?") {
		t.Fatalf("second door's link %s", link)
	}
	r := c.Do("POST", "/tenant/auth/v1/verify", map[string]any{"email": "kim@example.com", "token": msg["code"], "type": "email"})
	if r.Status != 200 {
		t.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	tok := r.JSON(t)["access_token"].(string)
	if iss := claims(t, tok)["iss"]; iss != "https://tenant.example.com/auth/v1" {
		t.Fatalf("iss %v", iss)
	}
	for _, path := range []string{"/auth/v1/user", "/tenant/auth/v1/user", "/app"} {
		if r := c.Do("GET", path, nil, bearer(tok)...); r.Status != 200 {
			t.Fatalf("%s: %d", path, r.Status)
		}
	}
}
