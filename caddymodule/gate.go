package caddymodule

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/passgate/caddy-passgate/caddymodule/access"
	"github.com/passgate/caddy-passgate/caddymodule/native"
	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
)

// ServeHTTP implements caddyhttp.MiddlewareHandler.
func (p *Passgate) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	p.stripIdentity(r.Header)
	if r.Trailer != nil {
		p.stripTrailers(r)
	}

	if door := p.doorFor(r.URL.Path); door != nil {
		door.ServeHTTP(w, r)
		return nil
	}
	if p.isPublic(r) {
		gateMetrics.public.Inc()
		p.dropCredentials(r, false)
		return next.ServeHTTP(w, r)
	}

	cred := p.cookie.Credential(r)
	sess, err := p.engine.Authenticate(r.Context(), cred)
	switch {
	case err == nil:
	case errors.Is(err, verify.ErrInvalidToken):
		gateMetrics.refused.Inc()
		native.BearerChallenge(w)
		return nil
	case errors.Is(err, verify.ErrUnauthenticated):
		gateMetrics.challenged.Inc()
		p.challenge(w, r)
		return nil
	default:
		gateMetrics.unavailable.Inc()
		p.storeFailed(w, err)
		return nil
	}
	if cred.IsBearer {
		gateMetrics.bearer.Inc()
	} else {
		gateMetrics.cookie.Inc()
	}

	if p.rules != nil {
		if required := p.rules.Denied(r, sess.Roles); required != nil {
			gateMetrics.forbidden.Inc()
			p.engine.Denied(verify.Caller{Door: "gate", ClientIP: httpkit.ClientIP(r)}, sess, r.URL.Path, required)
			p.forbidden.Serve(w, r, sess, cred.IsBearer)
			return nil
		}
	}

	p.passIdentity(r, sess)
	p.dropCredentials(r, cred.IsBearer)
	if err := p.setAssertion(r, sess); err != nil {
		p.logger.Error("signing the upstream assertion", zap.Error(err))
		native.WriteError(w, http.StatusInternalServerError, "internal_error", "internal error")
		return nil
	}
	return next.ServeHTTP(w, r)
}

// mountedDoor is a front door and the path prefix it serves.
type mountedDoor struct {
	mount string
	door  http.Handler
}

// doorFor returns the door whose mount is the longest that path is under
// (p.doors is sorted longest first), or nil.
func (p *Passgate) doorFor(path string) http.Handler {
	for _, d := range p.doors {
		if rest, ok := strings.CutPrefix(path, d.mount); ok && (rest == "" || rest[0] == '/') {
			return d.door
		}
	}
	return nil
}

// isPublic reports whether the request may pass unauthenticated. A path
// with ';' parameters or dot segments never is: servlet containers read
// /static/..;/admin as /admin, and IIS and some static servers take a
// backslash for a slash, so /static/..\admin counts as a dot segment too.
// Nor is a path an access rule covers.
func (p *Passgate) isPublic(r *http.Request) bool {
	if len(p.public) == 0 {
		return false
	}
	path := r.URL.Path
	if strings.Contains(path, ";") || access.HasDotSegment(strings.ReplaceAll(path, `\`, "/")) {
		return false
	}
	return p.public.Match(r) && (p.rules == nil || !p.rules.Covers(r))
}

// dropCredentials removes passgate's session cookie from a request about
// to be passed on, and the Authorization header if it carried the bearer
// token passgate accepted. Any other Authorization (Basic or the app's own
// scheme beside a cookie session, or anything on a public path, which
// passgate never judged) is the client's business and stays.
func (p *Passgate) dropCredentials(r *http.Request, acceptedBearer bool) {
	if p.Headers.PassCredentials {
		return
	}
	if acceptedBearer {
		delete(r.Header, "Authorization")
	}
	p.cookie.remove(r.Header)
}

// passIdentity sets the identity headers and placeholders for the next
// handler.
func (p *Passgate) passIdentity(r *http.Request, sess verify.Session) {
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
	native.WriteError(w, http.StatusUnauthorized, "unauthorized", "sign-in required")
}

// storeFailed answers 503: the state is out of reach, so nobody passes.
func (p *Passgate) storeFailed(w http.ResponseWriter, err error) {
	if c := p.logger.Check(zapcore.ErrorLevel, "store unavailable"); c != nil {
		c.Write(zap.Error(err))
	}
	w.Header().Set("Retry-After", "1")
	native.WriteError(w, http.StatusServiceUnavailable, "store_unavailable",
		"the session store is unavailable; try again shortly")
}

// setAssertion adds the signed identity assertion for the upstream, if
// configured. Its audience is the host the client asked for, without port.
func (p *Passgate) setAssertion(r *http.Request, sess verify.Session) error {
	if p.Headers.Assertion == "" {
		return nil
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	tok, err := p.engine.IssueAssertion(strings.ToLower(host), sess)
	if err != nil {
		return err
	}
	r.Header.Set(p.Headers.Assertion, tok)
	return nil
}
