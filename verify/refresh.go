package verify

import (
	"context"
	"encoding/base64"
	"errors"

	"github.com/passgate/caddy-passgate/sessionstore"
)

var (
	// ErrInvalidGrant: the refresh token is unknown, spent, expired or
	// revoked, or its user is no longer allowed.
	ErrInvalidGrant = errors.New("invalid refresh token")
	// ErrRefreshReused: a spent refresh token was presented again, so it
	// was copied: the whole session has been revoked. It is an
	// ErrInvalidGrant.
	ErrRefreshReused = errors.Join(ErrInvalidGrant, sessionstore.ErrRefreshReused)
)

// refreshBytes is the entropy of a refresh token: 256 bits.
const refreshBytes = 32

func (e *Engine) newRefreshToken() string {
	return base64.RawURLEncoding.EncodeToString(e.randomBytes(refreshBytes))
}

// Refreshed is the outcome of a rotation: the session (with the roles the
// policy gives now), how its user authenticated, and the new refresh
// token, the old one being spent.
type Refreshed struct {
	Session      Session
	AMR          []string
	RefreshToken string
}

// Refresh rotates a refresh token: the old one is spent, a new one is
// returned with its session. A spent token presented again revokes its
// whole session (ErrRefreshReused), except for the same rotation asked
// again within sessionstore.RefreshRetryGrace: the new token is derived
// from the old one, so a retry after a lost answer names the same
// successor and gets it again.
//
// Rotation is the last store operation: the token is read (not spent),
// its session checked and the policy applied first, and only then is the
// token spent, so a store failure before the rotation leaves it usable
// for a retry. A spent token is told from a live one by the rotation, so a
// reused token is caught only once its session and the policy have
// passed; otherwise it is refused all the same. Errors: ErrInvalidGrant,
// ErrRefreshReused, or ErrUnavailable.
func (e *Engine) Refresh(ctx context.Context, token string, caller Caller) (Refreshed, error) {
	if token == "" {
		return Refreshed{}, ErrInvalidGrant
	}
	hash := sessionstore.RefreshHash(token)
	rt, err := e.store.Refresh(ctx, hash)
	var s Session
	if err == nil {
		s, err = e.liveSession(ctx, rt.SessionID)
	}
	if err == nil {
		s, err = e.applyPolicy(s)
	}
	if errors.Is(err, ErrUnauthenticated) || errors.Is(err, sessionstore.ErrNotFound) {
		return Refreshed{}, ErrInvalidGrant
	}
	if err != nil {
		return Refreshed{}, err
	}
	// The successor is derived from the token, so that the same rotation
	// asked again (a retry after a lost answer) names the same successor,
	// which the store then hands out again.
	next, nextHash := sessionstore.NextRefreshToken(e.cfg.RefreshKey, token)
	rotated, err := e.store.RotateRefresh(ctx, hash, nextHash, e.now())
	switch {
	case errors.Is(err, sessionstore.ErrRefreshReused):
		e.emit(Event{Kind: EventRefreshReused, Caller: caller, UserID: rt.UserID, Revoked: 1})
		return Refreshed{}, ErrRefreshReused
	case errors.Is(err, sessionstore.ErrNotFound), err == nil && rotated.SessionID != rt.SessionID:
		// A token keeps its session; the second cannot normally happen.
		return Refreshed{}, ErrInvalidGrant
	case err != nil:
		return Refreshed{}, err
	}
	return Refreshed{Session: s, AMR: rt.AMR, RefreshToken: next}, nil
}
