package caddymodule

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/passgate/caddy-passgate/verify/tokens"
)

// Token defaults and bounds.
const (
	DefaultJWTIssuer   = "passgate"
	DefaultJWTAudience = "passgate"
	// MaxAccessTTL bounds access_ttl: an access token cannot be recalled
	// except through its session, so it should not outlive a short while.
	MaxAccessTTL = time.Hour
)

// JWTConfig sets up tokens for API clients: access tokens (JWT), rotating
// refresh tokens, the JWKS at {base_path}/jwks.json, and the upstream
// assertion header.
type JWTConfig struct {
	// Issuer is the iss claim. Default: passgate. Set it to the URL of the
	// sign-in site so verifiers can tell deployments apart.
	Issuer string `json:"issuer,omitempty"`
	// Audience is the aud claim of access tokens. Default: passgate.
	Audience string `json:"audience,omitempty"`
	// AccessTTL is the life of an access token, at most 1h. Default: 15m.
	AccessTTL caddy.Duration `json:"access_ttl,omitempty"`
	// Keys sign and verify tokens: the first signs, all verify and are
	// published. Without any, one Ed25519 key is derived from each secret
	// (HKDF), so every instance agrees without sharing files, and rotating
	// the secret rotates the key.
	Keys []JWTKey `json:"keys,omitempty"`
}

// JWTKey is a signing key in a PEM file.
type JWTKey struct {
	// ID is the kid that names the key in tokens and the JWKS.
	ID string `json:"id"`
	// PEM is a file path, or a placeholder ({file./path}, {env.X}) whose
	// value is PEM text: a PKCS #8 or SEC 1 private key (Ed25519 or ECDSA
	// P-256), or a public key, which then only verifies.
	PEM string `json:"pem"`
}

// provisionTokens loads or derives the keys and makes the token issuer.
func (p *Passgate) provisionTokens(secrets secretKeys) (*tokens.Issuer, error) {
	if p.JWT == nil {
		p.JWT = new(JWTConfig)
	}
	if p.JWT.Issuer == "" {
		p.JWT.Issuer = DefaultJWTIssuer
	}
	if p.JWT.Audience == "" {
		p.JWT.Audience = DefaultJWTAudience
	}
	if p.JWT.AccessTTL == 0 {
		p.JWT.AccessTTL = caddy.Duration(tokens.DefaultAccessTTL)
	}
	var keys []tokens.Key
	if len(p.JWT.Keys) == 0 {
		for _, seed := range secrets.keys("jwt ed25519 seed") {
			k, err := tokens.DeriveEd25519(seed)
			if err != nil {
				return nil, fmt.Errorf("jwt: %v", err)
			}
			keys = append(keys, k)
		}
	}
	var profileKeys []tokens.Key
	for _, seed := range secrets.keys("jwt es256 seed") {
		k, err := tokens.DeriveES256(seed)
		if err != nil {
			return nil, fmt.Errorf("jwt: %v", err)
		}
		profileKeys = append(profileKeys, k)
	}
	repl := caddy.NewReplacer()
	for _, jk := range p.JWT.Keys {
		src, err := repl.ReplaceOrErr(jk.PEM, true, true)
		if err != nil {
			return nil, fmt.Errorf("jwt key %s: %v", jk.ID, err)
		}
		// A placeholder yields the PEM text; a literal is a file path.
		data := []byte(src)
		if !strings.Contains(jk.PEM, "{") {
			if data, err = os.ReadFile(src); err != nil {
				return nil, fmt.Errorf("jwt key %s: %v", jk.ID, err)
			}
		}
		k, err := tokens.ParsePEM(jk.ID, data)
		if err != nil {
			return nil, fmt.Errorf("jwt key %s: %v", jk.ID, err)
		}
		keys = append(keys, k)
	}
	iss, err := tokens.New(tokens.Config{
		Issuer:    p.JWT.Issuer,
		Audience:  p.JWT.Audience,
		AccessTTL: time.Duration(p.JWT.AccessTTL),
		Keys:      keys,
		// ES256, which the hosted services' clients verify, for the front
		// doors' tokens (see tokens.Profile).
		ProfileKeys: profileKeys,
	})
	if err != nil {
		return nil, fmt.Errorf("jwt: %v", err)
	}
	return iss, nil
}
