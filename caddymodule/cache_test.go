package caddymodule_test

import (
	"context"
	"testing"
	"time"

	redisstore "github.com/passgate/caddy-passgate/sessionstore/redis"
)

// within polls do until ok holds, and fails if a request sent d or more
// after the call still does not satisfy it. It is for what the session
// cache makes asynchronous: a revocation reaches another instance by
// pub/sub (milliseconds, and never later than redisstore.SessionCacheTTL
// even if the notice is lost), and an outage empties the cache when the
// subscription breaks (at once for a closed connection, within the TTL for
// a hung server). Responses before then may still be served from cache.
func within(t *testing.T, d time.Duration, what string, do func() response, ok func(response) bool) response {
	t.Helper()
	start := time.Now()
	for {
		late := time.Since(start) >= d
		r := do()
		if ok(r) {
			return r
		}
		if late {
			t.Fatalf("%s: still %d %s after %v", what, r.status, r.body, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func refused(r response) bool     { return r.status != 200 }
func unavailable(r response) bool { return r.status == 503 }

// The bound the cache promises for revocation on every instance.
const revocationBound = redisstore.SessionCacheTTL

// waitSubscribed waits until a passgate connection is subscribed to the
// invalidation channel.
func (rs *redisServer) waitSubscribed() {
	rs.t.Helper()
	c := rs.client()
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := c.PubSubNumSub(context.Background(), redisstore.InvalidationChannel).Result()
		if err != nil {
			rs.t.Fatal(err)
		}
		if n[redisstore.InvalidationChannel] > 0 {
			return
		}
		if time.Now().After(deadline) {
			rs.t.Fatal("no passgate subscription to the invalidation channel within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
