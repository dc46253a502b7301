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

	"github.com/passgate/caddy-passgate/internal/clock"
	"github.com/passgate/caddy-passgate/internal/testenv"
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
func joseVerify(t *testing.T, g *testenv.Gateway, token string) (tokenClaims, string) {
	t.Helper()
	r := g.NewClient().Do("GET", "/auth/jwks.json", nil)
	if r.Status != 200 {
		t.Fatalf("jwks: %d %s", r.Status, r.Body)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.Body, &set); err != nil {
		t.Fatalf("jwks is not a JWK set: %v: %s", err, r.Body)
	}
	tok, err := josejwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256})
	if err != nil {
		t.Fatalf("go-jose cannot parse the token: %v", err)
	}
	kid := tok.Headers[0].KeyID
	keys := set.Key(kid)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in the JWKS %s", kid, r.Body)
	}
	var c tokenClaims
	if err := tok.Claims(keys[0].Key, &c); err != nil {
		t.Fatalf("go-jose refuses the signature: %v", err)
	}
	return c, kid
}

func bearer(tok any) []string { return []string{"Authorization", "Bearer " + tok.(string)} }

func wantRefused(t *testing.T, what string, r testenv.Response) {
	t.Helper()
	if r.Status != 401 || r.JSON(t)["error"] != "unauthorized" || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Fatalf("%s: %d %q %s, want 401 unauthorized with WWW-Authenticate: Bearer", what, r.Status, r.Header.Get("WWW-Authenticate"), r.Body)
	}
}

func wantInvalidGrant(t *testing.T, what string, r testenv.Response) {
	t.Helper()
	if r.Status != 401 || r.JSON(t)["error"] != "invalid_grant" {
		t.Fatalf("%s: %d %s, want 401 invalid_grant", what, r.Status, r.Body)
	}
}

func TestTokens(t *testing.T) {
	backends(t, func(t *testing.T, opts ...testenv.Option) {
		g := testenv.StartGateway(t, opts...)
		out := g.NewClient().SignInTokens("Tia@example.com")
		userID := out["user"].(map[string]any)["id"].(string)
		sessID := out["session"].(map[string]any)["id"].(string)
		if out["token_type"] != "bearer" || out["expires_in"] != float64(900) || out["expires_at"] == nil ||
			len(out["refresh_token"].(string)) < 43 {
			t.Fatalf("verify with tokens answered %v", out)
		}
		claims, _ := joseVerify(t, g, out["access_token"].(string))
		if err := claims.Validate(josejwt.Expected{Issuer: "passgate", AnyAudience: []string{"passgate"}, Subject: userID}); err != nil {
			t.Fatalf("claims %+v: %v", claims, err)
		}
		if claims.Sid != sessID || claims.Email != "tia@example.com" || !slices.Equal(claims.Roles, []string{"staff"}) ||
			!slices.Equal(claims.AMR, []string{"otp"}) || claims.ID == "" || claims.IssuedAt == nil {
			t.Fatalf("claims %+v", claims)
		}

		// A client with no cookie, only the bearer token.
		api := g.NewClient()
		access := out["access_token"]
		h := testenv.Echoed(t, api.Do("GET", "/app", nil, bearer(access)...))
		if h.Get("X-Auth-User-Id") != userID || h.Get("X-Auth-Email") != "tia@example.com" {
			t.Fatalf("upstream via bearer: %v", h)
		}
		if h.Get("X-Passgate-Assertion") != "" {
			t.Fatal("assertion header sent without being configured")
		}
		r := api.Do("GET", "/auth/session", nil, bearer(access)...)
		if r.Status != 200 || r.JSON(t)["session"].(map[string]any)["id"] != sessID {
			t.Fatalf("session via bearer: %d %s", r.Status, r.Body)
		}

		// Refused bearer tokens get 401 + WWW-Authenticate, browsers too.
		tampered := access.(string)
		tampered = tampered[:len(tampered)-3] + map[bool]string{true: "AAA", false: "BBB"}[!strings.HasSuffix(tampered, "AAA")]
		wantRefused(t, "tampered", api.Do("GET", "/app", nil, append(bearer(tampered), "Accept", "text/html")...))
		wantRefused(t, "garbage", api.Do("GET", "/app", nil, bearer("x.y.z")...))
		parts := strings.Split(access.(string), ".")
		none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt","kid":"`+
			headerOf(t, access.(string))["kid"].(string)+`"}`)) + "." + parts[1] + "."
		wantRefused(t, "alg none", api.Do("GET", "/app", nil, bearer(none)...))
		wantRefused(t, "refresh token as bearer", api.Do("GET", "/app", nil, bearer(out["refresh_token"])...))
		wantRefused(t, "session with tampered", api.Do("GET", "/auth/session", nil, bearer(tampered)...))

		// Rotation: a new pair; the spent refresh token is then a theft signal.
		r = api.Refresh(out["refresh_token"])
		if r.Status != 200 {
			t.Fatalf("refresh: %d %s", r.Status, r.Body)
		}
		second := r.JSON(t)
		if second["refresh_token"] == out["refresh_token"] || second["access_token"] == access || second["token_type"] != "bearer" {
			t.Fatalf("refresh answered %v", second)
		}
		c2, _ := joseVerify(t, g, second["access_token"].(string))
		if c2.Sid != sessID || c2.Subject != userID || !slices.Equal(c2.AMR, []string{"otp"}) {
			t.Fatalf("refreshed claims %+v", c2)
		}
		testenv.Echoed(t, api.Do("GET", "/app", nil, bearer(second["access_token"])...))

		// Within the grace, the same token asked again (a retry, a second
		// tab) gets the same new refresh token and a new access token.
		r = api.Refresh(out["refresh_token"])
		if r.Status != 200 {
			t.Fatalf("the same refresh within the grace: %d %s, want 200", r.Status, r.Body)
		}
		if again := r.JSON(t); again["refresh_token"] != second["refresh_token"] || again["access_token"] == second["access_token"] {
			t.Fatalf("the same refresh within the grace answered %v, want refresh token %v and a new access token", again, second["refresh_token"])
		}
		// Past it, the spent token is a theft signal.
		clock.Advance(sessionstore.RefreshRetryGrace)
		wantInvalidGrant(t, "reused refresh token", api.Refresh(out["refresh_token"]))
		// Reuse revoked the session: every token of it is dead now.
		wantRefused(t, "access after reuse", api.Do("GET", "/app", nil, bearer(second["access_token"])...))
		wantRefused(t, "first access after reuse", api.Do("GET", "/app", nil, bearer(access)...))
		wantInvalidGrant(t, "latest refresh after reuse", api.Refresh(second["refresh_token"]))

		wantInvalidGrant(t, "unknown refresh token", api.Refresh("nope"))
		if r := api.Do("POST", "/auth/token", map[string]any{}); r.Status != 400 || r.JSON(t)["error"] != "invalid_request" {
			t.Fatalf("token without refresh_token: %d %s", r.Status, r.Body)
		}
		// /token takes no cookie, so a cross-origin client may call it.
		if r := api.Do("POST", "/auth/token", map[string]any{"refresh_token": "x"}, "Origin", "https://spa.example.net"); r.Status != 401 {
			t.Fatalf("cross-origin /token: %d %s", r.Status, r.Body)
		}

		// Logout with the bearer token ends the session and its tokens.
		out = g.NewClient().SignInTokens("tia@example.com")
		if r := api.Do("POST", "/auth/logout", nil, bearer(out["access_token"])...); r.Status != 200 || r.JSON(t)["revoked"] != float64(1) {
			t.Fatalf("bearer logout: %d %s", r.Status, r.Body)
		}
		wantRefused(t, "access after logout", api.Do("GET", "/app", nil, bearer(out["access_token"])...))
		wantInvalidGrant(t, "refresh after logout", api.Refresh(out["refresh_token"]))

		// Global logout by cookie ends the tokens of every session.
		browser := g.NewClient()
		a := browser.SignInTokens("tia@example.com")
		b := g.NewClient().SignInTokens("tia@example.com")
		if r := browser.Do("POST", "/auth/logout", map[string]any{"scope": "global"}); r.Status != 200 {
			t.Fatalf("global logout: %d %s", r.Status, r.Body)
		}
		for _, o := range []map[string]any{a, b} {
			wantRefused(t, "access after global logout", api.Do("GET", "/app", nil, bearer(o["access_token"])...))
			wantInvalidGrant(t, "refresh after global logout", api.Refresh(o["refresh_token"]))
		}

		// Without "tokens", /verify gives none.
		if out := g.NewClient().SignIn("tia@example.com"); out["access_token"] != nil || out["refresh_token"] != nil {
			t.Fatalf("tokens without asking: %v", out)
		}
	})
}

func TestJWKSRoute(t *testing.T) {
	g := testenv.StartGateway(t)
	r := g.NewClient().Do("GET", "/auth/jwks.json", nil)
	if r.Status != 200 || !strings.Contains(r.Header.Get("Cache-Control"), "max-age=") ||
		!strings.Contains(r.Header.Get("Content-Type"), "json") {
		t.Fatalf("jwks: %d %v", r.Status, r.Header)
	}
	var set struct{ Keys []map[string]any }
	if err := json.Unmarshal(r.Body, &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks body %s", r.Body)
	}
	k := set.Keys[0]
	if k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["alg"] != "EdDSA" || k["kid"] == "" || k["d"] != nil {
		t.Fatalf("jwk %v: want a public Ed25519 key with a kid", k)
	}
}

func TestAssertionHeader(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithExtra("headers {\n assertion X-Passgate-Assertion\n}"))
	c := g.NewClient()
	out := c.SignIn("uma@example.com")
	userID := out["user"].(map[string]any)["id"].(string)
	h := testenv.Echoed(t, c.Do("GET", "/app", nil, "X-Passgate-Assertion", "forged"))
	got := h.Values("X-Passgate-Assertion")
	if len(got) != 1 || got[0] == "forged" {
		t.Fatalf("upstream got assertion %v", got)
	}
	claims, _ := joseVerify(t, g, got[0])
	if err := claims.Validate(josejwt.Expected{Issuer: "passgate", AnyAudience: []string{"127.0.0.1"}, Subject: userID}); err != nil {
		t.Fatalf("assertion claims %+v: %v", claims, err)
	}
	if claims.Email != "uma@example.com" || !slices.Equal(claims.Roles, []string{"staff"}) ||
		claims.Expiry.Time().Sub(claims.IssuedAt.Time()).Seconds() != 60 {
		t.Fatalf("assertion claims %+v", claims)
	}
	// It is no access token.
	wantRefused(t, "assertion as bearer", g.NewClient().Do("GET", "/app", nil, bearer(got[0])...))
	// A client's own assertion header is stripped, public paths included.
	h = testenv.Echoed(t, g.NewClient().Do("GET", "/public/x", nil, "X-Passgate-Assertion", "forged", "X_Passgate_Assertion", "forged"))
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
	g := testenv.StartGateway(t, testenv.WithExtra(jwtBlock("key old "+oldPath)))
	out := g.NewClient().SignInTokens("val@example.com")
	oldAccess := out["access_token"].(string)
	claims, kid := joseVerify(t, g, oldAccess)
	if kid != "old" || out["expires_in"] != float64(120) ||
		claims.Validate(josejwt.Expected{Issuer: "https://auth.test", AnyAudience: []string{"api.test"}}) != nil {
		t.Fatalf("kid %q, answer %v, claims %+v", kid, out, claims)
	}

	// Rotation, step 1: the new key signs (a {file.…} placeholder this
	// time), the old one still verifies.
	g.Extra = jwtBlock("key new {file." + newPath + "}\nkey old " + oldPath)
	reloadTo(t, g, "new", "old")
	api := g.NewClient()
	testenv.Echoed(t, api.Do("GET", "/app", nil, bearer(oldAccess)...))
	r := api.Refresh(out["refresh_token"])
	if r.Status != 200 {
		t.Fatalf("refresh during rotation: %d %s", r.Status, r.Body)
	}
	newAccess := r.JSON(t)["access_token"].(string)
	if _, kid := joseVerify(t, g, newAccess); kid != "new" {
		t.Fatalf("signed with %q, want the first key", kid)
	}
	if h := headerOf(t, newAccess); h["alg"] != "ES256" {
		t.Fatalf("new key header %v", h)
	}
	// Step 2: the old key is gone, and so is what it signed.
	g.Extra = jwtBlock("key new " + newPath)
	reloadTo(t, g, "new")
	wantRefused(t, "token of a retired key", api.Do("GET", "/app", nil, bearer(oldAccess)...))
	testenv.Echoed(t, api.Do("GET", "/app", nil, bearer(newAccess)...))
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
func reloadTo(t *testing.T, g *testenv.Gateway, kids ...string) {
	t.Helper()
	g.Load()
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

func publishedKids(g *testenv.Gateway) []string {
	resp, err := http.Get(g.Base + "/auth/jwks.json")
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
	g := testenv.StartGateway(t)
	c := g.NewClient()
	c.Start("xia@example.com")
	link := g.LinkFor("xia@example.com")
	token := link[strings.Index(link, "token=")+len("token="):]
	r := c.Do("POST", "/auth/magic", map[string]any{"token": token, "tokens": true})
	if r.Status != 200 {
		t.Fatalf("magic with tokens: %d %s", r.Status, r.Body)
	}
	out := r.JSON(t)
	access, ok := out["access_token"].(string)
	if !ok || out["refresh_token"] == nil {
		t.Fatalf("no tokens in %v", out)
	}
	api := g.NewClient()
	if h := testenv.Echoed(t, api.Do("GET", "/app", nil, "Authorization", "Bearer "+access)); h.Get("X-Auth-Email") != "xia@example.com" {
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
	rs := testenv.StartRedis(t)
	px := testenv.StartStallProxy(t, rs)
	g := testenv.StartGateway(t, func(g *testenv.Gateway) {
		g.Store = "store redis " + px.URL() + " {\n prefix pgtest:\n timeout 1s\n}"
	})
	out := g.NewClient().SignInTokens("wes@example.com")
	sessID := out["session"].(map[string]any)["id"].(string)
	sessKey := redisstore.Keys{Prefix: "pgtest:"}.Pointer(sessID)
	api := g.NewClient()
	admin := rs.Client()
	defer admin.Close()
	sessionStored := func() bool {
		n, err := admin.Exists(context.Background(), sessKey).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	}

	px.StallOn(sessKey)
	r := api.Refresh(out["refresh_token"])
	if r.Status != 503 || r.JSON(t)["error"] != "store_unavailable" {
		t.Fatalf("refresh with Redis hung on the session read: %d %s, want 503 store_unavailable", r.Status, r.Body)
	}
	if px.Stalled.Load() == 0 {
		t.Fatal("the 503 did not come from the stalled session read")
	}
	px.Release()

	r = api.Refresh(out["refresh_token"])
	if r.Status != 200 {
		t.Fatalf("the same refresh token after Redis is back: %d %s, want 200", r.Status, r.Body)
	}
	second := r.JSON(t)
	if second["refresh_token"] == out["refresh_token"] || second["access_token"] == nil {
		t.Fatalf("refresh after the hiccup answered %v", second)
	}
	if r := api.Do("GET", "/auth/session", nil, bearer(second["access_token"])...); r.Status != 200 ||
		r.JSON(t)["session"].(map[string]any)["id"] != sessID {
		t.Fatalf("session via the new access token: %d %s", r.Status, r.Body)
	}
	if !sessionStored() {
		t.Fatal("session gone after the retry")
	}

	// The retry spent the token; past the grace it is reuse.
	clock.Advance(sessionstore.RefreshRetryGrace)
	wantInvalidGrant(t, "the original refresh token again", api.Refresh(out["refresh_token"]))
	if sessionStored() {
		t.Fatal("reuse did not revoke the session")
	}
	wantRefused(t, "access after reuse", api.Do("GET", "/app", nil, bearer(second["access_token"])...))
	wantInvalidGrant(t, "latest refresh after reuse", api.Refresh(second["refresh_token"]))
}

// A reply lost after Redis rotated a refresh token (the proxy drops the
// connection once the rotation script has run, before its answer comes
// back) must not read as reuse: nothing re-runs the script, /token
// answers 503, no reuse is logged, the session lives, and the same
// refresh token asked again gets the successor the lost rotation stored.
func TestTokenRefreshReplyLost(t *testing.T) {
	rs := testenv.StartRedis(t)
	px := testenv.StartStallProxy(t, rs)
	g := testenv.StartGateway(t, func(g *testenv.Gateway) {
		g.Store = "store redis " + px.URL() + " {\n prefix pgtest:\n timeout 1s\n}"
	})
	out := g.NewClient().SignInTokens("yul@example.com")
	keys := redisstore.Keys{Prefix: "pgtest:"}
	sessKey := keys.Pointer(out["session"].(map[string]any)["id"].(string))
	oldKey := keys.Refresh(sessionstore.RefreshHash(out["refresh_token"].(string)))
	api := g.NewClient()
	admin := rs.Client()
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
	px.CutReplyOn(func(cmd []byte) bool {
		lower := bytes.ToLower(cmd)
		return bytes.Contains(cmd, []byte(oldKey)) &&
			(bytes.Contains(lower, []byte("\r\nevalsha\r\n")) || bytes.Contains(lower, []byte("\r\neval\r\n")))
	})
	r := api.Refresh(out["refresh_token"])
	if px.Cuts() != 1 {
		t.Fatalf("no reply was lost (cuts %d); /token answered %d %s", px.Cuts(), r.Status, r.Body)
	}
	t.Logf("refresh whose rotation reply was lost: %d %s", r.Status, r.Body)
	if r.Status != 503 && r.Status != 200 {
		t.Fatalf("refresh whose rotation reply was lost: %d %s, want 503 (or 200)", r.Status, r.Body)
	}
	for _, e := range testenv.ReadLog(t, g.LogPath) {
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

	r2 := api.Refresh(out["refresh_token"])
	if r2.Status != 200 {
		t.Fatalf("the same refresh token after the lost reply: %d %s, want 200", r2.Status, r2.Body)
	}
	second := r2.JSON(t)
	nextKey := keys.Refresh(sessionstore.RefreshHash(second["refresh_token"].(string)))
	if keys := refreshKeys(); !slices.Equal(keys, afterCut) || !slices.Contains(keys, nextKey) {
		t.Fatalf("refresh keys after the retry: %v (its token's key %s), want the lost rotation's %v", keys, nextKey, afterCut)
	}
	if r.Status == 200 && r.JSON(t)["refresh_token"] != second["refresh_token"] {
		t.Fatalf("the first answer and the retry gave different refresh tokens")
	}
	testenv.Echoed(t, api.Do("GET", "/app", nil, bearer(second["access_token"])...))
	// The chain goes on from the successor.
	if r3 := api.Refresh(second["refresh_token"]); r3.Status != 200 {
		t.Fatalf("refreshing with the successor: %d %s", r3.Status, r3.Body)
	}
}

// A sign-in whose tokens cannot be stored answers 503 without signing the
// browser in: the tokens are issued before the cookie is set.
func TestSignInTokenFailureSetsNoCookie(t *testing.T) {
	rs := testenv.StartRedis(t)
	px := testenv.StartStallProxy(t, rs)
	g := testenv.StartGateway(t, func(g *testenv.Gateway) {
		g.Store = "store redis " + px.URL() + " {\n prefix pgtest:\n timeout 1s\n}"
	})
	c := g.NewClient()
	clock.Advance(61 * time.Second)
	id := c.Start("xan@example.com")
	px.StallOn("pgtest:r:") // the refresh token's key: the sign-in's last store write
	r := c.Do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": g.CodeFor("xan@example.com"), "tokens": true})
	if r.Status != 503 || px.Stalled.Load() == 0 {
		t.Fatalf("sign-in with the refresh token's write hung: %d %s (stalled %d), want 503 from that write", r.Status, r.Body, px.Stalled.Load())
	}
	if sc := r.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Fatalf("a failed sign-in set cookies: %q", sc)
	}
	px.Release()
	if r := c.Do("GET", "/app/page", nil); r.Status != 401 {
		t.Fatalf("after the failed sign-in the client reached the app: %d %s", r.Status, r.Body)
	}
}
