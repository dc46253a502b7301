// Package supabase is the Supabase compatibility front door (`compat
// supabase`): GoTrue's routes, bodies and errors as @supabase/supabase-js
// and @supabase/auth-js use them (docs/compat/supabase.md), over passgate's
// engine. Apps keep their client and point it at passgate; passgate's
// security floor stays (docs/compat.md lists where it differs from GoTrue).
package supabase

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/passgate/caddy-passgate/internal/clock"
	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify/tokens"
)

// DefaultMount is where supabase-js looks for Auth: `<its URL>/auth/v1`.
const DefaultMount = "/auth/v1"

// Bounds and default of AccessTTL. The clients refresh a token in its last
// 90 s (before a call) or 120 s (the auto-refresh tick), so a token must
// live well beyond; passgate's own tokens live at most an hour.
const (
	DefaultAccessTTL = time.Hour
	MinAccessTTL     = 5 * time.Minute
	MaxAccessTTL     = time.Hour
)

// Config is the door's part of the Caddyfile's `compat supabase` block.
type Config struct {
	// AnonKeys are the API keys (Supabase's anon and publishable keys) the
	// app's client is built with. When any is set, a request must send one
	// of them as `apikey` or gets GoTrue's gateway's 401, except the
	// emailed link (a browser opens it without one) and the JWKS. Use
	// placeholders ({env.X}) for them. Without any, no key is checked.
	AnonKeys []string `json:"anon_keys,omitempty"`
	// Issuer is the iss claim of the door's access tokens. Set it to
	// `https://<site>/auth/v1` for backends that check it as they would
	// Supabase's. Default: "passgate" followed by the mount.
	Issuer string `json:"issuer,omitempty"`
	// AccessTTL is the life of an access token (5m to 1h). Default: 1h,
	// GoTrue's.
	AccessTTL caddy.Duration `json:"access_ttl,omitempty"`
}

// Check checks the settings for a door on mount, before placeholders are
// replaced.
func (c Config) Check(mount string) error {
	if !strings.HasSuffix(mount, DefaultMount) {
		return fmt.Errorf("path %q must end in %s: supabase-js appends auth/v1 to the URL it is given", mount, DefaultMount)
	}
	if ttl := time.Duration(c.AccessTTL); ttl != 0 && (ttl < MinAccessTTL || ttl > MaxAccessTTL) {
		return fmt.Errorf("access_ttl %v: must be %v to %v (the clients refresh in a token's last 2 minutes)", ttl, MinAccessTTL, MaxAccessTTL)
	}
	for _, k := range c.AnonKeys {
		if strings.TrimSpace(k) == "" || strings.ContainsAny(k, " \t\r\n") {
			return errors.New("anon_key: a key is one word without spaces")
		}
	}
	if strings.ContainsAny(c.Issuer, " \t\r\n") {
		return fmt.Errorf("issuer %q: no spaces", c.Issuer)
	}
	return nil
}

// Door serves GoTrue's routes under its mount.
type Door struct {
	env      *httpkit.Env
	profile  string
	ttl      time.Duration
	anonKeys [][sha256.Size]byte
	// codeKeys seal the PKCE auth codes: the first seals, all open.
	codeKeys [][]byte
	now      func() time.Time
}

// New makes the door and registers its kind of access token. AnonKeys
// must have their placeholders replaced.
func New(env *httpkit.Env, cfg Config) (*Door, error) {
	if err := cfg.Check(env.Mount); err != nil {
		return nil, err
	}
	d := &Door{
		env:      env,
		profile:  "supabase " + env.Mount,
		ttl:      time.Duration(cfg.AccessTTL),
		codeKeys: env.Keys("supabase pkce auth code " + env.Mount),
		now:      clock.Now,
	}
	if d.ttl == 0 {
		d.ttl = DefaultAccessTTL
	}
	for _, k := range cfg.AnonKeys {
		if k == "" {
			return nil, errors.New("anon_key: a key is empty (an unset placeholder?)")
		}
		d.anonKeys = append(d.anonKeys, sha256.Sum256([]byte(k)))
	}
	issuer := cfg.Issuer
	if issuer == "" {
		issuer = "passgate" + env.Mount
	}
	err := env.Engine.RegisterTokenProfile(tokens.Profile{
		Name:     d.profile,
		Issuer:   issuer,
		Audience: audience,
		Alg:      tokens.AlgES256,
		TTL:      d.ttl,
		Claims:   profileClaims,
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// apiVersion is the X-Supabase-Api-Version of every answer: auth-js reads
// an error's `code` only from answers that carry it.
const apiVersion = "2024-01-01"

// corsRules: what supabase-js sends from a page on another origin, and the
// answer headers it reads. It sends no cookies.
var corsRules = httpkit.CORSRules{
	Methods:       []string{"GET", "POST", "PUT", "PATCH", "DELETE"},
	AllowHeaders:  []string{"apikey", "authorization", "content-type", "x-client-info", "x-supabase-api-version"},
	ExposeHeaders: []string{"X-Supabase-Api-Version", "X-Sb-Error-Code", "Retry-After"},
}

// ServeHTTP dispatches GoTrue's routes.
func (d *Door) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Supabase-Api-Version", apiVersion)
	if d.env.CORS.Apply(w, r, corsRules) {
		return
	}
	route, _ := d.env.Route(r)
	isGet := r.Method == http.MethodGet || r.Method == http.MethodHead
	isPost := r.Method == http.MethodPost
	// The emailed link and its page's form come from a browser that has
	// no key; the public keys are public.
	linkPage := route == "verify" && (isGet || isPost && isFormPost(r))
	if !linkPage && route != ".well-known/jwks.json" && !d.keyAllowed(w, r) {
		return
	}
	switch {
	case route == "otp" && isPost:
		d.serveOTP(w, r)
	case route == "verify" && isGet:
		d.serveLinkPage(w, r)
	case route == "verify" && isPost && linkPage:
		d.serveLinkContinue(w, r)
	case route == "verify" && isPost:
		d.serveVerify(w, r)
	case route == "token" && isPost:
		d.serveToken(w, r)
	case route == "user" && isGet:
		d.serveUser(w, r)
	case route == "logout" && isPost:
		d.serveLogout(w, r)
	case route == "resend" && isPost:
		d.serveResend(w, r)
	case route == "settings" && isGet:
		d.serveSettings(w, r)
	case route == "health" && isGet:
		writeJSON(w, http.StatusOK, map[string]any{"version": "passgate", "name": "GoTrue",
			"description": "GoTrue is a user registration and authentication API"})
	case route == ".well-known/jwks.json" && isGet:
		d.serveJWKS(w, r)
	default:
		if allow := allowed[route]; allow != "" {
			w.Header().Set("Allow", allow)
			writeError(w, newError(http.StatusMethodNotAllowed, "method_not_allowed", "Method not allowed"))
			return
		}
		writeError(w, newError(http.StatusNotFound, "not_found", "Not found"))
	}
}

// allowed are the methods of each route, for a 405's Allow.
var allowed = map[string]string{
	"otp": "POST", "verify": "GET, HEAD, POST", "token": "POST", "user": "GET, HEAD",
	"logout": "POST", "resend": "POST", "settings": "GET, HEAD", "health": "GET, HEAD",
	".well-known/jwks.json": "GET, HEAD",
}

func isFormPost(r *http.Request) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/x-www-form-urlencoded"
}

// keyAllowed checks the apikey header when anon keys are configured, and
// answers as Supabase's gateway does when it is missing or wrong.
func (d *Door) keyAllowed(w http.ResponseWriter, r *http.Request) bool {
	if len(d.anonKeys) == 0 {
		return true
	}
	given := r.Header.Values("apikey")
	if len(given) == 0 || given[0] == "" {
		writeError(w, newError(http.StatusUnauthorized, "no_authorization", "No API key found in request"))
		return false
	}
	// Hashes of equal length: the time taken says nothing of the keys.
	sum := sha256.Sum256([]byte(given[0]))
	ok := 0
	for _, k := range d.anonKeys {
		ok |= subtle.ConstantTimeCompare(sum[:], k[:])
	}
	if ok != 1 || len(given) > 1 {
		writeError(w, newError(http.StatusUnauthorized, "no_authorization", "Invalid authentication credentials"))
		return false
	}
	return true
}

func (d *Door) serveSettings(w http.ResponseWriter, _ *http.Request) {
	email := d.env.Engine.ChannelConfigured("email")
	phone := d.env.Engine.ChannelConfigured("phone")
	provider := ""
	if phone {
		provider = "passgate"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"external": map[string]bool{
			"anonymous_users": false, "apple": false, "azure": false, "bitbucket": false, "discord": false,
			"facebook": false, "figma": false, "fly": false, "github": false, "gitlab": false, "google": false,
			"keycloak": false, "kakao": false, "linkedin": false, "linkedin_oidc": false, "notion": false,
			"slack": false, "slack_oidc": false, "spotify": false, "twitch": false, "twitter": false,
			"workos": false, "zoom": false, "email": email, "phone": phone,
		},
		"disable_signup":     false,
		"mailer_autoconfirm": false,
		"phone_autoconfirm":  false,
		"sms_provider":       provider,
		"saml_enabled":       false,
		"passkeys_enabled":   false,
	})
}

// serveJWKS publishes the ES256 keys the door's tokens are signed with,
// which getClaims() verifies them against; for as long as GoTrue lets
// them be cached.
func (d *Door) serveJWKS(w http.ResponseWriter, r *http.Request) {
	body := d.env.Engine.JWKSFor(tokens.AlgES256)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "public, max-age=600")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
