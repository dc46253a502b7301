package redis_test

import (
	"context"
	"crypto/rand"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/internal/testenv/redisenv"
	"github.com/passgate/caddy-passgate/sessionstore"
	redisstore "github.com/passgate/caddy-passgate/sessionstore/redis"
	"github.com/passgate/caddy-passgate/sessionstore/storetest"
)

func TestRedis(t *testing.T) {
	client := testClient(t, testRedisURL())
	storetest.Run(t, func(t *testing.T) sessionstore.Store {
		return redisstore.New(client, testPrefix(t, client), 0)
	})
}

// The suite passes on a Sentinel group and on a Cluster, with and without
// the session cache. On the Cluster, every script runs (see
// scriptRecorder): none may touch a key outside its declared keys' slot.
func TestRedisTopologies(t *testing.T) {
	t.Run("sentinel", func(t *testing.T) {
		t.Parallel()
		e := redisenv.Sentinel(t, 1, 3)
		client := newClient(t, sentinelConfig(e))
		runSuites(t, client)
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		e := redisenv.Cluster(t, 3, 1)
		client := newClient(t, clusterConfig(e))
		rec := recordScripts(client)
		runSuites(t, client)
		rec.check(t)
	})
}

func runSuites(t *testing.T, client *redisstore.Client) {
	t.Run("plain", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) sessionstore.Store {
			return redisstore.New(client, testPrefix(t, client), 0)
		})
	})
	t.Run("cached", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) sessionstore.Store {
			s, _ := cachedStore(t, client, testPrefix(t, client), time.Second)
			return s
		})
	})
}

// Nothing answering, in any topology: every call says unavailable, never
// not found, so that callers fail closed; and making the client dialled
// nothing (caddy validate must work with Redis away).
func TestRedisUnreachableIsUnavailable(t *testing.T) {
	// Port 1 on loopback refuses at once.
	for _, cfg := range []redisstore.Config{
		{URL: "redis://127.0.0.1:1/0"},
		{Mode: redisstore.Sentinel, MasterName: "mymaster", Addrs: []string{"127.0.0.1:1", "127.0.0.1:2"}},
		{Mode: redisstore.Cluster, Addrs: []string{"127.0.0.1:1", "127.0.0.1:2"}},
	} {
		t.Run(cfg.Mode, func(t *testing.T) {
			cfg.Timeout = 200 * time.Millisecond
			client := newClient(t, cfg)
			s := redisstore.New(client, "x:", 0)
			ctx := context.Background()
			_, err := s.Session(ctx, "abc")
			if !errors.Is(err, sessionstore.ErrUnavailable) || errors.Is(err, sessionstore.ErrNotFound) {
				t.Fatalf("Session with nothing answering: %v, want ErrUnavailable", err)
			}
			_, err = s.TryAttempt(ctx, "abc")
			if !errors.Is(err, sessionstore.ErrUnavailable) {
				t.Fatalf("TryAttempt with nothing answering: %v, want ErrUnavailable", err)
			}
			if _, _, err := s.TakeSlot(ctx, "k", 1, time.Minute, time.Now()); !errors.Is(err, sessionstore.ErrUnavailable) {
				t.Fatalf("TakeSlot with nothing answering: %v, want ErrUnavailable", err)
			}
		})
	}
}

// A sign-in's keys are the documented ones, in the documented slots, and
// each goes when what it belongs to goes: an attempt's token index with the
// attempt, a session's pointer with the session, a session's field with
// its logout or (at the next sign-in) its end.
func TestRedisKeySchema(t *testing.T) {
	client := testClient(t, testRedisURL())
	ctx := context.Background()
	prefix := testPrefix(t, client)
	k := redisstore.Keys{Prefix: prefix}
	s := redisstore.New(client, prefix, 0)
	keys := func() []string {
		t.Helper()
		got := allKeys(t, client, prefix+"*")
		slices.Sort(got)
		return got
	}
	wantKeys := func(what string, want ...string) {
		t.Helper()
		slices.Sort(want)
		if got := keys(); !slices.Equal(got, want) {
			t.Fatalf("%s: keys\n%v\nwant\n%v", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	ttl := func(key string) time.Duration { t.Helper(); return client.PTTL(ctx, key).Val() }
	now := time.Now().Truncate(time.Millisecond)

	th := []byte("0123456789abcdef0123456789abcdef")
	a := sessionstore.Attempt{ID: rand.Text(), Channel: "email", Identifier: "ann@example.com", CodeMAC: []byte("mac"),
		TokenHash: th, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	must(t, s.CreateAttempt(ctx, a))
	wantKeys("an attempt with a link", k.Attempt(a.ID), k.Token(th), k.Latest("email", "ann@example.com"))
	for _, key := range keys() {
		if d := ttl(key); d < 50*time.Second || d > time.Minute {
			t.Fatalf("%s expires in %v, want the attempt's minute", key, d)
		}
	}
	must(t, s.FailAttempt(ctx, a.ID))
	wantKeys("a failed attempt", k.Attempt(a.ID), k.Latest("email", "ann@example.com"))
	if f := client.HMGet(ctx, k.Attempt(a.ID), "f", "mac", "th").Val(); f[0] != "1" || f[1] != "" || f[2] != "" {
		t.Fatalf("failed attempt's f, mac, th = %q", f)
	}
	b := a
	b.ID = rand.Text()
	must(t, s.CreateAttempt(ctx, b))
	if ok, err := s.DeleteAttempt(ctx, b.ID); !ok || err != nil {
		t.Fatalf("DeleteAttempt = %v, %v", ok, err)
	}
	wantKeys("a used attempt", k.Attempt(a.ID), k.Latest("email", "ann@example.com"))
	deleteKeys(client, prefix+"*")

	u, err := s.RecordSignIn(ctx, "email", "ann@example.com", rand.Text(), []string{"staff"}, now)
	must(t, err)
	wantKeys("a user", k.Identity("email", "ann@example.com"), k.User(u.ID))
	session := func(until time.Time) sessionstore.Session {
		t.Helper()
		sess := sessionstore.Session{ID: sessionstore.SessionID(rand.Text()), UserID: u.ID,
			CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastSeenAt: now}
		must(t, s.CreateSession(ctx, sess, until))
		return sess
	}
	s1, s2 := session(now.Add(time.Hour)), session(now.Add(30*time.Minute))
	wantKeys("two sessions", k.Identity("email", "ann@example.com"), k.User(u.ID), k.Pointer(s1.ID), k.Pointer(s2.ID))
	if d := ttl(k.Pointer(s2.ID)); d < 29*time.Minute || d > 30*time.Minute {
		t.Fatalf("a session's pointer expires in %v, want at its end (30m)", d)
	}
	fields := func() []string {
		t.Helper()
		f := client.HKeys(ctx, k.User(u.ID)).Val()
		slices.Sort(f)
		return f
	}
	if got, want := fields(), sorted("c", "ch", "id", "idf", "l", "r", "s:"+s1.ID, "s:"+s2.ID); !slices.Equal(got, want) {
		t.Fatalf("user hash fields %v, want %v", got, want)
	}

	// A refresh chain: every token in one slot.
	root, rootHash := sessionstore.NewRefreshToken()
	must(t, s.CreateRefresh(ctx, sessionstore.RefreshToken{Hash: rootHash, SessionID: s1.ID, UserID: u.ID, ExpiresAt: s1.ExpiresAt}))
	tok, hash := root, rootHash
	chain := []string{k.Refresh(rootHash)}
	for range 3 {
		next, nextHash := sessionstore.NextRefreshToken([]byte("key"), tok)
		if _, err := s.RotateRefresh(ctx, hash, nextHash, time.Now()); err != nil {
			t.Fatal(err)
		}
		tok, hash = next, nextHash
		chain = append(chain, k.Refresh(hash))
	}
	for _, key := range chain {
		if redisenv.Slot(key) != redisenv.Slot(chain[0]) || !strings.Contains(key, "{"+sessionstore.RefreshChain(rootHash)+"}") {
			t.Fatalf("refresh chain keys %v: not all in one slot under the chain's tag", chain)
		}
		if d := ttl(key); d < 59*time.Minute || d > time.Hour {
			t.Fatalf("refresh key %s expires in %v, want with the chain (1h)", key, d)
		}
	}

	// Logout takes the field and the pointer.
	must(t, s.DeleteSession(ctx, s2.ID, u.ID))
	if got, want := fields(), sorted("c", "ch", "id", "idf", "l", "r", "s:"+s1.ID); !slices.Equal(got, want) {
		t.Fatalf("user hash fields after a logout %v, want %v", got, want)
	}
	if client.Exists(ctx, k.Pointer(s2.ID)).Val() != 0 {
		t.Fatal("a logged-out session's pointer is left")
	}
	// A session that ended (here: its pointer expired, its field says so)
	// is removed by the next one made.
	ended := session(time.Now().Add(50 * time.Millisecond))
	waitFor(t, 2*time.Second, "the short session's end", func() bool {
		_, err := s.Session(ctx, ended.ID)
		return errors.Is(err, sessionstore.ErrNotFound)
	})
	s3 := session(now.Add(time.Hour))
	if got, want := fields(), sorted("c", "ch", "id", "idf", "l", "r", "s:"+s1.ID, "s:"+s3.ID); !slices.Equal(got, want) {
		t.Fatalf("user hash fields after a new session %v, want %v (the ended one gone)", got, want)
	}
	// A global logout takes every field and pointer, and keeps the user.
	n, err := s.DeleteUserSessions(ctx, u.ID)
	if err != nil || n != 2 {
		t.Fatalf("DeleteUserSessions = %d, %v; want 2", n, err)
	}
	if got, want := fields(), []string{"c", "ch", "id", "idf", "l", "r"}; !slices.Equal(got, want) {
		t.Fatalf("user hash fields after a global logout %v, want %v", got, want)
	}
	for _, id := range []string{s1.ID, s3.ID} {
		if client.Exists(ctx, k.Pointer(id)).Val() != 0 {
			t.Fatal("a pointer outlived a global logout")
		}
	}
}

// Failing operations against a dead server leave no goroutine behind.
func TestRedisFailuresLeakNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	client, err := redisstore.NewClient(redisstore.Config{URL: "redis://127.0.0.1:1/0", Timeout: 100 * time.Millisecond})
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
	waitFor(t, 5*time.Second, "goroutines back to where they were", func() bool { return runtime.NumGoroutine() <= before })
}

// Bad configurations are refused when the client is made.
func TestNewClientRefusesBadConfig(t *testing.T) {
	for _, cfg := range []redisstore.Config{
		{URL: "http://127.0.0.1:6379"},
		{Mode: redisstore.Sentinel, Addrs: []string{"127.0.0.1:26379"}},
		{Mode: redisstore.Sentinel, MasterName: "m"},
		{Mode: redisstore.Cluster},
		{Mode: "ring", Addrs: []string{"127.0.0.1:6379"}},
	} {
		if c, err := redisstore.NewClient(cfg); err == nil {
			c.Close()
			t.Errorf("NewClient(%+v) accepted", cfg)
		}
	}
}

func sorted(s ...string) []string { slices.Sort(s); return s }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// One server's credentials and TLS, in the URL or beside it: both reach
// a server with an ACL user over TLS; a wrong password does not.
func TestStandaloneCredentials(t *testing.T) {
	e := redisenv.Standalone(t, redisenv.WithTLS(), redisenv.WithUser("passgate", "data-pw"))
	ctx := context.Background()
	bare := "rediss://" + e.Addr + "/0"
	for _, cfg := range []redisstore.Config{
		{URL: e.URL(), TLS: e.ClientTLS()},
		{URL: bare, Username: "passgate", Password: "data-pw", TLS: e.ClientTLS()},
	} {
		if err := newClient(t, cfg).Ping(ctx).Err(); err != nil {
			t.Fatalf("%+v: %v", cfg, err)
		}
	}
	if err := newClient(t, redisstore.Config{URL: bare, Username: "passgate", Password: "wrong", TLS: e.ClientTLS()}).Ping(ctx).Err(); err == nil {
		t.Fatal("a wrong password was accepted")
	}
	if err := newClient(t, redisstore.Config{URL: bare, Username: "passgate", Password: "data-pw"}).Ping(ctx).Err(); err == nil {
		t.Fatal("a server certificate from an unknown CA was accepted")
	}
}
