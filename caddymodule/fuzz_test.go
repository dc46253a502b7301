package caddymodule

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/passgate/caddy-passgate/sessionstore"
)

// Seeds are in testdata/fuzz/<FuzzName>/ as well as here.

// The Caddyfile parser never panics, and what it accepts serialises.
func FuzzCaddyfile(f *testing.F) {
	for _, s := range []string{
		"secret {env.X}\nstore redis redis://127.0.0.1:6379 {\nprefix p:\n}",
		"allow email *@example.com\nrole admin email a@example.com",
		"code {\nlength 8\n}\nsession {\nidle 1h\n}\nlimits {\nstarts_per_ip 5 1m\n}",
		"headers {\nemail off\n}\ncookie {\ninsecure\n}",
		"jwt {\nkey k1 {file./x.pem}\n}\npage {\ncolor \"#112233\"\n}",
		"email smtp 127.0.0.1:25 {\nfrom a@b.c\ntls starttls\n}\nsms webhook https://x/y {\nsecret {env.S}\n}",
		"{\n}", "}", "public", "store redis",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		// Tokenised as Caddy's adapter does, which refuses what does not
		// tokenise before any directive sees it (NewTestDispenser would
		// exit the process instead).
		tokens, err := caddyfile.Tokenize([]byte("passgate {\n"+body+"\n}"), "Caddyfile")
		if err != nil {
			return
		}
		p := new(Passgate)
		err = p.UnmarshalCaddyfile(caddyfile.NewDispenser(tokens))
		if err != nil {
			return
		}
		if _, err := json.Marshal(p); err != nil {
			t.Fatalf("accepted config does not serialise: %v", err)
		}
	})
}

// A cookie decodes only if this server made it; what it made always
// decodes back.
func FuzzCookieDecode(f *testing.F) {
	c := newSessionCookie(CookieConfig{Name: "sid"}, time.Hour, secretKeys{"fuzz-secret-0123456789abcdef0123456789"})
	for _, s := range []string{"", "x", "MTc5NTMwMzc0M3xPSkNyT1QzZFN5MEhRR1JVaXliLXNNaVlD", strings.Repeat("A", 5000), "a|b|c"} {
		f.Add(s, "secret")
	}
	f.Fuzz(func(t *testing.T, raw, secret string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: "sid", Value: raw})
		if got := c.sessionID(r); got != "" {
			t.Fatalf("a forged cookie %q decoded to %q", raw, got)
		}
		// Round trips hold for secrets of the size sign-in makes (52
		// characters); a cookie has no room for kilobytes.
		if secret == "" || len(secret) > 256 {
			return
		}
		w := httptest.NewRecorder()
		if err := c.Set(w, secret); err != nil {
			t.Fatal(err)
		}
		r = httptest.NewRequest("GET", "/", nil)
		for _, ck := range w.Result().Cookies() {
			r.AddCookie(ck)
		}
		if got := c.sessionID(r); got != sessionstore.SessionID(secret) {
			t.Fatalf("round trip of %q gave %q", secret, got)
		}
	})
}
