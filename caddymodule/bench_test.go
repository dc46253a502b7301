package caddymodule

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/gorilla/securecookie"
	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/caddymodule/config"
	"github.com/passgate/caddy-passgate/verify"
)

// The hot path's pieces, for `go test -bench . -benchmem ./caddymodule`.
// The Redis cases use PASSGATE_TEST_REDIS or 127.0.0.1:6379.

func benchRedisURL() string {
	if u := os.Getenv("PASSGATE_TEST_REDIS"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// benchGate is a provisioned passgate on backend; with an email sender, it
// delivers codes there.
func benchGate(b *testing.B, backend string, email ...verify.Sender) *Passgate {
	b.Helper()
	p := &Passgate{Config: config.Config{
		Secrets: []string{"bench-secret-0123456789abcdefghijklmnopqrstuvwxyz"},
		Allow:   config.AllowConfig{Email: []string{"*@example.com"}},
		Roles:   []config.RoleConfig{{Name: "admin", Email: []string{"ann@example.com"}}, {Name: "staff", Email: []string{"*@example.com"}}},
	}}
	if len(email) > 0 {
		p.testSenders = map[string]verify.Sender{verify.ChannelEmail: email[0]}
	}
	if backend == "redis" {
		p.Store = config.StoreConfig{Backend: "redis", URL: benchRedisURL(), Prefix: "passgate-bench:" + rand.Text() + ":"}
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
	// A sign-in is logged; a benchmark of sign-ins would mostly write logs.
	p.logger = zap.NewNop()
	return p
}

// warmSession signs ann in and returns her cookie value and access token.
func warmSession(b *testing.B, p *Passgate) (cookie, token string) {
	b.Helper()
	ctx := context.Background()
	// A consumed attempt, as a right code would leave it.
	in, err := p.engine.SignIn(ctx, verify.SignInRequest{
		Attempt: verify.Attempt{Channel: verify.ChannelEmail, Identifier: "ann@example.com"}, Method: verify.MethodCode,
	})
	if err != nil {
		b.Fatalf("signing ann in (is Redis at %s? apt-get install redis-server): %v", benchRedisURL(), err)
	}
	b.Cleanup(func() {
		p.engine.Logout(ctx, verify.Credential{SessionID: in.Session.ID}, verify.ScopeLocal, verify.Caller{})
	})
	cookie, err = securecookie.EncodeMulti(p.cookie.name, []byte(in.Secret), p.cookie.codecs...)
	if err != nil {
		b.Fatal(err)
	}
	at, err := p.engine.IssueAccess(in.Session, in.AMR)
	if err != nil {
		b.Fatal(err)
	}
	return cookie, at.Token
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
				// Each request comes with its own headers and replacer, as
				// from Caddy; their making is part of the figure.
				req := httptest.NewRequest("GET", "/app", nil)
				w := httptest.NewRecorder()
				passed, sent := 0, 0
				next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { passed++; return nil })
				b.ReportAllocs()
				for b.Loop() {
					req.Header = http.Header{auth.header: {auth.value}, "Accept": {"*/*"}, "User-Agent": {"wrk"}}
					r := withReplacer(req)
					sent++
					if err := p.ServeHTTP(w, r, next); err != nil {
						b.Fatal(err)
					}
				}
				if passed != sent {
					b.Fatalf("%d of %d requests reached the upstream: %d %s", passed, sent, w.Code, w.Body)
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
			if p.cookie.sessionID(r) == "" {
				b.Fatal("no session ID")
			}
		}
	})
}

// codeCatcher is a Sender that keeps the last code per address.
type codeCatcher struct {
	mu    sync.Mutex
	codes map[string]string
}

func (c *codeCatcher) Send(_ context.Context, m verify.Message) error {
	c.mu.Lock()
	c.codes[m.To] = m.Code
	c.mu.Unlock()
	return nil
}

// BenchmarkVerifyRoute is POST /auth/verify with a right code, from
// 8 x GOMAXPROCS distinct clients in parallel: checking the code, recording the sign-in
// and creating the session. 1e9 / (ns/op) is verifications per second.
// Attempts are started before the timer.
func BenchmarkVerifyRoute(b *testing.B) {
	for _, backend := range []string{"memory", "redis"} {
		b.Run(backend, func(b *testing.B) {
			catcher := &codeCatcher{codes: map[string]string{}}
			p := benchGate(b, backend, catcher)
			type attempt struct{ id, code, ip string }
			attempts := make([]attempt, b.N)
			ctx := context.Background()
			for i := range attempts {
				email := fmt.Sprintf("user%d-%s@example.com", i, strings.ToLower(rand.Text()[:6])) // as the engine writes it
				ip := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
				st, err := p.engine.Start(ctx, verify.StartRequest{Channel: verify.ChannelEmail,
					Identifier: email, CreateUser: true, Caller: verify.Caller{ClientIP: ip}})
				if err != nil {
					b.Fatal(err)
				}
				attempts[i] = attempt{st.AttemptID, email, ip}
				if i%512 == 511 { // in batches the delivery queue holds
					p.engine.Wait()
				}
			}
			p.engine.Wait()
			for i, a := range attempts {
				attempts[i].code = catcher.codes[a.code]
			}
			var next atomic.Int64
			b.ReportAllocs()
			// 16 clients on 2 cores: a Redis round trip is mostly waiting.
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				w := httptest.NewRecorder()
				for pb.Next() {
					a := attempts[next.Add(1)-1]
					body := `{"attempt_id":"` + a.id + `","code":"` + a.code + `"}`
					r := httptest.NewRequest("POST", "/auth/verify", strings.NewReader(body))
					r.Header.Set("Content-Type", "application/json")
					ctx := context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer())
					ctx = context.WithValue(ctx, caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: a.ip})
					w.Body.Reset()
					if err := p.ServeHTTP(w, r.WithContext(ctx), nil); err != nil {
						b.Fatal(err)
					}
					if w.Code != http.StatusOK {
						b.Fatalf("verify: %d %s", w.Code, w.Body)
					}
				}
			})
		})
	}
}
