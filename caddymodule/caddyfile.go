package caddymodule

import (
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/redis/go-redis/v9"

	"github.com/passgate/caddy-passgate/verify"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("passgate", parseCaddyfile)
	// Where authentication belongs: after request rewriting, before
	// everything that answers or proxies.
	httpcaddyfile.RegisterDirectiveOrder("passgate", httpcaddyfile.Before, "basic_auth")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	p := new(Passgate)
	err := p.UnmarshalCaddyfile(h.Dispenser)
	return p, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	passgate {
//	    secret      <secret>                 # repeat to rotate: first signs, all verify
//	    store       memory [{ prefix <p> }]
//	    store       redis <url> [{ prefix <p>; timeout <duration> }]
//	    base_path   <path>
//	    email       log
//	    sms         log | webhook <url> { secret <s>; timeout <duration>; retries <n> }
//	    allow       email|phone <glob>...
//	    role        <name> email|phone <glob>...
//	    public      <path>...
//	    code        { length <n>; ttl <duration>; max_attempts <n> }
//	    session     { idle <duration>; lifetime <duration> }
//	    cookie      { name <name>; domain <domain>; insecure }
//	    headers     { user_id <name>; email <name>; phone <name>; roles <name> }
//	    page        { title <t>; logo <path-or-data-url>; color <css-colour>; template <file> }
//	}
//
// A header name of "" or `off` turns that header off. Errors name the
// Caddyfile line.
func (p *Passgate) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		var err error
		switch d.Val() {
		case "secret":
			var s string
			if s, err = oneArg(d); err == nil {
				err = checkLiteralSecret(d, s)
				p.Secrets = append(p.Secrets, s)
			}
		case "store":
			err = p.parseStore(d)
		case "base_path":
			var bp string
			if bp, err = oneArg(d); err == nil {
				if !strings.HasPrefix(bp, "/") || strings.ContainsAny(bp, "*?{} ") {
					return d.Errf("base_path %q: must be a plain path starting with /", bp)
				}
				p.BasePath = bp
			}
		case "email":
			var delivery string
			if delivery, err = oneArg(d); err == nil {
				if delivery != "log" {
					return d.Errf("email: unknown delivery %q (want log)", delivery)
				}
				p.Email = &DeliveryConfig{Delivery: delivery}
			}
		case "sms":
			err = p.parseSMS(d)
		case "page":
			err = p.parsePage(d)
		case "allow":
			var ch string
			var globs []string
			if ch, globs, err = channelGlobs(d); err == nil {
				if ch == verify.ChannelEmail {
					p.Allow.Email = append(p.Allow.Email, globs...)
				} else {
					p.Allow.Phone = append(p.Allow.Phone, globs...)
				}
			}
		case "role":
			if !d.NextArg() {
				return d.ArgErr()
			}
			rc := RoleConfig{Name: d.Val()}
			if rc.Name == "" || strings.ContainsAny(rc.Name, ", \t") {
				return d.Errf("role name %q: no commas or spaces", rc.Name)
			}
			var ch string
			var globs []string
			if ch, globs, err = channelGlobs(d); err == nil {
				if ch == verify.ChannelEmail {
					rc.Email = globs
				} else {
					rc.Phone = globs
				}
				p.Roles = append(p.Roles, rc)
			}
		case "public":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			p.Public = append(p.Public, args...)
		case "code":
			err = p.parseCode(d)
		case "session":
			err = p.parseSession(d)
		case "cookie":
			err = p.parseCookie(d)
		case "headers":
			err = p.parseHeaders(d)
		default:
			return d.Errf("unknown subdirective %q", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func oneArg(d *caddyfile.Dispenser) (string, error) {
	if !d.NextArg() {
		return "", d.ArgErr()
	}
	v := d.Val()
	if d.NextArg() {
		return "", d.ArgErr()
	}
	return v, nil
}

// checkLiteralSecret refuses a literal secret that is too short; one with
// placeholders is checked when they are replaced, at provision.
func checkLiteralSecret(d *caddyfile.Dispenser, s string) error {
	if strings.Contains(s, "{") {
		return nil
	}
	if len(s) < minSecretLen {
		return d.Errf("secret is %d bytes; at least %d are needed (use {env.PASSGATE_SECRET} or {file./path})", len(s), minSecretLen)
	}
	return nil
}

func channelGlobs(d *caddyfile.Dispenser) (string, []string, error) {
	if !d.NextArg() {
		return "", nil, d.ArgErr()
	}
	ch := d.Val()
	globs := d.RemainingArgs()
	if len(globs) == 0 {
		return "", nil, d.ArgErr()
	}
	for _, g := range globs {
		if _, err := verify.NewPattern(ch, g); err != nil {
			return "", nil, d.Errf("%v", err)
		}
	}
	return ch, globs, nil
}

func (p *Passgate) parseStore(d *caddyfile.Dispenser) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	p.Store.Backend = d.Val()
	switch p.Store.Backend {
	case "memory":
		if d.NextArg() {
			return d.ArgErr()
		}
	case "redis":
		if !d.NextArg() {
			return d.Errf("store redis: a URL is required (redis://host:6379/0)")
		}
		p.Store.URL = d.Val()
		if !strings.Contains(p.Store.URL, "{") {
			if _, err := redis.ParseURL(p.Store.URL); err != nil {
				return d.Errf("store redis: %v", err)
			}
		}
		if d.NextArg() {
			return d.ArgErr()
		}
	default:
		return d.Errf("unknown store %q (want memory or redis)", p.Store.Backend)
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "prefix":
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			p.Store.Prefix = v
		case "timeout":
			dur, err := durationArg(d)
			if err != nil {
				return err
			}
			p.Store.Timeout = dur
		default:
			return d.Errf("unknown store option %q", d.Val())
		}
	}
	return nil
}

func (p *Passgate) parseCode(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "length":
			n, err := intArg(d, "code length", verify.DefaultCodeLength, 10)
			if err != nil {
				return err
			}
			p.Code.Length = n
		case "ttl":
			dur, err := durationArg(d)
			if err != nil {
				return err
			}
			if dur > caddy.Duration(verify.DefaultCodeTTL) {
				return d.Errf("code ttl: at most %v", verify.DefaultCodeTTL)
			}
			p.Code.TTL = dur
		case "max_attempts":
			n, err := intArg(d, "code max_attempts", 1, verify.DefaultMaxAttempts)
			if err != nil {
				return err
			}
			p.Code.MaxAttempts = n
		default:
			return d.Errf("unknown code option %q", d.Val())
		}
	}
	return nil
}

func (p *Passgate) parseSession(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "idle":
			p.Session.Idle, err = durationArg(d)
		case "lifetime":
			p.Session.Lifetime, err = durationArg(d)
		default:
			return d.Errf("unknown session option %q", d.Val())
		}
		if err != nil {
			return err
		}
	}
	if p.Session.Idle != 0 && p.Session.Lifetime != 0 && p.Session.Idle > p.Session.Lifetime {
		return d.Errf("session idle is longer than its lifetime")
	}
	return nil
}

func (p *Passgate) parseCookie(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "name":
			p.Cookie.Name, err = oneArg(d)
			if err == nil && !validCookieName(p.Cookie.Name) {
				return d.Errf("cookie name %q: letters, digits, - and _ only", p.Cookie.Name)
			}
		case "domain":
			p.Cookie.Domain, err = oneArg(d)
		case "insecure":
			if d.NextArg() {
				return d.ArgErr()
			}
			p.Cookie.Insecure = true
		default:
			return d.Errf("unknown cookie option %q", d.Val())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (p *Passgate) parseHeaders(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var field **string
		switch d.Val() {
		case "user_id":
			field = &p.Headers.UserID
		case "email":
			field = &p.Headers.Email
		case "phone":
			field = &p.Headers.Phone
		case "roles":
			field = &p.Headers.Roles
		default:
			return d.Errf("unknown headers option %q", d.Val())
		}
		name, err := oneArg(d)
		if err != nil {
			return err
		}
		if name == "off" {
			name = ""
		}
		if name != "" && !validHeaderName(name) {
			return d.Errf("header name %q: letters, digits and - only", name)
		}
		*field = &name
	}
	return nil
}

func durationArg(d *caddyfile.Dispenser) (caddy.Duration, error) {
	v, err := oneArg(d)
	if err != nil {
		return 0, err
	}
	dur, err := caddy.ParseDuration(v)
	if err != nil {
		return 0, d.Errf("bad duration %q: %v", v, err)
	}
	if dur <= 0 {
		return 0, d.Errf("duration %q: must be above 0", v)
	}
	return caddy.Duration(dur), nil
}

func intArg(d *caddyfile.Dispenser, what string, lo, hi int) (int, error) {
	v, err := oneArg(d)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, d.Errf("%s %q: must be a number from %d to %d", what, v, lo, hi)
	}
	return n, nil
}

func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return s != ""
}

func validCookieName(s string) bool {
	return validHeaderName(strings.ReplaceAll(s, "_", "-"))
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Passgate)(nil)
