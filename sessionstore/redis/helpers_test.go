package redis_test

import (
	"context"
	"crypto/rand"
	"os"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/passgate/caddy-passgate/internal/testenv/redisenv"
	redisstore "github.com/passgate/caddy-passgate/sessionstore/redis"
)

// testRedisURL is the server the Redis tests use: PASSGATE_TEST_REDIS, or
// the local default that .ci/run starts.
func testRedisURL() string {
	if u := os.Getenv("PASSGATE_TEST_REDIS"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// testClient is a client of the shared test server, closed when the test
// ends.
func testClient(t *testing.T, url string) *redisstore.Client {
	t.Helper()
	client := newClient(t, redisstore.Config{URL: url})
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("no Redis at %s (%v): install and start redis-server (apt-get install redis-server), or set PASSGATE_TEST_REDIS", url, err)
	}
	return client
}

// newClient makes a client as passgate does, with a 1 s timeout unless cfg
// says otherwise, closed when the test ends.
func newClient(t testing.TB, cfg redisstore.Config) *redisstore.Client {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = time.Second
	}
	if cfg.Name == "" {
		cfg.Name = "passgate-test"
	}
	client, err := redisstore.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// Configs of the test environments' topologies, as passgate's Caddyfile
// would say them.
func sentinelConfig(e *redisenv.SentinelEnv) redisstore.Config {
	return redisstore.Config{Mode: redisstore.Sentinel, MasterName: e.MasterName, Addrs: e.SentinelAddrs(),
		Username: e.Username(), Password: e.Password(), SentinelPassword: e.SentinelPassword(), TLS: e.ClientTLS()}
}

func clusterConfig(e *redisenv.ClusterEnv) redisstore.Config {
	return redisstore.Config{Mode: redisstore.Cluster, Addrs: e.Addrs(),
		Username: e.Username(), Password: e.Password(), TLS: e.ClientTLS()}
}

// testPrefix returns a key prefix of the test's own on client's Redis;
// its keys are removed when the test ends.
func testPrefix(t *testing.T, client goredis.UniversalClient) string {
	prefix := "passgate-test:" + rand.Text() + ":"
	t.Cleanup(func() { deleteKeys(client, prefix+"*") })
	return prefix
}

// allKeys lists the keys matching pattern, on every master of a cluster.
func allKeys(t *testing.T, client goredis.UniversalClient, pattern string) []string {
	t.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	var keys []string
	scan := func(ctx context.Context, c *goredis.Client) error {
		k, err := c.Keys(ctx, pattern).Result()
		mu.Lock()
		keys = append(keys, k...)
		mu.Unlock()
		return err
	}
	var err error
	switch c := underlying(client).(type) {
	case *goredis.ClusterClient:
		err = c.ForEachMaster(ctx, scan)
	case *goredis.Client:
		err = scan(ctx, c)
	}
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func deleteKeys(client goredis.UniversalClient, pattern string) {
	ctx := context.Background()
	del := func(ctx context.Context, c *goredis.Client) error {
		keys, _ := c.Keys(ctx, pattern).Result()
		for _, k := range keys {
			c.Del(ctx, k)
		}
		return nil
	}
	switch c := underlying(client).(type) {
	case *goredis.ClusterClient:
		c.ForEachMaster(ctx, del)
	case *goredis.Client:
		del(ctx, c)
	}
}

func underlying(c goredis.UniversalClient) goredis.UniversalClient {
	if cl, ok := c.(*redisstore.Client); ok {
		return cl.UniversalClient
	}
	return c
}

// waitFor polls cond for at most d: for what only pub/sub delivery, which
// is asynchronous, or a failover makes true.
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
