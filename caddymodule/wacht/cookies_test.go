package wacht_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"

	"github.com/passgate/caddy-passgate/internal/testenv"
)

// The cookies' attributes: HttpOnly always; Secure unless `cookie {
// insecure }`; SameSite=None when `cors` lets a frontend on another site
// call (its fetches carry no cookie otherwise), which browsers take only
// with Secure, so Lax with insecure; __session on Path=/ for the app's
// routes, the browser session on the door's own path.
func TestCookieAttributes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		o        siteOptions
		secure   bool
		sameSite http.SameSite
	}{
		{"plain", siteOptions{}, false, http.SameSiteLaxMode},
		{"secure", siteOptions{secure: true}, true, http.SameSiteLaxMode},
		{"secure, cors", siteOptions{secure: true, cors: []string{"https://app.example.net"}}, true, http.SameSiteNoneMode},
		{"insecure, cors", siteOptions{cors: []string{"http://localhost:3000"}}, false, http.SameSiteLaxMode},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startSite(t, tc.o)
			b := s.browser()
			if len(tc.o.cors) > 0 {
				b.origin = tc.o.cors[0]
			}
			email := "cookies@example.com"
			id := b.signInStart("email_otp", "email", email)
			a := b.verifyCode(id, s.message(email, 0)["code"].(string))
			if a.status != 200 {
				t.Fatalf("verify: %d %s", a.status, a.body)
			}
			for name, path := range map[string]string{"__session": "/", "__wacht_browser": "/wacht"} {
				c := setCookie(a, name)
				if c == nil || !c.HttpOnly || c.Secure != tc.secure || c.SameSite != tc.sameSite || c.Path != path || c.Domain != "" {
					t.Fatalf("%s: %+v", name, c)
				}
			}
			if len(tc.o.cors) > 0 && (a.header.Get("Access-Control-Allow-Origin") != tc.o.cors[0] || a.header.Get("Access-Control-Allow-Credentials") != "true") {
				t.Fatalf("CORS headers: %v", a.header)
			}
			out := b.post("/session/sign-out", "", nil)
			if c := setCookie(out, "__session"); c == nil || c.MaxAge >= 0 {
				t.Fatalf("sign-out: __session %+v", c)
			}
		})
	}
}

// A preflight from an allowed origin is answered (for the documented JSON
// with its content type); any other origin gets no CORS headers.
func TestPreflight(t *testing.T) {
	s := startSite(t, siteOptions{secure: true, cors: []string{"https://app.example.net"}})
	b := s.browser()
	a := b.do("OPTIONS", "/auth/attempt-verification", "", nil, "Origin", "https://app.example.net",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type")
	if a.status != 204 || a.header.Get("Access-Control-Allow-Origin") != "https://app.example.net" ||
		a.header.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(a.header.Get("Access-Control-Allow-Headers"), "content-type") {
		t.Fatalf("preflight: %d %v", a.status, a.header)
	}
	a = b.do("OPTIONS", "/auth/attempt-verification", "", nil, "Origin", "https://evil.example",
		"Access-Control-Request-Method", "POST")
	if a.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("another origin's preflight: %v", a.header)
	}
	if a := b.get("/session", "Origin", "https://evil.example"); a.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("another origin's GET: %v", a.header)
	}
}

// The door's options: origin must be an origin; two Wacht doors need
// origins of their own (their tokens are told apart by iss), and each
// works on its own mount.
func TestConfig(t *testing.T) {
	load := func(passgate string) error {
		t.Helper()
		port := testenv.FreePort(t)
		src := "{\n admin off\n persist_config off\n auto_https off\n}\nhttp://127.0.0.1:" + itoa(port) +
			" {\n passgate {\n secret " + testenv.Secret + "\n email log\n allow email *@example.com\n" + passgate + "\n }\n respond ok\n}\n"
		cfg, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(src), nil)
		if err == nil {
			err = caddy.Load(cfg, true)
		}
		t.Cleanup(func() { caddy.Stop() })
		return err
	}
	for _, bad := range []struct{ config, want string }{
		{"compat wacht {\n origin https://app.example.com/wacht\n}", "origin"},
		{"compat wacht {\n origin app.example.com\n}", "origin"},
		{"compat wacht {\n origin https://*.example.com\n}", "wildcard"},
		{"compat wacht {\n origin\n}", "argument"},
		{"compat wacht {\n issuer https://app.example.com\n}", "unknown compat wacht option"},
		{"compat wacht {\n origin https://a.example.com\n}\ncompat wacht /w2 {\n origin https://a.example.com\n}", "origin of its own"},
		{"jwt {\n issuer https://a.example.com\n}\ncompat wacht {\n origin https://a.example.com\n}", "origin of its own"},
	} {
		err := load(bad.config)
		t.Logf("%q: %v", bad.config, err)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want an error about %s", bad.config, err, bad.want)
		}
	}
	if err := load("compat wacht {\n origin HTTPS://A.example.com:443/\n}\ncompat wacht /w2 {\n origin https://b.example.com\n}"); err != nil {
		t.Fatalf("two doors: %v", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
