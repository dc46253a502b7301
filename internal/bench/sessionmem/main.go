// Command sessionmem measures the Redis memory a session costs: it creates
// n sessions, per-user of them for each user (1: every session its own
// user, the worst case), through the same code passgate uses, and reports
// the growth of used_memory per session. The users' own records are not
// counted: they are made before the measurement starts.
// Run it against an empty, private server (./xcaddy.sh bench does):
//
//	go run ./internal/bench/sessionmem -redis redis://127.0.0.1:6390/0 -n 100000
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"log"
	"os"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/passgate/caddy-passgate/sessionstore"
	redisstore "github.com/passgate/caddy-passgate/sessionstore/redis"
)

func main() {
	url := flag.String("redis", "", "URL of an empty Redis server to fill")
	n := flag.Int("n", 100000, "sessions to create")
	perUser := flag.Int("per-user", 1, "sessions per user")
	flag.Parse()
	if *url == "" {
		flag.Usage()
		os.Exit(2)
	}
	client, err := redisstore.NewClient(redisstore.Config{URL: *url, Timeout: 5 * time.Second, Name: "passgate-sessionmem"})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()
	if keys, err := client.DBSize(ctx).Result(); err != nil || keys != 0 {
		log.Fatalf("the server must be empty and reachable: %d keys, %v", keys, err)
	}
	store := redisstore.New(client, "passgate:", 0)
	// A session as passgate makes one: under the hash of a 256-bit secret,
	// until its idle end (the absolute end is 30 days away), from a device
	// on an IPv6 network (the longest).
	create := func(u sessionstore.User) error {
		now := time.Now().Truncate(time.Millisecond)
		s := sessionstore.Session{ID: sessionstore.SessionID(rand.Text() + rand.Text()), UserID: u.ID,
			CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour), LastSeenAt: now, Device: "cw", Network: "2a02:1234:5678"}
		return store.CreateSession(ctx, s, now.Add(24*time.Hour))
	}

	users := make([]sessionstore.User, (*n+*perUser-1) / *perUser)
	for i := range users {
		u, err := store.RecordSignIn(ctx, "email", fmt.Sprintf("user%06d@example.com", i),
			fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i), []string{"staff"}, time.Now())
		if err != nil {
			log.Fatal(err)
		}
		users[i] = u
	}

	before := usedMemory(ctx, client.Info(ctx, "memory").Val())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	const workers = 16
	for w := range workers {
		wg.Go(func() {
			for i := w; i < *n; i += workers {
				if err := create(users[i / *perUser]); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		log.Fatal(firstErr)
	}
	after := usedMemory(ctx, client.Info(ctx, "memory").Val())
	keys := client.DBSize(ctx).Val()
	fmt.Printf("%d sessions, %d per user (%d keys in all): used_memory %d -> %d bytes, %.0f bytes per session\n",
		*n, *perUser, keys, before, after, float64(after-before)/float64(*n))
}

var usedMemoryRE = regexp.MustCompile(`(?m)^used_memory:(\d+)`)

func usedMemory(_ context.Context, info string) int64 {
	m := usedMemoryRE.FindStringSubmatch(info)
	if m == nil {
		log.Fatalf("no used_memory in INFO memory")
	}
	v, _ := strconv.ParseInt(m[1], 10, 64)
	return v
}
