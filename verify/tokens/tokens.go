// Package tokens issues and checks passgate's JSON Web Tokens: access
// tokens for API clients and identity assertions for upstreams. It knows
// nothing of HTTP or of the store; whether the session an access token
// names is still alive is the caller's question.
package tokens

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/passgate/caddy-passgate/internal/boundedcache"
)

// Defaults.
const (
	DefaultAccessTTL    = 15 * time.Minute
	DefaultAssertionTTL = time.Minute
	// DefaultLeeway is the clock skew tolerated on exp, nbf and iat.
	DefaultLeeway = 30 * time.Second
	// MaxTokenLen bounds what is parsed at all.
	MaxTokenLen = 8 << 10
)

// accessType is the typ header of access tokens (RFC 9068). Assertions
// carry another, so an assertion can never pass as an access token.
const (
	accessType    = "at+jwt"
	assertionType = "JWT"
)

// errNotNative: a token whose typ is not an access token's (an
// assertion's, or a front door's without its issuer).
var errNotNative = errors.New("typ is not an access token")

// ErrInvalidToken wraps every reason a token is refused.
var ErrInvalidToken = errors.New("tokens: invalid token")

// Identity is who a token speaks for.
type Identity struct {
	UserID    string
	SessionID string // the session's public ID, never its secret
	Email     string
	Phone     string
	Roles     []string
	AMR       []string // how the user authenticated (RFC 8176 values)
	// Claims are a front door's claims for one token of its profile,
	// added after the profile's own (see Profile); like those, they may
	// not replace passgate's.
	Claims map[string]any
}

// AccessClaims are the claims of an access token.
type AccessClaims struct {
	jwt.RegisteredClaims
	// SessionID is the public ID of the session the token belongs to.
	SessionID string   `json:"sid"`
	Email     string   `json:"email,omitempty"`
	Phone     string   `json:"phone,omitempty"`
	Roles     []string `json:"roles"`
	AMR       []string `json:"amr,omitempty"`
}

// AssertionClaims are the claims of an upstream identity assertion.
type AssertionClaims struct {
	jwt.RegisteredClaims
	Email string   `json:"email,omitempty"`
	Phone string   `json:"phone,omitempty"`
	Roles []string `json:"roles"`
}

// Config sets up an Issuer.
type Config struct {
	// Issuer is the iss of every token.
	Issuer string
	// Audience is the aud of access tokens.
	Audience string
	// AccessTTL is how long an access token lives.
	AccessTTL time.Duration
	// AssertionTTL is how long an upstream assertion lives.
	AssertionTTL time.Duration
	// Leeway is the clock skew tolerated when checking times. Default:
	// DefaultLeeway.
	Leeway time.Duration
	// Keys: the first signs, all verify. The first must have its private half.
	Keys []Key
	// ProfileKeys sign and verify the front doors' tokens only (see
	// Profile), besides Keys; they are not in JWKS, only in JWKSFor.
	ProfileKeys []Key
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Issuer signs and verifies tokens.
type Issuer struct {
	cfg    Config
	byKid  map[string]Key
	algs   []string
	parser *jwt.Parser
	jwks   []byte
	// verified remembers access tokens whose signature and claims were
	// checked, until they expire: a client sends the same token with every
	// request, and an Ed25519 verification costs more than the rest of the
	// request. Keyed by the token itself: a lookup then neither copies nor
	// hashes it, and the process holds the tokens it is sent anyway; only
	// tokens that verified are kept, so only tokens passgate issued. Bounded,
	// so new tokens cannot grow it.
	verified *boundedcache.Cache[string, AccessClaims]
	// profiles are the front doors' kinds of access token, by issuer.
	profiles map[string]*profile
}

// Bounds of the verified-token cache: at about 1 KB an entry (the token
// and its claims), 10,000 entries are 10 MB at most.
const (
	VerifiedCacheEntries = 10000
	VerifiedCacheTTL     = 5 * time.Minute
)

// New checks cfg and returns an Issuer.
func New(cfg Config) (*Issuer, error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("issuer and audience are required")
	}
	if len(cfg.Keys) == 0 || !cfg.Keys[0].CanSign() {
		return nil, errors.New("the first key must be a private key: it signs")
	}
	if cfg.AccessTTL <= 0 {
		cfg.AccessTTL = DefaultAccessTTL
	}
	if cfg.AssertionTTL <= 0 {
		cfg.AssertionTTL = DefaultAssertionTTL
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = DefaultLeeway
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	i := &Issuer{cfg: cfg, byKid: make(map[string]Key),
		verified: boundedcache.New[string, AccessClaims](VerifiedCacheEntries, VerifiedCacheTTL, cfg.Now)}
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for n, k := range slices.Concat(cfg.Keys, cfg.ProfileKeys) {
		if k.ID == "" {
			return nil, errors.New("a key has no kid")
		}
		if _, dup := i.byKid[k.ID]; dup {
			return nil, fmt.Errorf("two keys share the kid %q", k.ID)
		}
		i.byKid[k.ID] = k
		if n >= len(cfg.Keys) {
			continue
		}
		if !slices.Contains(i.algs, k.Alg) {
			i.algs = append(i.algs, k.Alg)
		}
		set.Keys = append(set.Keys, k.jwk())
	}
	var err error
	if i.jwks, err = json.Marshal(set); err != nil {
		return nil, err
	}
	i.parser = jwt.NewParser(
		jwt.WithValidMethods(i.algs),
		// One spelling per token: a lax base64url decoder takes several.
		jwt.WithStrictDecoding(),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
	)
	return i, nil
}

// AccessTTL is how long the access tokens issued live.
func (i *Issuer) AccessTTL() time.Duration { return i.cfg.AccessTTL }

// JWKS is the JSON Web Key Set of every key's public half.
func (i *Issuer) JWKS() []byte { return slices.Clone(i.jwks) }

// IssueAccess signs an access token for id and says when it expires.
func (i *Issuer) IssueAccess(id Identity) (string, time.Time, error) {
	now := i.cfg.Now().Truncate(time.Second)
	exp := now.Add(i.cfg.AccessTTL)
	claims := AccessClaims{
		RegisteredClaims: i.registered(id.UserID, []string{i.cfg.Audience}, now, exp),
		SessionID:        id.SessionID,
		Email:            id.Email,
		Phone:            id.Phone,
		Roles:            nonNil(id.Roles),
		AMR:              id.AMR,
	}
	tok, err := i.sign(accessType, claims)
	return tok, exp, err
}

// IssueAssertion signs a short-lived assertion of id for the upstream
// named audience (the request's host).
func (i *Issuer) IssueAssertion(audience string, id Identity) (string, error) {
	now := i.cfg.Now().Truncate(time.Second)
	claims := AssertionClaims{
		RegisteredClaims: i.registered(id.UserID, []string{audience}, now, now.Add(i.cfg.AssertionTTL)),
		Email:            id.Email,
		Phone:            id.Phone,
		Roles:            nonNil(id.Roles),
	}
	return i.sign(assertionType, claims)
}

func (i *Issuer) registered(sub string, aud []string, now, exp time.Time) jwt.RegisteredClaims {
	return jwt.RegisteredClaims{
		Issuer:    i.cfg.Issuer,
		Subject:   sub,
		Audience:  aud,
		ExpiresAt: jwt.NewNumericDate(exp),
		NotBefore: jwt.NewNumericDate(now),
		IssuedAt:  jwt.NewNumericDate(now),
		ID:        rand.Text(),
	}
}

func (i *Issuer) sign(typ string, claims jwt.Claims) (string, error) {
	k := i.cfg.Keys[0]
	var method jwt.SigningMethod = jwt.SigningMethodEdDSA
	if k.Alg == AlgES256 {
		method = jwt.SigningMethodES256
	}
	t := jwt.NewWithClaims(method, claims)
	t.Header["kid"] = k.ID
	t.Header["typ"] = typ
	return t.SignedString(k.private)
}

// VerifyAccess checks an access token's signature (with the key its kid
// names, in that key's algorithm only), type, issuer, audience and times,
// and returns its claims. Every failure wraps ErrInvalidToken.
func (i *Issuer) VerifyAccess(token string) (*AccessClaims, error) {
	c, err := i.verifyAccess(token)
	if err != nil {
		return nil, err
	}
	return c.clone(), nil
}

// VerifySession checks an access token as VerifyAccess does and returns
// only the session it names and its subject: all a request needs, without
// copying the claims.
func (i *Issuer) VerifySession(token string) (sessionID, subject string, err error) {
	c, err := i.verifyAccess(token)
	if err != nil {
		return "", "", err
	}
	return c.SessionID, c.Subject, nil
}

// verifyAccess returns the claims of a valid access token; their slices
// may be the cache's own, so the caller must not change them.
func (i *Issuer) verifyAccess(token string) (AccessClaims, error) {
	if len(token) > MaxTokenLen {
		return AccessClaims{}, fmt.Errorf("%w: too long", ErrInvalidToken)
	}
	if c, ok := i.verified.Get(token); ok {
		return c, nil
	}
	// A front door's token is told by its issuer before anything is
	// decoded: its claims need not fit AccessClaims (GoTrue's amr does not).
	if len(i.profiles) > 0 && i.profiles[unverifiedIssuer(token)] != nil {
		claims, err := i.verifyProfile(token)
		return i.accept(token, claims, err)
	}
	claims := new(AccessClaims)
	_, err := i.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != accessType {
			return nil, errNotNative
		}
		kid, _ := t.Header["kid"].(string)
		k, ok := i.byKid[kid]
		if !ok {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		if t.Method.Alg() != k.Alg {
			return nil, fmt.Errorf("alg %q does not match key %q (%s)", t.Method.Alg(), kid, k.Alg)
		}
		return k.public, nil
	})
	return i.accept(token, *claims, err)
}

// accept checks what every access token must carry and remembers a
// valid one.
func (i *Issuer) accept(token string, claims AccessClaims, err error) (AccessClaims, error) {
	if err != nil {
		return AccessClaims{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if claims.Subject == "" || claims.SessionID == "" || claims.ID == "" {
		return AccessClaims{}, fmt.Errorf("%w: sub, sid and jti are required", ErrInvalidToken)
	}
	// Only until exp: past it the parser would refuse the token (the
	// leeway is not extended to cached tokens).
	i.verified.PutUntil(token, claims, claims.ExpiresAt.Time)
	return claims, nil
}

// clone copies the claims with their slices, so that what a caller does
// with its copy never reaches the cache.
func (c AccessClaims) clone() *AccessClaims {
	c.Roles = slices.Clone(c.Roles)
	c.AMR = slices.Clone(c.AMR)
	c.Audience = slices.Clone(c.Audience)
	return &c
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
