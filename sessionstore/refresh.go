package sessionstore

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"time"
)

// ErrRefreshReused means a refresh token that had already been rotated was
// presented again: the token was copied, so the store has revoked the whole
// session it belonged to.
var ErrRefreshReused = errors.New("sessionstore: refresh token reused; session revoked")

// ErrOtherChain means a rotation named a successor that is not of the
// rotated token's chain: a caller's mistake (successors come from
// NextRefreshToken), refused before anything changes.
var ErrOtherChain = errors.New("sessionstore: the new refresh token is not of the old one's chain")

// RefreshToken is the stored form of one refresh token: only the SHA-256 of
// the token the client holds, and the session it extends. Every token of a
// chain of rotations shares the session and the end of the chain.
type RefreshToken struct {
	// Hash is RefreshHash of the token; the token itself is never stored.
	Hash      string
	SessionID string
	UserID    string
	// AMR lists how the user authenticated at sign-in, carried over to every
	// access token the chain yields.
	AMR []string
	// ExpiresAt is the end of the whole chain (the session's absolute end).
	ExpiresAt time.Time
}

// RefreshStore keeps refresh tokens. A token is linked to its session: once
// the session is gone, the token is refused, so revoking a session revokes
// every token of it.
type RefreshStore interface {
	// CreateRefresh stores a fresh token until rt.ExpiresAt.
	CreateRefresh(ctx context.Context, rt RefreshToken) error
	// Refresh returns the token stored under hash without spending it, so
	// a caller can check everything else before rotating. ErrNotFound if
	// the token is unknown or expired. A token already rotated is returned
	// as is: telling it apart, and revoking its session, is RotateRefresh's
	// job. Nor does Refresh check that the session is still there.
	Refresh(ctx context.Context, hash string) (RefreshToken, error)
	// RotateRefresh consumes the token stored under oldHash and stores a
	// token under newHash in its place, atomically, and returns the new
	// record (which inherits session, user, AMR and end). newHash must be
	// of oldHash's chain (it comes from NextRefreshToken): ErrOtherChain
	// otherwise, and nothing changes. The spent token keeps newHash and
	// now, so that the same rotation asked again within RefreshRetryGrace
	// of now (a retry after a lost answer) returns the same new record
	// instead of counting as reuse, as long as the new token has not been
	// rotated itself. ErrNotFound if the old token is unknown or expired,
	// or its session is gone. ErrRefreshReused if it had already been
	// rotated otherwise (to another token, longer ago, or the new token is
	// spent too): then the session has been deleted, and the returned
	// record names it.
	RotateRefresh(ctx context.Context, oldHash, newHash string, now time.Time) (RefreshToken, error)
}

// RefreshRetryGrace is how long after a rotation the same rotation may be
// asked again and get the same new token (GoTrue's default
// refresh_token_reuse_interval). Past it, a spent token is reuse.
const RefreshRetryGrace = 10 * time.Second

// NewRefreshToken returns a new random refresh token (256 bits), the first
// of a chain, and the hash to store it under.
func NewRefreshToken() (token, hash string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, RefreshHash(token)
}

// NextRefreshToken returns the token that succeeds old in its chain, and
// its hash: the chain's tag, a dot, and base64url(HMAC-SHA256(key, old)).
// It is derived, not random, so that a rotation asked again (a retry after
// a lost answer) names the same successor, and RotateRefresh can tell a
// retry from reuse. Without the key, a successor cannot be told from
// random bits. Every token of a chain carries the chain's tag (RefreshChain),
// so that a store can keep a whole chain together (in Redis Cluster, in
// one hash slot) and rotate it atomically.
func NextRefreshToken(key []byte, old string) (token, hash string) {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(old))
	token = chainOfToken(old) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	return token, RefreshHash(token)
}

// RefreshHash is the key a refresh token is stored under: the SHA-256 of
// the token, behind the chain's tag for every token but a chain's first.
func RefreshHash(token string) string {
	if tag, ok := tokenTag(token); ok {
		return tag + "." + hashSecret(token)
	}
	return hashSecret(token)
}

// RefreshChain is the tag shared by every token of the chain whose token
// is stored under hash: the first RefreshChainLen characters of the first
// token's hash. Rotating a token to a successor outside its chain is an
// error (see RotateRefresh).
func RefreshChain(hash string) string {
	if tag, _, ok := strings.Cut(hash, "."); ok {
		return tag
	}
	return hash[:min(len(hash), RefreshChainLen)]
}

// RefreshChainLen is the length of a chain's tag: 72 bits of base64url,
// plenty to spread chains and not enough to say anything about a token.
const RefreshChainLen = 12

// chainOfToken is the tag of the chain token belongs to.
func chainOfToken(token string) string {
	if tag, ok := tokenTag(token); ok {
		return tag
	}
	return RefreshChain(hashSecret(token))
}

// tokenTag is the chain tag a successor token starts with; a token without
// a well-formed one is the first of its chain (whatever a client sends).
func tokenTag(token string) (string, bool) {
	tag, rest, ok := strings.Cut(token, ".")
	if !ok || rest == "" || len(tag) != RefreshChainLen {
		return "", false
	}
	for _, c := range []byte(tag) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return "", false
		}
	}
	return tag, true
}
