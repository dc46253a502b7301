// Package caddymodule is passgate's Caddy glue: the http.handlers.passgate
// module, its Caddyfile syntax, the sign-in routes and pages, and the
// session cookie. The sign-in logic lives in package verify and the state
// in package sessionstore; this package adapts them to HTTP.
package caddymodule

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/internal/boundedcache"
	"github.com/passgate/caddy-passgate/sessionstore"
	redisstore "github.com/passgate/caddy-passgate/sessionstore/redis"
	"github.com/passgate/caddy-passgate/verify"
	"github.com/passgate/caddy-passgate/verify/tokens"
)

func init() {
	caddy.RegisterModule(Passgate{})
}

// clockOffset shifts the clock the sign-in logic reads. It is always zero
// outside tests, which use it to let time pass (cooldowns, timeouts)
// without waiting.
var clockOffset atomic.Int64

func now() time.Time { return time.Now().Add(time.Duration(clockOffset.Load())) }

// devSecrets holds the random secret of each memory store prefix
// configured without a secret.
var devSecrets sync.Map

// Defaults for everything an operator may leave out.
const (
	DefaultBasePath        = "/auth"
	DefaultPrefix          = "passgate:"
	DefaultCookieName      = "passgate_session"
	DefaultSessionIdle     = 24 * time.Hour
	DefaultSessionLifetime = 720 * time.Hour
	DefaultHeaderUserID    = "X-Auth-User-Id"
	DefaultHeaderEmail     = "X-Auth-Email"
	DefaultHeaderPhone     = "X-Auth-Phone"
	DefaultHeaderRoles     = "X-Auth-Roles"
)

// Passgate puts passwordless sign-in in front of the handlers after it.
//
// Requests under BasePath are its own sign-in routes. Requests matching
// Public pass on as they are. Every other request needs a session (its
// cookie, or a bearer access token naming it): with one, the next handler runs with identity headers and the placeholders
// `{http.auth.user.id}`, `{http.auth.user.email}`, `{http.auth.user.phone}`
// and `{http.auth.user.roles}` set; without one, a browser is redirected to
// the sign-in page and anything else gets 401. Identity headers sent by the
// client are removed from every request, whatever route it takes.
type Passgate struct {
	// Secrets from which every key is derived, each at least 32 bytes once
	// placeholders ({env.X}, {file.X}) are replaced. The first signs; all
	// verify, so a secret can be rotated by adding a new one first. With
	// none, the memory store uses a random secret (sessions end at restart)
	// and the Redis store refuses to start.
	Secrets []string `json:"secrets,omitempty"`

	// Where state is kept. Default: memory.
	Store StoreConfig `json:"store,omitempty"`

	// Path prefix of the sign-in routes. Default: /auth.
	BasePath string `json:"base_path,omitempty"`

	// How codes are sent by email. Default: none (email sign-in off).
	Email *DeliveryConfig `json:"email,omitempty"`

	// Origins, besides this site, that redirect_to may point to:
	// "https://app.example.com", or "https://*.example.com" for every
	// subdomain. Anything else is replaced by "/".
	RedirectOrigins []string `json:"redirect_origins,omitempty"`

	// Origin of the magic links in messages ("https://auth.example.com").
	// Default: the scheme and host of the request that asked for the code.
	LinkOrigin string `json:"link_origin,omitempty"`
	// How codes are sent by SMS. Default: none (phone sign-in off).
	SMS *SMSConfig `json:"sms,omitempty"`

	// Look of the sign-in page.
	Page PageConfig `json:"page,omitzero"`

	// Who may sign in. Empty: nobody (a warning is logged at start).
	Allow AllowConfig `json:"allow,omitempty"`

	// Roles given to matching users, in order.
	Roles []RoleConfig `json:"roles,omitempty"`

	// Request paths that pass unauthenticated, in the syntax of Caddy's
	// path matcher (`/static/*`, `/health`).
	Public []string `json:"public,omitempty"`

	// One-time code settings.
	Code CodeConfig `json:"code,omitempty"`

	// Session timeouts.
	Session SessionConfig `json:"session,omitempty"`

	// Rate limits, kept in the store and so shared by every instance.
	Limits LimitsConfig `json:"limits,omitempty"`

	// Session cookie settings.
	Cookie CookieConfig `json:"cookie,omitempty"`

	// Names of the identity headers set upstream.
	Headers HeadersConfig `json:"headers,omitempty"`

	// Access tokens, refresh tokens and signing keys for API clients.
	JWT *JWTConfig `json:"jwt,omitempty"`

	logger       *zap.Logger
	auditLog     *zap.Logger
	storeKey     string
	store        sessionstore.Store
	verifier     *verify.Service
	sessions     *sessionstore.Sessions
	cookie       sessionCookie
	startCookie  startCookie
	public       caddyhttp.MatchPath
	stripHeaders map[string]struct{} // canonical names of identity headers
	names        identityHeaders
	pages        *pages
	redirects    redirectPolicy
	magicPages   *magicPages
	tokens       *tokens.Issuer
	decisions    *boundedcache.Cache[policyKey, policyDecision] // see applyPolicy

	refreshKey []byte // derives a refresh token's successor (see serveToken)
}

// StoreConfig selects the state backend.
type StoreConfig struct {
	// "memory" (default) or "redis".
	Backend string `json:"backend,omitempty"`
	// Mode of the redis backend: "" for one server at URL, "sentinel" for
	// a master found through the sentinels at Addrs, "cluster" for a Redis
	// Cluster reached through the nodes at Addrs.
	Mode string `json:"mode,omitempty"`
	// redis:// or rediss:// URL of the one server (mode "").
	URL string `json:"url,omitempty"`
	// The name the sentinels monitor the master under (mode "sentinel").
	Master string `json:"master,omitempty"`
	// host:port of the sentinels (mode "sentinel") or of some cluster nodes
	// (mode "cluster"; the others are learnt from them).
	Addrs []string `json:"addrs,omitempty"`
	// ACL user and password of the data servers (also possible in URL).
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// The sentinels' own password (their requirepass), mode "sentinel".
	SentinelPassword string `json:"sentinel_password,omitempty"`
	// TLS to every server (and sentinel). With a URL, rediss:// alone
	// turns it on with the system's CAs; this adds a CA, a server name or
	// a client certificate.
	TLS *StoreTLS `json:"tls,omitempty"`
	// Prefix of every key. Handlers with the same backend and prefix share
	// state. Default: passgate:
	Prefix string `json:"prefix,omitempty"`
	// Bound on each store operation; past it a request fails with 503.
	// Default: 2s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
}

// StoreTLS is how passgate speaks TLS to Redis.
type StoreTLS struct {
	// PEM file of the CA(s) that sign the servers' certificates; default
	// the system's.
	CA string `json:"ca,omitempty"`
	// The name every server's certificate must carry; default each
	// server's address (which is what a cluster, whose nodes are learnt,
	// needs).
	ServerName string `json:"server_name,omitempty"`
	// PEM files of a client certificate and its key, for servers that ask
	// for one (tls-auth-clients).
	ClientCert string `json:"client_cert,omitempty"`
	ClientKey  string `json:"client_key,omitempty"`
}

// DeliveryConfig selects how codes are sent over a channel.
type DeliveryConfig struct {
	// "log": write the code to Caddy's log (development only); "smtp":
	// send it by email through SMTP.
	Delivery string `json:"delivery"`
	// SMTP settings, for delivery "smtp".
	SMTP *SMTPConfig `json:"smtp,omitempty"`
}

// AllowConfig lists, per channel, the glob patterns of identifiers that
// may sign in (`*@example.com`).
type AllowConfig struct {
	Email []string `json:"email,omitempty"`
	Phone []string `json:"phone,omitempty"`
}

// RoleConfig gives the role Name to users matching any pattern.
type RoleConfig struct {
	Name  string   `json:"name"`
	Email []string `json:"email,omitempty"`
	Phone []string `json:"phone,omitempty"`
}

// CodeConfig sets one-time codes. Each may only be made safer than the
// default: longer, shorter-lived, fewer tries.
type CodeConfig struct {
	// Digits in a code, 6 (default) to 10.
	Length int `json:"length,omitempty"`
	// How long a code is valid, at most (and by default) 10m.
	TTL caddy.Duration `json:"ttl,omitempty"`
	// Wrong codes that burn an attempt, 1 to 5 (default).
	MaxAttempts int `json:"max_attempts,omitempty"`
}

// LimitsConfig sets rate limits; zero fields take the defaults of
// verify.DefaultLimits.
type LimitsConfig struct {
	// Least time between two codes to one address asked for from one
	// client network (IPv4 address or IPv6 /64); 10s to 24h.
	ResendCooldown caddy.Duration `json:"resend_cooldown,omitempty"`
	// Codes to one address asked for from one client network in any hour;
	// at least 1 and below SendsPerHourPerAddress. Default: 5.
	SendsPerHour int `json:"sends_per_hour,omitempty"`
	// Codes to one address in any hour from every network together; at
	// most 20. Default: 20.
	SendsPerHourPerAddress int `json:"sends_per_hour_per_address,omitempty"`
	// Sign-in starts from one client (IPv4 address or IPv6 /64).
	StartsPerIP *Rate `json:"starts_per_ip,omitempty"`
	// Code checks from one client.
	VerifiesPerIP *Rate `json:"verifies_per_ip,omitempty"`
	// Codes that may be wrong for one address in any 24 hours; at most
	// what keeps a guesser's chance within verify.MaxGuessChance.
	WrongCodesPerDay int `json:"wrong_codes_per_day,omitempty"`
}

// Rate is Count events per Window.
type Rate struct {
	Count  int            `json:"count"`
	Window caddy.Duration `json:"window"`
}

// SessionConfig sets session timeouts.
type SessionConfig struct {
	// A session unused this long ends. Default: 24h.
	Idle caddy.Duration `json:"idle,omitempty"`
	// A session ends this long after sign-in, however active. Default: 720h.
	Lifetime caddy.Duration `json:"lifetime,omitempty"`
}

// CookieConfig sets the session cookie.
type CookieConfig struct {
	// Cookie name. Default: passgate_session.
	Name string `json:"name,omitempty"`
	// Domain attribute; empty means this host only.
	Domain string `json:"domain,omitempty"`
	// Drop the Secure attribute, for plain-HTTP development. Never in
	// production: the cookie would travel in clear.
	Insecure bool `json:"insecure,omitempty"`
}

// HeadersConfig names the identity headers. A nil field means the default
// name; an empty string turns that header off.
type HeadersConfig struct {
	UserID *string `json:"user_id,omitempty"`
	Email  *string `json:"email,omitempty"`
	Phone  *string `json:"phone,omitempty"`
	Roles  *string `json:"roles,omitempty"`
	// Assertion names a header that carries a short-lived signed JWT of
	// the identity (see JWTConfig), for upstreams that verify rather than
	// trust. Empty (default): off.
	Assertion string `json:"assertion,omitempty"`
	// Strip names more headers to remove from every request, besides the
	// identity headers and the common aliases in defaultStrip.
	Strip []string `json:"strip,omitempty"`
	// PassCredentials passes passgate's own credentials on to the next
	// handler: its session cookie, and the Authorization header of a
	// request it accepted by bearer token. By default both are removed, so
	// an upstream (and its logs) never holds a live credential; set it for
	// an upstream that relays the access token to other services.
	PassCredentials bool `json:"pass_credentials,omitempty"`
}

func headerName(set *string, def string) string {
	if set == nil {
		return def
	}
	return http.CanonicalHeaderKey(*set)
}

// CaddyModule returns the Caddy module information.
func (Passgate) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.passgate",
		New: func() caddy.Module { return new(Passgate) },
	}
}

// Provision fills in defaults, derives keys and takes a reference to the
// store. It makes no network call, so `caddy validate` works offline.
func (p *Passgate) Provision(ctx caddy.Context) error {
	p.logger = ctx.Logger()
	p.auditLog = p.logger.Named("audit")
	p.setDefaults()

	keys, err := p.provisionSecrets()
	if err != nil {
		return err
	}

	policy, err := p.policy()
	if err != nil {
		return err
	}
	if len(policy.Allow) == 0 {
		p.logger.Warn("no 'allow' rule: nobody can sign in")
	}

	senders := map[string]verify.Sender{}
	if p.Email != nil {
		switch p.Email.Delivery {
		case "log":
			senders[verify.ChannelEmail] = verify.LogSender{Logger: p.logger.Named("delivery")}
			p.logger.Warn("email codes are written to the log ('email log'): for development only")
		case "smtp":
			s, err := p.smtpSender()
			if err != nil {
				return fmt.Errorf("email smtp: %v", err)
			}
			senders[verify.ChannelEmail] = s
		default:
			return fmt.Errorf("email: unknown delivery %q (want log or smtp)", p.Email.Delivery)
		}
	}
	if p.SMS != nil {
		if senders[verify.ChannelPhone], err = p.smsSender(); err != nil {
			return err
		}
	}

	p.public = caddyhttp.MatchPath(p.Public)
	if err := p.public.Provision(ctx); err != nil {
		return fmt.Errorf("public: %v", err)
	}

	p.names = p.Headers.resolve()
	p.stripHeaders = make(map[string]struct{})
	for _, name := range slices.Concat(defaultStrip, p.Headers.Strip, []string{
		DefaultHeaderUserID, DefaultHeaderEmail, DefaultHeaderPhone, DefaultHeaderRoles,
		p.names.userID, p.names.email, p.names.phone, p.names.roles, p.Headers.Assertion,
	}) {
		if name != "" {
			p.stripHeaders[http.CanonicalHeaderKey(name)] = struct{}{}
		}
	}

	if p.redirects, err = newRedirectPolicy(p.RedirectOrigins); err != nil {
		return err
	}
	if err := p.provisionLinks(); err != nil {
		return err
	}
	if p.pages, err = newPages(p.BasePath, p.Page, senders, p.Code.Length, time.Duration(p.Code.TTL)); err != nil {
		return err
	}
	p.pages.formAction = p.redirects.formActionSources()
	if err := p.provisionTokens(keys); err != nil {
		return err
	}

	// Last, so that an error above leaves nothing to release.
	// An unset {env.X} is an error here, not an empty URL that the Redis
	// client would refuse with a message naming nothing.
	if err = p.Store.replacePlaceholders(); err != nil {
		return err
	}
	p.store, p.storeKey, err = loadStore(p.Store)
	if err != nil {
		return fmt.Errorf("store: %v", err)
	}

	codeKeys := make([][]byte, len(keys))
	for i, k := range keys {
		codeKeys[i] = k.code
	}
	p.verifier = &verify.Service{
		Store:       p.store,
		Users:       p.store,
		Limiter:     p.store,
		Limits:      p.Limits.limits(),
		Policy:      policy,
		Senders:     senders,
		Keys:        codeKeys,
		CodeLength:  p.Code.Length,
		CodeTTL:     time.Duration(p.Code.TTL),
		MaxAttempts: p.Code.MaxAttempts,
		Now:         now,
		OnDelivery:  p.delivered,
	}
	p.decisions = boundedcache.New[policyKey, policyDecision](policyDecisionEntries, policyDecisionTTL, nil)
	idle := time.Duration(p.Session.Idle)
	p.sessions = &sessionstore.Sessions{
		Store:      p.store,
		Idle:       idle,
		Lifetime:   time.Duration(p.Session.Lifetime),
		TouchEvery: min(time.Minute, idle/10),
		Now:        now,
	}
	p.cookie = newSessionCookie(p.Cookie, time.Duration(p.Session.Lifetime), keys)
	p.startCookie = newStartCookie(p.BasePath, p.Cookie.Insecure, time.Duration(p.Code.TTL), keys)
	return nil
}

func (p *Passgate) setDefaults() {
	if p.Store.Backend == "" {
		p.Store.Backend = "memory"
	}
	if p.Store.Prefix == "" {
		p.Store.Prefix = DefaultPrefix
	}
	if p.Store.Timeout == 0 {
		p.Store.Timeout = caddy.Duration(redisstore.DefaultTimeout)
	}
	if p.BasePath == "" {
		p.BasePath = DefaultBasePath
	}
	p.BasePath = "/" + strings.Trim(p.BasePath, "/")
	if p.Code.Length == 0 {
		p.Code.Length = verify.DefaultCodeLength
	}
	if p.Code.TTL == 0 {
		p.Code.TTL = caddy.Duration(verify.DefaultCodeTTL)
	}
	if p.Code.MaxAttempts == 0 {
		p.Code.MaxAttempts = verify.DefaultMaxAttempts
	}
	if p.Session.Idle == 0 {
		p.Session.Idle = caddy.Duration(DefaultSessionIdle)
	}
	if p.Session.Lifetime == 0 {
		p.Session.Lifetime = caddy.Duration(DefaultSessionLifetime)
	}
	if p.Cookie.Name == "" {
		p.Cookie.Name = DefaultCookieName
	}
}

// provisionSecrets replaces placeholders in the secrets and derives keys.
func (p *Passgate) provisionSecrets() ([]keySet, error) {
	secrets := make([]string, 0, len(p.Secrets))
	repl := caddy.NewReplacer()
	for i, s := range p.Secrets {
		v, err := repl.ReplaceOrErr(s, true, true)
		if err != nil {
			return nil, fmt.Errorf("secret %d: %v", i+1, err)
		}
		secrets = append(secrets, v)
	}
	if len(secrets) == 0 {
		if p.Store.Backend != "memory" {
			return nil, errors.New("a secret is required with the " + p.Store.Backend +
				" store: add 'secret {env.PASSGATE_SECRET}' with at least 32 random bytes")
		}
		// One per store prefix for the life of the process, so that a
		// reload, which keeps the memory store, keeps sessions valid too.
		s, _ := devSecrets.LoadOrStore(p.Store.Prefix, rand.Text()+rand.Text())
		secrets = append(secrets, s.(string))
		p.logger.Warn("no secret configured: using a random one, so sessions end when Caddy exits")
	}
	keys := make([]keySet, len(secrets))
	for i, s := range secrets {
		k, err := deriveKeys(s)
		if err != nil {
			return nil, fmt.Errorf("secret %d: %v", i+1, err)
		}
		keys[i] = k
	}
	return keys, nil
}

func (p *Passgate) policy() (verify.Policy, error) {
	var pol verify.Policy
	var err error
	if pol.Allow, err = channelPatterns(p.Allow.Email, p.Allow.Phone); err != nil {
		return pol, fmt.Errorf("allow: %v", err)
	}
	for _, rc := range p.Roles {
		if !validRoleName(rc.Name) {
			return pol, fmt.Errorf("role: bad name %q (no commas or spaces)", rc.Name)
		}
		role := verify.Role{Name: rc.Name}
		if role.Patterns, err = channelPatterns(rc.Email, rc.Phone); err != nil {
			return pol, fmt.Errorf("role %s: %v", rc.Name, err)
		}
		pol.Roles = append(pol.Roles, role)
	}
	return pol, nil
}

// channelPatterns checks and compiles email and phone globs.
func channelPatterns(email, phone []string) ([]verify.Pattern, error) {
	var out []verify.Pattern
	for _, ch := range []struct {
		name  string
		globs []string
	}{{verify.ChannelEmail, email}, {verify.ChannelPhone, phone}} {
		for _, g := range ch.globs {
			pat, err := verify.NewPattern(ch.name, g)
			if err != nil {
				return nil, err
			}
			out = append(out, pat)
		}
	}
	return out, nil
}

// Validate checks that settings are within the security floor.
func (p *Passgate) Validate() error {
	if p.Code.Length < verify.DefaultCodeLength || p.Code.Length > 10 {
		return fmt.Errorf("code length %d: must be %d to 10", p.Code.Length, verify.DefaultCodeLength)
	}
	if ttl := time.Duration(p.Code.TTL); ttl <= 0 || ttl > verify.DefaultCodeTTL {
		return fmt.Errorf("code ttl %v: must be above 0 and at most %v", ttl, verify.DefaultCodeTTL)
	}
	if p.Code.MaxAttempts < 1 || p.Code.MaxAttempts > verify.DefaultMaxAttempts {
		return fmt.Errorf("code max_attempts %d: must be 1 to %d", p.Code.MaxAttempts, verify.DefaultMaxAttempts)
	}
	if p.Session.Idle <= 0 || p.Session.Lifetime <= 0 {
		return errors.New("session idle and lifetime must be above 0")
	}
	if p.Session.Idle > p.Session.Lifetime {
		return fmt.Errorf("session idle (%v) is longer than its lifetime (%v)",
			time.Duration(p.Session.Idle), time.Duration(p.Session.Lifetime))
	}
	if err := p.Limits.validate(p.Code); err != nil {
		return err
	}
	if !validBasePath(p.BasePath) {
		return fmt.Errorf("base_path %q: must be a path of one or more plain segments, like /auth", p.BasePath)
	}
	if err := p.Store.validate(); err != nil {
		return err
	}
	if err := p.JWT.validate(); err != nil {
		return err
	}
	names := p.Headers.resolve()
	for _, name := range slices.Concat([]string{names.userID, names.email, names.phone, names.roles, p.Headers.Assertion}, p.Headers.Strip) {
		if name != "" && !validHeaderName(name) {
			return fmt.Errorf("header name %q: letters, digits and - only, and not a header HTTP or sign-in needs", name)
		}
	}
	if !validCookieName(p.Cookie.Name) {
		return fmt.Errorf("cookie name %q: letters, digits, - and _ only", p.Cookie.Name)
	}
	return nil
}

// Cleanup releases the store. It copes with a Provision that failed
// before taking it. Deliveries still in flight keep the store until they
// end (each within its sender's timeout), so none is lost to a reload or a
// stop; they are waited for in the background, so a reload does not wait.
func (p *Passgate) Cleanup() error {
	if p.verifier == nil || p.verifier.InFlight() == 0 {
		return releaseStore(p.storeKey)
	}
	go func() {
		p.verifier.Wait()
		if err := releaseStore(p.storeKey); err != nil {
			p.logger.Error("releasing the store after the last deliveries", zap.Error(err))
		}
	}()
	return nil
}

// defaultStrip are identity headers other gateways and apps use (Apache's
// and oauth2-proxy's among them): an upstream may trust one of them, so no
// client may send it through passgate.
var defaultStrip = []string{
	"Remote-User", "X-Remote-User", "X-Forwarded-User", "X-Forwarded-Email",
	"X-Auth-Request-User", "X-Auth-Request-Email", "X-Webauth-User",
}

// identityHeaders are the resolved names of the identity headers, "" for
// one turned off; resolved once, not on every request.
type identityHeaders struct{ userID, email, phone, roles string }

func (h HeadersConfig) resolve() identityHeaders {
	return identityHeaders{
		userID: headerName(h.UserID, DefaultHeaderUserID),
		email:  headerName(h.Email, DefaultHeaderEmail),
		phone:  headerName(h.Phone, DefaultHeaderPhone),
		roles:  headerName(h.Roles, DefaultHeaderRoles),
	}
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Passgate)(nil)
	_ caddy.Validator             = (*Passgate)(nil)
	_ caddy.CleanerUpper          = (*Passgate)(nil)
	_ caddyhttp.MiddlewareHandler = (*Passgate)(nil)
)
