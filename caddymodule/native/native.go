// Package native is passgate's own front door: the sign-in routes under
// base_path (CONTRACT section 4), as JSON for API clients and as HTML pages
// and form posts for browsers. It translates HTTP to engine calls and back;
// the sign-in logic is verify's.
package native

import (
	"net/http"

	"github.com/passgate/caddy-passgate/internal/httpkit"
)

// Door serves the native routes.
type Door struct {
	env         *httpkit.Env
	pages       *pages
	magicPages  *magicPages
	startCookie startCookie
}

// New makes the door, with the sign-in page's look.
func New(env *httpkit.Env, page PageConfig) (*Door, error) {
	d := &Door{env: env}
	var err error
	if d.pages, err = newPages(env, page); err != nil {
		return nil, err
	}
	if d.magicPages, err = newMagicPages(env.Mount, env.Redirects.FormActionSources(), page); err != nil {
		return nil, err
	}
	d.startCookie = newStartCookie(env.Mount, env.Insecure, env.Engine.CodeTTL(),
		env.Keys("start cookie hash"), env.Keys("start cookie block"))
	return d, nil
}

// ServeHTTP dispatches the routes under the mount. Each answers JSON to an
// API client and pages or redirects to an HTML form.
func (d *Door) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if d.env.CORS.Apply(w, r, corsRules) {
		return
	}
	route, _ := d.env.Route(r)
	type handler func(http.ResponseWriter, *http.Request)
	var get, post, del handler
	switch route {
	case "login":
		get = d.serveLoginPage
	case "start":
		post = d.serveStart
	case "verify":
		post = d.serveVerify
	case "session":
		get = d.serveSession
	case "logout":
		post = d.serveLogout
	case "magic":
		get, post = d.serveMagicPage, d.serveMagic
	case "token":
		post = d.serveToken
	case "jwks.json":
		get = d.serveJWKS
	case "sessions":
		get = d.serveSessions
	case "healthz":
		get = d.serveHealth
	default:
		id, revoke, ok := sessionRoute(route)
		switch {
		case !ok:
			writeAPIError(w, newAPIError(http.StatusNotFound, errNotFound, "no such route"))
			return
		case revoke:
			post = func(w http.ResponseWriter, r *http.Request) { d.serveRevoke(w, r, id) }
		default:
			del = func(w http.ResponseWriter, r *http.Request) { d.serveRevoke(w, r, id) }
		}
	}
	switch {
	case get != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		get(w, r)
	case post != nil && r.Method == http.MethodPost, del != nil && r.Method == http.MethodDelete:
		// A bearer header is never sent by a browser on its own, so such a
		// request cannot be forged cross-site; /token uses no cookie.
		if !d.env.SameOrigin(r) && !d.env.Session.Credential(r).IsBearer && route != "token" {
			writeAPIError(w, newAPIError(http.StatusForbidden, errForbidden, "cross-site request refused"))
			return
		}
		if del != nil {
			del(w, r)
			return
		}
		post(w, r)
	default:
		switch {
		case get != nil && post != nil:
			w.Header().Set("Allow", "GET, HEAD, POST")
		case get != nil:
			w.Header().Set("Allow", "GET, HEAD")
		case del != nil:
			w.Header().Set("Allow", "DELETE")
		default:
			w.Header().Set("Allow", "POST")
		}
		writeAPIError(w, newAPIError(http.StatusMethodNotAllowed, errMethodNotAllowed, "method not allowed"))
	}
}

// corsRules are what the native API's browser clients on other origins
// send and read: JSON, bearer tokens, and the session cookie.
var corsRules = httpkit.CORSRules{
	Methods:       []string{"GET", "POST", "DELETE"},
	AllowHeaders:  []string{"authorization", "content-type"},
	ExposeHeaders: []string{"Retry-After", "WWW-Authenticate"},
	Credentials:   true,
}

// readBody reads a JSON body into dst, or a form into r.PostForm.
func readBody(w http.ResponseWriter, r *http.Request, dst any) (isForm bool, _ *apiError) {
	isForm, err := httpkit.ReadBody(w, r, dst)
	if err != nil {
		return isForm, newAPIError(err.Status, errInvalidRequest, err.Message)
	}
	return isForm, nil
}
