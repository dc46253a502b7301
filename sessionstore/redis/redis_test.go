package redis_test

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/sessionstore"
	redisstore "github.com/passgate/caddy-passgate/sessionstore/redis"
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
	client := testClient(t, testRedisURL())
	storetest.Run(t, func(t *testing.T) sessionstore.Store {
		return redisstore.New(client, testPrefix(t, client), 0)
	})
}

func TestRedisUnreachableIsUnavailable(t *testing.T) {
	// Port 1 on loopback refuses at once; the error must say "unavailable",
	// never "not found", so that callers fail closed.
	client, err := redisstore.NewClient("redis://127.0.0.1:1/0", 200*time.Millisecond, "passgate-test")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	s := redisstore.New(client, "x:", 0)
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

// Deleting an attempt deletes its token index in the same script; what is
// left is the pointer to the latest attempt of the address, which expires
// with the attempt.
func TestRedisTokenIndexDeletedWithAttempt(t *testing.T) {
	client := testClient(t, testRedisURL())
	ctx := context.Background()
	prefix := testPrefix(t, client)
	s := redisstore.New(client, prefix, 0)
	now := time.Now()
	a := sessionstore.Attempt{ID: rand.Text(), Channel: "email", Identifier: "a@b.c",
		TokenHash: []byte("0123456789abcdef0123456789abcdef"), CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if err := s.CreateAttempt(ctx, a); err != nil {
		t.Fatal(err)
	}
	if keys, _ := client.Keys(ctx, prefix+"*").Result(); len(keys) != 3 {
		t.Fatalf("after create: keys %v, want the attempt, its token index and the latest-attempt pointer", keys)
	}
	if ok, err := s.DeleteAttempt(ctx, a.ID); !ok || err != nil {
		t.Fatalf("DeleteAttempt = %v, %v", ok, err)
	}
	latest := prefix + "n:email:a@b.c"
	if keys, _ := client.Keys(ctx, prefix+"*").Result(); len(keys) != 1 || keys[0] != latest {
		t.Fatalf("after delete: keys %v left, want only %s", keys, latest)
	}
	if ttl := client.PTTL(ctx, latest).Val(); ttl < 50*time.Second || ttl > time.Minute {
		t.Fatalf("latest-attempt pointer's TTL %v, want the attempt's minute", ttl)
	}
}

// Failing an attempt deletes its token index in the same script and keeps
// the attempt's own expiry.
func TestRedisTokenIndexDeletedWithFailedAttempt(t *testing.T) {
	client := testClient(t, testRedisURL())
	ctx := context.Background()
	prefix := testPrefix(t, client)
	s := redisstore.New(client, prefix, 0)
	now := time.Now()
	a := sessionstore.Attempt{ID: rand.Text(), Channel: "email", Identifier: "a@b.c", CodeMAC: []byte("mac"),
		TokenHash: []byte("0123456789abcdef0123456789abcdef"), CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	if err := s.CreateAttempt(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.FailAttempt(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	keys, _ := client.Keys(ctx, prefix+"a:*").Result()
	if all, _ := client.Keys(ctx, prefix+"*").Result(); len(all) != 2 || len(keys) != 1 || keys[0] != prefix+"a:"+a.ID {
		t.Fatalf("after FailAttempt: keys %v, want the attempt and the latest-attempt pointer", all)
	}
	if ttl := client.PTTL(ctx, keys[0]).Val(); ttl < 50*time.Second || ttl > time.Minute {
		t.Fatalf("failed attempt's TTL %v, want its minute", ttl)
	}
	if mac := client.HGet(ctx, keys[0], "mac").Val(); mac != "" {
		t.Fatalf("failed attempt keeps its MAC %q", mac)
	}
}

// Failing operations against a dead server leave no goroutine behind.
func TestRedisFailuresLeakNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	client, err := redisstore.NewClient("redis://127.0.0.1:1/0", 100*time.Millisecond, "passgate-test")
	if err != nil {
		t.Fatal(err)
	}
	s := redisstore.New(client, "x:", 0)
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

// The per-user index in the user's hash (fields s:<session id>) holds
// exactly the live sessions: whatever ends a session takes its field with
// it, or the next sign-in prunes it. The hash has no expiry, so a field
// left behind would stay for good.
func TestRedisSessionIndex(t *testing.T) {
	client := testClient(t, testRedisURL())
	ctx := context.Background()
	prefix := testPrefix(t, client)
	s := redisstore.New(client, prefix, 0)
	now := time.Now().Truncate(time.Millisecond)
	u, err := s.RecordSignIn(ctx, "email", "idx@example.com", rand.Text(), nil, now)
	if err != nil {
		t.Fatal(err)
	}
	create := func() string {
		t.Helper()
		sess := sessionstore.Session{ID: rand.Text(), UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastSeenAt: now}
		if err := s.CreateSession(ctx, sess, sess.ExpiresAt); err != nil {
			t.Fatal(err)
		}
		return sess.ID
	}
	indexed := func() []string {
		t.Helper()
		fields, err := client.HKeys(ctx, prefix+"u:"+u.ID).Result()
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, f := range fields {
			if id, ok := strings.CutPrefix(f, "s:"); ok {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		return ids
	}

	loggedOut, reused, expired := create(), create(), create()
	if got := indexed(); len(got) != 3 {
		t.Fatalf("index after three sessions: %v", got)
	}
	if err := s.DeleteSession(ctx, loggedOut, u.ID); err != nil {
		t.Fatal(err)
	}
	_, first := sessionstore.NewRefreshToken()
	_, second := sessionstore.NewRefreshToken()
	if err := s.CreateRefresh(ctx, sessionstore.RefreshToken{Hash: first, SessionID: reused, UserID: u.ID, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateRefresh(ctx, first, second, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateRefresh(ctx, first, rand.Text(), now); !errors.Is(err, sessionstore.ErrRefreshReused) {
		t.Fatalf("second rotation of one token: %v, want ErrRefreshReused", err)
	}
	// Expiry, as Redis does it: the key goes, the index is not told.
	if err := client.Del(ctx, prefix+"s:"+expired).Err(); err != nil {
		t.Fatal(err)
	}
	if got := indexed(); !slices.Equal(got, []string{expired}) {
		t.Fatalf("index after a logout and a reuse: %v, want only the expired session %s (pruned at the next sign-in)", got, expired)
	}
	live := create()
	if got := indexed(); !slices.Equal(got, []string{live}) {
		t.Fatalf("index after the next session: %v, want only %s", got, live)
	}
}
