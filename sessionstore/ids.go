package sessionstore

import (
	"crypto/sha256"
	"encoding/base64"
)

// SessionID is the public id of the session whose secret is given: the
// hash it is stored under. The client holds the secret; the store only
// ever sees this, so a leaked store grants no session.
func SessionID(secret string) string { return hashSecret(secret) }

// hashSecret is what the store keeps of a random secret: an unkeyed
// SHA-256 suffices for 256 random bits.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
