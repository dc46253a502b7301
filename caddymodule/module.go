// Package caddymodule is passgate's Caddy glue: the http.handlers.passgate
// module, which builds the engine and the front doors from its
// configuration (package config), gates every other request, and keeps
// the session cookie, the shared store pool, the metrics and the audit
// log. The sign-in logic lives in package verify, the state in package
// sessionstore, the routes in the front doors (native and compat).
package caddymodule

import (
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/caddymodule/access"
	"github.com/passgate/caddy-passgate/caddymodule/admin"
	"github.com/passgate/caddy-passgate/caddymodule/config"
	"github.com/passgate/caddy-passgate/caddymodule/native"
	"github.com/passgate/caddy-passgate/verify"
)

// Passgate puts passwordless sign-in in front of the handlers after it.
//
// Requests under BasePath are its own sign-in routes. Requests matching
// Public pass on as they are. Every other request needs a session (its
// cookie, or a bearer access token naming it): with one, the next handler
// runs with identity headers and the placeholders
// `{http.auth.user.id}`, `{http.auth.user.email}`, `{http.auth.user.phone}`
// and `{http.auth.user.roles}` set; without one, a browser is redirected to
// the sign-in page and anything else gets 401. A session whose roles miss
// what an access rule (Require) asks for on the path gets 403, and the
// next handler does not run. Identity headers sent by the
// client are removed from every request, whatever route it takes.
type Passgate struct {
	// The configuration, whose fields are the module's JSON.
	config.Config

	logger       *zap.Logger
	storeKey     string
	adminEntry   *admin.Entry // this handler in Caddy's admin API
	engine       *verify.Engine
	cookie       sessionCookie
	public       caddyhttp.MatchPath
	rules        *access.Rules       // nil: no access rules
	forbidden    *native.Forbidden   // the answer when a rule refuses
	stripHeaders map[string]struct{} // canonical names of identity headers
	names        identityHeaders
	doors        []mountedDoor            // longest mount first
	testSenders  map[string]verify.Sender // tests only: replace the configured deliveries
}
