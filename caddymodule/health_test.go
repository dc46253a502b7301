package caddymodule_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/internal/testenv"
)

// waitHealth polls {base_path}/healthz until it answers status, for up to
// 10 s, and returns how long the last probe took.
func waitHealth(t *testing.T, c *testenv.Client, status int, what string) time.Duration {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		began := time.Now()
		r := c.Do("GET", "/auth/healthz", nil)
		took := time.Since(began)
		if r.Status == status {
			want := `{"status":"ok"}`
			if status != 200 {
				want = `{"status":"unavailable","error":"store_unavailable"}`
			}
			if strings.TrimSpace(string(r.Body)) != want || r.Header.Get("Cache-Control") != "no-store" {
				t.Fatalf("%s: %d %s %v, want %s", what, r.Status, r.Body, r.Header, want)
			}
			return took
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d %s after 10 s, want %d", what, r.Status, r.Body, status)
		}
		time.Sleep(50 * time.Millisecond) // a probe's interval; nothing to wait on
	}
}

// Readiness follows Redis: 200 up, 503 hung (within the store's timeout,
// not the probe's), 503 stopped, 200 back; without a session, without
// access log lines, and with one event (audit line and count) per change,
// not per probe.
func TestHealthzFollowsRedis(t *testing.T) {
	rs := testenv.StartRedis(t)
	px := testenv.StartStallProxy(t, rs)
	g := testenv.StartGateway(t, testenv.WithAdmin(), func(g *testenv.Gateway) {
		g.Store = "store redis " + px.URL() + " {\n prefix pgtest:\n timeout 500ms\n}"
	})
	before := scrape(t, g)
	probe := g.NewClient() // no session, ever
	waitHealth(t, probe, 200, "Redis up")

	px.StallOn("$4\r\nping\r\n") // go-redis sends the command in lower case
	took := waitHealth(t, probe, 503, "Redis hung")
	if took > 1500*time.Millisecond || px.Stalled.Load() == 0 {
		t.Fatalf("Redis hung: 503 after %v (stalled %d), want within the 500ms store timeout", took, px.Stalled.Load())
	}
	waitHealth(t, probe, 503, "Redis still hung") // a second probe down: no second event
	px.Release()
	waitHealth(t, probe, 200, "Redis answering again")

	rs.Stop()
	waitHealth(t, probe, 503, "Redis stopped")
	waitHealth(t, probe, 503, "Redis still stopped")
	rs.Start()
	waitHealth(t, probe, 200, "Redis started again")
	waitHealth(t, probe, 200, "Redis still up")

	// A frozen server (SIGSTOP) keeps its connections and answers nothing.
	rs.Freeze()
	took = waitHealth(t, probe, 503, "Redis frozen")
	rs.Thaw()
	if took > 1500*time.Millisecond {
		t.Fatalf("Redis frozen: 503 after %v, want within the 500ms store timeout", took)
	}
	waitHealth(t, probe, 200, "Redis thawed")

	var down, up int
	for _, e := range testenv.ReadLog(t, g.LogPath) {
		if e["logger"] != "http.handlers.passgate.audit" {
			continue
		}
		switch e["msg"] {
		case "store unavailable":
			down++
			if e["reason"] == nil || e["door"] != "native" {
				t.Fatalf("store unavailable event: %v", e)
			}
		case "store available":
			up++
		}
	}
	if down != 3 || up != 3 {
		t.Fatalf("%d store unavailable and %d store available audit events, want 3 and 3 (one per change)", down, up)
	}
	after := scrape(t, g)
	for _, ev := range []string{"store unavailable", "store available"} {
		if got := value(after, "caddy_passgate_events_total", "event", ev) - value(before, "caddy_passgate_events_total", "event", ev); got != 3 {
			t.Fatalf("events_total{event=%q} rose by %v, want 3", ev, got)
		}
	}

	// Probes leave no access log line; other requests still do.
	probe.Do("GET", "/auth/login", nil)
	deadline := time.Now().Add(5 * time.Second)
	for {
		raw, err := os.ReadFile(g.AccessLog)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(raw), "/auth/healthz") {
			t.Fatalf("a probe is in the access log:\n%s", raw)
		}
		if strings.Contains(string(raw), "/auth/login") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the access log lacks the sign-in page's request:\n%s", raw)
		}
		time.Sleep(10 * time.Millisecond) // polling a file; nothing to wait on
	}
}

// With the memory store, readiness is always 200, HEAD included.
func TestHealthzMemory(t *testing.T) {
	g := testenv.StartGateway(t)
	c := g.NewClient()
	waitHealth(t, c, 200, "memory store")
	if r := c.Do("HEAD", "/auth/healthz", nil); r.Status != 200 {
		t.Fatalf("HEAD: %d", r.Status)
	}
	if r := c.Do("POST", "/auth/healthz", nil); r.Status != 405 {
		t.Fatalf("POST: %d, want 405", r.Status)
	}
}
