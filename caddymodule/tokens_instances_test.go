package caddymodule_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/caddymodule"
	"github.com/passgate/caddy-passgate/sessionstore"
)

// startCaddyProcess runs the built Caddy binary with the same passgate
// configuration as g (same secret, Redis and prefix) on another port: a
// second instance, in another process, sharing only Redis.
func startCaddyProcess(t *testing.T, g *gateway) *gateway {
	t.Helper()
	dir := t.TempDir()
	other := *g
	other.port = freePort(t)
	other.base = fmt.Sprintf("http://127.0.0.1:%d", other.port)
	other.logPath = filepath.Join(dir, "caddy.log")
	other.access = filepath.Join(dir, "access.log")
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(other.caddyfile()), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(caddyBinary(t), "run", "--adapter", "caddyfile", "--config", path)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		out.Close()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(other.base + "/auth/jwks.json")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(out.Name())
			t.Fatalf("second Caddy did not answer within 30s:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond) // polling for the listener
	}
	other.t = t
	return &other
}

// Revocation on one instance is refused by another: the bearer path asks
// the shared store whether the session lives, through a session cache that
// the revocation's pub/sub notice empties (milliseconds; the cache's 1 s
// TTL bounds it even if the notice were lost).
func TestTokenRevocationAcrossInstances(t *testing.T) {
	rs := startRedis(t)
	a := startGateway(t, withRedis(rs))
	b := startCaddyProcess(t, a)
	onA, onB := a.newClient(), b.newClient()

	// Tokens from A work on B: same derived key, same store.
	out := onA.signInTokens("wes@example.com")
	if h := echoed(t, onB.do("GET", "/app", nil, bearer(out["access_token"])...)); h.Get("X-Auth-Email") != "wes@example.com" {
		t.Fatalf("B with A's token: %v", h)
	}
	_, kidA := a.joseVerify(t, out["access_token"].(string))
	if _, kidB := b.joseVerify(t, out["access_token"].(string)); kidB != kidA {
		t.Fatalf("instances publish different keys: %s and %s", kidA, kidB)
	}

	// Logout on A; B refuses at once.
	if r := onA.do("POST", "/auth/logout", nil, bearer(out["access_token"])...); r.status != 200 {
		t.Fatalf("logout on A: %d %s", r.status, r.body)
	}
	wantRefused(t, "B after logout on A", within(t, revocationBound, "B after logout on A",
		func() response { return onB.do("GET", "/app", nil, bearer(out["access_token"])...) }, refused))
	wantInvalidGrant(t, "refresh on B after logout on A", onB.refresh(out["refresh_token"]))

	// Refresh on B, reuse of the spent token on A: both refuse everything.
	out = onA.signInTokens("wes@example.com")
	r := onB.refresh(out["refresh_token"])
	if r.status != 200 {
		t.Fatalf("refresh on B: %d %s", r.status, r.body)
	}
	fresh := r.json(t)
	echoed(t, onA.do("GET", "/app", nil, bearer(fresh["access_token"])...))
	caddymodule.AdvanceClock(sessionstore.RefreshRetryGrace) // A's clock: past the retry grace
	wantInvalidGrant(t, "reuse on A", onA.refresh(out["refresh_token"]))
	wantRefused(t, "B after reuse on A", within(t, revocationBound, "B after reuse on A",
		func() response { return onB.do("GET", "/app", nil, bearer(fresh["access_token"])...) }, refused))
	wantInvalidGrant(t, "latest refresh on B after reuse", onB.refresh(fresh["refresh_token"]))

	// Global logout on B; A refuses every session's token.
	browser := a.newClient()
	x := browser.signInTokens("wes@example.com")
	y := a.newClient().signInTokens("wes@example.com")
	if r := onB.do("POST", "/auth/logout", map[string]any{"scope": "global"}, bearer(y["access_token"])...); r.status != 200 || r.json(t)["revoked"] != float64(2) {
		t.Fatalf("global logout on B: %d %s", r.status, r.body)
	}
	for _, o := range []map[string]any{x, y} {
		wantRefused(t, "A after global logout on B", within(t, revocationBound, "A after global logout on B",
			func() response { return onA.do("GET", "/app", nil, bearer(o["access_token"])...) }, refused))
	}
	if r := within(t, revocationBound, "cookie session on A after global logout on B",
		func() response { return browser.do("GET", "/auth/session", nil) }, refused); r.status != 401 {
		t.Fatalf("cookie session after global logout on B: %d", r.status)
	}
}
