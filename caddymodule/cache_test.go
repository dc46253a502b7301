package caddymodule_test

import (
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/internal/testenv"
	redisstore "github.com/passgate/caddy-passgate/sessionstore/redis"
)

// within polls do until ok holds, and fails if a request sent d or more
// after the call still does not satisfy it. It is for what the session
// cache makes asynchronous: a revocation reaches another instance by
// pub/sub (milliseconds, and never later than redisstore.SessionCacheTTL
// even if the notice is lost), and an outage empties the cache when the
// subscription breaks (at once for a closed connection, within the TTL for
// a hung server). Responses before then may still be served from cache.
func within(t *testing.T, d time.Duration, what string, do func() testenv.Response, ok func(testenv.Response) bool) testenv.Response {
	t.Helper()
	start := time.Now()
	for {
		late := time.Since(start) >= d
		r := do()
		if ok(r) {
			return r
		}
		if late {
			t.Fatalf("%s: still %d %s after %v", what, r.Status, r.Body, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func refused(r testenv.Response) bool     { return r.Status != 200 }
func unavailable(r testenv.Response) bool { return r.Status == 503 }

// The bound the cache promises for revocation on every instance.
const revocationBound = redisstore.SessionCacheTTL
