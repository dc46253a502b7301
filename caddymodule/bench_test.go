package caddymodule

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/gorilla/securecookie"

	"github.com/passgate/caddy-passgate/sessionstore"
)

// The hot path's pieces, for `go test -bench . -benchmem ./caddymodule`.
// The Redis cases use PASSGATE_TEST_REDIS or 127.0.0.1:6379.

func benchRedisURL() string {
	if u := os.Getenv("PASSGATE_TEST_REDIS"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

func benchGate(b *testing.B, backend string) *Passgate {
	b.Helper()
	p := &Passgate{
		Secrets: []string{"bench-secret-0123456789abcdefghijklmnopqrstuvwxyz"},
		Allow:   AllowConfig{Email: []string{"*@example.com"}},
		Roles:   []RoleConfig{{Name: "admin", Email: []string{"ann@example.com"}}, {Name: "staff", Email: []string{"*@example.com"}}},
	}
	if backend == "redis" {
		p.Store = StoreConfig{Backend: "redis", URL: benchRedisURL(), Prefix: "passgate-bench:" + rand.Text() + ":"}
	}
	return provisionedB(b, p)
}

func provisionedB(b *testing.B, p *Passgate) *Passgate {
	b.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	b.Cleanup(cancel)
	if err := p.Provision(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Cleanup() })
	return p
}

// warmSession signs ann in and returns her cookie value and access token.
func warmSession(b *testing.B, p *Passgate) (cookie, token string) {
	b.Helper()
	ctx := context.Background()
	secret, sess, err := p.sessions.Create(ctx, sessionstore.User{ID: "u-ann", Email: "ann@example.com"})
	if err != nil {
		b.Fatalf("creating a session (is Redis at %s? apt-get install redis-server): %v", benchRedisURL(), err)
	}
	b.Cleanup(func() { p.sessions.RevokeID(ctx, sess.ID, sess.UserID) })
	cookie, err = securecookie.EncodeMulti(p.cookie.name, []byte(secret), p.cookie.codecs...)
	if err != nil {
		b.Fatal(err)
	}
	tr, err := p.accessFor(sess, amrCode, "")
	if err != nil {
		b.Fatal(err)
	}
	return cookie, tr.AccessToken
}

// BenchmarkHandler is the whole handler for a request on a warm session,
// up to the upstream (a no-op here).
func BenchmarkHandler(b *testing.B) {
	for _, backend := range []string{"memory", "redis"} {
		p := benchGate(b, backend)
		cookie, token := warmSession(b, p)
		for _, auth := range []struct{ name, header, value string }{
			{"cookie", "Cookie", p.cookie.name + "=" + cookie},
			{"bearer", "Authorization", "Bearer " + token},
		} {
			b.Run(backend+"/"+auth.name, func(b *testing.B) {
				r := withReplacer(httptest.NewRequest("GET", "/app", nil))
				r.Header.Set(auth.header, auth.value)
				w := httptest.NewRecorder()
				passed := 0
				next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { passed++; return nil })
				b.ReportAllocs()
				for b.Loop() {
					if err := p.ServeHTTP(w, r, next); err != nil {
						b.Fatal(err)
					}
				}
				if passed == 0 {
					b.Fatalf("the request never reached the upstream: %d %s", w.Code, w.Body)
				}
			})
		}
	}
}

// BenchmarkCookieDecode compares decoding a session cookie (HMAC, AES,
// base64) with finding it among those already decoded.
func BenchmarkCookieDecode(b *testing.B) {
	p := benchGate(b, "memory")
	cookie, _ := warmSession(b, p)
	r := httptest.NewRequest("GET", "/app", nil)
	r.Header.Set("Cookie", p.cookie.name+"="+cookie)
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v []byte
			if err := securecookie.DecodeMulti(p.cookie.name, cookie, &v, p.cookie.codecs...); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if p.cookie.secret(r) == "" {
				b.Fatal("no secret")
			}
		}
	})
}
