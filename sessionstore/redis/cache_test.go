package redis_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/passgate/caddy-passgate/internal/testenv/redisenv"
	"github.com/passgate/caddy-passgate/sessionstore"
	redisstore "github.com/passgate/caddy-passgate/sessionstore/redis"
	"github.com/passgate/caddy-passgate/sessionstore/storetest"
)

func cachedStore(t *testing.T, client goredis.UniversalClient, prefix string, ttl time.Duration) (*redisstore.Store, *redisstore.SessionCache) {
	c := redisstore.NewSessionCache(client, 100, ttl)
	t.Cleanup(func() {
		c.Close()
		deleteKeys(client, prefix+"*")
	})
	return redisstore.New(client, prefix, 0).WithCache(c), c
}

// The cached store behaves as the plain one.
func TestRedisCached(t *testing.T) {
	client := testClient(t, testRedisURL())
	storetest.Run(t, func(t *testing.T) sessionstore.Store {
		s, _ := cachedStore(t, client, testPrefix(t, client), time.Second)
		return s
	})
}

// newSession signs in the user userID@example.com (made with userID as id
// if new) and stores a session of that user.
func newSession(t *testing.T, s sessionstore.Store, userID string) sessionstore.Session {
	t.Helper()
	now := time.Now().Truncate(time.Millisecond)
	u, err := s.RecordSignIn(context.Background(), "email", userID+"@example.com", userID, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	sess := sessionstore.Session{ID: rand.Text(), UserID: u.ID, Email: u.Email,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastSeenAt: now}
	if err := s.CreateSession(context.Background(), sess, sess.ExpiresAt); err != nil {
		t.Fatal(err)
	}
	return sess
}

// warm reads the session through s until it comes from the cache.
func warm(t *testing.T, s *redisstore.Store, c *redisstore.SessionCache, id string) {
	t.Helper()
	waitFor(t, 5*time.Second, "the cache subscribed", func() bool {
		_, err := s.Session(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return c.Live()
	})
	if _, err := s.Session(context.Background(), id); err != nil || c.Len() == 0 {
		t.Fatalf("session not cached: %v, %d entries", err, c.Len())
	}
}

// A revocation made through one instance reaches another's cache through
// pub/sub. The caches' TTL is an hour here, so only the notice can explain
// the refusal; the wait is bounded by 1 s, the documented guarantee.
func TestSessionCacheRevocationReachesOtherInstance(t *testing.T) {
	client := testClient(t, testRedisURL())
	ctx := context.Background()
	tests := []struct {
		name   string
		revoke func(t *testing.T, a *redisstore.Store, s sessionstore.Session)
	}{
		{"logout", func(t *testing.T, a *redisstore.Store, s sessionstore.Session) {
			if err := a.DeleteSession(ctx, s.ID, s.UserID); err != nil {
				t.Fatal(err)
			}
		}},
		{"global logout", func(t *testing.T, a *redisstore.Store, s sessionstore.Session) {
			if n, err := a.DeleteUserSessions(ctx, s.UserID); n != 1 || err != nil {
				t.Fatalf("DeleteUserSessions = %d, %v", n, err)
			}
		}},
		{"refresh token reuse", func(t *testing.T, a *redisstore.Store, s sessionstore.Session) {
			t1, h1 := sessionstore.NewRefreshToken()
			_, h2 := sessionstore.NextRefreshToken([]byte("k"), t1)
			_, h3 := sessionstore.NextRefreshToken([]byte("another k"), t1)
			if err := a.CreateRefresh(ctx, sessionstore.RefreshToken{Hash: h1, SessionID: s.ID, UserID: s.UserID, ExpiresAt: s.ExpiresAt}); err != nil {
				t.Fatal(err)
			}
			if _, err := a.RotateRefresh(ctx, h1, h2, time.Now()); err != nil {
				t.Fatal(err)
			}
			if _, err := a.RotateRefresh(ctx, h1, h3, time.Now()); !errors.Is(err, sessionstore.ErrRefreshReused) {
				t.Fatalf("reuse: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := testPrefix(t, client)
			a, ca := cachedStore(t, client, prefix, time.Hour)
			b, cb := cachedStore(t, client, prefix, time.Hour)
			s := newSession(t, a, "u"+rand.Text())
			warm(t, a, ca, s.ID)
			warm(t, b, cb, s.ID)

			tt.revoke(t, a, s)
			// The revoking instance forgets at once.
			if _, err := a.Session(ctx, s.ID); !errors.Is(err, sessionstore.ErrNotFound) {
				t.Fatalf("on the revoking instance: %v, want ErrNotFound", err)
			}
			waitFor(t, time.Second, "the other instance refuses the revoked session", func() bool {
				_, err := b.Session(ctx, s.ID)
				return errors.Is(err, sessionstore.ErrNotFound)
			})
		})
	}
}

// When Redis goes away the cache is dropped as soon as the subscription
// breaks, so lookups fail closed although entries had an hour to live.
func TestSessionCacheOutageFailsClosed(t *testing.T) {
	e := redisenv.Standalone(t)
	client := testClient(t, e.URL())
	s, c := cachedStore(t, client, "p:", time.Hour)
	sess := newSession(t, s, "u1")
	warm(t, s, c, sess.ID)

	e.Kill()
	waitFor(t, 5*time.Second, "the cache noticed the lost subscription", func() bool { return !c.Live() })
	if _, err := s.Session(context.Background(), sess.ID); !errors.Is(err, sessionstore.ErrUnavailable) {
		t.Fatalf("lookup during the outage: %v, want ErrUnavailable", err)
	}
	if c.Len() != 0 {
		t.Fatalf("%d sessions still cached during the outage", c.Len())
	}
}

// However many sessions are read, the cache holds at most its bound.
func TestSessionCacheBounded(t *testing.T) {
	client := testClient(t, testRedisURL())
	prefix := testPrefix(t, client)
	c := redisstore.NewSessionCache(client, 10, time.Hour)
	t.Cleanup(func() { c.Close() })
	s := redisstore.New(client, prefix, 0).WithCache(c)
	first := newSession(t, s, "u0")
	warm(t, s, c, first.ID)
	for i := range 50 {
		sess := newSession(t, s, fmt.Sprint("u", i))
		if _, err := s.Session(context.Background(), sess.ID); err != nil {
			t.Fatal(err)
		}
		if c.Len() > 10 {
			t.Fatalf("after %d sessions read: %d cached, bound 10", i+2, c.Len())
		}
	}
	if c.Len() != 10 {
		t.Fatalf("%d cached, want the bound, 10", c.Len())
	}
}

// The subscription goroutine ends with Close, also while it is retrying
// against a dead server, and lookups meanwhile fail closed.
func TestSessionCacheCloseLeavesNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	client, err := redisstore.NewClient(redisstore.Config{URL: "redis://127.0.0.1:1/0", Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c := redisstore.NewSessionCache(client, 10, time.Hour)
	s := redisstore.New(client, "x:", 0).WithCache(c)
	for range 20 {
		if _, err := s.Session(context.Background(), "abc"); !errors.Is(err, sessionstore.ErrUnavailable) {
			t.Fatalf("got %v, want ErrUnavailable", err)
		}
	}
	c.Close()
	client.Close()
	waitFor(t, 5*time.Second, "goroutines back to where they were", func() bool { return runtime.NumGoroutine() <= before })
}
