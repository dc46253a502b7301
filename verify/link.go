package verify

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"

	"github.com/passgate/caddy-passgate/sessionstore"
)

// tokenBytes is the entropy of a magic-link token: 256 bits.
const tokenBytes = 32

// newLinkToken returns a new magic-link token.
func (e *Engine) newLinkToken() string {
	return base64.RawURLEncoding.EncodeToString(e.randomBytes(tokenBytes))
}

// TokenHash is the SHA-256 of a token. A token carries 256 random bits, so
// an unkeyed hash suffices: the store never holds anything usable as a link.
func TokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// ValidToken reports whether s has the shape of a magic-link token, so
// that junk can be refused before it reaches the store.
func ValidToken(s string) bool {
	if len(s) != base64.RawURLEncoding.EncodedLen(tokenBytes) {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

// PeekLink returns the live attempt a magic-link token belongs to, without
// consuming it or counting a try: showing a confirmation page must not use
// up the link, since mail scanners fetch links before people do. Errors:
// ErrAttemptNotFound or ErrUnavailable.
func (e *Engine) PeekLink(ctx context.Context, token string) (Attempt, error) {
	if !ValidToken(token) {
		return Attempt{}, ErrAttemptNotFound
	}
	a, err := e.store.AttemptByToken(ctx, TokenHash(token))
	if errors.Is(err, sessionstore.ErrNotFound) {
		return Attempt{}, ErrAttemptNotFound
	}
	if err != nil {
		return Attempt{}, err
	}
	if a.Tries >= e.cfg.MaxAttempts || a.Failed || !signInChannel(a.Channel) {
		// Wrong codes have used up (or are using up) the attempt, or its
		// message never went out: the link goes with it.
		return Attempt{}, ErrAttemptNotFound
	}
	return a, nil
}

// CheckLink consumes the attempt a magic-link token belongs to, and returns
// it. It uses the same atomic delete as a right code, so the code and the
// link together sign in once. Errors: ErrAttemptNotFound or ErrUnavailable.
func (e *Engine) CheckLink(ctx context.Context, token string, caller Caller) (Attempt, error) {
	a, err := e.PeekLink(ctx, token)
	if err == nil {
		var won bool
		if won, err = e.store.DeleteAttempt(ctx, a.ID); err == nil && !won {
			err = ErrAttemptNotFound
		}
	}
	if err != nil {
		return Attempt{}, e.failed(err, caller, a.Channel, MethodLink)
	}
	return a, nil
}
