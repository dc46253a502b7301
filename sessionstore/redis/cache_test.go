package redis_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/passgate/caddy-passgate/sessionstore"
	redisstore "github.com/passgate/caddy-passgate/sessionstore/redis"
	"github.com/passgate/caddy-passgate/sessionstore/storetest"
)

func testClient(t *testing.T, url string) *goredis.Client {
	t.Helper()
	client, err := redisstore.NewClient(url, time.Second, "passgate-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("no Redis at %s (%v): install and start redis-server (apt-get install redis-server), or set PASSGATE_TEST_REDIS", url, err)
	}
	return client
}

// testPrefix returns a key prefix of the test's own on client's server;
// its keys are removed when the test ends.
func testPrefix(t *testing.T, client *goredis.Client) string {
	prefix := "passgate-test:" + rand.Text() + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		if keys, _ := client.Keys(ctx, prefix+"*").Result(); len(keys) > 0 {
			client.Del(ctx, keys...)
		}
	})
	return prefix
}

func cachedStore(t *testing.T, client *goredis.Client, prefix string, ttl time.Duration) (*redisstore.Store, *redisstore.SessionCache) {
	c := redisstore.NewSessionCache(client, 100, ttl)
	t.Cleanup(func() {
		c.Close()
		ctx := context.Background()
		if keys, _ := client.Keys(ctx, prefix+"*").Result(); len(keys) > 0 {
			client.Del(ctx, keys...)
		}
	})
	return redisstore.New(client, prefix, 0).WithCache(c), c
}

// waitFor polls cond for at most d: for what only pub/sub delivery, which
// is asynchronous, makes true.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
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
			_, h1 := sessionstore.NewRefreshToken()
			_, h2 := sessionstore.NewRefreshToken()
			_, h3 := sessionstore.NewRefreshToken()
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

// startPrivateRedis runs a redis-server of the test's own, which it may stop.
// A free port can be taken by another process before the server binds it;
// then the server exits, or another answers, and another port is tried
// (as caddymodule's harness does; test files cannot share it).
func startPrivateRedis(t *testing.T) (url string, stop func()) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		url, stop, err := tryPrivateRedis(t)
		if err == nil {
			return url, stop
		}
		if attempt == 3 {
			t.Fatal(err)
		}
		t.Logf("%v; trying another port", err)
	}
}

func tryPrivateRedis(t *testing.T) (url string, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server (apt-get install redis-server): %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cmd.Process.Kill()
			<-exited
		}
	}
	url = fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	client, err := redisstore.NewClient(url, time.Second, "passgate-test")
	if err != nil {
		stop()
		t.Fatal(err)
	}
	defer client.Close()
	// Ours once the process answering is the one started.
	mine := fmt.Sprintf("process_id:%d\r", cmd.Process.Pid)
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-exited:
			return "", nil, fmt.Errorf("redis-server on port %d exited at start (port taken?)", port)
		default:
		}
		if info, err := client.Info(context.Background(), "server").Result(); err == nil {
			if !strings.Contains(info, mine) {
				stop()
				return "", nil, fmt.Errorf("another server answers on port %d", port)
			}
			t.Cleanup(stop)
			return url, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("private redis-server on port %d did not answer within 10s", port)
		}
		time.Sleep(20 * time.Millisecond) // polling a starting process; nothing to wait on
	}
}

// When Redis goes away the cache is dropped as soon as the subscription
// breaks, so lookups fail closed although entries had an hour to live.
func TestSessionCacheOutageFailsClosed(t *testing.T) {
	url, stop := startPrivateRedis(t)
	client := testClient(t, url)
	s, c := cachedStore(t, client, "p:", time.Hour)
	sess := newSession(t, s, "u1")
	warm(t, s, c, sess.ID)

	stop()
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
	client, err := redisstore.NewClient("redis://127.0.0.1:1/0", 100*time.Millisecond, "passgate-test")
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
