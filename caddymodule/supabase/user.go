package supabase

import (
	"errors"
	"net/http"
	"strings"

	"github.com/passgate/caddy-passgate/verify"
)

// bearer is the token of an Authorization: Bearer header, or "".
func bearer(r *http.Request) string {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

func noAuthorization() *apiError {
	return newError(http.StatusUnauthorized, "no_authorization", "This endpoint requires a valid Bearer token")
}

// serveUser answers GET /user with the user of the access token. A token
// whose session has ended gets session_not_found, on which the client
// drops its stored session; any other refused token gets bad_jwt.
func (d *Door) serveUser(w http.ResponseWriter, r *http.Request) {
	token := bearer(r)
	if token == "" {
		writeError(w, noAuthorization())
		return
	}
	s, err := d.env.Engine.Authenticate(r.Context(), verify.Credential{Bearer: token, IsBearer: true})
	var u verify.User
	if err == nil {
		u, err = d.env.Engine.User(r.Context(), s.UserID)
	}
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, userJSON(u, s.Roles))
	case errors.Is(err, verify.ErrSessionEnded):
		writeError(w, newError(http.StatusForbidden, "session_not_found", "Session from session_id claim in JWT does not exist"))
	case errors.Is(err, verify.ErrInvalidToken):
		writeError(w, newError(http.StatusForbidden, "bad_jwt", "invalid JWT: unable to parse or verify signature, token is invalid or expired"))
	case errors.Is(err, verify.ErrUnauthenticated):
		writeError(w, newError(http.StatusForbidden, "user_not_found", "User from sub claim in JWT does not exist"))
	default:
		writeError(w, d.serverError(err))
	}
}

// logoutScopes are GoTrue's scopes; none is global, GoTrue's default.
var logoutScopes = map[string]verify.Scope{
	"": verify.ScopeGlobal, "global": verify.ScopeGlobal, "local": verify.ScopeLocal, "others": verify.ScopeOthers,
}

// serveLogout answers POST /logout?scope=: it ends the sessions the scope
// names, of the access token's user, on every instance, and answers 204,
// also when there was nothing to end (a token already signed out). The
// body, which the client sends empty, is not read.
func (d *Door) serveLogout(w http.ResponseWriter, r *http.Request) {
	scope, ok := logoutScopes[r.URL.Query().Get("scope")]
	if !ok {
		writeError(w, validation("Unsupported logout scope: use global, local or others"))
		return
	}
	token := bearer(r)
	if token == "" {
		writeError(w, noAuthorization())
		return
	}
	_, _, err := d.env.Engine.Logout(r.Context(), verify.Credential{Bearer: token, IsBearer: true}, scope, d.env.Caller(r))
	if err != nil {
		writeError(w, d.serverError(err))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}
