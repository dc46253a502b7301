package caddymodule

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/caddymodule/config"
	"github.com/passgate/caddy-passgate/internal/testenv/redisenv"
	"github.com/passgate/caddy-passgate/verify"
)

// Sign-in throughput and the hot path on each topology, for
// `go test -run '^$' -bench 'SignIn|HandlerTopologies' ./caddymodule`. The
// cluster (3 masters, 1 replica each) is started by the benchmark.

func benchStores(b *testing.B) []struct {
	name  string
	store config.StoreConfig
} {
	prefix := "passgate-bench:" + rand.Text() + ":"
	e := redisenv.Cluster(b, 3, 1)
	return []struct {
		name  string
		store config.StoreConfig
	}{
		{"memory", config.StoreConfig{}},
		{"standalone", config.StoreConfig{Backend: "redis", URL: benchRedisURL(), Prefix: prefix}},
		{"cluster", config.StoreConfig{Backend: "redis", Mode: "cluster", Addrs: e.Addrs(), Prefix: prefix}},
	}
}

func benchGateStore(b *testing.B, store config.StoreConfig, email verify.Sender) *Passgate {
	b.Helper()
	return provisionedB(b, &Passgate{Config: config.Config{
		Secrets: []string{"bench-secret-0123456789abcdefghijklmnopqrstuvwxyz"},
		Allow:   config.AllowConfig{Email: []string{"*@example.com"}},
		Roles:   []config.RoleConfig{{Name: "staff", Email: []string{"*@example.com"}}},
		Store:   store,
	}, testSenders: map[string]verify.Sender{verify.ChannelEmail: email}})
}

// roundTrips counts the commands and pipelines sent on every pooled Redis
// client: each is one round trip (a cluster pipeline's nodes are asked at
// once).
type roundTrips struct{ n atomic.Int64 }

func countRoundTrips() *roundTrips {
	rt := &roundTrips{}
	storePool.Range(func(_, v any) bool {
		if pr, ok := v.(pooledRedis); ok {
			pr.AddHook(rt)
		}
		return true
	})
	return rt
}

func (rt *roundTrips) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (rt *roundTrips) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error { rt.n.Add(1); return next(ctx, cmd) }
}
func (rt *roundTrips) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error { rt.n.Add(1); return next(ctx, cmds) }
}

// codeWaiter is a Sender that hands each code to whoever waits for it.
type codeWaiter struct {
	mu sync.Mutex
	ch map[string]chan string
}

func (c *codeWaiter) for_(to string) chan string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := c.ch[to]
	if !ok {
		ch = make(chan string, 1)
		c.ch[to] = ch
	}
	return ch
}

func (c *codeWaiter) Send(_ context.Context, m verify.Message) error {
	c.for_(m.To) <- m.Code
	return nil
}

// BenchmarkSignIn is a whole sign-in, POST /auth/start and POST
// /auth/verify with the code, by 8 x GOMAXPROCS clients in parallel, each
// from its own address; signins/s is its throughput and round-trips/signin
// the Redis round trips one costs.
func BenchmarkSignIn(b *testing.B) {
	for _, st := range benchStores(b) {
		b.Run(st.name, func(b *testing.B) {
			codes := &codeWaiter{ch: map[string]chan string{}}
			p := benchGateStore(b, st.store, codes)
			rt := countRoundTrips()
			var next atomic.Int64
			post := func(path, body, ip string) (int, []byte) {
				r := httptest.NewRequest("POST", path, strings.NewReader(body))
				r.Header.Set("Content-Type", "application/json")
				ctx := context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer())
				ctx = context.WithValue(ctx, caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: ip})
				w := httptest.NewRecorder()
				if err := p.ServeHTTP(w, r.WithContext(ctx), nil); err != nil {
					b.Fatal(err)
				}
				return w.Code, w.Body.Bytes()
			}
			b.SetParallelism(8)
			began := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1)
					email := fmt.Sprintf("user%d-%s@example.com", i, strings.ToLower(rand.Text()[:6]))
					ip := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
					status, body := post("/auth/start", `{"email":"`+email+`"}`, ip)
					if status != http.StatusOK {
						b.Fatalf("start: %d %s", status, body)
					}
					var started struct {
						AttemptID string `json:"attempt_id"`
					}
					json.Unmarshal(body, &started)
					code := <-codes.for_(email)
					if status, body := post("/auth/verify", `{"attempt_id":"`+started.AttemptID+`","code":"`+code+`"}`, ip); status != http.StatusOK {
						b.Fatalf("verify: %d %s", status, body)
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(began).Seconds(), "signins/s")
			if st.name != "memory" {
				b.ReportMetric(float64(rt.n.Load())/float64(b.N), "round-trips/signin")
			}
		})
	}
}

// BenchmarkHandlerTopologies is BenchmarkHandler's request on a warm
// session on each topology: the hot path, which the session cache keeps
// off Redis but for one read per second per session.
func BenchmarkHandlerTopologies(b *testing.B) {
	for _, st := range benchStores(b) {
		p := benchGateStore(b, st.store, verify.LogSender{Logger: zap.NewNop()})
		cookie, token := warmSession(b, p)
		for _, auth := range []struct{ name, header, value string }{
			{"cookie", "Cookie", p.cookie.name + "=" + cookie},
			{"bearer", "Authorization", "Bearer " + token},
		} {
			b.Run(st.name+"/"+auth.name, func(b *testing.B) {
				req := httptest.NewRequest("GET", "/app", nil)
				w := httptest.NewRecorder()
				passed, sent := 0, 0
				next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { passed++; return nil })
				b.ReportAllocs()
				for b.Loop() {
					req.Header = http.Header{auth.header: {auth.value}, "Accept": {"*/*"}, "User-Agent": {"wrk"}}
					sent++
					if err := p.ServeHTTP(w, withReplacer(req), next); err != nil {
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
