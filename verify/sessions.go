package verify

import (
	"context"
	"time"

	"github.com/passgate/caddy-passgate/sessionstore"
	"github.com/passgate/caddy-passgate/verify/device"
)

// sessions issues and checks sessions with an idle and an absolute
// timeout. The client holds a random secret; the store only ever sees its
// SHA-256 (the session's public ID), so a leaked store grants no session.
type sessions struct {
	store sessionstore.SessionStore
	// idle ends a session that has not been used for this long.
	idle time.Duration
	// lifetime ends a session this long after sign-in, however active.
	lifetime time.Duration
	// touchEvery limits how often use of a session is written back to
	// the store; a session's idle timeout is thus honoured to within it.
	touchEvery time.Duration
	now        func() time.Time
}

// create starts a new session for u under secret and returns it, with
// the device and the network of the caller who signed in.
func (m *sessions) create(ctx context.Context, u User, secret string, caller Caller) (Session, error) {
	now := m.now().Truncate(time.Millisecond)
	s := Session{
		ID:         sessionstore.SessionID(secret),
		UserID:     u.ID,
		Email:      u.Email,
		Phone:      u.Phone,
		Roles:      u.Roles,
		CreatedAt:  now,
		ExpiresAt:  now.Add(m.lifetime),
		LastSeenAt: now,
		Device:     device.Code(caller.UserAgent),
		Network:    device.Coarse(caller.ClientIP),
	}
	if err := m.store.CreateSession(ctx, s, m.until(s)); err != nil {
		return Session{}, err
	}
	return s, nil
}

// lookup returns the live session with the given public ID, refreshing its
// idle timeout when touchEvery has passed since it was last written.
// sessionstore.ErrNotFound if there is none, or it has timed out.
func (m *sessions) lookup(ctx context.Context, id string) (Session, error) {
	if id == "" {
		return Session{}, sessionstore.ErrNotFound
	}
	s, err := m.store.Session(ctx, id)
	if err != nil {
		return Session{}, err
	}
	if !m.live(s) {
		return Session{}, sessionstore.ErrNotFound
	}
	now := m.now()
	if now.Sub(s.LastSeenAt) >= m.touchEvery {
		s.LastSeenAt = now.Truncate(time.Millisecond)
		if err := m.store.TouchSession(ctx, s, m.until(s)); err != nil {
			return Session{}, err
		}
	}
	return s, nil
}

// live reports whether s has timed out neither way. The configured
// lifetime counts too, so shortening it ends sessions that were started
// under a longer one.
func (m *sessions) live(s Session) bool {
	now := m.now()
	return now.Before(s.ExpiresAt) && now.Before(s.CreatedAt.Add(m.lifetime)) && now.Before(s.LastSeenAt.Add(m.idle))
}

// until is when the store may forget s: at its idle or absolute end,
// whichever comes first.
func (m *sessions) until(s Session) time.Time {
	idleEnd := s.LastSeenAt.Add(m.idle)
	if idleEnd.Before(s.ExpiresAt) {
		return idleEnd
	}
	return s.ExpiresAt
}
