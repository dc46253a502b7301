package supabase_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/internal/clock"
	"github.com/passgate/caddy-passgate/internal/testenv"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// verifyES256 checks a token's signature against the door's JWKS as a
// client does: by kid, ES256 on P-256.
func verifyES256(t *testing.T, jwks []byte, token string) {
	t.Helper()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(token, ".")
	var header map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(parts[0])
	json.Unmarshal(raw, &header)
	if header["alg"] != "ES256" || header["kid"] == nil {
		t.Fatalf("header %v", header)
	}
	for _, k := range set.Keys {
		if k["kid"] != header["kid"] {
			continue
		}
		if k["kty"] != "EC" || k["crv"] != "P-256" || k["d"] != nil {
			t.Fatalf("JWKS key %v", k)
		}
		x, _ := base64.RawURLEncoding.DecodeString(k["x"].(string))
		y, _ := base64.RawURLEncoding.DecodeString(k["y"].(string))
		pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if len(sig) != 64 || !ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			t.Fatal("the signature does not verify with the JWKS key")
		}
		return
	}
	t.Fatalf("no JWKS key with kid %v", header["kid"])
}

// A session's token carries GoTrue's claims, verifies against the JWKS
// (ES256 only there), lives an hour, and is the user GET /user answers;
// the metadata given at sign-up is kept with the user and comes back
// everywhere, and a later sign-up's does not replace it.
func TestSessionAndClaims(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithExtra(doorConfig))
	c := newClient(g)
	s := c.signIn(g, "Bea@Example.com", map[string]any{"name": "Bea", "n": 1})
	if s["token_type"] != "bearer" || s["expires_in"] != 3600.0 || s["refresh_token"] == "" {
		t.Fatalf("session %v", s)
	}
	if exp := int64(s["expires_at"].(float64)); exp < clock.Now().Add(59*time.Minute).Unix() {
		t.Fatalf("expires_at %d: not an hour away", exp)
	}
	token := s["access_token"].(string)
	jwks := c.Do("GET", "/auth/v1/.well-known/jwks.json", nil) // no apikey needed
	if jwks.Status != 200 || jwks.Header.Get("Cache-Control") != "public, max-age=600" {
		t.Fatalf("jwks: %d %v", jwks.Status, jwks.Header)
	}
	var set struct{ Keys []map[string]any }
	json.Unmarshal(jwks.Body, &set)
	for _, k := range set.Keys {
		if k["alg"] != "ES256" {
			t.Fatalf("a key of another algorithm in the JWKS: %v", k)
		}
	}
	verifyES256(t, jwks.Body, token)

	cl := claims(t, token)
	user := s["user"].(map[string]any)
	want := map[string]any{"aud": "authenticated", "role": "authenticated", "aal": "aal1", "email": "bea@example.com",
		"phone": "", "is_anonymous": false, "sub": user["id"], "iss": "passgate/auth/v1"}
	for k, v := range want {
		if cl[k] != v {
			t.Fatalf("claim %s = %v, want %v (%v)", k, cl[k], v, cl)
		}
	}
	if !uuidRE.MatchString(cl["sub"].(string)) || !uuidRE.MatchString(cl["session_id"].(string)) {
		t.Fatalf("sub %v, session_id %v: not UUIDs", cl["sub"], cl["session_id"])
	}
	amr := cl["amr"].([]any)[0].(map[string]any)
	if amr["method"] != "otp" || amr["timestamp"].(float64) < float64(clock.Now().Add(-time.Minute).Unix()) {
		t.Fatalf("amr %v", cl["amr"])
	}
	app := cl["app_metadata"].(map[string]any)
	if app["provider"] != "email" || app["roles"].([]any)[0] != "staff" {
		t.Fatalf("app_metadata %v", app)
	}
	if md := cl["user_metadata"].(map[string]any); md["name"] != "Bea" || md["n"] != 1.0 {
		t.Fatalf("user_metadata claim %v", md)
	}
	if md := user["user_metadata"].(map[string]any); md["name"] != "Bea" {
		t.Fatalf("session.user.user_metadata %v", md)
	}
	for _, k := range []string{"email_confirmed_at", "confirmed_at", "last_sign_in_at", "created_at", "updated_at"} {
		if _, err := time.Parse(time.RFC3339, user[k].(string)); err != nil {
			t.Fatalf("user.%s: %v", k, err)
		}
	}

	r := c.call("GET", "/user", nil, bearer(token)...)
	if r.Status != 200 {
		t.Fatalf("user: %d %s", r.Status, r.Body)
	}
	u := r.JSON(t)
	if u["id"] != user["id"] || u["email"] != "bea@example.com" || u["user_metadata"].(map[string]any)["name"] != "Bea" ||
		u["aud"] != "authenticated" || len(u["identities"].([]any)) != 0 {
		t.Fatalf("GET /user %v", u)
	}

	// A second sign-up with other data keeps the first.
	clock.Advance(61 * time.Second)
	s2 := c.signIn(g, "bea@example.com", map[string]any{"name": "Mallory"})
	if md := s2["user"].(map[string]any)["user_metadata"].(map[string]any); md["name"] != "Bea" {
		t.Fatalf("metadata replaced by a later sign-in: %v", md)
	}
}

// Refresh tokens rotate; the same rotation asked again within 10 s gets
// the same successor (two tabs, a lost answer), any later reuse answers
// refresh_token_already_used and ends the session, which GET /user then
// reports as session_not_found (the client drops its session on it).
func TestRefreshAndReuse(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithExtra(doorConfig))
	c := newClient(g)
	s := c.signIn(g, "cat@example.com", nil)
	first := s["refresh_token"]
	refresh := func(tok any) testenv.Response {
		return c.call("POST", "/token?grant_type=refresh_token", map[string]any{"refresh_token": tok})
	}
	r1 := refresh(first)
	if r1.Status != 200 {
		t.Fatalf("refresh: %d %s", r1.Status, r1.Body)
	}
	n1 := r1.JSON(t)
	if n1["refresh_token"] == first || n1["user"].(map[string]any)["email"] != "cat@example.com" {
		t.Fatalf("rotation: %v", n1)
	}
	if claims(t, n1["access_token"].(string))["session_id"] != claims(t, s["access_token"].(string))["session_id"] {
		t.Fatal("a refresh changed the session")
	}
	again := refresh(first)
	if again.Status != 200 || again.JSON(t)["refresh_token"] != n1["refresh_token"] {
		t.Fatalf("the same rotation within the grace: %d %s", again.Status, again.Body)
	}
	clock.Advance(11 * time.Second)
	wantError(t, refresh(first), 400, "refresh_token_already_used")
	wantError(t, refresh(n1["refresh_token"]), 400, "refresh_token_not_found")
	wantError(t, c.call("GET", "/user", nil, bearer(n1["access_token"].(string))...), 403, "session_not_found")
}

// GET /user tells no token (401), a token that does not verify (the anon
// key, a forged one: 403 bad_jwt) and one whose session ended (403
// session_not_found); /logout ends exactly what its scope says and
// answers 204, also for a session already ended.
func TestUserAndLogout(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithExtra(doorConfig))
	email := "dan@example.com"
	a, b, x := newClient(g), newClient(g), newClient(g)
	sa := a.signIn(g, email, nil)
	clock.Advance(61 * time.Second)
	sb := b.signIn(g, email, nil)
	clock.Advance(61 * time.Second)
	sx := x.signIn(g, email, nil)
	ta, tb, tx := sa["access_token"].(string), sb["access_token"].(string), sx["access_token"].(string)

	wantError(t, a.call("GET", "/user", nil, "Authorization", ""), 401, "no_authorization")
	wantError(t, a.call("GET", "/user", nil), 403, "bad_jwt") // the anon key as bearer
	wantError(t, a.call("GET", "/user", nil, bearer(ta[:len(ta)-4]+"AAAA")...), 403, "bad_jwt")
	wantError(t, a.call("POST", "/logout", nil, "Authorization", ""), 401, "no_authorization")

	userOK := func(token string) bool { return a.call("GET", "/user", nil, bearer(token)...).Status == 200 }
	// others: a stays, b and x end.
	if r := a.call("POST", "/logout?scope=others", nil, bearer(ta)...); r.Status != 204 || len(r.Body) != 0 {
		t.Fatalf("logout others: %d %s", r.Status, r.Body)
	}
	if !userOK(ta) || userOK(tb) || userOK(tx) {
		t.Fatal("scope=others ended the wrong sessions")
	}
	wantError(t, a.call("GET", "/user", nil, bearer(tb)...), 403, "session_not_found")

	// local: only this one.
	clock.Advance(61 * time.Second)
	sb = b.signIn(g, email, nil)
	tb = sb["access_token"].(string)
	if r := a.call("POST", "/logout?scope=local", nil, bearer(ta)...); r.Status != 204 {
		t.Fatalf("logout local: %d", r.Status)
	}
	if userOK(ta) || !userOK(tb) {
		t.Fatal("scope=local ended the wrong sessions")
	}
	// Again: nothing left to end, still 204.
	if r := a.call("POST", "/logout?scope=local", nil, bearer(ta)...); r.Status != 204 {
		t.Fatalf("second logout: %d", r.Status)
	}

	// global (the default, with a content type and no body as the client
	// sends it): every session.
	clock.Advance(61 * time.Second)
	sa = a.signIn(g, email, nil)
	ta = sa["access_token"].(string)
	if r := b.call("POST", "/logout", nil, append(bearer(tb), "Content-Type", "application/json;charset=UTF-8")...); r.Status != 204 {
		t.Fatalf("logout global: %d %s", r.Status, r.Body)
	}
	if userOK(ta) || userOK(tb) {
		t.Fatal("the default scope did not end every session")
	}
	// The refresh token of an ended session is refused.
	wantError(t, a.call("POST", "/token?grant_type=refresh_token", map[string]any{"refresh_token": sa["refresh_token"]}), 400, "refresh_token_not_found")
}

// The access token passes the gate as a bearer token: the upstream gets
// the identity headers and not the token; once the session has ended, the
// gate refuses it.
func TestBearerOnProtectedRoutes(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithExtra(doorConfig))
	c := newClient(g)
	s := c.signIn(g, "eli@example.com", nil)
	token := s["access_token"].(string)
	r := c.Do("GET", "/app/data", nil, bearer(token)...)
	h := testenv.Echoed(t, r)
	if r.Status != 200 || h.Get("X-Auth-User-Id") != s["user"].(map[string]any)["id"] ||
		h.Get("X-Auth-Email") != "eli@example.com" || h.Get("X-Auth-Roles") != "staff" || h.Get("Authorization") != "" {
		t.Fatalf("upstream got %d %v", r.Status, h)
	}
	// The anon key alone is no session.
	if r := c.Do("GET", "/app/data", nil, bearer(anonKey)...); r.Status != 401 {
		t.Fatalf("the anon key as bearer on a protected route: %d", r.Status)
	}
	c.call("POST", "/logout", nil, bearer(token)...)
	if r := c.Do("GET", "/app/data", nil, bearer(token)...); r.Status != 401 {
		t.Fatalf("after sign-out: %d", r.Status)
	}
}

// The native door keeps /auth; /auth/v1 is the Supabase door's.
func TestMounts(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithExtra(doorConfig))
	c := newClient(g)
	if r := c.call("GET", "/health", nil); r.Status != 200 || r.JSON(t)["name"] != "GoTrue" {
		t.Fatalf("health: %d %s", r.Status, r.Body)
	}
	st := c.call("GET", "/settings", nil)
	if st.Status != 200 {
		t.Fatalf("settings: %d", st.Status)
	}
	ext := st.JSON(t)["external"].(map[string]any)
	if ext["email"] != true || ext["phone"] != true || ext["google"] != false {
		t.Fatalf("settings.external %v", ext)
	}
	if r := c.Do("POST", "/auth/start", map[string]any{"email": "fay@example.com"}); r.Status != 200 || r.JSON(t)["attempt_id"] == nil {
		t.Fatalf("native start: %d %s", r.Status, r.Body)
	}
}

// With the operator's own ES256 key in `jwt`, the door's tokens are
// signed with it, and the JWKS publishes it.
func TestOperatorKey(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "es256.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	g := testenv.StartGateway(t, testenv.WithExtra("compat supabase\n\t\tjwt {\n\t\t\tkey mine "+path+"\n\t\t}"))
	c := newClient(g)
	token := c.signIn(g, "ora@example.com", nil)["access_token"].(string)
	raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	var header map[string]any
	json.Unmarshal(raw, &header)
	if header["kid"] != "mine" {
		t.Fatalf("signed with %v, want the operator's key", header["kid"])
	}
	verifyES256(t, c.call("GET", "/.well-known/jwks.json", nil).Body, token)
}
