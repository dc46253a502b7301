package config

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/passgate/caddy-passgate/caddymodule/native"
	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
	"github.com/passgate/caddy-passgate/verify/smtpmail"
	"github.com/passgate/caddy-passgate/verify/tokens"
	"github.com/passgate/caddy-passgate/verify/webhook"
)

// configError is a setting outside its rules. option names the setting the
// way the Caddyfile parser records where it was given ("code ttl",
// "limits sends_per_hour", "jwt key 1"), so the error can name its line.
type configError struct {
	option string
	msg    string
}

func (e *configError) Error() string { return e.msg }

func errAt(option, format string, args ...any) error {
	return &configError{option: option, msg: fmt.Sprintf(format, args...)}
}

// Check is every rule of the configuration, in one place: the Caddyfile
// parser runs it once the block is read, and the module's Validate for
// any config.
// Zero values stand for the defaults; values behind placeholders are
// checked when provision replaces them.
func (cfg *Config) Check() error {
	for i, s := range cfg.Secrets {
		if literal(s) {
			if err := CheckSecret(s); err != nil {
				return errAt("secret "+strconv.Itoa(i), "%v (use {env.PASSGATE_SECRET} or {file./path})", err)
			}
		}
	}
	if err := cfg.Store.validate(); err != nil {
		return err
	}
	if cfg.BasePath != "" && !httpkit.ValidPath(cfg.BasePath) {
		return errAt("base_path", "base_path %q: must be a path of one or more plain segments, like /auth", cfg.BasePath)
	}
	if err := cfg.checkDelivery(); err != nil {
		return err
	}
	for i, o := range cfg.RedirectOrigins {
		if _, err := httpkit.NewRedirectPolicy([]string{o}); err != nil {
			return errAt("redirect_origins "+strconv.Itoa(i), "%v", err)
		}
	}
	for i, o := range cfg.CORS {
		if _, err := httpkit.NewCORS([]string{o}); err != nil {
			return errAt("cors "+strconv.Itoa(i), "cors: %v", err)
		}
	}
	if err := cfg.checkCompat(); err != nil {
		return err
	}
	if err := cfg.checkClients(); err != nil {
		return err
	}
	if _, err := NormalizeLinkOrigin(cfg.LinkOrigin); err != nil {
		return errAt("link_origin", "%v", err)
	}
	for i, rc := range cfg.Roles {
		if rc.Name == "" || strings.ContainsAny(rc.Name, ", \t") {
			return errAt("role "+strconv.Itoa(i), "role name %q: no commas or spaces", rc.Name)
		}
	}
	if err := cfg.checkRequire(); err != nil {
		return err
	}
	floor := verify.Floor{
		CodeLength: cfg.Code.Length, CodeTTL: time.Duration(cfg.Code.TTL), MaxAttempts: cfg.Code.MaxAttempts,
		SessionIdle: time.Duration(cfg.Session.Idle), SessionLifetime: time.Duration(cfg.Session.Lifetime),
		Limits: cfg.Limits.Limits(),
	}
	var se *verify.SettingError
	if err := floor.Check(); errors.As(err, &se) {
		return errAt(se.Option, "%s", se.Msg)
	}
	if cfg.Cookie.Name != "" && !httpkit.ValidCookieName(cfg.Cookie.Name) {
		return errAt("cookie name", "cookie name %q: letters, digits, - and _ only", cfg.Cookie.Name)
	}
	if err := cfg.checkHeaders(); err != nil {
		return err
	}
	if err := cfg.JWT.validate(); err != nil {
		return err
	}
	return cfg.checkPage()
}

// minSecretLen is the shortest secret accepted: 256 bits.
const minSecretLen = 32

// CheckSecret is the rule of a secret, once its placeholders are replaced.
func CheckSecret(s string) error {
	if len(s) < minSecretLen {
		return fmt.Errorf("secret is %d bytes; at least %d are needed", len(s), minSecretLen)
	}
	return nil
}

func (cfg *Config) checkDelivery() error {
	if e := cfg.Email; e != nil {
		switch e.Delivery {
		case "log":
		case "smtp":
			if e.SMTP == nil {
				return errAt("email smtp", "email smtp: settings missing")
			}
			// What can be checked without placeholders or files, so a
			// mistake names its line.
			c := e.SMTP
			if (c.Username == "") != (c.Password == "") {
				return errAt("email smtp", "email smtp: username and password go together")
			}
			check := smtpmail.Config{Addr: c.Addr, From: c.From, TLS: c.TLS, Subject: c.Subject, Username: "u", Password: "p"}
			if err := check.Validate(); err != nil {
				return errAt("email smtp", "email smtp: %v", err)
			}
		default:
			return errAt("email", "email: unknown delivery %q (want log or smtp)", e.Delivery)
		}
	}
	if s := cfg.SMS; s != nil {
		switch s.Delivery {
		case "log":
		case "webhook":
			if literal(s.URL) {
				if err := webhook.CheckURL(s.URL); err != nil {
					return errAt("sms", "sms webhook: %v", err)
				}
			}
			if s.Secret == "" {
				return errAt("sms webhook", "sms webhook: a secret is required (secret {env.PASSGATE_SMS_SECRET})")
			}
			if literal(s.Secret) {
				if err := webhook.CheckSecret(s.Secret); err != nil {
					return errAt("sms webhook secret", "%v", err)
				}
			}
			if s.Retries != nil && (*s.Retries < 0 || *s.Retries > 10) {
				return errAt("sms webhook retries", "sms webhook retries %d: must be a number from 0 to 10", *s.Retries)
			}
		default:
			return errAt("sms", "sms: unknown delivery %q (want log or webhook)", s.Delivery)
		}
	}
	return nil
}

// NormalizeLinkOrigin checks a link_origin and returns it as
// scheme://host[:port]; "" stays "".
func NormalizeLinkOrigin(o string) (string, error) {
	if o == "" {
		return "", nil
	}
	scheme, hostport, err := httpkit.ParseOrigin(o)
	if err != nil {
		return "", fmt.Errorf("link_origin: %v", err)
	}
	if strings.Contains(hostport, "*") {
		return "", errors.New("link_origin: no wildcard (want https://host[:port])")
	}
	return scheme + "://" + hostport, nil
}

func (cfg *Config) checkHeaders() error {
	h := cfg.Headers
	for _, n := range []struct {
		option string
		name   *string
	}{{"user_id", h.UserID}, {"email", h.Email}, {"phone", h.Phone}, {"roles", h.Roles}, {"assertion", &h.Assertion}} {
		if n.name != nil && *n.name != "" && !httpkit.ValidHeaderName(*n.name) {
			return errAt("headers "+n.option, "header name %q: letters, digits and - only, and not a header HTTP or sign-in needs", *n.name)
		}
	}
	for _, n := range h.Strip {
		if !httpkit.ValidHeaderName(n) {
			return errAt("headers strip", "header name %q: letters, digits and - only, and not a header HTTP or sign-in needs", n)
		}
	}
	return nil
}

func (c *JWTConfig) validate() error {
	if c == nil {
		return nil
	}
	if ttl := time.Duration(c.AccessTTL); ttl < 0 || ttl > MaxAccessTTL {
		return errAt("jwt access_ttl", "jwt access_ttl %v: must be above 0 and at most %v", ttl, MaxAccessTTL)
	}
	seen := map[string]bool{}
	for i, k := range c.Keys {
		option := "jwt key " + strconv.Itoa(i)
		if !tokens.ValidKid(k.ID) {
			return errAt(option, "jwt key id %q: letters, digits, '.', '_' and '-' only", k.ID)
		}
		if seen[k.ID] {
			return errAt(option, "jwt key id %q is used twice", k.ID)
		}
		seen[k.ID] = true
	}
	return nil
}

func (cfg *Config) checkPage() error {
	pc := cfg.Page
	for _, c := range []struct {
		option, value string
		rule          func(string) error
	}{
		{"page title", pc.Title, native.CheckTitle},
		{"page logo", pc.Logo, native.CheckLogo},
		{"page color", pc.Color, native.CheckColour},
		{"page template", pc.Template, native.CheckTemplate},
	} {
		if c.value == "" {
			continue
		}
		if err := c.rule(c.value); err != nil {
			return errAt(c.option, "page %v", err)
		}
	}
	return nil
}

func (cfg *Config) checkCompat() error {
	mounts := map[string]bool{strings.TrimSuffix(cmp.Or(cfg.BasePath, DefaultBasePath), "/"): true}
	for i, c := range cfg.Compat {
		option := "compat " + strconv.Itoa(i)
		spec, ok := httpkit.LookupDoor(c.Service)
		if !ok {
			return errAt(option, "compat %q: unknown service (want %s)", c.Service, strings.Join(httpkit.DoorNames(), ", "))
		}
		mount := cmp.Or(c.Path, spec.Mount)
		if !httpkit.ValidPath(mount) {
			return errAt(option, "compat %s path %q: must be a path of one or more plain segments, like %s", c.Service, mount, spec.Mount)
		}
		mount = strings.TrimSuffix(mount, "/")
		if spec.Check != nil {
			if err := spec.Check(c.Options, mount); err != nil {
				return errAt(option, "compat %s: %v", c.Service, err)
			}
		}
		if mounts[mount] {
			return errAt(option, "compat %s: the path %s is already another door's", c.Service, mount)
		}
		mounts[mount] = true
	}
	return nil
}

// maxClientID bounds a backend client's id.
const maxClientID = 128

// ValidClientID reports whether id may name a backend client: letters,
// digits, '.', '_' and '-', as OAuth client ids and OTPless app ids are.
func ValidClientID(id string) bool {
	if id == "" || len(id) > maxClientID {
		return false
	}
	for _, c := range id {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func (cfg *Config) checkClients() error {
	seen := map[string]bool{}
	for i, c := range cfg.Clients {
		option := "client " + strconv.Itoa(i)
		switch {
		case !ValidClientID(c.ID):
			return errAt(option, "client id %q: 1 to %d letters, digits, '.', '_' or '-'", c.ID, maxClientID)
		case seen[c.ID]:
			return errAt(option, "client %s is configured twice", c.ID)
		case c.Secret == "":
			return errAt(option, "client %s: a secret is required (secret {env.CLIENT_SECRET})", c.ID)
		case literal(c.Secret):
			return errAt(option+" secret", "client %s: the secret must come from a placeholder, {env.X} or {file./path}, not sit in the config", c.ID)
		}
		seen[c.ID] = true
	}
	return nil
}

// checkRequire: every rule names roles that a role line gives (a typo
// would otherwise lock everyone out, silently) and fixed paths in the
// path matcher's syntax.
func (cfg *Config) checkRequire() error {
	for i, rc := range cfg.Require {
		option := "require " + strconv.Itoa(i)
		if len(rc.Roles) == 0 || len(rc.Paths) == 0 {
			return errAt(option, "require: want at least one role and one path")
		}
		for _, role := range rc.Roles {
			if !slices.ContainsFunc(cfg.Roles, func(r RoleConfig) bool { return r.Name == role }) {
				return errAt(option, "require: no role line gives the role %q", role)
			}
		}
		for _, p := range rc.Paths {
			if !strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "*") {
				return errAt(option, "require path %q: must start with / or *", p)
			}
			if strings.ContainsAny(p, "{}") {
				return errAt(option, "require path %q: no placeholders; a rule's paths are fixed", p)
			}
			if m := cfg.mountOf(p); m != "" {
				return errAt(option, "require path %q: %s is passgate's own (its routes are served before any rule)", p, m)
			}
		}
	}
	return nil
}

// ClientSecrets replaces the placeholders in the backend clients' secrets
// and checks each is at least 32 bytes: the id -> secret map that
// httpkit.NewBackends takes.
func (cfg *Config) ClientSecrets() (map[string]string, error) {
	out := make(map[string]string, len(cfg.Clients))
	repl := caddy.NewReplacer()
	for _, c := range cfg.Clients {
		s, err := repl.ReplaceOrErr(c.Secret, true, true)
		if err == nil && len(s) < minSecretLen {
			err = fmt.Errorf("the secret is %d bytes; at least %d are needed", len(s), minSecretLen)
		}
		if err != nil {
			return nil, fmt.Errorf("client %s: %v", c.ID, err)
		}
		out[c.ID] = s
	}
	return out, nil
}

// mountOf returns the base path or compat mount that the path pattern p
// names or lies under, or "".
func (cfg *Config) mountOf(p string) string {
	mounts := []string{cmp.Or(cfg.BasePath, DefaultBasePath)}
	for _, c := range cfg.Compat {
		if spec, ok := httpkit.LookupDoor(c.Service); ok {
			mounts = append(mounts, cmp.Or(c.Path, spec.Mount))
		}
	}
	p = strings.ToLower(p)
	for _, m := range mounts {
		m = strings.ToLower(strings.TrimSuffix(m, "/"))
		if p == m || strings.HasPrefix(p, m+"/") {
			return m
		}
	}
	return ""
}
