package verify

import (
	"context"
	"errors"

	"github.com/passgate/caddy-passgate/sessionstore"
)

// Scope says which sessions a sign-out ends.
type Scope string

// Scopes of a sign-out.
const (
	// ScopeLocal ends the session of the credential.
	ScopeLocal Scope = "local"
	// ScopeGlobal ends every session of its user.
	ScopeGlobal Scope = "global"
	// ScopeOthers ends every session of its user but this one.
	ScopeOthers Scope = "others"
)

// ParseScope reads a scope; "" is ScopeLocal.
func ParseScope(s string) (Scope, bool) {
	switch sc := Scope(s); sc {
	case "":
		return ScopeLocal, true
	case ScopeLocal, ScopeGlobal, ScopeOthers:
		return sc, true
	}
	return "", false
}

// Logout ends the sessions scope names, of the user whose session the
// credential proves, and says how many ended. A credential that proves no
// session ends nothing and is no error: signing out twice is signing out.
// The policy is not applied: someone it no longer allows may still end
// their sessions. Errors: ErrUnavailable.
func (e *Engine) Logout(ctx context.Context, c Credential, scope Scope, caller Caller) (Session, int, error) {
	s, err := e.identify(ctx, c)
	if errors.Is(err, ErrUnauthenticated) {
		return Session{}, 0, nil
	}
	if err != nil {
		return Session{}, 0, err
	}
	var n int
	switch scope {
	case ScopeGlobal:
		n, err = e.store.DeleteUserSessions(ctx, s.UserID)
	case ScopeOthers:
		n, err = e.revokeOthers(ctx, s)
	default:
		err = e.store.DeleteSession(ctx, s.ID, s.UserID)
		n = 1
	}
	if err != nil {
		return Session{}, 0, err
	}
	e.emit(Event{Kind: EventSignedOut, Caller: caller, UserID: s.UserID, Scope: scope, Revoked: n})
	return s, n, nil
}

func (e *Engine) revokeOthers(ctx context.Context, keep Session) (int, error) {
	all, err := e.store.UserSessions(ctx, keep.UserID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range all {
		if s.ID == keep.ID {
			continue
		}
		if err := e.store.DeleteSession(ctx, s.ID, s.UserID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Sessions lists the live sessions of a user.
func (e *Engine) Sessions(ctx context.Context, userID string) ([]Session, error) {
	all, err := e.store.UserSessions(ctx, userID)
	if err != nil {
		return nil, err
	}
	live := all[:0]
	for _, s := range all {
		if e.sessions.live(s) {
			live = append(live, s)
		}
	}
	return live, nil
}

// Revoke ends one session of a user. A session that is not the user's,
// or no longer exists, is ErrUnauthenticated: nobody ends another's.
func (e *Engine) Revoke(ctx context.Context, userID, sessionID string, caller Caller) error {
	s, err := e.store.Session(ctx, sessionID)
	if errors.Is(err, sessionstore.ErrNotFound) || err == nil && s.UserID != userID {
		return ErrUnauthenticated
	}
	if err != nil {
		return err
	}
	if err := e.store.DeleteSession(ctx, s.ID, s.UserID); err != nil {
		return err
	}
	e.emit(Event{Kind: EventSessionRevoked, Caller: caller, UserID: userID, Revoked: 1})
	return nil
}
