package sessionstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/sessionstore"
	"github.com/passgate/caddy-passgate/sessionstore/storetest"
)

// testRedisURL is the server the Redis tests use: PASSGATE_TEST_REDIS, or
// the local default that .ci/run starts.
func testRedisURL() string {
	if u := os.Getenv("PASSGATE_TEST_REDIS"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

func TestRedis(t *testing.T) {
	client, err := sessionstore.NewRedisClient(testRedisURL(), time.Second, "passgate-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("no Redis at %s (%v): install and start redis-server (apt-get install redis-server), or set PASSGATE_TEST_REDIS", testRedisURL(), err)
	}
	storetest.Run(t, func(t *testing.T) sessionstore.Store {
		prefix := "passgate-test:" + rand.Text() + ":"
		t.Cleanup(func() {
			ctx := context.Background()
			keys, _ := client.Keys(ctx, prefix+"*").Result()
			if len(keys) > 0 {
				client.Del(ctx, keys...)
			}
		})
		return sessionstore.NewRedis(client, prefix, 0)
	})
}

func TestRedisUnreachableIsUnavailable(t *testing.T) {
	// Port 1 on loopback refuses at once; the error must say "unavailable",
	// never "not found", so that callers fail closed.
	client, err := sessionstore.NewRedisClient("redis://127.0.0.1:1/0", 200*time.Millisecond, "passgate-test")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	s := sessionstore.NewRedis(client, "x:", 0)
	ctx := context.Background()
	_, err = s.Session(ctx, "abc")
	if !errors.Is(err, sessionstore.ErrUnavailable) || errors.Is(err, sessionstore.ErrNotFound) {
		t.Fatalf("Session on a dead server: %v, want ErrUnavailable", err)
	}
	_, err = s.TryAttempt(ctx, "abc")
	if !errors.Is(err, sessionstore.ErrUnavailable) {
		t.Fatalf("TryAttempt on a dead server: %v, want ErrUnavailable", err)
	}
}

// Deleting an attempt deletes its token index in the same script, so no
// key is left behind to expire on its own.
func TestRedisTokenIndexDeletedWithAttempt(t *testing.T) {
	client, err := sessionstore.NewRedisClient(testRedisURL(), time.Second, "passgate-test")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()
	if err := client.Ping(ctx).Err(); err != nil {
		t.Fatalf("no Redis at %s (%v): install and start redis-server", testRedisURL(), err)
	}
	prefix := "passgate-test:" + rand.Text() + ":"
	s := sessionstore.NewRedis(client, prefix, 0)
	now := time.Now()
	a := sessionstore.Attempt{ID: rand.Text(), Channel: "email", Identifier: "a@b.c",
		TokenHash: []byte("0123456789abcdef0123456789abcdef"), CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if err := s.CreateAttempt(ctx, a); err != nil {
		t.Fatal(err)
	}
	if keys, _ := client.Keys(ctx, prefix+"*").Result(); len(keys) != 2 {
		t.Fatalf("after create: keys %v, want the attempt and its token index", keys)
	}
	if ok, err := s.DeleteAttempt(ctx, a.ID); !ok || err != nil {
		t.Fatalf("DeleteAttempt = %v, %v", ok, err)
	}
	if keys, _ := client.Keys(ctx, prefix+"*").Result(); len(keys) != 0 {
		t.Fatalf("after delete: keys %v left", keys)
	}
}

// Failing operations against a dead server leave no goroutine behind.
func TestRedisFailuresLeakNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	client, err := sessionstore.NewRedisClient("redis://127.0.0.1:1/0", 100*time.Millisecond, "passgate-test")
	if err != nil {
		t.Fatal(err)
	}
	s := sessionstore.NewRedis(client, "x:", 0)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := s.Session(context.Background(), "abc"); !errors.Is(err, sessionstore.ErrUnavailable) {
				t.Errorf("got %v, want ErrUnavailable", err)
			}
		})
	}
	wg.Wait()
	client.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines before, %d after 50 failed calls and Close", before, runtime.NumGoroutine())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
