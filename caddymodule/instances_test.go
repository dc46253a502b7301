package caddymodule_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/passgate/caddy-passgate/internal/testenv"
)

func TestTwoInstancesShareOneRedis(t *testing.T) {
	rs := testenv.StartRedis(t)
	a := testenv.StartGateway(t, testenv.WithRedis(rs))
	b := testenv.StartTwin(t, a)

	// A code sent by one instance verifies on the other.
	ca := a.NewClient()
	cb := a.NewClient().On(b)
	id := ca.Start("pam@example.com")
	r := cb.Do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": a.CodeFor("pam@example.com")})
	if r.Status != 200 {
		t.Fatalf("code from A verified on B: %d %s", r.Status, r.Body)
	}
	if h := testenv.Echoed(t, cb.Do("GET", "/app", nil)); h.Get("X-Auth-Email") != "pam@example.com" {
		t.Fatalf("on B: %v", h)
	}

	// Limits hold across both: a second start on B within A's cooldown.
	ca.Start("quin@example.com")
	r = cb.Do("POST", "/auth/start", map[string]any{"email": "quin@example.com"})
	if r.Status != 429 || r.JSON(t)["error"] != "rate_limited" {
		t.Fatalf("start on B inside A's cooldown: %d %s, want 429", r.Status, r.Body)
	}

	// Single use holds across both under concurrency.
	id = b.NewClient().On(b).Start("rex@example.com")
	code := b.CodeFor("rex@example.com")
	var ok, gone atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		var c *testenv.Client
		if i%2 == 0 {
			c = a.NewClient()
		} else {
			c = a.NewClient().On(b)
		}
		wg.Go(func() {
			switch c.Do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": code}).Status {
			case 200:
				ok.Add(1)
			case 404:
				gone.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || gone.Load() != 19 {
		t.Fatalf("20 verifies across two instances: %d succeeded, %d not found; want 1 and 19", ok.Load(), gone.Load())
	}

	// A logout on A ends the session on B.
	if r := cb.Do("GET", "/app", nil); r.Status != 200 {
		t.Fatalf("before logout: %d", r.Status)
	}
	shared := a.NewClient()
	shared.HC = cb.HC
	if r := shared.Do("POST", "/auth/logout", nil); r.Status != 200 {
		t.Fatalf("logout on A: %d", r.Status)
	}
	r = within(t, revocationBound, "B after logout on A", func() testenv.Response { return cb.Do("GET", "/app", nil) }, refused)
	if r.Status != 401 {
		t.Fatalf("on B after logout on A: %d, want 401", r.Status)
	}
}
