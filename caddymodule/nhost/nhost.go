// Package nhost is the Nhost front door (`compat nhost`): the routes of
// Nhost Auth that @nhost/nhost-js 4.x calls for passwordless sign-in (email
// codes, email links, SMS codes), refresh, the current user and sign-out,
// with Nhost's bodies and errors and Hasura's claims in the access tokens,
// over passgate's engine. docs/compat/nhost.md is the wire spec it follows.
package nhost

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
	"github.com/passgate/caddy-passgate/verify/tokens"
)

// Defaults.
const (
	// DefaultMount is where the door answers unless told otherwise.
	DefaultMount = "/nhost/v1"
	// DefaultRole is Nhost's default role.
	DefaultRole = "user"
	// DefaultIssuer is Nhost Auth's iss claim.
	DefaultIssuer = "hasura-auth"
	// refreshMargin is how long before a token's exp nhost-js refreshes it
	// before every request.
	refreshMargin = 60 * time.Second
)

// Config is the door's settings (`compat nhost [<path>] { ... }`).
type Config struct {
	// DefaultRole is every user's x-hasura-default-role and defaultRole;
	// x-hasura-allowed-roles are the roles passgate's `role` rules give the
	// user, and this one. Default: "user".
	DefaultRole string `json:"default_role,omitempty"`
	// Issuer is the iss claim of the door's access tokens; it must differ
	// from passgate's own issuer and from every other door's. Default:
	// "hasura-auth", Nhost's.
	Issuer string `json:"issuer,omitempty"`
}

func (c Config) withDefaults() Config {
	if c.DefaultRole == "" {
		c.DefaultRole = DefaultRole
	}
	if c.Issuer == "" {
		c.Issuer = DefaultIssuer
	}
	return c
}

// CheckMount refuses a mount that nhost-js cannot use.
func CheckMount(mount string) error {
	if !strings.HasSuffix(strings.TrimSuffix(mount, "/"), "/v1") {
		return fmt.Errorf("path %q must end in /v1: @nhost/nhost-js skips its refresh before a request only for a URL "+
			"ending in /v1/token, so under any other path its refresh refreshes itself until the app runs out of memory", mount)
	}
	return nil
}

// Check checks the settings.
func (c Config) Check() error {
	c = c.withDefaults()
	if !validRole(c.DefaultRole) {
		return fmt.Errorf("default_role %q: letters, digits, '_' and '-' only, at most 64", c.DefaultRole)
	}
	if strings.TrimSpace(c.Issuer) != c.Issuer || len(c.Issuer) > 256 {
		return fmt.Errorf("issuer %q: no surrounding spaces, at most 256 characters", c.Issuer)
	}
	return nil
}

// validRole: a role name Hasura, Postgres and nhost-js all read as the same
// one string (nhost-js takes a claim between braces for a Postgres array).
func validRole(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Door serves the Nhost routes under its mount.
type Door struct {
	env     *httpkit.Env
	cfg     Config
	profile string
	// codeKeys seal the PKCE codes of magic links: the first seals, all
	// open.
	codeKeys [][]byte
	// formAction lets the continue page's form redirect to the allowed
	// origins (CSP form-action applies to a form's redirects).
	formAction string
	routes     map[string]httpkit.Route
}

// New makes the door and registers its token profile with the engine.
func New(env *httpkit.Env, cfg Config) (*Door, error) {
	cfg = cfg.withDefaults()
	if err := CheckMount(env.Mount); err != nil {
		return nil, err
	}
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	d := &Door{env: env, cfg: cfg, profile: "nhost " + env.Mount, codeKeys: env.Keys("nhost pkce code"),
		formAction: env.Redirects.FormActionSources()}
	d.routes = map[string]httpkit.Route{
		"signin/otp/email":            {Post: d.serveSignInOTPEmail},
		"signin/otp/email/verify":     {Post: d.serveVerifyOTPEmail},
		"signin/passwordless/email":   {Post: d.serveSignInPasswordlessEmail},
		"signin/passwordless/sms":     {Post: d.serveSignInSMS},
		"signin/passwordless/sms/otp": {Post: d.serveVerifySMS},
		"verify":                      {Get: d.serveLinkPage, Post: d.serveLinkContinue},
		"token":                       {Post: d.serveToken},
		"token/exchange":              {Post: d.serveTokenExchange},
		"user":                        {Get: d.serveUser},
		"signout":                     {Post: d.serveSignOut},
		".well-known/jwks.json":       {Get: d.serveJWKS},
		"healthz":                     {Get: d.serveHealth},
	}
	err := env.Engine.RegisterTokenProfile(tokens.Profile{
		Name:   d.profile,
		Issuer: cfg.Issuer,
		Alg:    tokens.AlgES256,
		Claims: d.claims,
	})
	if err != nil {
		return nil, fmt.Errorf("%v (a second compat nhost needs an issuer of its own)", err)
	}
	// A token's lifetime is the profile's, which only issuing one tells.
	if tok, err := env.Engine.IssueAccessAs(d.profile, verify.Session{}, nil); err == nil && tok.TTL <= 2*refreshMargin {
		env.Logger.Warn(fmt.Sprintf("compat nhost: access tokens live %v; nhost-js refreshes a token %v before it expires, "+
			"so it will call POST %s/token before nearly every request (set jwt access_ttl to several minutes)", tok.TTL, refreshMargin, env.Mount))
	}
	return d, nil
}

// claimsNamespace is where Hasura reads its session variables.
const claimsNamespace = "https://hasura.io/jwt/claims"

// claims are Hasura's claims, as Nhost Auth writes them: the allowed roles
// a JSON array (Hasura refuses anything else; nhost-js reads both that and
// a Postgres array string), the flags strings.
func (d *Door) claims(id tokens.Identity) map[string]any {
	return map[string]any{claimsNamespace: map[string]any{
		"x-hasura-allowed-roles":     d.allowedRoles(id.Roles),
		"x-hasura-default-role":      d.cfg.DefaultRole,
		"x-hasura-user-id":           id.UserID,
		"x-hasura-user-is-anonymous": "false",
	}}
}

// allowedRoles are the user's roles and the default role, which Nhost adds
// at the end when the user lacks it.
func (d *Door) allowedRoles(roles []string) []string {
	out := make([]string, 0, len(roles)+1)
	seen := false
	for _, r := range roles {
		seen = seen || r == d.cfg.DefaultRole
		out = append(out, r)
	}
	if !seen {
		out = append(out, d.cfg.DefaultRole)
	}
	return out
}

// route is one path of the door: its handlers by method.
// ServeHTTP dispatches the routes under the mount.
func (d *Door) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if d.env.CORS.Apply(w, r, corsRules) {
		return
	}
	path, _ := d.env.Route(r)
	rt, ok := d.routes[path]
	if !ok {
		writeError(w, newError(http.StatusNotFound, errNotFound, "No such route"))
		return
	}
	h, allow := rt.Handler(r.Method)
	if h == nil {
		w.Header().Set("Allow", allow)
		writeError(w, newError(http.StatusMethodNotAllowed, errMethodNotAllowed, "Method not allowed"))
		return
	}
	h(w, r)
}

// corsRules are what nhost-js sends and reads across origins: JSON and a
// bearer token, no cookies.
var corsRules = httpkit.CORSRules{
	Methods:       []string{"GET", "POST"},
	AllowHeaders:  []string{"authorization", "content-type"},
	ExposeHeaders: []string{"Retry-After"},
}

// readJSON reads a JSON body into dst. nhost-js sends JSON only; a form is
// refused, so that no page on another site can post to these routes.
func readJSON(w http.ResponseWriter, r *http.Request, dst any) *apiError {
	if err := httpkit.ReadJSON(w, r, dst); err != nil {
		return newError(err.Status, errInvalidRequest, err.Message)
	}
	return nil
}

// writeOK answers Nhost's success without a body: the JSON string "OK"
// (nhost-js parses every answer as JSON).
func writeOK(w http.ResponseWriter) { httpkit.WriteJSON(w, http.StatusOK, "OK") }

func (d *Door) serveHealth(w http.ResponseWriter, _ *http.Request) { writeOK(w) }

func (d *Door) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	body := d.env.Engine.JWKSFor(tokens.AlgES256)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(body)
}
