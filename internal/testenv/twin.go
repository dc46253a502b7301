package testenv

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

var caddyBin struct {
	once      sync.Once
	path, out string
	err       error
}

// CaddyBinary builds Caddy with passgate (internal/testenv/caddybin) once
// per test process and returns its path.
func CaddyBinary(t *testing.T) string {
	t.Helper()
	caddyBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "passgate-caddybin-")
		if err != nil {
			caddyBin.err = err
			return
		}
		caddyBin.path = filepath.Join(dir, "caddy")
		out, err := exec.Command("go", "build", "-o", caddyBin.path,
			"github.com/passgate/caddy-passgate/internal/testenv/caddybin").CombinedOutput()
		caddyBin.out, caddyBin.err = string(out), err
	})
	if caddyBin.err != nil {
		t.Fatalf("building caddy: %v\n%s", caddyBin.err, caddyBin.out)
	}
	return caddyBin.path
}

// StartTwin runs the built Caddy binary with g's configuration on another
// port: a second instance, sharing g's store when that is Redis. It is
// stopped when the test ends.
func StartTwin(t *testing.T, g *Gateway) *Gateway {
	t.Helper()
	o := g.Twin(t)
	dir := filepath.Dir(o.LogPath)
	cfg := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(cfg, []byte(o.Caddyfile()), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(CaddyBinary(t), "run", "--adapter", "caddyfile", "--config", cfg)
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(o.Port))
		if err == nil {
			c.Close()
			return o
		}
		if time.Now().After(deadline) {
			t.Fatal("the second instance did not listen within 30s")
		}
		time.Sleep(50 * time.Millisecond) // polling for the listener
	}
}

// On is a client of g with c's cookies: the same user agent talking to
// another instance.
func (c *Client) On(g *Gateway) *Client {
	return &Client{T: c.T, G: g, HC: c.HC}
}
