package caddymodule

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/caddymodule/config"
	"github.com/passgate/caddy-passgate/sessionstore"
)

// Seeds are in testdata/fuzz/<FuzzName>/ as well as here.

// A cookie decodes only if this server made it; what it made always
// decodes back.
func FuzzCookieDecode(f *testing.F) {
	c := newSessionCookie(config.CookieConfig{Name: "sid"}, time.Hour, secretKeys{"fuzz-secret-0123456789abcdef0123456789"})
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
