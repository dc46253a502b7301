package sessionstore

import (
	"crypto/sha256"
	"encoding/base64"

	"github.com/google/uuid"
)

// SessionID is the public id of the session whose secret is given: the
// hash it is stored under, written as a UUID (version 8, made of the
// first 122 bits of the secret's SHA-256), the form the hosted services'
// clients expect of a session id. The client holds the secret; the store
// only ever sees this, so a leaked store grants no session.
func SessionID(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	id := uuid.UUID(sum[:16])
	id[6] = id[6]&0x0f | 0x80 // version 8: custom
	id[8] = id[8]&0x3f | 0x80 // RFC 9562 variant
	return id.String()
}

// hashSecret is what the store keeps of a random secret: an unkeyed
// SHA-256 suffices for 256 random bits.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
