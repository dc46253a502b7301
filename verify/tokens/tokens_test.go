package tokens_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/golang-jwt/jwt/v5"

	"github.com/passgate/caddy-passgate/verify/tokens"
)

// clock is an injectable clock tests move by hand.
type clock struct{ off atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) advance(d time.Duration) { c.off.Add(int64(d)) }
func seed(b byte) []byte                 { return []byte(strings.Repeat(string(rune('a'+b)), 32)) }
func derived(t *testing.T, b byte) tokens.Key {
	k, err := tokens.DeriveEd25519(seed(b))
	must(t, err)
	return k
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newIssuer(t *testing.T, c *clock, keys ...tokens.Key) *tokens.Issuer {
	t.Helper()
	i, err := tokens.New(tokens.Config{Issuer: "https://auth.example.com", Audience: "api", Keys: keys, Now: c.now})
	must(t, err)
	return i
}

var ann = tokens.Identity{UserID: "u-1", SessionID: "sess-hash", Email: "ann@example.com",
	Roles: []string{"staff", "admin"}, AMR: []string{"otp"}}

// independent verifies a token with go-jose against the published JWKS
// alone, as an upstream or API would.
func independent(t *testing.T, jwks []byte, token string, out any) error {
	t.Helper()
	var set jose.JSONWebKeySet
	must(t, json.Unmarshal(jwks, &set))
	tok, err := josejwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256})
	if err != nil {
		return err
	}
	keys := set.Key(tok.Headers[0].KeyID)
	if len(keys) != 1 {
		return errors.New("kid not in the JWKS")
	}
	return tok.Claims(keys[0].Key, out)
}

func TestAccessTokenVerifiedByGoJose(t *testing.T) {
	ecKey, ecPEM := genES256(t)
	_ = ecKey
	es, err := tokens.ParsePEM("ec-1", ecPEM)
	must(t, err)
	for _, k := range []tokens.Key{derived(t, 0), es} {
		t.Run(k.Alg, func(t *testing.T) {
			c := new(clock)
			iss := newIssuer(t, c, k)
			tok, exp, err := iss.IssueAccess(ann)
			must(t, err)
			if d := time.Until(exp); d < 14*time.Minute || d > 15*time.Minute {
				t.Fatalf("expires in %v, want 15m", d)
			}
			var std josejwt.Claims
			var priv struct {
				Sid   string   `json:"sid"`
				Email string   `json:"email"`
				Roles []string `json:"roles"`
				AMR   []string `json:"amr"`
			}
			must(t, independent(t, iss.JWKS(), tok, &std))
			must(t, independent(t, iss.JWKS(), tok, &priv))
			must(t, std.Validate(josejwt.Expected{Issuer: "https://auth.example.com", AnyAudience: []string{"api"}, Subject: "u-1"}))
			if std.ID == "" || std.IssuedAt == nil || std.NotBefore == nil || std.Expiry.Time().Unix() != exp.Unix() {
				t.Fatalf("registered claims %+v", std)
			}
			if priv.Sid != "sess-hash" || priv.Email != ann.Email || !slices.Equal(priv.Roles, ann.Roles) || !slices.Equal(priv.AMR, ann.AMR) {
				t.Fatalf("private claims %+v", priv)
			}
			got, err := iss.VerifyAccess(tok)
			must(t, err)
			if got.Subject != "u-1" || got.SessionID != "sess-hash" {
				t.Fatalf("VerifyAccess gave %+v", got)
			}
			if h := header(t, tok); h["typ"] != "at+jwt" || h["kid"] != k.ID || h["alg"] != k.Alg {
				t.Fatalf("header %v", h)
			}
		})
	}
}

func TestAssertionVerifiedByGoJose(t *testing.T) {
	c := new(clock)
	iss := newIssuer(t, c, derived(t, 0))
	tok, err := iss.IssueAssertion("app.example.com", ann)
	must(t, err)
	var std josejwt.Claims
	var priv struct {
		Email string   `json:"email"`
		Roles []string `json:"roles"`
	}
	must(t, independent(t, iss.JWKS(), tok, &std))
	must(t, independent(t, iss.JWKS(), tok, &priv))
	must(t, std.ValidateWithLeeway(josejwt.Expected{Issuer: "https://auth.example.com", AnyAudience: []string{"app.example.com"}, Subject: "u-1"}, 0))
	if d := std.Expiry.Time().Sub(std.IssuedAt.Time()); d != time.Minute {
		t.Fatalf("assertion lives %v, want 1m", d)
	}
	if priv.Email != ann.Email || !slices.Equal(priv.Roles, ann.Roles) {
		t.Fatalf("claims %+v", priv)
	}
	// An assertion is never an access token, even for a matching audience.
	iss2, err := tokens.New(tokens.Config{Issuer: "https://auth.example.com", Audience: "app.example.com",
		Keys: []tokens.Key{derived(t, 0)}, Now: c.now})
	must(t, err)
	if _, err := iss2.VerifyAccess(tok); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Fatalf("assertion accepted as access token: %v", err)
	}
}

func TestRefused(t *testing.T) {
	c := new(clock)
	key := derived(t, 0)
	iss := newIssuer(t, c, key)
	good, _, err := iss.IssueAccess(ann)
	must(t, err)
	parts := strings.Split(good, ".")
	b64 := base64.RawURLEncoding.EncodeToString

	tamperedClaims := func() string {
		raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
		raw = []byte(strings.Replace(string(raw), `"staff"`, `"root!"`, 1))
		return parts[0] + "." + b64(raw) + "." + parts[2]
	}()
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[0] ^= 1
	tamperedSig := parts[0] + "." + parts[1] + "." + b64(sig)
	algNone := b64([]byte(`{"alg":"none","typ":"at+jwt","kid":"`+key.ID+`"}`)) + "." + parts[1] + "."
	// HMAC confusion: HS256 keyed with the public key, which anyone has.
	pub := []byte(ed25519.NewKeyFromSeed(seed(0)).Public().(ed25519.PublicKey))
	mc := jwt.MapClaims{}
	must(t, json.Unmarshal(mustDecode(t, parts[1]), &mc))
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, mc)
	hs.Header["kid"], hs.Header["typ"] = key.ID, "at+jwt"
	hmacToken, err := hs.SignedString(pub)
	must(t, err)
	// Well signed, but by a key that is not configured.
	stranger := newIssuer(t, c, derived(t, 1))
	unknownKid, _, err := stranger.IssueAccess(ann)
	must(t, err)
	// A configured kid, but the token signed by another key under that kid.
	forged := withKid(t, derived(t, 1), key.ID, c)
	// Same key, other issuer or audience.
	otherIss, err := tokens.New(tokens.Config{Issuer: "https://evil.example", Audience: "api", Keys: []tokens.Key{key}, Now: c.now})
	must(t, err)
	wrongIss, _, _ := otherIss.IssueAccess(ann)
	otherAud, err := tokens.New(tokens.Config{Issuer: "https://auth.example.com", Audience: "other", Keys: []tokens.Key{key}, Now: c.now})
	must(t, err)
	wrongAud, _, _ := otherAud.IssueAccess(ann)
	// The same signature bytes spelt differently: the last character of
	// a 64-byte signature carries 2 bits and 4 unused ones, which a lax
	// decoder ignores. Only the canonical spelling may verify, or one
	// token would have 16 forms (a cache, log or deny list keyed by the
	// text would see 16 tokens).
	alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, parts[2][len(parts[2])-1])
	nonCanonical := parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-1] + string(alphabet[last|1])
	if b, _ := base64.RawURLEncoding.DecodeString(strings.Split(nonCanonical, ".")[2]); nonCanonical == good || !bytes.Equal(b, mustDecode(t, parts[2])) {
		t.Fatal("not another spelling of the same signature: the test proves nothing")
	}
	noSid := ann
	noSid.SessionID = ""
	withoutSid, _, _ := iss.IssueAccess(noSid)

	for name, tok := range map[string]string{
		"tampered claims": tamperedClaims, "tampered signature": tamperedSig, "alg none": algNone,
		"HS256 with the public key": hmacToken, "unknown kid": unknownKid, "forged under a known kid": forged,
		"wrong issuer": wrongIss, "wrong audience": wrongAud, "no sid": withoutSid, "non-canonical base64url": nonCanonical,
		"empty": "", "garbage": "a.b.c", "too long": strings.Repeat("a", tokens.MaxTokenLen+1),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := iss.VerifyAccess(tok); !errors.Is(err, tokens.ErrInvalidToken) {
				t.Fatalf("accepted (err %v)", err)
			}
		})
	}
	if _, err := iss.VerifyAccess(good); err != nil {
		t.Fatalf("the untampered token is refused: %v", err)
	}
}

func TestTimes(t *testing.T) {
	c := new(clock)
	iss := newIssuer(t, c, derived(t, 0))
	tok, _, err := iss.IssueAccess(ann)
	must(t, err)
	ttl, leeway := tokens.DefaultAccessTTL, tokens.DefaultLeeway

	c.advance(ttl + leeway - 2*time.Second) // expired, but within the leeway
	if _, err := iss.VerifyAccess(tok); err != nil {
		t.Fatalf("within leeway: %v", err)
	}
	c.advance(4 * time.Second) // past exp + leeway
	if _, err := iss.VerifyAccess(tok); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Fatalf("expired token accepted: %v", err)
	}

	// A token from a clock an hour ahead is not yet valid (nbf, iat).
	c2 := new(clock)
	c2.advance(time.Hour)
	future, _, err := newIssuer(t, c2, derived(t, 0)).IssueAccess(ann)
	must(t, err)
	if _, err := newIssuer(t, new(clock), derived(t, 0)).VerifyAccess(future); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Fatalf("token from the future accepted: %v", err)
	}
}

func TestKeyRotation(t *testing.T) {
	c := new(clock)
	oldKey, newKey := derived(t, 0), derived(t, 1)
	before := newIssuer(t, c, oldKey)
	oldTok, _, err := before.IssueAccess(ann)
	must(t, err)

	// Rotation: the new key signs, the old one still verifies.
	during := newIssuer(t, c, newKey, oldKey)
	newTok, _, err := during.IssueAccess(ann)
	must(t, err)
	if header(t, newTok)["kid"] != newKey.ID {
		t.Fatal("the first key does not sign")
	}
	for _, tok := range []string{oldTok, newTok} {
		if _, err := during.VerifyAccess(tok); err != nil {
			t.Fatalf("during rotation: %v", err)
		}
		var std josejwt.Claims
		must(t, independent(t, during.JWKS(), tok, &std))
	}
	var set jose.JSONWebKeySet
	must(t, json.Unmarshal(during.JWKS(), &set))
	if len(set.Keys) != 2 || set.Keys[0].KeyID != newKey.ID || set.Keys[1].KeyID != oldKey.ID {
		t.Fatalf("JWKS during rotation: %s", during.JWKS())
	}
	// Done: the old key is dropped, and what it signed is refused.
	after := newIssuer(t, c, newKey)
	if _, err := after.VerifyAccess(oldTok); !errors.Is(err, tokens.ErrInvalidToken) {
		t.Fatalf("token of a retired key accepted: %v", err)
	}
	if _, err := after.VerifyAccess(newTok); err != nil {
		t.Fatal(err)
	}
}

func TestDerivedKeysAgree(t *testing.T) {
	a, b := derived(t, 0), derived(t, 0)
	if a.ID != b.ID {
		t.Fatal("two derivations from one seed disagree on the kid")
	}
	c := new(clock)
	tok, _, err := newIssuer(t, c, a).IssueAccess(ann)
	must(t, err)
	if _, err := newIssuer(t, c, b).VerifyAccess(tok); err != nil {
		t.Fatalf("another instance refuses: %v", err)
	}
	if derived(t, 1).ID == a.ID {
		t.Fatal("different seeds share a kid")
	}
}

func TestParsePEM(t *testing.T) {
	_, ecPEM := genES256(t)
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(edPriv)
	edPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	pubDER, _ := x509.MarshalPKIXPublicKey(edPriv.Public())
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der384, _ := x509.MarshalPKCS8PrivateKey(p384)
	pem384 := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der384})

	for _, tc := range []struct {
		name    string
		data    []byte
		alg     string
		canSign bool
		wantErr string
	}{
		{"ec private", ecPEM, tokens.AlgES256, true, ""},
		{"ed25519 private", edPEM, tokens.AlgEdDSA, true, ""},
		{"ed25519 public", pubPEM, tokens.AlgEdDSA, false, ""},
		{"P-384", pem384, "", false, "P-256"},
		{"not PEM", []byte("hello"), "", false, "no PEM"},
		{"certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), "", false, "PEM block"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := tokens.ParsePEM("k", tc.data)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			must(t, err)
			if k.Alg != tc.alg || k.CanSign() != tc.canSign || k.ID != "k" {
				t.Fatalf("key %+v", k)
			}
		})
	}
	// A verify-only key cannot be the signing one.
	pubOnly, err := tokens.ParsePEM("p", pubPEM)
	must(t, err)
	if _, err := tokens.New(tokens.Config{Issuer: "i", Audience: "a", Keys: []tokens.Key{pubOnly}}); err == nil {
		t.Fatal("a public key was accepted as the signing key")
	}
}

func genES256(t *testing.T) (*ecdsa.PrivateKey, []byte) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(k)
	must(t, err)
	return k, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func withKid(t *testing.T, k tokens.Key, kid string, c *clock) string {
	t.Helper()
	k.ID = kid
	tok, _, err := newIssuer(t, c, k).IssueAccess(ann)
	must(t, err)
	return tok
}

func mustDecode(t *testing.T, s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	must(t, err)
	return b
}

func header(t *testing.T, tok string) map[string]any {
	var h map[string]any
	must(t, json.Unmarshal(mustDecode(t, strings.Split(tok, ".")[0]), &h))
	return h
}
