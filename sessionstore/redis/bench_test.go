package redis_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/sessionstore"
	"github.com/passgate/caddy-passgate/sessionstore/memory"
	redisstore "github.com/passgate/caddy-passgate/sessionstore/redis"
)

// BenchmarkSessionLookup is Sessions.Lookup of a live session: in memory,
// in Redis read every time, and in Redis through the session cache.
func BenchmarkSessionLookup(b *testing.B) {
	client := newClient(b, redisstore.Config{URL: testRedisURL(), Name: "passgate-bench"})
	if err := client.Ping(context.Background()).Err(); err != nil {
		b.Fatalf("no Redis at %s (%v): install and start redis-server, or set PASSGATE_TEST_REDIS", testRedisURL(), err)
	}
	prefix := "passgate-bench:" + rand.Text() + ":"
	b.Cleanup(func() { deleteKeys(client, prefix+"*") })
	cache := redisstore.NewSessionCache(client, redisstore.SessionCacheEntries, redisstore.SessionCacheTTL)
	b.Cleanup(func() { cache.Close() })
	mem := memory.New(nil, time.Minute)
	b.Cleanup(func() { mem.Close() })
	stores := []struct {
		name  string
		store sessionstore.Store
	}{
		{"memory", mem},
		{"redis", redisstore.New(client, prefix, 0)},
		{"redis-cached", redisstore.New(client, prefix, 0).WithCache(cache)},
	}
	for _, st := range stores {
		b.Run(st.name, func(b *testing.B) {
			m := &sessionstore.Sessions{Store: st.store, Idle: time.Hour, Lifetime: 24 * time.Hour, TouchEvery: time.Minute}
			ctx := context.Background()
			u, err := st.store.RecordSignIn(ctx, "email", "ann@example.com", "u1", []string{"staff"}, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			secret, _, err := m.Create(ctx, u)
			if err != nil {
				b.Fatal(err)
			}
			if st.name == "redis-cached" {
				deadline := time.Now().Add(5 * time.Second)
				for !cache.Live() && time.Now().Before(deadline) {
					m.Lookup(ctx, secret) // the first lookup subscribes
					time.Sleep(5 * time.Millisecond)
				}
				if !cache.Live() {
					b.Fatal("the session cache did not subscribe within 5s; the figure would be the uncached one")
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Lookup(ctx, secret); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
