// Package logto is the Logto front door (`compat logto`): the Experience
// API sign-in sequence that a custom sign-in page ("bring your own UI")
// makes with verification codes, ending in a passgate session, and the
// Management API's verification-code pair that backend clients call with
// a client-credentials token; with Logto's bodies and error codes, over
// passgate's engine.
// docs/logto.md describes it and where it differs from Logto.
package logto

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/passgate/caddy-passgate/internal/httpkit"
)

// Defaults.
const (
	// DefaultMount is where the door answers unless told otherwise.
	DefaultMount = "/logto"
	// DefaultSignInPage is where a sign-in started at the door's
	// /sign-in sends the browser: Logto's own sign-in page path.
	DefaultSignInPage = "/sign-in"
)

// Config is the door's settings (`compat logto [<path>] { ... }`).
type Config struct {
	// SignInPage is the path of the custom sign-in page on this site,
	// where GET <mount>/sign-in sends the browser once it has started the
	// interaction. Default: "/sign-in".
	SignInPage string `json:"sign_in_page,omitempty"`
	// Resource is the API indicator a backend asks a Management API token
	// for (`resource`), and the token's aud. Default:
	// "https://default.logto.app/api", Logto OSS's.
	Resource string `json:"resource,omitempty"`
	// Issuer is the iss of the Management API tokens; it must differ from
	// passgate's own issuer and from every other door's. Default:
	// "passgate" + the path + "/oidc" ("passgate/logto/oidc").
	Issuer string `json:"issuer,omitempty"`
}

func (c Config) withDefaults(mount string) Config {
	if c.SignInPage == "" {
		c.SignInPage = DefaultSignInPage
	}
	if c.Resource == "" {
		c.Resource = DefaultResource
	}
	if c.Issuer == "" {
		c.Issuer = "passgate" + mount + "/oidc"
	}
	return c
}

// Check checks the settings.
func (c Config) Check() error {
	c = c.withDefaults("")
	if httpkit.SafeRedirect(c.SignInPage) != c.SignInPage {
		return fmt.Errorf("sign_in_page %q: a path on this site, such as /sign-in", c.SignInPage)
	}
	if u, err := url.Parse(c.Resource); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || u.Fragment != "" || strings.ContainsAny(c.Resource, " \t\n") {
		return fmt.Errorf("resource %q: an absolute URL, such as %s", c.Resource, DefaultResource)
	}
	if strings.TrimSpace(c.Issuer) != c.Issuer || len(c.Issuer) > 256 {
		return fmt.Errorf("issuer %q: no surrounding spaces, at most 256 characters", c.Issuer)
	}
	return nil
}

// Door serves Logto's routes under its mount.
type Door struct {
	env         *httpkit.Env
	cfg         Config
	interaction interactionCookie
	// m2mProfile names the door's Management API tokens.
	m2mProfile string
}

// New makes the door.
func New(env *httpkit.Env, cfg Config) (*Door, error) {
	cfg = cfg.withDefaults(env.Mount)
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	// An interaction outlives its codes a little, so that a code typed at
	// the last moment can still be submitted.
	ttl := env.Engine.CodeTTL() + 5*time.Minute
	d := &Door{
		env:        env,
		cfg:        cfg,
		m2mProfile: "logto m2m " + env.Mount,
		interaction: newInteractionCookie(env.Mount, env.Insecure, ttl,
			env.Keys("logto interaction hash "+env.Mount), env.Keys("logto interaction block "+env.Mount)),
	}
	if err := d.registerM2M(); err != nil {
		return nil, fmt.Errorf("%v (a second compat logto needs an issuer of its own)", err)
	}
	return d, nil
}

// route is one path of the door: its handlers by method.
type route struct {
	get, post, put func(http.ResponseWriter, *http.Request)
}

func (d *Door) routes(path string) (route, bool) {
	switch path {
	case "sign-in":
		return route{get: d.serveSignIn}, true
	case "api/experience":
		return route{put: d.serveInit}, true
	case "api/experience/interaction-event":
		return route{put: d.serveEvent}, true
	case "api/experience/verification/verification-code":
		return route{post: d.serveSendCode}, true
	case "api/experience/verification/verification-code/verify":
		return route{post: d.serveVerifyCode}, true
	case "api/experience/identification":
		return route{post: d.serveIdentify}, true
	case "api/experience/submit":
		return route{post: d.serveSubmit}, true
	case "oidc/token":
		return route{post: d.serveToken}, true
	case "oidc/jwks":
		return route{get: d.serveJWKS}, true
	case "api/verification-codes":
		return route{post: d.serveSendCodeM2M}, true
	case "api/verification-codes/verify":
		return route{post: d.serveVerifyCodeM2M}, true
	}
	return route{}, false
}

// ServeHTTP dispatches the routes under the mount.
func (d *Door) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if d.env.CORS.Apply(w, r, corsRules) {
		return
	}
	path, _ := d.env.Route(r)
	rt, ok := d.routes(path)
	switch {
	case !ok:
		writeError(w, newError(http.StatusNotFound, codeNotFound, "No such route."))
	case rt.get != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		rt.get(w, r)
	case rt.post != nil && r.Method == http.MethodPost:
		rt.post(w, r)
	case rt.put != nil && r.Method == http.MethodPut:
		rt.put(w, r)
	default:
		var allow []string
		if rt.get != nil {
			allow = append(allow, "GET", "HEAD")
		}
		if rt.post != nil {
			allow = append(allow, "POST")
		}
		if rt.put != nil {
			allow = append(allow, "PUT")
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, newError(http.StatusMethodNotAllowed, codeMethodNotAllowed, "Method not allowed."))
	}
}

// corsRules: the Experience API is same-origin with its page, so nothing
// of it is allowed across origins beyond what the operator's `cors`
// names; backends call the Management API with a bearer token and JSON.
var corsRules = httpkit.CORSRules{
	Methods:       []string{"GET", "POST", "PUT"},
	AllowHeaders:  []string{"authorization", "content-type"},
	ExposeHeaders: []string{"Retry-After"},
}

// readJSON reads a JSON body into dst; Logto's routes take JSON only, so a
// form (which any page may post across sites) is refused.
func readJSON(w http.ResponseWriter, r *http.Request, dst any) *apiError {
	if err := httpkit.ReadJSON(w, r, dst); err != nil {
		return newError(err.Status, codeInvalidInput, err.Message)
	}
	return nil
}

// writeNoContent answers 204, never cached.
func writeNoContent(w http.ResponseWriter, status int) {
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
}
