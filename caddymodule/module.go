// Package caddymodule is passgate's Caddy glue: the http.handlers.passgate
// module, its Caddyfile syntax, the sign-in routes and pages, and the
// session cookie. The sign-in logic lives in package verify and the state
// in package sessionstore; this package adapts them to HTTP.
package caddymodule

import (
	"encoding/json"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/caddymodule/native"
	"github.com/passgate/caddy-passgate/verify"
)

// Defaults for everything an operator may leave out.
const (
	DefaultBasePath     = "/auth"
	DefaultPrefix       = "passgate:"
	DefaultCookieName   = "passgate_session"
	DefaultHeaderUserID = "X-Auth-User-Id"
	DefaultHeaderEmail  = "X-Auth-Email"
	DefaultHeaderPhone  = "X-Auth-Phone"
	DefaultHeaderRoles  = "X-Auth-Roles"
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
	Page native.PageConfig `json:"page,omitzero"`

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

	// Origins (scheme://host[:port], exact) of browser apps that may call
	// the APIs, native and compatible, from another origin.
	CORS []string `json:"cors,omitempty"`

	// Compatibility front doors: the wire formats of hosted sign-in
	// services, each on a mount of its own.
	Compat []CompatConfig `json:"compat,omitempty"`

	logger       *zap.Logger
	storeKey     string
	engine       *verify.Engine
	cookie       sessionCookie
	public       caddyhttp.MatchPath
	stripHeaders map[string]struct{} // canonical names of identity headers
	names        identityHeaders
	doors        []mountedDoor            // longest mount first
	testSenders  map[string]verify.Sender // tests only: replace the configured deliveries
}

// CompatConfig is one compatibility front door.
type CompatConfig struct {
	// Service is the wire format: the name a door registered
	// (httpkit.RegisterDoor): supabase, nhost, wacht.
	Service string `json:"service"`
	// Path is the door's mount; default: the service's own.
	Path string `json:"path,omitempty"`
	// Options are the door's own settings, as its package documents them.
	Options json.RawMessage `json:"options,omitempty"`
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
	// Email globs, matched against the normalised address.
	Email []string `json:"email,omitempty"`
	// Phone globs, matched against the E.164 number (`+44*`).
	Phone []string `json:"phone,omitempty"`
}

// RoleConfig gives the role Name to users matching any pattern.
type RoleConfig struct {
	// Name of the role; no commas or spaces (it goes into X-Auth-Roles).
	Name string `json:"name"`
	// Email globs of the users who get it.
	Email []string `json:"email,omitempty"`
	// Phone globs of the users who get it.
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
	// Count is how many events the window holds, 1 or more.
	Count int `json:"count"`
	// Window is the span they are counted over, at most 24h.
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
	// UserID names the header with the user's id. Default: X-Auth-User-Id.
	UserID *string `json:"user_id,omitempty"`
	// Email names the header with the user's address. Default: X-Auth-Email.
	Email *string `json:"email,omitempty"`
	// Phone names the header with the user's number. Default: X-Auth-Phone.
	Phone *string `json:"phone,omitempty"`
	// Roles names the header with the user's roles, comma-separated.
	// Default: X-Auth-Roles.
	Roles *string `json:"roles,omitempty"`
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
