package sessionstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"time"
)

// Sessions issues, checks and revokes sessions with an idle and an absolute
// timeout. The client holds a random secret; the store only ever sees its
// SHA-256 (the session's public ID), so a leaked store grants no session.
type Sessions struct {
	Store SessionStore
	// Idle ends a session that has not been used for this long.
	Idle time.Duration
	// Lifetime ends a session this long after sign-in, however active.
	Lifetime time.Duration
	// TouchEvery limits how often use of a session is written back to the
	// store; a session's idle timeout is thus honoured to within it.
	TouchEvery time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (m *Sessions) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Create starts a new session for u and returns the secret to give the
// client along with the stored session.
func (m *Sessions) Create(ctx context.Context, u User) (secret string, s Session, err error) {
	secret = rand.Text() + rand.Text() // 2 x 128 bits, base32
	now := m.now().Truncate(time.Millisecond)
	s = Session{
		ID:         SessionID(secret),
		UserID:     u.ID,
		Email:      u.Email,
		Phone:      u.Phone,
		Roles:      u.Roles,
		CreatedAt:  now,
		ExpiresAt:  now.Add(m.Lifetime),
		LastSeenAt: now,
	}
	if err := m.Store.CreateSession(ctx, s, m.until(s)); err != nil {
		return "", Session{}, err
	}
	return secret, s, nil
}

// Lookup returns the live session for a client's secret, refreshing its
// idle timeout when TouchEvery has passed since it was last written.
// ErrNotFound if there is none, or it has timed out.
func (m *Sessions) Lookup(ctx context.Context, secret string) (Session, error) {
	if secret == "" {
		return Session{}, ErrNotFound
	}
	return m.LookupID(ctx, SessionID(secret))
}

// LookupID is Lookup by the session's public ID, for clients that prove
// the session some other way (a signed access token naming it).
func (m *Sessions) LookupID(ctx context.Context, id string) (Session, error) {
	if id == "" {
		return Session{}, ErrNotFound
	}
	s, err := m.Store.Session(ctx, id)
	if err != nil {
		return Session{}, err
	}
	now := m.now()
	// The configured lifetime counts too, so shortening it ends sessions
	// that were started under a longer one.
	if !now.Before(s.ExpiresAt) || !now.Before(s.CreatedAt.Add(m.Lifetime)) || !now.Before(s.LastSeenAt.Add(m.Idle)) {
		return Session{}, ErrNotFound
	}
	if now.Sub(s.LastSeenAt) >= m.TouchEvery {
		s.LastSeenAt = now.Truncate(time.Millisecond)
		if err := m.Store.TouchSession(ctx, s, m.until(s)); err != nil {
			return Session{}, err
		}
	}
	return s, nil
}

// Revoke ends the session behind secret, if any.
func (m *Sessions) Revoke(ctx context.Context, secret string) error {
	s, err := m.Store.Session(ctx, SessionID(secret))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return m.Store.DeleteSession(ctx, s.ID, s.UserID)
}

// RevokeID ends the session with the given public ID and user.
func (m *Sessions) RevokeID(ctx context.Context, id, userID string) error {
	return m.Store.DeleteSession(ctx, id, userID)
}

// RevokeAll ends every session of a user and says how many there were.
func (m *Sessions) RevokeAll(ctx context.Context, userID string) (int, error) {
	return m.Store.DeleteUserSessions(ctx, userID)
}

// until is when the store may forget s: at its idle or absolute end,
// whichever comes first.
func (m *Sessions) until(s Session) time.Time {
	idleEnd := s.LastSeenAt.Add(m.Idle)
	if idleEnd.Before(s.ExpiresAt) {
		return idleEnd
	}
	return s.ExpiresAt
}

// SessionID is the public id of the session whose secret is given: the
// hash it is stored under.
func SessionID(secret string) string { return hashSecret(secret) }

// hashSecret is what the store keeps of a random secret: an unkeyed
// SHA-256 suffices for 256 random bits.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
