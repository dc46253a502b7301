package caddymodule

import (
	"crypto/hkdf"
	"crypto/sha256"
)

// secretKeys derives keys from the configured secrets, one per purpose:
// a key leaked from one use (a cookie key, say) says nothing of another.
type secretKeys []string

// keys returns the key for purpose from every secret, in order: the
// first signs, all verify, so a secret can be rotated by adding a new one
// first.
func (s secretKeys) keys(purpose string) [][]byte {
	out := make([][]byte, len(s))
	for i, secret := range s {
		// HKDF-SHA256 cannot fail for a 32-byte output.
		out[i], _ = hkdf.Key(sha256.New, []byte(secret), nil, "passgate "+purpose+" v1", 32)
	}
	return out
}
