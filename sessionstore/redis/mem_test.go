package redis_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/passgate/caddy-passgate/internal/testenv/redisenv"
	"github.com/passgate/caddy-passgate/sessionstore"
	redisstore "github.com/passgate/caddy-passgate/sessionstore/redis"
)

// maxSessionBytes is the Redis memory one session may cost: its pointer
// and its field in the user's hash (its times, device and network). About
// 270 at one session per user; at ten, 280 without a device and network,
// 290 to 305 with an IPv6 network (the longest): the measurement varies by
// about 10 between runs.
const maxSessionBytes = 320

// A session costs at most maxSessionBytes of Redis memory, whether every
// user has one session or ten. Measured as cmd/sessionmem does: the growth
// of used_memory while sessions are created as sign-in makes them, in a
// private server, with the users made beforehand.
func TestRedisSessionMemory(t *testing.T) {
	const n = 20000
	for _, perUser := range []int{1, 10} {
		t.Run(fmt.Sprintf("%d per user", perUser), func(t *testing.T) {
			client := testClient(t, redisenv.Standalone(t).URL())
			ctx := context.Background()
			store := redisstore.New(client, "passgate:", 0)

			users := make([]sessionstore.User, (n+perUser-1)/perUser)
			parallel(t, len(users), func(i int) error {
				u, err := store.RecordSignIn(ctx, "email", fmt.Sprintf("user%06d@example.com", i),
					fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), []string{"staff"}, time.Now())
				users[i] = u
				return err
			})
			before, keysBefore := usedMemory(t, client), client.DBSize(ctx).Val()
			parallel(t, n, func(i int) error {
				now := time.Now().Truncate(time.Millisecond)
				err := store.CreateSession(ctx, sessionstore.Session{ID: sessionstore.SessionID(rand.Text() + rand.Text()),
					UserID: users[i/perUser].ID, CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour), LastSeenAt: now,
					Device: "cw", Network: "2a02:1234:5678"}, // an IPv6 network is the longest
					now.Add(24*time.Hour))
				return err
			})
			after := usedMemory(t, client)
			// One key (the p: pointer) per session: a store that kept
			// nothing would be cheap.
			if keys := client.DBSize(ctx).Val() - keysBefore; keys != int64(n) {
				t.Fatalf("%d sessions made %d keys, want one each", n, keys)
			}
			per := float64(after-before) / n
			t.Logf("%d sessions, %d per user: %.0f bytes per session (used_memory %d -> %d)", n, perUser, per, before, after)
			if per > maxSessionBytes {
				t.Fatalf("a session costs %.0f bytes of Redis memory at %d per user, want at most %d", per, perUser, maxSessionBytes)
			}
		})
	}
}

// parallel runs fn(0..n-1) on a few workers and fails t on the first error.
func parallel(t *testing.T, n int, fn func(i int) error) {
	t.Helper()
	const workers = 16
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if err := fn(i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
}

var usedMemoryRE = regexp.MustCompile(`(?m)^used_memory:(\d+)`)

func usedMemory(t *testing.T, client goredis.UniversalClient) int64 {
	t.Helper()
	info, err := client.Info(context.Background(), "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	m := usedMemoryRE.FindStringSubmatch(info)
	if m == nil {
		t.Fatal("no used_memory in INFO memory")
	}
	v, _ := strconv.ParseInt(m[1], 10, 64)
	return v
}
