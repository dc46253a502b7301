package caddymodule_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/internal/clock"
	"github.com/passgate/caddy-passgate/internal/testenv"
	"github.com/passgate/caddy-passgate/sessionstore"
)

// startCaddyProcess runs the built Caddy binary with the same passgate
// configuration as g (same secret, Redis and prefix) on another port: a
// second instance, in another process, sharing only Redis.
func startCaddyProcess(t *testing.T, g *testenv.Gateway) *testenv.Gateway {
	t.Helper()
	dir := t.TempDir()
	other := *g
	other.Port = testenv.FreePort(t)
	other.Base = fmt.Sprintf("http://127.0.0.1:%d", other.Port)
	other.LogPath = filepath.Join(dir, "caddy.log")
	other.AccessLog = filepath.Join(dir, "access.log")
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(other.Caddyfile()), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testenv.CaddyBinary(t), "run", "--adapter", "caddyfile", "--config", path)
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
		resp, err := http.Get(other.Base + "/auth/jwks.json")
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
	other.T = t
	return &other
}

// Revocation on one instance is refused by another: the bearer path asks
// the shared store whether the session lives, through a session cache that
// the revocation's pub/sub notice empties (milliseconds; the cache's 1 s
// TTL bounds it even if the notice were lost).
func TestTokenRevocationAcrossInstances(t *testing.T) {
	rs := testenv.StartRedis(t)
	a := testenv.StartGateway(t, testenv.WithRedis(rs))
	b := startCaddyProcess(t, a)
	onA, onB := a.NewClient(), b.NewClient()

	// Tokens from A work on B: same derived key, same store.
	out := onA.SignInTokens("wes@example.com")
	if h := testenv.Echoed(t, onB.Do("GET", "/app", nil, bearer(out["access_token"])...)); h.Get("X-Auth-Email") != "wes@example.com" {
		t.Fatalf("B with A's token: %v", h)
	}
	_, kidA := joseVerify(t, a, out["access_token"].(string))
	if _, kidB := joseVerify(t, b, out["access_token"].(string)); kidB != kidA {
		t.Fatalf("instances publish different keys: %s and %s", kidA, kidB)
	}

	// Logout on A; B refuses at once.
	if r := onA.Do("POST", "/auth/logout", nil, bearer(out["access_token"])...); r.Status != 200 {
		t.Fatalf("logout on A: %d %s", r.Status, r.Body)
	}
	wantRefused(t, "B after logout on A", within(t, revocationBound, "B after logout on A",
		func() testenv.Response { return onB.Do("GET", "/app", nil, bearer(out["access_token"])...) }, refused))
	wantInvalidGrant(t, "refresh on B after logout on A", onB.Refresh(out["refresh_token"]))

	// Refresh on B, reuse of the spent token on A: both refuse everything.
	out = onA.SignInTokens("wes@example.com")
	r := onB.Refresh(out["refresh_token"])
	if r.Status != 200 {
		t.Fatalf("refresh on B: %d %s", r.Status, r.Body)
	}
	fresh := r.JSON(t)
	testenv.Echoed(t, onA.Do("GET", "/app", nil, bearer(fresh["access_token"])...))
	clock.Advance(sessionstore.RefreshRetryGrace) // A's clock: past the retry grace
	wantInvalidGrant(t, "reuse on A", onA.Refresh(out["refresh_token"]))
	wantRefused(t, "B after reuse on A", within(t, revocationBound, "B after reuse on A",
		func() testenv.Response { return onB.Do("GET", "/app", nil, bearer(fresh["access_token"])...) }, refused))
	wantInvalidGrant(t, "latest refresh on B after reuse", onB.Refresh(fresh["refresh_token"]))

	// Global logout on B; A refuses every session's token.
	browser := a.NewClient()
	x := browser.SignInTokens("wes@example.com")
	y := a.NewClient().SignInTokens("wes@example.com")
	if r := onB.Do("POST", "/auth/logout", map[string]any{"scope": "global"}, bearer(y["access_token"])...); r.Status != 200 || r.JSON(t)["revoked"] != float64(2) {
		t.Fatalf("global logout on B: %d %s", r.Status, r.Body)
	}
	for _, o := range []map[string]any{x, y} {
		wantRefused(t, "A after global logout on B", within(t, revocationBound, "A after global logout on B",
			func() testenv.Response { return onA.Do("GET", "/app", nil, bearer(o["access_token"])...) }, refused))
	}
	if r := within(t, revocationBound, "cookie session on A after global logout on B",
		func() testenv.Response { return browser.Do("GET", "/auth/session", nil) }, refused); r.Status != 401 {
		t.Fatalf("cookie session after global logout on B: %d", r.Status)
	}
}
