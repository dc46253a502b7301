package caddymodule

import (
	"fmt"
	"time"

	"github.com/passgate/caddy-passgate/verify/tokens"
)

// provisionTokens loads or derives the keys and makes the token issuer.
func (p *Passgate) provisionTokens(secrets secretKeys) (*tokens.Issuer, error) {
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
	pemKeys, err := p.JWT.PEMKeys()
	if err != nil {
		return nil, err
	}
	keys = append(keys, pemKeys...)
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
