package verify

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"

	"github.com/passgate/caddy-passgate/sessionstore"
)

// tokenBytes is the entropy of a magic-link token: 256 bits.
const tokenBytes = 32

// newToken returns a magic-link token and the SHA-256 the store keeps.
func newToken() (token string, hash []byte) {
	b := make([]byte, tokenBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it panics instead)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, TokenHash(token)
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

// magicLink appends the token to base as its `token` query parameter.
func magicLink(base, token string) string {
	return base + "?token=" + url.QueryEscape(token)
}

// PeekLink returns the live attempt a magic-link token belongs to, without
// consuming it or counting a try: showing the confirmation page must not
// use up the link, since mail scanners fetch links before people do.
func (s *Service) PeekLink(ctx context.Context, token string) (sessionstore.Attempt, error) {
	if !ValidToken(token) {
		return sessionstore.Attempt{}, ErrAttemptNotFound
	}
	a, err := s.Store.AttemptByToken(ctx, TokenHash(token))
	if errors.Is(err, sessionstore.ErrNotFound) {
		return sessionstore.Attempt{}, ErrAttemptNotFound
	}
	if err != nil {
		return sessionstore.Attempt{}, err
	}
	if a.Tries >= s.MaxAttempts || a.Failed {
		// Wrong codes have used up (or are using up) the attempt, or its
		// message never went out: the link goes with it. (FailAttempt
		// deletes the token index too; this holds whatever the store.)
		return sessionstore.Attempt{}, ErrAttemptNotFound
	}
	return a, nil
}

// CheckLink consumes the attempt a magic-link token belongs to, and returns
// it. It uses the same atomic delete as a right code, so the code and the
// link together sign in once. Errors: ErrAttemptNotFound or a store error.
func (s *Service) CheckLink(ctx context.Context, token string) (sessionstore.Attempt, error) {
	a, err := s.PeekLink(ctx, token)
	if err != nil {
		return sessionstore.Attempt{}, err
	}
	won, err := s.Store.DeleteAttempt(ctx, a.ID)
	if err != nil {
		return sessionstore.Attempt{}, err
	}
	if !won {
		return sessionstore.Attempt{}, ErrAttemptNotFound
	}
	return a, nil
}
