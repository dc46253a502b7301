package caddymodule_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// otherInstance runs a second Caddy, the built binary, with the same
// passgate configuration as g on another port, sharing g's Redis.
type otherInstance struct {
	gateway
	cmd *exec.Cmd
}

func startOtherInstance(t *testing.T, g *gateway) *otherInstance {
	t.Helper()
	dir := t.TempDir()
	o := &otherInstance{gateway: *g}
	o.t = t
	o.port = freePort(t)
	o.base = fmt.Sprintf("http://127.0.0.1:%d", o.port)
	o.logPath = filepath.Join(dir, "caddy.log")
	o.access = filepath.Join(dir, "access.log")
	o.msgs = newLogMessages()
	cfg := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfg, []byte(o.caddyfile()), 0o600); err != nil {
		t.Fatal(err)
	}
	o.cmd = exec.Command(caddyBinary(t), "run", "--adapter", "caddyfile", "--config", cfg)
	o.cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	o.cmd.Stdout, o.cmd.Stderr = os.Stderr, os.Stderr
	if err := o.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		o.cmd.Process.Kill()
		o.cmd.Wait()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(o.port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("second instance did not listen within 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return o
}

// client returns a client of instance o sharing c's cookies.
func (o *otherInstance) clientLike(c *client) *client {
	return &client{t: o.t, g: &o.gateway, hc: c.hc}
}

func TestTwoInstancesShareOneRedis(t *testing.T) {
	rs := startRedis(t)
	a := startGateway(t, withRedis(rs))
	b := startOtherInstance(t, a)

	// A code sent by one instance verifies on the other.
	ca := a.newClient()
	cb := b.clientLike(a.newClient())
	id := ca.start("pam@example.com")
	r := cb.do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": a.codeFor("pam@example.com")})
	if r.status != 200 {
		t.Fatalf("code from A verified on B: %d %s", r.status, r.body)
	}
	if h := echoed(t, cb.do("GET", "/app", nil)); h.Get("X-Auth-Email") != "pam@example.com" {
		t.Fatalf("on B: %v", h)
	}

	// Limits hold across both: a second start on B within A's cooldown.
	ca.start("quin@example.com")
	r = cb.do("POST", "/auth/start", map[string]any{"email": "quin@example.com"})
	if r.status != 429 || r.json(t)["error"] != "rate_limited" {
		t.Fatalf("start on B inside A's cooldown: %d %s, want 429", r.status, r.body)
	}

	// Single use holds across both under concurrency.
	id = b.clientLike(b.newClient()).start("rex@example.com")
	code := b.codeFor("rex@example.com")
	var ok, gone atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		var c *client
		if i%2 == 0 {
			c = a.newClient()
		} else {
			c = b.clientLike(a.newClient())
		}
		wg.Go(func() {
			switch c.do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": code}).status {
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
	if r := cb.do("GET", "/app", nil); r.status != 200 {
		t.Fatalf("before logout: %d", r.status)
	}
	shared := a.newClient()
	shared.hc = cb.hc
	if r := shared.do("POST", "/auth/logout", nil); r.status != 200 {
		t.Fatalf("logout on A: %d", r.status)
	}
	r = within(t, revocationBound, "B after logout on A", func() response { return cb.do("GET", "/app", nil) }, refused)
	if r.status != 401 {
		t.Fatalf("on B after logout on A: %d, want 401", r.status)
	}
}
