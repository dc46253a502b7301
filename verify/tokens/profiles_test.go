package tokens_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/passgate/caddy-passgate/verify/tokens"
)

func es256(t *testing.T, b byte) tokens.Key {
	k, err := tokens.DeriveES256(seed(b))
	must(t, err)
	return k
}

var gotrue = tokens.Profile{
	Name: "supabase", Issuer: "https://app.example.com/auth/v1", Audience: "authenticated", Alg: tokens.AlgES256,
	TTL: time.Hour,
	Claims: func(id tokens.Identity) map[string]any {
		return map[string]any{"role": "authenticated", "session_id": id.SessionID, "email": id.Email,
			"sid": "forged", "sub": "forged", "exp": 1} // passgate's own claims are not a profile's to set
	},
}

// A front door's tokens carry its claims and passgate's, are signed with a
// key of the profile's algorithm, verify against the JWKS of that
// algorithm, and pass as bearer tokens like passgate's own; they cannot
// be passed off as another profile's or as passgate's.
func TestProfileTokens(t *testing.T) {
	c := new(clock)
	iss := newIssuer(t, c, derived(t, 0), es256(t, 1))
	must(t, iss.Register(gotrue))
	must(t, iss.Register(tokens.Profile{Name: "nhost", Issuer: "hasura-auth", Alg: tokens.AlgEdDSA}))
	if err := iss.Register(tokens.Profile{Name: "again", Issuer: gotrue.Issuer, Alg: tokens.AlgES256}); err == nil {
		t.Fatal("two profiles share an issuer")
	}
	if err := iss.Register(tokens.Profile{Name: "mine", Issuer: "https://auth.example.com", Alg: tokens.AlgEdDSA}); err == nil {
		t.Fatal("a profile took the issuer's own iss")
	}
	if err := newIssuer(t, c, derived(t, 0)).Register(gotrue); err == nil {
		t.Fatal("a profile was registered without a key of its algorithm")
	}

	tok, exp, err := iss.IssueFor("supabase", ann)
	must(t, err)
	if d := time.Until(exp); d < 59*time.Minute || d > time.Hour {
		t.Fatalf("expires in %v, want the profile's hour", d)
	}
	var claims map[string]any
	if err := independent(t, iss.JWKSFor(tokens.AlgES256), tok, &claims); err != nil {
		t.Fatalf("go-jose: %v", err)
	}
	if claims["sub"] != ann.UserID || claims["sid"] != ann.SessionID || claims["session_id"] != ann.SessionID ||
		claims["aud"] != "authenticated" || claims["role"] != "authenticated" || claims["iss"] != gotrue.Issuer ||
		claims["exp"] == float64(1) || claims["jti"] == nil {
		t.Fatalf("claims %v", claims)
	}
	header, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if !strings.Contains(string(header), `"alg":"ES256"`) || !strings.Contains(string(header), `"typ":"JWT"`) {
		t.Fatalf("header %s", header)
	}
	if keys := string(iss.JWKSFor(tokens.AlgES256)); strings.Contains(keys, "OKP") || !strings.Contains(keys, `"key_ops":["verify"]`) {
		t.Fatalf("ES256 JWKS %s", keys)
	}
	sid, sub, err := iss.VerifySession(tok)
	if err != nil || sid != ann.SessionID || sub != ann.UserID {
		t.Fatalf("VerifySession: %q %q %v", sid, sub, err)
	}
	nhost, _, err := iss.IssueFor("nhost", ann)
	must(t, err)
	if _, _, err := iss.VerifySession(nhost); err != nil {
		t.Fatalf("the second profile's token: %v", err)
	}

	// The same claims under another profile's issuer, or with the typ of
	// passgate's own: signed by a key the issuer has, and still refused.
	parts := strings.Split(tok, ".")
	forge := func(mutate func(m map[string]any), header map[string]any, key tokens.Key) string {
		m := map[string]any{}
		raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
		must(t, json.Unmarshal(raw, &m))
		mutate(m)
		return signWith(t, key, header, m)
	}
	for name, bad := range map[string]string{
		"another profile's issuer": forge(func(m map[string]any) { m["iss"] = "hasura-auth" }, map[string]any{"typ": "JWT"}, es256(t, 1)),
		"no sid":                   forge(func(m map[string]any) { delete(m, "sid") }, map[string]any{"typ": "JWT"}, es256(t, 1)),
		"wrong audience":           forge(func(m map[string]any) { m["aud"] = "anon" }, map[string]any{"typ": "JWT"}, es256(t, 1)),
		"unknown issuer":           forge(func(m map[string]any) { m["iss"] = "https://evil.example" }, map[string]any{"typ": "JWT"}, es256(t, 1)),
		"other typ":                forge(func(m map[string]any) {}, map[string]any{"typ": "at+jwt"}, es256(t, 1)),
		"a stranger's key":         forge(func(m map[string]any) {}, map[string]any{"typ": "JWT"}, es256(t, 2)),
		"expired":                  forge(func(m map[string]any) { m["exp"] = time.Now().Add(-time.Hour).Unix() }, map[string]any{"typ": "JWT"}, es256(t, 1)),
	} {
		if _, _, err := iss.VerifySession(bad); !errors.Is(err, tokens.ErrInvalidToken) {
			t.Errorf("%s: accepted (%v)", name, err)
		}
	}
	// The upstream assertion is still no access token.
	assertion, err := iss.IssueAssertion("app.example.com", ann)
	must(t, err)
	if _, _, err := iss.VerifySession(assertion); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Fatalf("assertion accepted as an access token: %v", err)
	}
}

// signWith signs claims with key under key's kid, with the header fields
// given.
func signWith(t *testing.T, key tokens.Key, header, claims map[string]any) string {
	t.Helper()
	tok, err := tokens.SignRaw(key, header, jwt.MapClaims(claims))
	must(t, err)
	return tok
}

// As passgate runs: its own tokens signed with Ed25519 keys, the doors'
// with ES256 keys of their own. A door's token verifies though no key of
// passgate's own has its algorithm, and a token of passgate's typ signed
// with a door's key is still refused.
func TestProfileTokensBesideOtherKeys(t *testing.T) {
	c := new(clock)
	iss, err := tokens.New(tokens.Config{Issuer: "https://auth.example.com", Audience: "api",
		Keys: []tokens.Key{derived(t, 0)}, ProfileKeys: []tokens.Key{es256(t, 1)}, Now: c.now})
	must(t, err)
	must(t, iss.Register(gotrue))
	tok, _, err := iss.IssueFor("supabase", ann)
	must(t, err)
	if sid, sub, err := iss.VerifySession(tok); err != nil || sid != ann.SessionID || sub != ann.UserID {
		t.Fatalf("VerifySession: %q %q %v", sid, sub, err)
	}
	own, _, err := iss.IssueAccess(ann)
	must(t, err)
	if _, _, err := iss.VerifySession(own); err != nil {
		t.Fatalf("passgate's own token: %v", err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(own, ".")[1])
	var m map[string]any
	must(t, json.Unmarshal(raw, &m))
	if _, _, err := iss.VerifySession(signWith(t, es256(t, 1), map[string]any{"typ": "at+jwt"}, m)); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Fatalf("passgate's claims signed with a door's key: %v", err)
	}
}

// A sessionless profile's token names a backend client: VerifyFor of its
// profile accepts it, with its audience; it carries no sid, and it never
// passes as a session's bearer token, nor as another profile's.
func TestSessionlessTokens(t *testing.T) {
	c := new(clock)
	iss := newIssuer(t, c, derived(t, 0), es256(t, 1))
	m2m := tokens.Profile{Name: "logto m2m", Issuer: "https://app.example.com/logto/oidc", Audience: "https://default.logto.app/api",
		Alg: tokens.AlgES256, Type: "at+jwt", TTL: time.Hour, Sessionless: true,
		Claims: func(tokens.Identity) map[string]any { return map[string]any{"scope": "all"} }}
	must(t, iss.Register(m2m))
	must(t, iss.Register(gotrue))
	tok, _, err := iss.IssueFor("logto m2m", tokens.Identity{UserID: "shop", SessionID: "ignored"})
	must(t, err)
	var claims map[string]any
	if err := independent(t, iss.JWKSFor(tokens.AlgES256), tok, &claims); err != nil {
		t.Fatalf("go-jose: %v", err)
	}
	if _, has := claims["sid"]; has || claims["sub"] != "shop" || claims["aud"] != m2m.Audience || claims["scope"] != "all" {
		t.Fatalf("claims: %v", claims)
	}
	got, err := iss.VerifyFor("logto m2m", tok)
	if err != nil || got.Subject != "shop" {
		t.Fatalf("VerifyFor: %v, %v", got, err)
	}
	if _, err := iss.VerifyAccess(tok); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Fatalf("VerifyAccess took a sessionless token: %v", err)
	}
	if _, err := iss.VerifyFor("supabase", tok); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Fatalf("VerifyFor of another profile: %v", err)
	}
	other, _, err := iss.IssueFor("supabase", ann)
	must(t, err)
	if _, err := iss.VerifyFor("logto m2m", other); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Fatalf("another profile's token passed VerifyFor: %v", err)
	}
	c.advance(2 * time.Hour)
	if _, err := iss.VerifyFor("logto m2m", tok); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Fatalf("an expired token passed: %v", err)
	}
}
