package caddymodule

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/passgate/caddy-passgate/caddymodule/config"
	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/sessionstore"
	"github.com/passgate/caddy-passgate/verify"
)

func provisioned(t *testing.T, p *Passgate) *Passgate {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := p.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Cleanup() })
	return p
}

func withReplacer(r *http.Request) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
}

// Identity headers are removed on the plugin's own routes too, where no
// upstream sees them, because later handlers and logs still would.
func TestIdentityHeadersStrippedOnOwnRoutes(t *testing.T) {
	custom := "X-Who"
	p := provisioned(t, &Passgate{Config: config.Config{
		Secrets: []string{"0123456789abcdef0123456789abcdef"},
		Headers: config.HeadersConfig{UserID: &custom},
	}})
	for _, path := range []string{"/auth/session", "/auth/login", "/auth/nope", "/auth"} {
		r := withReplacer(httptest.NewRequest("GET", path, nil))
		for _, h := range []string{"X-Who", "X-Auth-User-Id", "X-Auth-Email", "X-Auth-Phone", "X-Auth-Roles", "X_Auth_Roles", "x_who"} {
			r.Header[h] = []string{"spoofed"}
		}
		r.Header.Set("X-Other", "kept")
		next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
			t.Fatalf("%s reached the next handler", path)
			return nil
		})
		if err := p.ServeHTTP(httptest.NewRecorder(), r, next); err != nil {
			t.Fatal(err)
		}
		if len(r.Header) != 1 || r.Header.Get("X-Other") != "kept" {
			t.Fatalf("%s: headers left after the handler: %v", path, r.Header)
		}
	}
}

func TestNoSecretWithRedisRefusesToStart(t *testing.T) {
	p := &Passgate{Config: config.Config{Store: config.StoreConfig{Backend: "redis", URL: "redis://127.0.0.1:1"}}}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	if err := p.Provision(ctx); err == nil {
		p.Cleanup()
		t.Fatal("redis store without a secret was accepted")
	}
	if err := p.Cleanup(); err != nil {
		t.Fatalf("cleanup after a failed provision: %v", err)
	}
}

func TestStoreURLFromUnsetEnvPlaceholder(t *testing.T) {
	t.Setenv("PASSGATE_TEST_REDIS_URL", "")
	p := &Passgate{Config: config.Config{Secrets: []string{"0123456789abcdef0123456789abcdef"}, Store: config.StoreConfig{Backend: "redis", URL: "{env.PASSGATE_TEST_REDIS_URL}"}}}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	err := p.Provision(ctx)
	p.Cleanup()
	if err == nil || !strings.Contains(err.Error(), "store url") || !strings.Contains(err.Error(), "PASSGATE_TEST_REDIS_URL") {
		t.Fatalf("an unset URL placeholder: %v, want an error naming it", err)
	}
}

func TestSecretFromEnvPlaceholder(t *testing.T) {
	t.Setenv("PASSGATE_TEST_SECRET", "short")
	p := &Passgate{Config: config.Config{Secrets: []string{"{env.PASSGATE_TEST_SECRET}"}}}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	err := p.Provision(ctx)
	p.Cleanup()
	if err == nil {
		t.Fatal("a 5-byte secret from the environment was accepted")
	}
	t.Setenv("PASSGATE_TEST_SECRET", "")
	p = &Passgate{Config: config.Config{Secrets: []string{"{env.PASSGATE_TEST_SECRET}"}}}
	err = p.Provision(ctx)
	p.Cleanup()
	if err == nil {
		t.Fatal("an empty secret from the environment was accepted")
	}
	t.Setenv("PASSGATE_TEST_SECRET", "0123456789abcdef0123456789abcdef")
	provisioned(t, &Passgate{Config: config.Config{Secrets: []string{"{env.PASSGATE_TEST_SECRET}"}}})
}

// The identity placeholders hold the session's values, whatever an earlier
// handler set under their names, and a second passgate on the same request
// (a stricter one under `handle`) replaces them, as it replaces the headers.
func TestIdentityPlaceholders(t *testing.T) {
	p := provisioned(t, &Passgate{Config: config.Config{Secrets: []string{"0123456789abcdef0123456789abcdef"}}})
	r := withReplacer(httptest.NewRequest("GET", "/app", nil))
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	repl.Set("http.auth.user.id", "set earlier")
	const all = "{http.auth.user.id}|{http.auth.user.email}|{http.auth.user.phone}|{http.auth.user.roles}"

	p.passIdentity(r, sessionstore.Session{UserID: "u-1", Email: "ann@example.com", Roles: []string{"a", "b"}})
	if got, want := repl.ReplaceKnown(all, ""), "u-1|ann@example.com||a,b"; got != want {
		t.Fatalf("placeholders %q, want %q", got, want)
	}
	if got := r.Header.Get("X-Auth-Roles"); got != "a,b" {
		t.Fatalf("X-Auth-Roles %q", got)
	}

	p.passIdentity(r, sessionstore.Session{UserID: "u-2", Phone: "+15550100"})
	if got, want := repl.ReplaceKnown(all, ""), "u-2||+15550100|"; got != want {
		t.Fatalf("after a second passgate: placeholders %q, want %q", got, want)
	}
	if v, ok := repl.Get("http.request.method"); ok {
		// Other placeholders are not answered by passgate's provider.
		t.Fatalf("http.request.method answered %q by a replacer without the HTTP provider", v)
	}
}

// A replacer whose identity array was removed (by another module, say)
// answers no identity; it never panics.
func TestIdentityPlaceholdersWithoutValues(t *testing.T) {
	p := provisioned(t, &Passgate{Config: config.Config{Secrets: []string{"0123456789abcdef0123456789abcdef"}}})
	r := withReplacer(httptest.NewRequest("GET", "/app", nil))
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	p.passIdentity(r, sessionstore.Session{UserID: "u-1"})
	repl.Delete(identityValuesKey)
	if v, ok := repl.Get("http.auth.user.id"); ok {
		t.Fatalf("http.auth.user.id = %v with the values gone", v)
	}
}

// The identity headers other gateways set (Apache's Remote-User,
// oauth2-proxy's X-Auth-Request-*, …) may be what an upstream trusts, so
// they are removed by default like passgate's own; `headers { strip }`
// adds more.
func TestIdentityAliasesStripped(t *testing.T) {
	p := provisioned(t, &Passgate{Config: config.Config{
		Secrets: []string{"0123456789abcdef0123456789abcdef"},
		Public:  []string{"/open"},
		Headers: config.HeadersConfig{Strip: []string{"X-App-Admin"}},
	}})
	r := withReplacer(httptest.NewRequest("GET", "/open", nil))
	spoofed := []string{
		"Remote-User", "X-Remote-User", "X-Forwarded-User", "X-Forwarded-Email",
		"X-Auth-Request-User", "X-Auth-Request-Email", "X-Webauth-User",
		"Remote_User", "X_Forwarded_User", "X-App-Admin", "X_App_Admin",
	}
	for _, h := range spoofed {
		r.Header[h] = []string{"root"}
	}
	r.Header.Set("X-Other", "kept")
	var got http.Header
	next := caddyhttp.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) error {
		got = r.Header.Clone()
		return nil
	})
	if err := p.ServeHTTP(httptest.NewRecorder(), r, next); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got.Get("X-Other") != "kept" {
		t.Fatalf("headers passed on: %v", got)
	}
}

// A door's name for the session cookie (Wacht's __session) proves a
// session like passgate's own, also when passgate's own cookie is still
// there but its session has ended; the upstream sees neither cookie.
func TestNamedSessionCookie(t *testing.T) {
	p := provisioned(t, &Passgate{Config: config.Config{Secrets: []string{"0123456789abcdef0123456789abcdef"}, Allow: config.AllowConfig{Email: []string{"*@example.com"}}}})
	named := p.cookie.named("__session", true)
	ctx := context.Background()
	signIn := func() verify.SignedIn {
		in, err := p.engine.SignIn(ctx, verify.SignInRequest{Attempt: verify.Attempt{Channel: "email", Identifier: "ann@example.com"}, Method: verify.MethodCode})
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	set := func(c httpkit.SessionCookie, secret string) *http.Cookie {
		w := httptest.NewRecorder()
		if err := c.Set(w, secret); err != nil {
			t.Fatal(err)
		}
		return w.Result().Cookies()[0]
	}
	dead, live := signIn(), signIn()
	if _, _, err := p.engine.Logout(ctx, verify.Credential{SessionID: dead.Session.ID}, verify.ScopeLocal, verify.Caller{}); err != nil {
		t.Fatal(err)
	}
	own, wacht := set(p.cookie, dead.Secret), set(named, live.Secret)
	if wacht.Name != "__session" || wacht.SameSite != http.SameSiteNoneMode || !wacht.HttpOnly || !wacht.Secure {
		t.Fatalf("named cookie %s", wacht)
	}
	for _, cookies := range [][]*http.Cookie{{wacht}, {own, wacht}} {
		r := withReplacer(httptest.NewRequest("GET", "/app", nil))
		for _, c := range cookies {
			r.AddCookie(c)
		}
		r.AddCookie(&http.Cookie{Name: "app", Value: "kept"})
		var upstream *http.Request
		next := caddyhttp.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) error { upstream = r; return nil })
		w := httptest.NewRecorder()
		if err := p.ServeHTTP(w, r, next); err != nil {
			t.Fatal(err)
		}
		if upstream == nil || upstream.Header.Get("X-Auth-Email") != "ann@example.com" {
			t.Fatalf("cookies %v: not passed (%d %s)", cookies, w.Code, w.Body)
		}
		if got := upstream.Header.Get("Cookie"); got != "app=kept" {
			t.Fatalf("upstream got cookies %q", got)
		}
	}
}
