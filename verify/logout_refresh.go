package verify

import (
	"context"
	"errors"

	"github.com/passgate/caddy-passgate/sessionstore"
)

// LogoutRefresh is Logout for a client that names its session by a
// refresh token rather than an access token or a cookie (Nhost's signOut
// sends only its refresh token). A spent token of the session's chain names
// the session as well as the live one does: whoever holds it could end the
// session anyway, by presenting it for a refresh. An unknown or expired
// token ends nothing and is no error. Errors: ErrUnavailable.
func (e *Engine) LogoutRefresh(ctx context.Context, token string, scope Scope, caller Caller) (Session, int, error) {
	if token == "" {
		return Session{}, 0, nil
	}
	rt, err := e.store.Refresh(ctx, sessionstore.RefreshHash(token))
	if errors.Is(err, sessionstore.ErrNotFound) {
		return Session{}, 0, nil
	}
	if err != nil {
		return Session{}, 0, err
	}
	return e.Logout(ctx, Credential{SessionID: rt.SessionID}, scope, caller)
}
