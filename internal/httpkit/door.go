package httpkit

import (
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/verify"
)

// SessionCookie is the module's session credential, as a door sees it.
type SessionCookie interface {
	// Credential is what r proves a session with: its bearer token if it
	// has an Authorization: Bearer header, or else its session cookie.
	Credential(r *http.Request) verify.Credential
	// Set gives the client a new session's secret; Clear takes it away.
	Set(w http.ResponseWriter, secret string) error
	Clear(w http.ResponseWriter)
}

// Env is what a front door is given: the engine, and what the module owns
// on the HTTP side. A door holds nothing else: no store, no secrets.
type Env struct {
	// Door names the door in events and metrics ("native", "supabase", …).
	Door   string
	Engine *verify.Engine
	Logger *zap.Logger
	// Mount is the path prefix the door serves, without a trailing slash.
	Mount   string
	Session SessionCookie
	// NamedSession is Session under another name, for a door whose
	// clients expect one (Wacht's __session); crossSite makes it
	// SameSite=None, for a frontend on another site. The gate accepts it
	// too. Call it while the door is built.
	NamedSession func(name string, crossSite bool) SessionCookie
	// Redirects is where a sign-in may send the browser afterwards.
	Redirects RedirectPolicy
	// LinkOrigin is the configured origin of magic links; "" means the
	// request's own (see LinkOrigin).
	LinkOrigin string
	// Keys derives keys for a door's own use (a cookie of its own) from
	// every configured secret, purpose-separated: the first signs, all
	// verify.
	Keys func(purpose string) [][]byte
	// Insecure drops the Secure attribute of the door's cookies (plain-HTTP
	// development).
	Insecure bool
	// CORS is the operator's cross-origin policy; each door applies it to
	// its routes with its own rules.
	CORS CORS
	// Backends are the configured backend clients, for the doors'
	// server-to-server routes; never nil once the module is provisioned.
	Backends *Backends
}

// Caller says who asks, for the engine's limits and events, and what a
// session signed in by r records of its device.
func (env *Env) Caller(r *http.Request) verify.Caller {
	return verify.Caller{Door: env.Door, ClientIP: ClientIP(r), UserAgent: r.UserAgent()}
}

// ClientIP is the client's address as Caddy determined it (its
// trusted_proxies honoured).
func ClientIP(r *http.Request) string {
	ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	return ip
}

// Route returns the part of r's path below the door's mount ("" for the
// mount itself), and whether the path is under it at all.
func (env *Env) Route(r *http.Request) (string, bool) {
	rest, ok := strings.CutPrefix(r.URL.Path, env.Mount)
	switch {
	case !ok:
		return "", false
	case rest == "":
		return "", true
	case rest[0] != '/':
		return "", false
	}
	return rest[1:], true
}

// SameOrigin is the cross-site check with this site's extra origin
// (link_origin) counted as its own, and the origins the operator allowed
// with `cors`.
func (env *Env) SameOrigin(r *http.Request) bool {
	return SameOrigin(r, env.LinkOrigin) || env.CORS.Allows(r.Header.Get("Origin")) && len(r.Header.Values("Origin")) == 1
}

// LinkBase is the absolute URL of path (under the mount) for magic links
// sent in answer to r: on LinkOrigin if set, else on the request's own
// origin (see LinkOrigin). "" when it cannot be known (an HTTP/1.0 request
// without Host): the message then carries no link, the code still works.
func (env *Env) LinkBase(r *http.Request, path string) string {
	origin := env.LinkOrigin
	if origin == "" {
		if r.Host == "" {
			return ""
		}
		origin = LinkOrigin(r)
	}
	return origin + env.Mount + path
}
