package tokens

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Profile is a kind of access token a front door hands out: the claims
// its clients read (GoTrue's, Hasura's, Wacht's) besides passgate's own
// sub, sid, iat, nbf, exp and jti. Tokens of every registered profile are
// verified like passgate's own, so they pass the gate as bearer tokens,
// and each is told apart by its issuer.
type Profile struct {
	// Name names the profile in IssueFor and in errors ("supabase").
	Name string
	// Issuer is the iss claim; it must differ from every other profile's
	// and from the Issuer's own.
	Issuer string
	// Audience is the aud claim; "" leaves it out.
	Audience string
	// Type is the typ header; "" means "JWT".
	Type string
	// Alg is the algorithm of the key that signs (AlgES256 or AlgEdDSA):
	// the first key of that algorithm that has its private half.
	Alg string
	// TTL is how long a token lives; 0 means the Issuer's AccessTTL.
	TTL time.Duration
	// Claims returns the profile's own claims of an identity; they may not
	// replace passgate's.
	Claims func(Identity) map[string]any
	// Sessionless tokens name a backend client (sub), not a session: they
	// carry no sid, only VerifyFor accepts them, and they never pass the
	// gate, whatever route they are sent to.
	Sessionless bool
}

type profile struct {
	Profile
	key    Key
	parser *jwt.Parser
}

// reserved are the claims a profile may not set.
var reserved = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid"}

// Register adds a profile; call it before the Issuer is used.
func (i *Issuer) Register(p Profile) error {
	if p.Name == "" || p.Issuer == "" || p.Issuer == i.cfg.Issuer {
		return fmt.Errorf("token profile %q: a name and an issuer of its own are required", p.Name)
	}
	if p.Type == "" {
		p.Type = "JWT"
	}
	if p.TTL <= 0 {
		p.TTL = i.cfg.AccessTTL
	}
	for _, q := range i.profiles {
		if q.Name == p.Name || q.Issuer == p.Issuer {
			return fmt.Errorf("token profile %q: name or issuer already taken by %q", p.Name, q.Name)
		}
	}
	pr := &profile{Profile: p}
	// An operator's own key of the algorithm, if any, before a derived one.
	for _, k := range slices.Concat(i.cfg.Keys, i.cfg.ProfileKeys) {
		if k.Alg == p.Alg && k.CanSign() {
			pr.key = k
			break
		}
	}
	if !pr.key.CanSign() {
		return fmt.Errorf("token profile %q needs an %s signing key", p.Name, p.Alg)
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{p.Alg}),
		jwt.WithIssuer(p.Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(i.cfg.Leeway),
		jwt.WithTimeFunc(i.cfg.Now),
		jwt.WithStrictDecoding(),
	}
	if p.Audience != "" {
		opts = append(opts, jwt.WithAudience(p.Audience))
	}
	pr.parser = jwt.NewParser(opts...)
	if i.profiles == nil {
		i.profiles = map[string]*profile{}
	}
	i.profiles[p.Issuer] = pr
	return nil
}

// IssueFor signs an access token of the named profile for id and says
// when it expires.
func (i *Issuer) IssueFor(name string, id Identity) (string, time.Time, error) {
	var p *profile
	for _, q := range i.profiles {
		if q.Name == name {
			p = q
		}
	}
	if p == nil {
		return "", time.Time{}, fmt.Errorf("no token profile %q", name)
	}
	now := i.cfg.Now().Truncate(time.Second)
	exp := now.Add(p.TTL)
	claims := jwt.MapClaims{}
	if p.Claims != nil {
		maps.Copy(claims, p.Claims(id))
	}
	maps.Copy(claims, id.Claims)
	for _, c := range reserved {
		delete(claims, c)
	}
	reg := i.registered(id.UserID, nil, now, exp)
	claims["iss"], claims["sub"], claims["iat"], claims["nbf"], claims["exp"], claims["jti"] =
		p.Issuer, reg.Subject, reg.IssuedAt, reg.NotBefore, reg.ExpiresAt, reg.ID
	if !p.Sessionless {
		claims["sid"] = id.SessionID
	}
	if p.Audience != "" {
		claims["aud"] = p.Audience
	}
	method := jwt.SigningMethod(jwt.SigningMethodEdDSA)
	if p.Alg == AlgES256 {
		method = jwt.SigningMethodES256
	}
	t := jwt.NewWithClaims(method, claims)
	t.Header["kid"] = p.key.ID
	t.Header["typ"] = p.Type
	tok, err := t.SignedString(p.key.private)
	return tok, exp, err
}

// TTL is how long the named profile's tokens live.
func (i *Issuer) TTL(name string) time.Duration {
	for _, q := range i.profiles {
		if q.Name == name {
			return q.TTL
		}
	}
	return i.cfg.AccessTTL
}

// JWKSFor is the JSON Web Key Set of the keys of one algorithm: what a
// client that knows only that one (GoTrue's takes RS256 and ES256) should
// be given.
func (i *Issuer) JWKSFor(alg string) []byte {
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for _, k := range slices.Concat(i.cfg.ProfileKeys, i.cfg.Keys) {
		if k.Alg == alg {
			j := k.jwk()
			j.KeyOps = []string{"verify"}
			set.Keys = append(set.Keys, j)
		}
	}
	b, _ := json.Marshal(set)
	return b
}

// profileClaims are what passgate reads of a profile's token: its own
// claims only. The profile's (GoTrue's amr is a list of objects, not of
// strings) are the door's clients' business.
type profileClaims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
}

// verifyProfile checks a token of a registered profile, chosen by its
// (not yet verified) issuer, and returns its claims as an access token's.
func (i *Issuer) verifyProfile(token string) (AccessClaims, error) {
	p := i.profiles[unverifiedIssuer(token)]
	switch {
	case p == nil:
		return AccessClaims{}, errors.New("unknown issuer")
	case p.Sessionless:
		return AccessClaims{}, fmt.Errorf("a %s token names no session", p.Name)
	}
	return i.parseProfile(p, token)
}

// VerifyFor checks a token of the named profile (signature, type, issuer,
// audience, times) and returns its registered claims. It is how a door
// checks the sessionless tokens it issued; every failure wraps
// ErrInvalidToken.
func (i *Issuer) VerifyFor(name, token string) (jwt.RegisteredClaims, error) {
	p := i.profiles[unverifiedIssuer(token)]
	if len(token) > MaxTokenLen || p == nil || p.Name != name {
		return jwt.RegisteredClaims{}, fmt.Errorf("%w: not a %s token", ErrInvalidToken, name)
	}
	c, err := i.parseProfile(p, token)
	if err != nil {
		return jwt.RegisteredClaims{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if c.Subject == "" || c.ID == "" {
		return jwt.RegisteredClaims{}, fmt.Errorf("%w: sub and jti are required", ErrInvalidToken)
	}
	return c.RegisteredClaims, nil
}

// parseProfile checks a token of profile p and returns its claims.
func (i *Issuer) parseProfile(p *profile, token string) (AccessClaims, error) {
	claims := new(profileClaims)
	_, err := p.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		if typ, _ := t.Header["typ"].(string); typ != p.Type {
			return nil, fmt.Errorf("typ %q is not a %s token", typ, p.Name)
		}
		kid, _ := t.Header["kid"].(string)
		k, ok := i.byKid[kid]
		if !ok || k.Alg != p.Alg {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		return k.public, nil
	})
	return AccessClaims{RegisteredClaims: claims.RegisteredClaims, SessionID: claims.SessionID}, err
}

// unverifiedIssuer reads the iss claim of a token without checking it,
// only to choose the profile that then checks everything.
func unverifiedIssuer(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(parts[1]) > MaxTokenLen {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(raw, &c) != nil {
		return ""
	}
	return c.Iss
}
