// Package config is passgate's configuration: the JSON the module is
// configured with, its Caddyfile syntax (one parser), and every rule a
// value must keep (Check), the same for a Caddyfile and for JSON.
package config

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/passgate/caddy-passgate/caddymodule/native"
	"github.com/passgate/caddy-passgate/verify"
	"github.com/passgate/caddy-passgate/verify/smtpmail"
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

// Config is the module's configuration (the JSON of
// http.handlers.passgate).
type Config struct {
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

	// Access rules: paths that only users with a role may open. A path
	// that a rule covers is never public.
	Require []RequireConfig `json:"require,omitempty"`

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

	// Backend clients: app servers that call a door's server-to-server
	// routes (OTPless, Logto's Management API) with an id and a secret.
	Clients []ClientConfig `json:"clients,omitempty"`
}

// ClientConfig is one backend client.
type ClientConfig struct {
	// ID names the client in its calls, events and rate limits: letters,
	// digits, '.', '_' and '-', at most 128.
	ID string `json:"id"`
	// Secret is what the client proves itself with: a placeholder
	// ({env.X}, {file.X}) whose value is at least 32 bytes. A literal
	// secret is refused, so it never sits in a config file.
	Secret string `json:"secret"`
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

// RequireConfig is one access rule: a signed-in user needs any one of
// Roles for a request path matching any of Paths. Where several rules
// cover a path, each must be met.
type RequireConfig struct {
	// Roles, any one of which opens the paths; each given by a `role`
	// line (RoleConfig).
	Roles []string `json:"roles"`
	// Paths in the syntax of Caddy's path matcher (`/admin`, `/admin/*`,
	// `*.pdf`), matched as it matches them: case-insensitive, on the
	// cleaned path the handler sees.
	Paths []string `json:"paths"`
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
	// Sign-in starts by one backend client (see Clients), in place of
	// starts_per_ip for its calls. Default: 600 per 10m.
	StartsPerClient *Rate `json:"starts_per_client,omitempty"`
	// Code checks by one backend client, in place of verifies_per_ip for
	// its calls. Default: 1200 per 10m.
	VerifiesPerClient *Rate `json:"verifies_per_client,omitempty"`
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

// Token defaults and bounds.
const (
	DefaultJWTIssuer   = "passgate"
	DefaultJWTAudience = "passgate"
	// MaxAccessTTL bounds access_ttl: an access token cannot be recalled
	// except through its session, so it should not outlive a short while.
	MaxAccessTTL = time.Hour
)

// JWTConfig sets up tokens for API clients: access tokens (JWT), rotating
// refresh tokens, the JWKS at {base_path}/jwks.json, and the upstream
// assertion header.
type JWTConfig struct {
	// Issuer is the iss claim. Default: passgate. Set it to the URL of the
	// sign-in site so verifiers can tell deployments apart.
	Issuer string `json:"issuer,omitempty"`
	// Audience is the aud claim of access tokens. Default: passgate.
	Audience string `json:"audience,omitempty"`
	// AccessTTL is the life of an access token, at most 1h. Default: 15m.
	AccessTTL caddy.Duration `json:"access_ttl,omitempty"`
	// Keys sign and verify tokens: the first signs, all verify and are
	// published. Without any, one Ed25519 key is derived from each secret
	// (HKDF), so every instance agrees without sharing files, and rotating
	// the secret rotates the key.
	Keys []JWTKey `json:"keys,omitempty"`
}

// JWTKey is a signing key in a PEM file.
type JWTKey struct {
	// ID is the kid that names the key in tokens and the JWKS.
	ID string `json:"id"`
	// PEM is a file path, or a placeholder ({file./path}, {env.X}) whose
	// value is PEM text: a PKCS #8 or SEC 1 private key (Ed25519 or ECDSA
	// P-256), or a public key, which then only verifies.
	PEM string `json:"pem"`
}

// SMTPConfig sends codes and magic links through an SMTP server.
type SMTPConfig struct {
	// Address of the server, host:port.
	Addr string `json:"addr"`
	// Sender address, "noreply@example.com" or "Name <noreply@example.com>".
	From string `json:"from"`
	// User name for AUTH PLAIN or LOGIN; placeholders are replaced.
	Username string `json:"username,omitempty"`
	// Password for AUTH; use a placeholder ({env.SMTP_PASSWORD},
	// {file./run/secrets/smtp}) rather than the literal.
	Password string `json:"password,omitempty"`
	// "implicit" (TLS from the start), "starttls" or "none" (a relay on
	// loopback only). Default: implicit on port 465, starttls otherwise.
	TLS string `json:"tls,omitempty"`
	// Subject line. Default: "Your sign-in code".
	Subject string `json:"subject,omitempty"`
	// Directory holding text.tmpl and/or html.tmpl to replace the
	// built-in message templates.
	Templates string `json:"templates,omitempty"`
	// Bound on the dial and on the whole conversation. Default: 15s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
}

// Resolve returns the smtpmail settings with placeholders replaced.
func (c *SMTPConfig) Resolve() (smtpmail.Config, error) {
	repl := caddy.NewReplacer()
	user, err := repl.ReplaceOrErr(c.Username, true, true)
	if err != nil {
		return smtpmail.Config{}, fmt.Errorf("username: %v", err)
	}
	pass, err := repl.ReplaceOrErr(c.Password, true, true)
	if err != nil {
		return smtpmail.Config{}, fmt.Errorf("password: %v", err)
	}
	return smtpmail.Config{
		Addr: c.Addr, From: c.From, Username: user, Password: pass, TLS: c.TLS,
		Subject: c.Subject, TemplatesDir: c.Templates, Timeout: time.Duration(c.Timeout),
	}, nil
}

// SMSConfig selects how codes are sent to phones.
type SMSConfig struct {
	// "log" (the code goes to Caddy's log; development only) or "webhook".
	Delivery string `json:"delivery"`
	// Endpoint the webhook delivery POSTs to (http or https).
	URL string `json:"url,omitempty"`
	// Shared secret that signs each webhook request; placeholders
	// ({env.X}, {file.X}) are replaced at provision. Required for webhook.
	Secret string `json:"secret,omitempty"`
	// Bound on one delivery, retries included. Default: 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// Tries after the first, on network errors and 5xx. Default: 2.
	Retries *int `json:"retries,omitempty"`
}

// Limits resolves the configuration against the defaults.
func (lc LimitsConfig) Limits() verify.Limits {
	l := verify.DefaultLimits
	if lc.ResendCooldown != 0 {
		l.ResendCooldown = time.Duration(lc.ResendCooldown)
	}
	if lc.SendsPerHour != 0 {
		l.SendsPerHour = lc.SendsPerHour
	}
	if lc.SendsPerHourPerAddress != 0 {
		l.SendsPerHourPerAddress = lc.SendsPerHourPerAddress
	}
	if lc.StartsPerIP != nil {
		l.StartsPerIP, l.StartsPerIPWindow = lc.StartsPerIP.Count, time.Duration(lc.StartsPerIP.Window)
	}
	if lc.VerifiesPerIP != nil {
		l.VerifiesPerIP, l.VerifiesPerIPWindow = lc.VerifiesPerIP.Count, time.Duration(lc.VerifiesPerIP.Window)
	}
	if lc.WrongCodesPerDay != 0 {
		l.WrongCodesPerDay = lc.WrongCodesPerDay
	}
	if lc.StartsPerClient != nil {
		l.StartsPerClient, l.StartsPerClientWindow = lc.StartsPerClient.Count, time.Duration(lc.StartsPerClient.Window)
	}
	if lc.VerifiesPerClient != nil {
		l.VerifiesPerClient, l.VerifiesPerClientWindow = lc.VerifiesPerClient.Count, time.Duration(lc.VerifiesPerClient.Window)
	}
	return l
}
