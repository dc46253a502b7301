package caddymodule_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/passgate/caddy-passgate/internal/testenv"
	"github.com/passgate/caddy-passgate/internal/testenv/redisenv"
)

// `caddy validate` provisions everything but needs no Redis, in every
// mode; a TLS file that cannot be read is a configuration error it names.
func TestValidateSentinelAndClusterUnreachable(t *testing.T) {
	ca := redisenv.Standalone(t, redisenv.WithTLS()).TLS().CAFile
	site := func(store string) string {
		return fmt.Sprintf(`{
	admin off
}
:0 {
	passgate {
		secret {env.PASSGATE_SECRET}
		%s
		email log
		allow email *@example.com
	}
	respond ok
}
`, store)
	}
	for _, store := range []string{
		"store redis sentinel mymaster 127.0.0.1:1 127.0.0.1:2 {\n password {env.PASSGATE_SECRET}\n sentinel_password {env.PASSGATE_SECRET}\n }",
		"store redis cluster 127.0.0.1:1 127.0.0.1:2 127.0.0.1:3 {\n username passgate\n password pw\n tls {\n ca " + ca + "\n }\n }",
		"store redis rediss://127.0.0.1:1/0 {\n tls {\n ca " + ca + "\n server_name redis.internal\n }\n }",
	} {
		if out, err := runCaddy(t, site(store), "validate"); err != nil || !strings.Contains(out, "Valid configuration") {
			t.Fatalf("validate %q: %v\n%s", store, err, out)
		}
	}
	out, err := runCaddy(t, site("store redis cluster 127.0.0.1:1 {\n tls {\n ca /nonexistent/ca.pem\n }\n }"), "validate")
	if err == nil || !strings.Contains(out, "tls ca") || !strings.Contains(out, "/nonexistent/ca.pem") {
		t.Fatalf("validate with a missing CA file: %v\n%s", err, out)
	}
}

// Sentinel over TLS (sentinels and servers), with an ACL user and a
// password of the sentinels' own: sign-in, protected requests and logout
// work; with a wrong sentinel password, requests get 503.
func TestSentinelTLSGateway(t *testing.T) {
	e := redisenv.Sentinel(t, 1, 3, redisenv.WithTLS(), redisenv.WithUser("passgate", "data-pw"), redisenv.WithSentinelPassword("sentinel-pw"))
	g := testenv.StartGateway(t, withSentinel(e))
	c := g.NewClient()
	c.SignIn("tess@example.com")
	if h := testenv.Echoed(t, c.Do("GET", "/app", nil)); h.Get("X-Auth-Email") != "tess@example.com" {
		t.Fatalf("upstream headers %v", h)
	}
	if r := c.Do("POST", "/auth/logout", nil); r.Status != 200 {
		t.Fatalf("logout: %d %s", r.Status, r.Body)
	}
	if r := c.Do("GET", "/app", nil); r.Status != 401 {
		t.Fatalf("after logout: %d %s", r.Status, r.Body)
	}

	g.Store = strings.Replace(g.Store, "sentinel_password sentinel-pw", "sentinel_password wrong", 1)
	g.Load()
	if r := g.NewClient().Do("POST", "/auth/start", map[string]any{"email": "una@example.com"}); r.Status != 503 || r.JSON(t)["error"] != "store_unavailable" {
		t.Fatalf("start with a wrong sentinel password: %d %s, want 503 store_unavailable", r.Status, r.Body)
	}
}

// A server that asks clients for a certificate (tls-auth-clients yes) is
// reached with client_cert, and refuses passgate without it.
func TestRedisClientCertificate(t *testing.T) {
	e := redisenv.Standalone(t, redisenv.WithTLS())
	// Asked for once the environment's own client, which has none, is in.
	if err := e.Client().ConfigSet(context.Background(), "tls-auth-clients", "yes").Err(); err != nil {
		t.Fatal(err)
	}
	files := e.TLS()
	store := func(tls string) testenv.Option {
		return func(g *testenv.Gateway) {
			g.Store = fmt.Sprintf("store redis %s {\n prefix pgtest:\n timeout 1s\n tls {\n ca %s\n%s }\n}", e.URL(), files.CAFile, tls)
		}
	}
	g := testenv.StartGateway(t, store(fmt.Sprintf(" client_cert %s %s\n", files.CertFile, files.KeyFile)))
	c := g.NewClient()
	c.SignIn("cleo@example.com")
	testenv.Echoed(t, c.Do("GET", "/app", nil))

	store("")(g)
	g.Load()
	if r := g.NewClient().Do("POST", "/auth/start", map[string]any{"email": "una@example.com"}); r.Status != 503 {
		t.Fatalf("start without the client certificate: %d %s, want 503", r.Status, r.Body)
	}
}
