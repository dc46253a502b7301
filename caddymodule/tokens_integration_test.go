package caddymodule_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/passgate/caddy-passgate/caddymodule"
	"github.com/passgate/caddy-passgate/sessionstore"
	redisstore "github.com/passgate/caddy-passgate/sessionstore/redis"
)

// tokenClaims are what an independent verifier reads from passgate's JWTs.
type tokenClaims struct {
	josejwt.Claims
	Sid   string   `json:"sid"`
	Email string   `json:"email"`
	Phone string   `json:"phone"`
	Roles []string `json:"roles"`
	AMR   []string `json:"amr"`
}

// joseVerify checks token with go-jose against the gateway's published
// JWKS alone, as an API or upstream would, and returns its claims and kid.
func (g *gateway) joseVerify(t *testing.T, token string) (tokenClaims, string) {
	t.Helper()
	r := g.newClient().do("GET", "/auth/jwks.json", nil)
	if r.status != 200 {
		t.Fatalf("jwks: %d %s", r.status, r.body)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.body, &set); err != nil {
		t.Fatalf("jwks is not a JWK set: %v: %s", err, r.body)
	}
	tok, err := josejwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256})
	if err != nil {
		t.Fatalf("go-jose cannot parse the token: %v", err)
	}
	kid := tok.Headers[0].KeyID
	keys := set.Key(kid)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in the JWKS %s", kid, r.body)
	}
	var c tokenClaims
	if err := tok.Claims(keys[0].Key, &c); err != nil {
		t.Fatalf("go-jose refuses the signature: %v", err)
	}
	return c, kid
}

// signInTokens signs in through /verify with "tokens": true, after letting
// the resend cooldown pass.
func (c *client) signInTokens(email string) map[string]any {
	c.t.Helper()
	caddymodule.AdvanceClock(61 * time.Second)
	id := c.start(email)
	r := c.do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": c.g.codeFor(email), "tokens": true})
	if r.status != 200 {
		c.t.Fatalf("verify: %d %s", r.status, r.body)
	}
	return r.json(c.t)
}

func bearer(tok any) []string { return []string{"Authorization", "Bearer " + tok.(string)} }

func (c *client) refresh(tok any) response {
	c.t.Helper()
	return c.do("POST", "/auth/token", map[string]any{"refresh_token": tok})
}

func wantRefused(t *testing.T, what string, r response) {
	t.Helper()
	if r.status != 401 || r.json(t)["error"] != "unauthorized" || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("%s: %d %q %s, want 401 unauthorized with WWW-Authenticate: Bearer", what, r.status, r.header.Get("WWW-Authenticate"), r.body)
	}
}

func wantInvalidGrant(t *testing.T, what string, r response) {
	t.Helper()
	if r.status != 401 || r.json(t)["error"] != "invalid_grant" {
		t.Fatalf("%s: %d %s, want 401 invalid_grant", what, r.status, r.body)
	}
}

func TestTokens(t *testing.T) {
	backends(t, func(t *testing.T, opts ...gatewayOption) {
		g := startGateway(t, opts...)
		out := g.newClient().signInTokens("Tia@example.com")
		userID := out["user"].(map[string]any)["id"].(string)
		sessID := out["session"].(map[string]any)["id"].(string)
		if out["token_type"] != "bearer" || out["expires_in"] != float64(900) || out["expires_at"] == nil ||
			len(out["refresh_token"].(string)) < 43 {
			t.Fatalf("verify with tokens answered %v", out)
		}
		claims, _ := g.joseVerify(t, out["access_token"].(string))
		if err := claims.Validate(josejwt.Expected{Issuer: "passgate", AnyAudience: []string{"passgate"}, Subject: userID}); err != nil {
			t.Fatalf("claims %+v: %v", claims, err)
		}
		if claims.Sid != sessID || claims.Email != "tia@example.com" || !slices.Equal(claims.Roles, []string{"staff"}) ||
			!slices.Equal(claims.AMR, []string{"otp"}) || claims.ID == "" || claims.IssuedAt == nil {
			t.Fatalf("claims %+v", claims)
		}

		// A client with no cookie, only the bearer token.
		api := g.newClient()
		access := out["access_token"]
		h := echoed(t, api.do("GET", "/app", nil, bearer(access)...))
		if h.Get("X-Auth-User-Id") != userID || h.Get("X-Auth-Email") != "tia@example.com" {
			t.Fatalf("upstream via bearer: %v", h)
		}
		if h.Get("X-Passgate-Assertion") != "" {
			t.Fatal("assertion header sent without being configured")
		}
		r := api.do("GET", "/auth/session", nil, bearer(access)...)
		if r.status != 200 || r.json(t)["session"].(map[string]any)["id"] != sessID {
			t.Fatalf("session via bearer: %d %s", r.status, r.body)
		}

		// Refused bearer tokens get 401 + WWW-Authenticate, browsers too.
		tampered := access.(string)
		tampered = tampered[:len(tampered)-3] + map[bool]string{true: "AAA", false: "BBB"}[!strings.HasSuffix(tampered, "AAA")]
		wantRefused(t, "tampered", api.do("GET", "/app", nil, append(bearer(tampered), "Accept", "text/html")...))
		wantRefused(t, "garbage", api.do("GET", "/app", nil, bearer("x.y.z")...))
		parts := strings.Split(access.(string), ".")
		none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt","kid":"`+
			headerOf(t, access.(string))["kid"].(string)+`"}`)) + "." + parts[1] + "."
		wantRefused(t, "alg none", api.do("GET", "/app", nil, bearer(none)...))
		wantRefused(t, "refresh token as bearer", api.do("GET", "/app", nil, bearer(out["refresh_token"])...))
		wantRefused(t, "session with tampered", api.do("GET", "/auth/session", nil, bearer(tampered)...))

		// Rotation: a new pair; the spent refresh token is then a theft signal.
		r = api.refresh(out["refresh_token"])
		if r.status != 200 {
			t.Fatalf("refresh: %d %s", r.status, r.body)
		}
		second := r.json(t)
		if second["refresh_token"] == out["refresh_token"] || second["access_token"] == access || second["token_type"] != "bearer" {
			t.Fatalf("refresh answered %v", second)
		}
		c2, _ := g.joseVerify(t, second["access_token"].(string))
		if c2.Sid != sessID || c2.Subject != userID || !slices.Equal(c2.AMR, []string{"otp"}) {
			t.Fatalf("refreshed claims %+v", c2)
		}
		echoed(t, api.do("GET", "/app", nil, bearer(second["access_token"])...))

		// Within the grace, the same token asked again (a retry, a second
		// tab) gets the same new refresh token and a new access token.
		r = api.refresh(out["refresh_token"])
		if r.status != 200 {
			t.Fatalf("the same refresh within the grace: %d %s, want 200", r.status, r.body)
		}
		if again := r.json(t); again["refresh_token"] != second["refresh_token"] || again["access_token"] == second["access_token"] {
			t.Fatalf("the same refresh within the grace answered %v, want refresh token %v and a new access token", again, second["refresh_token"])
		}
		// Past it, the spent token is a theft signal.
		caddymodule.AdvanceClock(sessionstore.RefreshRetryGrace)
		wantInvalidGrant(t, "reused refresh token", api.refresh(out["refresh_token"]))
		// Reuse revoked the session: every token of it is dead now.
		wantRefused(t, "access after reuse", api.do("GET", "/app", nil, bearer(second["access_token"])...))
		wantRefused(t, "first access after reuse", api.do("GET", "/app", nil, bearer(access)...))
		wantInvalidGrant(t, "latest refresh after reuse", api.refresh(second["refresh_token"]))

		wantInvalidGrant(t, "unknown refresh token", api.refresh("nope"))
		if r := api.do("POST", "/auth/token", map[string]any{}); r.status != 400 || r.json(t)["error"] != "invalid_request" {
			t.Fatalf("token without refresh_token: %d %s", r.status, r.body)
		}
		// /token takes no cookie, so a cross-origin client may call it.
		if r := api.do("POST", "/auth/token", map[string]any{"refresh_token": "x"}, "Origin", "https://spa.example.net"); r.status != 401 {
			t.Fatalf("cross-origin /token: %d %s", r.status, r.body)
		}

		// Logout with the bearer token ends the session and its tokens.
		out = g.newClient().signInTokens("tia@example.com")
		if r := api.do("POST", "/auth/logout", nil, bearer(out["access_token"])...); r.status != 200 || r.json(t)["revoked"] != float64(1) {
			t.Fatalf("bearer logout: %d %s", r.status, r.body)
		}
		wantRefused(t, "access after logout", api.do("GET", "/app", nil, bearer(out["access_token"])...))
		wantInvalidGrant(t, "refresh after logout", api.refresh(out["refresh_token"]))

		// Global logout by cookie ends the tokens of every session.
		browser := g.newClient()
		a := browser.signInTokens("tia@example.com")
		b := g.newClient().signInTokens("tia@example.com")
		if r := browser.do("POST", "/auth/logout", map[string]any{"scope": "global"}); r.status != 200 {
			t.Fatalf("global logout: %d %s", r.status, r.body)
		}
		for _, o := range []map[string]any{a, b} {
			wantRefused(t, "access after global logout", api.do("GET", "/app", nil, bearer(o["access_token"])...))
			wantInvalidGrant(t, "refresh after global logout", api.refresh(o["refresh_token"]))
		}

		// Without "tokens", /verify gives none.
		if out := g.newClient().signIn("tia@example.com"); out["access_token"] != nil || out["refresh_token"] != nil {
			t.Fatalf("tokens without asking: %v", out)
		}
	})
}

func TestJWKSRoute(t *testing.T) {
	g := startGateway(t)
	r := g.newClient().do("GET", "/auth/jwks.json", nil)
	if r.status != 200 || !strings.Contains(r.header.Get("Cache-Control"), "max-age=") ||
		!strings.Contains(r.header.Get("Content-Type"), "json") {
		t.Fatalf("jwks: %d %v", r.status, r.header)
	}
	var set struct{ Keys []map[string]any }
	if err := json.Unmarshal(r.body, &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks body %s", r.body)
	}
	k := set.Keys[0]
	if k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["alg"] != "EdDSA" || k["kid"] == "" || k["d"] != nil {
		t.Fatalf("jwk %v: want a public Ed25519 key with a kid", k)
	}
}

func TestAssertionHeader(t *testing.T) {
	g := startGateway(t, withExtra("headers {\n assertion X-Passgate-Assertion\n}"))
	c := g.newClient()
	out := c.signIn("uma@example.com")
	userID := out["user"].(map[string]any)["id"].(string)
	h := echoed(t, c.do("GET", "/app", nil, "X-Passgate-Assertion", "forged"))
	got := h.Values("X-Passgate-Assertion")
	if len(got) != 1 || got[0] == "forged" {
		t.Fatalf("upstream got assertion %v", got)
	}
	claims, _ := g.joseVerify(t, got[0])
	if err := claims.Validate(josejwt.Expected{Issuer: "passgate", AnyAudience: []string{"127.0.0.1"}, Subject: userID}); err != nil {
		t.Fatalf("assertion claims %+v: %v", claims, err)
	}
	if claims.Email != "uma@example.com" || !slices.Equal(claims.Roles, []string{"staff"}) ||
		claims.Expiry.Time().Sub(claims.IssuedAt.Time()).Seconds() != 60 {
		t.Fatalf("assertion claims %+v", claims)
	}
	// It is no access token.
	wantRefused(t, "assertion as bearer", g.newClient().do("GET", "/app", nil, bearer(got[0])...))
	// A client's own assertion header is stripped, public paths included.
	h = echoed(t, g.newClient().do("GET", "/public/x", nil, "X-Passgate-Assertion", "forged", "X_Passgate_Assertion", "forged"))
	if v := h.Values("X-Passgate-Assertion"); len(v) != 0 {
		t.Fatalf("forged assertion reached the upstream: %v", v)
	}
}

func writePEM(t *testing.T, dir, name string, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestJWTKeysFromFilesAndRotation(t *testing.T) {
	dir := t.TempDir()
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	oldPath := writePEM(t, dir, "old.pem", edKey)
	newPath := writePEM(t, dir, "new.pem", ecKey)
	jwtBlock := func(keys string) string {
		return "jwt {\n issuer https://auth.test\n audience api.test\n access_ttl 2m\n" + keys + "\n}"
	}
	g := startGateway(t, withExtra(jwtBlock("key old "+oldPath)))
	out := g.newClient().signInTokens("val@example.com")
	oldAccess := out["access_token"].(string)
	claims, kid := g.joseVerify(t, oldAccess)
	if kid != "old" || out["expires_in"] != float64(120) ||
		claims.Validate(josejwt.Expected{Issuer: "https://auth.test", AnyAudience: []string{"api.test"}}) != nil {
		t.Fatalf("kid %q, answer %v, claims %+v", kid, out, claims)
	}

	// Rotation, step 1: the new key signs (a {file.…} placeholder this
	// time), the old one still verifies.
	g.extra = jwtBlock("key new {file." + newPath + "}\nkey old " + oldPath)
	g.reloadTo(t, "new", "old")
	api := g.newClient()
	echoed(t, api.do("GET", "/app", nil, bearer(oldAccess)...))
	r := api.refresh(out["refresh_token"])
	if r.status != 200 {
		t.Fatalf("refresh during rotation: %d %s", r.status, r.body)
	}
	newAccess := r.json(t)["access_token"].(string)
	if _, kid := g.joseVerify(t, newAccess); kid != "new" {
		t.Fatalf("signed with %q, want the first key", kid)
	}
	if h := headerOf(t, newAccess); h["alg"] != "ES256" {
		t.Fatalf("new key header %v", h)
	}
	// Step 2: the old key is gone, and so is what it signed.
	g.extra = jwtBlock("key new " + newPath)
	g.reloadTo(t, "new")
	wantRefused(t, "token of a retired key", api.do("GET", "/app", nil, bearer(oldAccess)...))
	echoed(t, api.do("GET", "/app", nil, bearer(newAccess)...))
}

func headerOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// reloadTo reloads the configuration and waits until the gateway publishes
// the given kids. For a moment after caddy.Load returns, the replaced
// server may still take connections (and drop them: EOF), so idle ones are
// dropped and the JWKS is polled, errors tolerated, until the new one answers.
func (g *gateway) reloadTo(t *testing.T, kids ...string) {
	t.Helper()
	g.load()
	deadline := time.Now().Add(10 * time.Second)
	for {
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
		if slices.Equal(publishedKids(g), kids) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after reload the JWKS does not list %v", kids)
		}
		time.Sleep(20 * time.Millisecond) // polling for the new config
	}
}

func publishedKids(g *gateway) []string {
	resp, err := http.Get(g.base + "/auth/jwks.json")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var set struct{ Keys []struct{ Kid string } }
	if json.NewDecoder(resp.Body).Decode(&set) != nil {
		return nil
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// A JSON client signing in by magic link may ask for tokens too; they
// say how the user proved themselves (amr "email").
func TestMagicLinkWithTokens(t *testing.T) {
	g := startGateway(t)
	c := g.newClient()
	c.start("xia@example.com")
	link := g.linkFor("xia@example.com")
	token := link[strings.Index(link, "token=")+len("token="):]
	r := c.do("POST", "/auth/magic", map[string]any{"token": token, "tokens": true})
	if r.status != 200 {
		t.Fatalf("magic with tokens: %d %s", r.status, r.body)
	}
	out := r.json(t)
	access, ok := out["access_token"].(string)
	if !ok || out["refresh_token"] == nil {
		t.Fatalf("no tokens in %v", out)
	}
	api := g.newClient()
	if h := echoed(t, api.do("GET", "/app", nil, "Authorization", "Bearer "+access)); h.Get("X-Auth-Email") != "xia@example.com" {
		t.Fatalf("bearer from a magic link: %v", h)
	}
	parts := strings.Split(access, ".")
	claims, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c2 struct{ AMR []string }
	if err := json.Unmarshal(claims, &c2); err != nil || !slices.Equal(c2.AMR, []string{"email"}) {
		t.Fatalf("amr %v (%v), want [email]", c2.AMR, err)
	}
}

// A store hiccup during /token must not cost the client its refresh
// token. Redis hangs for exactly the read of the session (the proxy
// stalls the call naming its key), so /token answers 503; once Redis is
// back, the same refresh token still works and the session lives. The
// token is spent by that successful rotation only: presenting it once
// more, past the retry grace, is reuse, which revokes the session.
func TestTokenRetryAfterStoreHiccup(t *testing.T) {
	rs := startRedis(t)
	px := startStallProxy(t, rs)
	g := startGateway(t, func(g *gateway) {
		g.store = "store redis " + px.url() + " {\n prefix pgtest:\n timeout 1s\n}"
	})
	out := g.newClient().signInTokens("wes@example.com")
	sessID := out["session"].(map[string]any)["id"].(string)
	sessKey := redisstore.Keys{Prefix: "pgtest:"}.Pointer(sessID)
	api := g.newClient()
	admin := rs.client()
	defer admin.Close()
	sessionStored := func() bool {
		n, err := admin.Exists(context.Background(), sessKey).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	}

	px.stallOn(sessKey)
	r := api.refresh(out["refresh_token"])
	if r.status != 503 || r.json(t)["error"] != "store_unavailable" {
		t.Fatalf("refresh with Redis hung on the session read: %d %s, want 503 store_unavailable", r.status, r.body)
	}
	if px.stalled.Load() == 0 {
		t.Fatal("the 503 did not come from the stalled session read")
	}
	px.release()

	r = api.refresh(out["refresh_token"])
	if r.status != 200 {
		t.Fatalf("the same refresh token after Redis is back: %d %s, want 200", r.status, r.body)
	}
	second := r.json(t)
	if second["refresh_token"] == out["refresh_token"] || second["access_token"] == nil {
		t.Fatalf("refresh after the hiccup answered %v", second)
	}
	if r := api.do("GET", "/auth/session", nil, bearer(second["access_token"])...); r.status != 200 ||
		r.json(t)["session"].(map[string]any)["id"] != sessID {
		t.Fatalf("session via the new access token: %d %s", r.status, r.body)
	}
	if !sessionStored() {
		t.Fatal("session gone after the retry")
	}

	// The retry spent the token; past the grace it is reuse.
	caddymodule.AdvanceClock(sessionstore.RefreshRetryGrace)
	wantInvalidGrant(t, "the original refresh token again", api.refresh(out["refresh_token"]))
	if sessionStored() {
		t.Fatal("reuse did not revoke the session")
	}
	wantRefused(t, "access after reuse", api.do("GET", "/app", nil, bearer(second["access_token"])...))
	wantInvalidGrant(t, "latest refresh after reuse", api.refresh(second["refresh_token"]))
}

// A reply lost after Redis rotated a refresh token (the proxy drops the
// connection once the rotation script has run, before its answer comes
// back) must not read as reuse: nothing re-runs the script, /token
// answers 503, no reuse is logged, the session lives, and the same
// refresh token asked again gets the successor the lost rotation stored.
func TestTokenRefreshReplyLost(t *testing.T) {
	rs := startRedis(t)
	px := startStallProxy(t, rs)
	g := startGateway(t, func(g *gateway) {
		g.store = "store redis " + px.url() + " {\n prefix pgtest:\n timeout 1s\n}"
	})
	out := g.newClient().signInTokens("yul@example.com")
	keys := redisstore.Keys{Prefix: "pgtest:"}
	sessKey := keys.Pointer(out["session"].(map[string]any)["id"].(string))
	oldKey := keys.Refresh(sessionstore.RefreshHash(out["refresh_token"].(string)))
	api := g.newClient()
	admin := rs.client()
	defer admin.Close()
	ctx := context.Background()
	refreshKeys := func() []string {
		keys, err := admin.Keys(ctx, "pgtest:r:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(keys)
		return keys
	}
	if keys := refreshKeys(); !slices.Equal(keys, []string{oldKey}) {
		t.Fatalf("refresh keys after sign-in: %v, want only %s", keys, oldKey)
	}

	// The rotation script names the old token's key; the read before it
	// (HMGET) names it too, but is no script.
	px.cutReplyOn(func(cmd []byte) bool {
		lower := bytes.ToLower(cmd)
		return bytes.Contains(cmd, []byte(oldKey)) &&
			(bytes.Contains(lower, []byte("\r\nevalsha\r\n")) || bytes.Contains(lower, []byte("\r\neval\r\n")))
	})
	r := api.refresh(out["refresh_token"])
	if px.cuts.Load() != 1 {
		t.Fatalf("no reply was lost (cuts %d); /token answered %d %s", px.cuts.Load(), r.status, r.body)
	}
	t.Logf("refresh whose rotation reply was lost: %d %s", r.status, r.body)
	if r.status != 503 && r.status != 200 {
		t.Fatalf("refresh whose rotation reply was lost: %d %s, want 503 (or 200)", r.status, r.body)
	}
	for _, e := range readLog(t, g.logPath) {
		if e["msg"] == "refresh token reused: session revoked" {
			t.Fatalf("a lost reply was logged as reuse: %v", e)
		}
	}
	if n, err := admin.Exists(ctx, sessKey).Result(); err != nil || n != 1 {
		t.Fatalf("session after the lost reply: exists %d, %v; want it kept", n, err)
	}
	// Redis did rotate: the old token and one successor.
	afterCut := refreshKeys()
	if len(afterCut) != 2 || !slices.Contains(afterCut, oldKey) {
		t.Fatalf("refresh keys after the lost reply: %v, want %s and one successor", afterCut, oldKey)
	}

	r2 := api.refresh(out["refresh_token"])
	if r2.status != 200 {
		t.Fatalf("the same refresh token after the lost reply: %d %s, want 200", r2.status, r2.body)
	}
	second := r2.json(t)
	nextKey := keys.Refresh(sessionstore.RefreshHash(second["refresh_token"].(string)))
	if keys := refreshKeys(); !slices.Equal(keys, afterCut) || !slices.Contains(keys, nextKey) {
		t.Fatalf("refresh keys after the retry: %v (its token's key %s), want the lost rotation's %v", keys, nextKey, afterCut)
	}
	if r.status == 200 && r.json(t)["refresh_token"] != second["refresh_token"] {
		t.Fatalf("the first answer and the retry gave different refresh tokens")
	}
	echoed(t, api.do("GET", "/app", nil, bearer(second["access_token"])...))
	// The chain goes on from the successor.
	if r3 := api.refresh(second["refresh_token"]); r3.status != 200 {
		t.Fatalf("refreshing with the successor: %d %s", r3.status, r3.body)
	}
}

// A sign-in whose tokens cannot be stored answers 503 without signing the
// browser in: the tokens are issued before the cookie is set.
func TestSignInTokenFailureSetsNoCookie(t *testing.T) {
	rs := startRedis(t)
	px := startStallProxy(t, rs)
	g := startGateway(t, func(g *gateway) {
		g.store = "store redis " + px.url() + " {\n prefix pgtest:\n timeout 1s\n}"
	})
	c := g.newClient()
	caddymodule.AdvanceClock(61 * time.Second)
	id := c.start("xan@example.com")
	px.stallOn("pgtest:r:") // the refresh token's key: the sign-in's last store write
	r := c.do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": g.codeFor("xan@example.com"), "tokens": true})
	if r.status != 503 || px.stalled.Load() == 0 {
		t.Fatalf("sign-in with the refresh token's write hung: %d %s (stalled %d), want 503 from that write", r.status, r.body, px.stalled.Load())
	}
	if sc := r.header.Values("Set-Cookie"); len(sc) != 0 {
		t.Fatalf("a failed sign-in set cookies: %q", sc)
	}
	px.release()
	if r := c.do("GET", "/app/page", nil); r.status != 401 {
		t.Fatalf("after the failed sign-in the client reached the app: %d %s", r.status, r.body)
	}
}
