package caddymodule

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
)

// minSecretLen is the shortest secret accepted: 256 bits.
const minSecretLen = 32

// keySet is everything derived from one configured secret. Deriving keys per
// purpose means a key leaked from one use (a cookie key, say) says nothing
// of another.
type keySet struct {
	cookieHash  []byte // HMAC-SHA256 key for securecookie
	cookieBlock []byte // AES-256 key for securecookie
	code        []byte // HMAC key for one-time codes
	jwtSeed     []byte // Ed25519 seed of the default JWT signing key
	refresh     []byte // HMAC key deriving a refresh token's successor
	startHash   []byte // HMAC-SHA256 key of the pre-sign-in cookie
	startBlock  []byte // AES-256 key of the pre-sign-in cookie
}

func deriveKeys(secret string) (keySet, error) {
	if len(secret) < minSecretLen {
		return keySet{}, fmt.Errorf("secret is %d bytes; at least %d are needed", len(secret), minSecretLen)
	}
	derive := func(purpose string, n int) ([]byte, error) {
		return hkdf.Key(sha256.New, []byte(secret), nil, "passgate "+purpose+" v1", n)
	}
	var ks keySet
	var errs [7]error
	ks.cookieHash, errs[0] = derive("cookie hash", 32)
	ks.cookieBlock, errs[1] = derive("cookie block", 32)
	ks.code, errs[2] = derive("code mac", 32)
	ks.jwtSeed, errs[3] = derive("jwt ed25519 seed", 32)
	ks.refresh, errs[4] = derive("refresh successor", 32)
	ks.startHash, errs[5] = derive("start cookie hash", 32)
	ks.startBlock, errs[6] = derive("start cookie block", 32)
	return ks, errors.Join(errs[:]...)
}
