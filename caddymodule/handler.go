package caddymodule

import (
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"

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
	if r.Trailer != nil {
		p.stripTrailers(r)
	}

	if route, ok := p.routeOf(r.URL.Path); ok {
		p.serveRoute(w, r, route)
		return nil
	}
	if p.isPublic(r) {
		p.dropCredentials(r, false)
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

	p.passIdentity(r, sess)
	p.dropCredentials(r, true)
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
// the store gets nowhere. A bearer token so refused is refused like any
// other bad token (errBadBearer).
func (p *Passgate) authenticate(r *http.Request) (sessionstore.Session, error) {
	sess, err := p.sessionOf(r)
	if err != nil {
		return sessionstore.Session{}, err
	}
	sess, err = p.applyPolicy(sess)
	if _, byBearer := bearerToken(r); byBearer && errors.Is(err, sessionstore.ErrNotFound) {
		return sessionstore.Session{}, errBadBearer
	}
	return sess, err
}

// applyPolicy refuses a session whose user the current policy does not
// allow (as ErrNotFound) and gives it the roles the policy gives now.
//
// The policy's answer for an identifier is remembered (p.decisions): its
// globs cost more than the rest of a request's authentication, and the
// answer cannot go stale, since a changed policy comes with a reload and
// so with a new Passgate and an empty memory. The roles slice is shared
// between requests: read it, never write to it.
func (p *Passgate) applyPolicy(sess sessionstore.Session) (sessionstore.Session, error) {
	channel, identifier := sessionIdentity(sess)
	key := policyKey{channel, identifier}
	d, ok := p.decisions.Get(key)
	if !ok {
		d.allowed = p.verifier.Policy.Allowed(channel, identifier)
		roles := p.verifier.Policy.RolesFor(channel, identifier)
		d.roles = roles[:len(roles):len(roles)] // an append copies
		p.decisions.Put(key, d)
	}
	if !d.allowed {
		return sessionstore.Session{}, sessionstore.ErrNotFound
	}
	sess.Roles = d.roles
	return sess, nil
}

type policyKey struct{ channel, identifier string }

// policyDecision is what the policy says of one identifier.
type policyDecision struct {
	allowed bool
	roles   []string
}

// Bounds of the remembered policy answers: about 100 bytes each, so 1 MB
// at most; the TTL only lets unused entries go.
const (
	policyDecisionEntries = 10000
	policyDecisionTTL     = 10 * time.Minute
)

func sessionIdentity(s sessionstore.Session) (channel, identifier string) {
	if s.Email != "" {
		return verify.ChannelEmail, s.Email
	}
	return verify.ChannelPhone, s.Phone
}

// isPublic reports whether the request may pass unauthenticated. A path
// with ';' parameters or dot segments never is: servlet containers read
// /static/..;/admin as /admin, and IIS and some static servers take a
// backslash for a slash, so /static/..\admin counts as a dot segment too.
func (p *Passgate) isPublic(r *http.Request) bool {
	if len(p.public) == 0 {
		return false
	}
	path := r.URL.Path
	if strings.Contains(path, ";") || hasDotSegment(strings.ReplaceAll(path, `\`, "/")) {
		return false
	}
	return p.public.Match(r)
}

func hasDotSegment(path string) bool {
	return strings.Contains(path, "/./") || strings.Contains(path, "/../") ||
		strings.HasSuffix(path, "/.") || strings.HasSuffix(path, "/..")
}

// dropCredentials removes passgate's session cookie from a request about
// to be passed on, and, on an authenticated one, the Authorization header
// if it carried the bearer token passgate accepted. Any other
// Authorization (Basic or the app's own scheme beside a cookie session, or
// anything on a public path, which passgate never judged) is the client's
// business and stays.
func (p *Passgate) dropCredentials(r *http.Request, authenticated bool) {
	if p.Headers.PassCredentials {
		return
	}
	if _, byBearer := bearerToken(r); authenticated && byBearer {
		delete(r.Header, "Authorization")
	}
	removeCookie(r.Header, p.cookie.name)
}

// removeCookie removes every cookie called name from h's Cookie lines,
// keeping the others as sent.
func removeCookie(h http.Header, name string) {
	lines, ok := h["Cookie"]
	if !ok {
		return
	}
	var kept []string
	for _, line := range lines {
		if !strings.Contains(line, name) {
			kept = append(kept, line)
			continue
		}
		var b strings.Builder
		for part := range strings.SplitSeq(line, ";") {
			part = textproto.TrimString(part)
			// Trimmed as net/http trims it, so that whatever it would
			// read as the session cookie goes.
			if n, _, _ := strings.Cut(part, "="); textproto.TrimString(n) == name || part == "" {
				continue
			}
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(part)
		}
		if b.Len() > 0 {
			kept = append(kept, b.String())
		}
	}
	if len(kept) == 0 {
		delete(h, "Cookie")
	} else {
		h["Cookie"] = kept
	}
}

// passIdentity sets the identity headers and placeholders for the next
// handler.
func (p *Passgate) passIdentity(r *http.Request, sess sessionstore.Session) {
	// One array holds the values of both the headers and the placeholders:
	// one allocation on every request rather than one per value. Each
	// header's slice is capped at its own element, so appending to one
	// header cannot overwrite the next.
	values := &[identityFields]string{sess.UserID, sess.Email, sess.Phone, strings.Join(sess.Roles, ",")}
	for i, name := range [...]string{p.names.userID, p.names.email, p.names.phone, p.names.roles} {
		if name != "" && values[i] != "" {
			r.Header[name] = values[i : i+1 : i+1]
		}
	}
	// The placeholders are answered from the array when asked for, rather
	// than copied into the replacer's map, which boxed each value (and
	// grew the map) on every request. The array is kept under a key of its
	// own, so that a second passgate on the same request (a stricter one
	// under `handle`) replaces it as it replaces the headers; values an
	// earlier handler set are removed, since the replacer reads them first.
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	_, mapped := repl.Get(identityValuesKey)
	repl.Set(identityValuesKey, values) // a pointer: stored without boxing
	for _, key := range identityPlaceholders {
		repl.Delete(key)
	}
	if !mapped {
		repl.Map(func(key string) (any, bool) {
			i := slices.Index(identityPlaceholders[:], key)
			if i < 0 {
				return nil, false
			}
			v, _ := repl.Get(identityValuesKey)
			values, ok := v.(*[identityFields]string)
			if !ok { // removed by someone else: no identity, not a panic
				return nil, false
			}
			return values[i], true
		})
	}
}

// identityPlaceholders name the identity's values in passIdentity's order.
var identityPlaceholders = [identityFields]string{
	"http.auth.user.id", "http.auth.user.email", "http.auth.user.phone", "http.auth.user.roles",
}

const (
	identityFields = 4
	// identityValuesKey holds passIdentity's array in the replacer; not a
	// placeholder anyone should use.
	identityValuesKey = "passgate.identity"
)

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

// stripTrailers removes identity headers from a request's declared
// trailers: from the declaration now, and from the values, which arrive
// only when the body has been read to its end, by whoever reads it (a
// reverse_proxy forwards them then).
func (p *Passgate) stripTrailers(r *http.Request) {
	p.stripIdentity(r.Trailer)
	r.Body = &trailerStripper{ReadCloser: r.Body, strip: func() { p.stripIdentity(r.Trailer) }}
}

type trailerStripper struct {
	io.ReadCloser
	strip func()
}

func (t *trailerStripper) Read(b []byte) (int, error) {
	n, err := t.ReadCloser.Read(b)
	if err == io.EOF {
		t.strip()
	}
	return n, err
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
