// Package wacht is the Wacht front door (`compat wacht`): the Frontend API
// of Wacht (wacht.dev) as its browser client and its docs call it, over
// passgate's engine. A browser's Wacht session (its attempts) travels in
// an encrypted cookie of the door's own; a sign-in is a passgate session
// in the __session cookie, which the gate accepts like passgate's own.
// docs/compat/wacht.md is the wire spec; docs/compat.md says how to set
// it up and where it differs from the hosted service.
package wacht

import (
	"fmt"
	"net/http"
	"time"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify/tokens"
)

// Config is the door's part of the Caddyfile:
//
//	compat wacht [<path>] {
//		origin https://app.example.com
//	}
type Config struct {
	// Origin is the origin (scheme://host[:port]) of the Frontend API URL
	// in the app's publishable key. @wacht/backend fetches the JWKS and
	// exchanges sessions for tokens at the root of that origin, and wants
	// it as the tokens' iss. Default: link_origin if set; without either,
	// the tokens' iss is "passgate:wacht", which @wacht/backend refuses
	// (the browser client and the gate do not mind).
	Origin string `json:"origin,omitempty"`
}

// SessionCookieName is the cookie Wacht's clients carry the session in.
const SessionCookieName = "__session"

// DefaultIssuer is the iss of session tokens without an origin.
const DefaultIssuer = "passgate:wacht"

// tokenTTL is the life of a session token (GET /session/token): short, as
// Wacht's own (35 s); the client asks again when it has expired.
const tokenTTL = time.Minute

// Door serves Wacht's Frontend API under its mount.
type Door struct {
	env     *httpkit.Env
	session httpkit.SessionCookie
	browser browserCookie
	profile string
	// Issuer is the iss of its session tokens.
	Issuer string
	routes map[string]httpkit.Route
}

// New makes the door and registers its kind of session token.
func New(env *httpkit.Env, cfg Config) (*Door, error) {
	crossSite := env.CORS.Enabled() && !env.Insecure
	d := &Door{
		env:     env,
		session: env.NamedSession(SessionCookieName, crossSite),
		browser: newBrowserCookie(cmpOr(env.Mount, "/"), env.Insecure, crossSite,
			env.Keys("wacht browser hash"), env.Keys("wacht browser block")),
		profile: "wacht " + cmpOr(env.Mount, "/"),
		Issuer:  cmpOr(cfg.Origin, env.LinkOrigin, DefaultIssuer),
	}
	d.routes = map[string]httpkit.Route{
		"deployment":                {Get: d.serveDeployment},
		"auth/signin":               {Post: d.serveSignIn},
		"auth/signup":               {Post: d.serveSignUp},
		"auth/prepare-verification": {Post: d.servePrepare},
		"auth/attempt-verification": {Post: d.serveAttempt},
		"auth/verify-magic-link":    {Get: d.serveMagicLink},
		"session":                   {Get: d.serveSession},
		"session/token":             {Get: d.serveToken},
		"session/sign-out":          {Post: d.serveSignOut},
		"me":                        {Get: d.serveMe},
		".well-known/jwks.json":     {Get: d.serveJWKS},
	}
	err := env.Engine.RegisterTokenProfile(tokens.Profile{
		Name: d.profile, Issuer: d.Issuer, Alg: tokens.AlgES256, TTL: tokenTTL,
	})
	if err != nil {
		return nil, fmt.Errorf("session tokens with iss %q: %v (give each wacht door an origin of its own, and not jwt's issuer)", d.Issuer, err)
	}
	return d, nil
}

func cmpOr(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// corsRules: the client's calls are GETs and FormData POSTs without
// custom headers, credentialed; a preflight may still ask for
// content-type (the documented JSON).
var corsRules = httpkit.CORSRules{
	Methods:       []string{"GET", "POST"},
	AllowHeaders:  []string{"content-type"},
	ExposeHeaders: []string{"Retry-After"},
	Credentials:   true,
}

// ServeHTTP dispatches the Frontend API's routes.
func (d *Door) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if d.env.CORS.Apply(w, r, corsRules) {
		return
	}
	route, _ := d.env.Route(r)
	rt, ok := d.routes[route]
	if !ok {
		writeError(w, newError(http.StatusNotFound, codeNotFound, "No such route."), nil)
		return
	}
	h, allow := rt.Handler(r.Method)
	switch {
	case h == nil:
		w.Header().Set("Allow", allow)
		writeError(w, newError(http.StatusMethodNotAllowed, codeMethodNotAllowed, "Method not allowed."), nil)
	case r.Method == http.MethodPost && !d.env.SameOrigin(r):
		// Every POST changes the browser's state: none may come from a
		// page of another site (the cookies are SameSite=None with cors).
		writeError(w, errCrossSite, nil)
	default:
		h(w, r)
	}
}
