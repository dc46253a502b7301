package caddymodule

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/passgate/caddy-passgate/sessionstore"
	"github.com/passgate/caddy-passgate/verify"
)

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (p *Passgate) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	p.stripIdentity(r.Header)

	if route, ok := p.routeOf(r.URL.Path); ok {
		p.serveRoute(w, r, route)
		return nil
	}
	if p.isPublic(r) {
		return next.ServeHTTP(w, r)
	}

	sess, err := p.authenticate(r)
	switch {
	case err == nil:
	case errors.Is(err, errBadBearer):
		bearerChallenge(w)
		return nil
	case errors.Is(err, sessionstore.ErrNotFound):
		p.challenge(w, r)
		return nil
	default:
		p.storeFailed(w, err)
		return nil
	}

	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	roles := strings.Join(sess.Roles, ",")
	repl.Set("http.auth.user.id", sess.UserID)
	repl.Set("http.auth.user.email", sess.Email)
	repl.Set("http.auth.user.phone", sess.Phone)
	repl.Set("http.auth.user.roles", roles)
	setHeader(r.Header, p.names.userID, sess.UserID)
	setHeader(r.Header, p.names.email, sess.Email)
	setHeader(r.Header, p.names.phone, sess.Phone)
	setHeader(r.Header, p.names.roles, roles)
	if err := p.setAssertion(r, sess); err != nil {
		p.logger.Error("signing the upstream assertion", zap.Error(err))
		writeAPIError(w, newAPIError(http.StatusInternalServerError, errInternal, "internal error"))
		return nil
	}
	return next.ServeHTTP(w, r)
}

// authenticate returns the request's live session, by bearer token or
// cookie, with the user's roles under the current policy. A session whose
// user the policy no longer allows counts as none: removing someone from
// `allow` locks them out at once, and a session from another site sharing
// the store gets nowhere.
func (p *Passgate) authenticate(r *http.Request) (sessionstore.Session, error) {
	sess, err := p.sessionOf(r)
	if err != nil {
		return sessionstore.Session{}, err
	}
	return p.applyPolicy(sess)
}

// applyPolicy refuses a session whose user the current policy does not
// allow (as ErrNotFound) and gives it the roles the policy gives now.
func (p *Passgate) applyPolicy(sess sessionstore.Session) (sessionstore.Session, error) {
	channel, identifier := sessionIdentity(sess)
	if !p.verifier.Policy.Allowed(channel, identifier) {
		return sessionstore.Session{}, sessionstore.ErrNotFound
	}
	sess.Roles = p.verifier.Policy.RolesFor(channel, identifier)
	return sess, nil
}

func sessionIdentity(s sessionstore.Session) (channel, identifier string) {
	if s.Email != "" {
		return verify.ChannelEmail, s.Email
	}
	return verify.ChannelPhone, s.Phone
}

// isPublic reports whether the request may pass unauthenticated. A path
// with ';' parameters or dot segments never is: servlet containers read
// /static/..;/admin as /admin.
func (p *Passgate) isPublic(r *http.Request) bool {
	if len(p.public) == 0 {
		return false
	}
	path := r.URL.Path
	if strings.Contains(path, ";") || strings.Contains(path, "/./") || strings.Contains(path, "/../") ||
		strings.HasSuffix(path, "/.") || strings.HasSuffix(path, "/..") {
		return false
	}
	return p.public.Match(r)
}

func setHeader(h http.Header, name, value string) {
	if name != "" && value != "" {
		h[name] = []string{value}
	}
}

// stripIdentity removes identity headers a client sent. Names with
// underscores count too: CGI-style upstreams (PHP, Python WSGI) read
// X_Auth_User_Id and X-Auth-User-Id as the same variable.
func (p *Passgate) stripIdentity(h http.Header) {
	for name := range h {
		canon := name
		if strings.ContainsRune(name, '_') {
			canon = http.CanonicalHeaderKey(strings.ReplaceAll(name, "_", "-"))
		}
		if _, ok := p.stripHeaders[canon]; ok {
			delete(h, name)
		}
	}
}

// challenge answers a request without a session: browsers navigating go
// to the sign-in page, with the way back; anything else gets 401.
func (p *Passgate) challenge(w http.ResponseWriter, r *http.Request) {
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		strings.Contains(r.Header.Get("Accept"), "text/html") {
		back := r.URL.RequestURI()
		if orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok {
			back = orig.URL.RequestURI()
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, p.BasePath+"/login?redirect_to="+url.QueryEscape(back), http.StatusFound)
		return
	}
	writeAPIError(w, newAPIError(http.StatusUnauthorized, errUnauthorized, "sign-in required"))
}

// storeFailed answers 503: the state is out of reach, so nobody passes.
func (p *Passgate) storeFailed(w http.ResponseWriter, err error) {
	if c := p.logger.Check(zapcore.ErrorLevel, "store unavailable"); c != nil {
		c.Write(zap.Error(err))
	}
	w.Header().Set("Retry-After", "1")
	writeAPIError(w, newAPIError(http.StatusServiceUnavailable, errStoreUnavailable,
		"the session store is unavailable; try again shortly"))
}

// routeOf returns the route name of a path under BasePath ("" for the
// base itself).
func (p *Passgate) routeOf(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, p.BasePath)
	if !ok {
		return "", false
	}
	if rest == "" {
		return "", true
	}
	if rest[0] != '/' {
		return "", false
	}
	return rest[1:], true
}
