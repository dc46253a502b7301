package redis_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/passgate/caddy-passgate/internal/testenv/redisenv"
	"github.com/passgate/caddy-passgate/sessionstore"
	"github.com/passgate/caddy-passgate/sessionstore/memory"
	redisstore "github.com/passgate/caddy-passgate/sessionstore/redis"
)

// BenchmarkSessionLookup is a lookup of a live session: in memory,
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
			ctx := context.Background()
			u, err := st.store.RecordSignIn(ctx, "email", "ann@example.com", "u1", []string{"staff"}, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now().Truncate(time.Millisecond)
			sess := sessionstore.Session{ID: sessionstore.SessionID(rand.Text()), UserID: u.ID,
				CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour), LastSeenAt: now}
			if err := st.store.CreateSession(ctx, sess, now.Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
			if st.name == "redis-cached" {
				deadline := time.Now().Add(5 * time.Second)
				for !cache.Live() && time.Now().Before(deadline) {
					st.store.Session(ctx, sess.ID) // the first lookup subscribes
					time.Sleep(5 * time.Millisecond)
				}
				if !cache.Live() {
					b.Fatal("the session cache did not subscribe within 5s; the figure would be the uncached one")
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := st.store.Session(ctx, sess.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkWaitForReplica is what making a counted try survive a failover
// would cost: TryAttempt alone, and TryAttempt followed, on the same
// connection in one pipeline, by WAIT 1 (the master returns once its
// replica has the try), on a Sentinel group's master with one replica.
func BenchmarkWaitForReplica(b *testing.B) {
	e := redisenv.Sentinel(b, 1, 1)
	client := newClient(b, sentinelConfig(e))
	ctx := context.Background()
	prefix := "passgate-bench:"
	s := redisstore.New(client, prefix, 0)
	now := time.Now()
	a := sessionstore.Attempt{ID: rand.Text(), Channel: "email", Identifier: "ann@example.com",
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateAttempt(ctx, a); err != nil {
		b.Fatal(err)
	}
	b.Run("try", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.TryAttempt(ctx, a.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
	try := redisstore.Scripts()["tryAttempt"]
	key := redisstore.Keys{Prefix: prefix}.Attempt(a.ID)
	b.Run("try+wait", func(b *testing.B) {
		for b.Loop() {
			var acked *goredis.IntCmd
			_, err := client.Pipelined(ctx, func(p goredis.Pipeliner) error {
				try.Run(ctx, p, []string{key})
				acked = goredis.NewIntCmd(ctx, "wait", 1, 1000)
				p.Process(ctx, acked)
				return nil
			})
			if err != nil || acked.Val() != 1 {
				b.Fatalf("try and wait: %v, %d replicas", err, acked.Val())
			}
		}
	})
}
