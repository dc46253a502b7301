package caddymodule

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/passgate/caddy-passgate/verify"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("passgate", parseCaddyfile)
	// Before request rewriting (method, rewrite, uri, try_files), so that
	// base_path and public paths are the paths clients send, and a
	// single-page app's try_files cannot swallow the sign-in routes; and
	// before everything that answers or proxies.
	httpcaddyfile.RegisterDirectiveOrder("passgate", httpcaddyfile.Before, "method")
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
//	    store       redis <url> | redis sentinel <master> <host:port>... | redis cluster <host:port>...
//	                [{ prefix <p>; timeout <duration>; username <u>; password <p>; sentinel_password <p>;
//	                   tls [{ ca <file>; server_name <name>; client_cert <cert file> <key file> }] }]
//	    base_path   <path>
//	    email       log
//	    email       smtp <host:port> [{ from <addr>; username <u>; password <p>; tls none|starttls|implicit; subject <s>; templates <dir>; timeout <d> }]
//	    redirect_origins <https://host[:port]|https://*.domain>...
//	    link_origin <https://host[:port]>
//	    sms         log | webhook <url> { secret <s>; timeout <duration>; retries <n> }
//	    allow       email|phone <glob>...
//	    role        <name> email|phone <glob>...
//	    public      <path>...
//	    code        { length <n>; ttl <duration>; max_attempts <n> }
//	    session     { idle <duration>; lifetime <duration> }
//	    limits      { resend_cooldown <d>; sends_per_hour <per network> [<per address>];
//	                  starts_per_ip <n> <window>; verifies_per_ip <n> <window>; wrong_codes_per_day <n> }
//	    cookie      { name <name>; domain <domain>; insecure }
//	    headers     { user_id <name>; email <name>; phone <name>; roles <name>; assertion <name>;
//	                  strip <name>...; pass_credentials }
//	    jwt         { issuer <iss>; audience <aud>; access_ttl <duration>; key <kid> <pem>... }
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
	// Checks that need the whole block (a later `code` changes what a
	// `limits` value may be), each reporting the line it is about.
	var whole []func() error
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
				if !validBasePath(bp) {
					return d.Errf("base_path %q: must be a path of one or more plain segments, like /auth", bp)
				}
				p.BasePath = bp
			}
		case "email":
			if !d.NextArg() {
				return d.ArgErr()
			}
			switch delivery := d.Val(); delivery {
			case "log":
				if d.NextArg() {
					return d.ArgErr()
				}
				p.Email = &DeliveryConfig{Delivery: delivery}
			case "smtp":
				var c *SMTPConfig
				if c, err = parseEmailSMTP(d); err == nil {
					p.Email = &DeliveryConfig{Delivery: delivery, SMTP: c}
				}
			default:
				return d.Errf("email: unknown delivery %q (want log or smtp)", delivery)
			}
		case "redirect_origins":
			err = p.parseRedirectOrigins(d)
		case "link_origin":
			err = p.parseLinkOrigin(d)
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
			if !validRoleName(rc.Name) {
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
		case "limits":
			var check func() error
			if check, err = p.parseLimits(d); check != nil {
				whole = append(whole, check)
			}
		case "cookie":
			err = p.parseCookie(d)
		case "headers":
			err = p.parseHeaders(d)
		case "jwt":
			err = p.parseJWT(d)
		default:
			return d.Errf("unknown subdirective %q", d.Val())
		}
		if err != nil {
			return err
		}
	}
	for _, check := range whole {
		if err := check(); err != nil {
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

// parseStore reads
//
//	store memory [{ prefix <p> }]
//	store redis <url> [{ ... }]
//	store redis sentinel <master> <host:port>... [{ ... }]
//	store redis cluster <host:port>... [{ ... }]
//
// with, for redis, prefix, timeout, username, password, sentinel_password
// and tls [{ ca <file>; server_name <name>; client_cert <cert> <key> }].
// The mode is said, never guessed from the number of addresses. The rules
// between settings are StoreConfig.validate's, reported at the line of the
// setting they are about.
func (p *Passgate) parseStore(d *caddyfile.Dispenser) error {
	at := map[string]caddyfile.Dispenser{"": *d}
	args := d.RemainingArgs()
	if len(args) == 0 {
		return d.ArgErr()
	}
	p.Store.Backend = args[0]
	switch p.Store.Backend {
	case "memory":
		if len(args) > 1 {
			return d.ArgErr()
		}
	case "redis":
		switch {
		case len(args) < 2:
			return d.Errf("store redis: a URL (redis://host:6379/0), or sentinel <master> <host:port>..., or cluster <host:port>...")
		case args[1] == "sentinel":
			if len(args) < 4 {
				return d.Errf("store redis sentinel: want <master name> <host:port>... (the sentinels)")
			}
			p.Store.Mode, p.Store.Master, p.Store.Addrs = "sentinel", args[2], args[3:]
		case args[1] == "cluster":
			if len(args) < 3 {
				return d.Errf("store redis cluster: want <host:port>... (some of the nodes)")
			}
			p.Store.Mode, p.Store.Addrs = "cluster", args[2:]
		default:
			if len(args) > 2 {
				return d.ArgErr()
			}
			p.Store.URL = args[1]
		}
	default:
		return d.Errf("unknown store %q (want memory or redis)", p.Store.Backend)
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		at[opt] = *d
		if p.Store.Backend != "redis" && opt != "prefix" {
			return d.Errf("store %s has no %s", p.Store.Backend, opt)
		}
		var err error
		switch opt {
		case "prefix":
			p.Store.Prefix, err = oneArg(d)
		case "timeout":
			p.Store.Timeout, err = durationArg(d)
		case "username":
			p.Store.Username, err = oneArg(d)
		case "password":
			p.Store.Password, err = oneArg(d)
		case "sentinel_password":
			p.Store.SentinelPassword, err = oneArg(d)
		case "tls":
			p.Store.TLS, err = parseStoreTLS(d)
		default:
			return d.Errf("unknown store option %q", opt)
		}
		if err != nil {
			return err
		}
	}
	if err := p.Store.validate(); err != nil {
		var se *storeError
		if errors.As(err, &se) {
			if line, ok := at[se.opt]; ok {
				return line.WrapErr(err)
			}
		}
		line := at[""]
		return line.WrapErr(err)
	}
	return nil
}

func parseStoreTLS(d *caddyfile.Dispenser) (*StoreTLS, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	t := &StoreTLS{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "ca":
			t.CA, err = oneArg(d)
		case "server_name":
			t.ServerName, err = oneArg(d)
		case "client_cert":
			if args := d.RemainingArgs(); len(args) == 2 {
				t.ClientCert, t.ClientKey = args[0], args[1]
			} else {
				err = d.Errf("client_cert: want <certificate file> <key file>")
			}
		default:
			return nil, d.Errf("unknown store tls option %q", d.Val())
		}
		if err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (p *Passgate) parseCode(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		var err error
		switch d.Val() {
		case "length":
			p.Code.Length, err = intArg(d, "code length", verify.DefaultCodeLength, 10)
		case "ttl":
			p.Code.TTL, err = durationArg(d)
			if err == nil && p.Code.TTL > caddy.Duration(verify.DefaultCodeTTL) {
				return d.Errf("code ttl: at most %v", verify.DefaultCodeTTL)
			}
		case "max_attempts":
			p.Code.MaxAttempts, err = intArg(d, "code max_attempts", 1, verify.DefaultMaxAttempts)
		default:
			return d.Errf("unknown code option %q", d.Val())
		}
		if err != nil {
			return err
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
	idle, lifetime := p.Session.Idle, p.Session.Lifetime
	if idle == 0 {
		idle = caddy.Duration(DefaultSessionIdle)
	}
	if lifetime == 0 {
		lifetime = caddy.Duration(DefaultSessionLifetime)
	}
	if idle > lifetime {
		return d.Errf("session idle (%v) is longer than its lifetime (%v)", time.Duration(idle), time.Duration(lifetime))
	}
	return nil
}

// parseLimits parses the limits block and returns the check of its
// values (LimitsConfig.validate), to run once the code settings are known;
// an error it finds is reported at the line of the option it is about.
func (p *Passgate) parseLimits(d *caddyfile.Dispenser) (wholeBlockCheck func() error, err error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	rate := func() (*Rate, error) {
		args := d.RemainingArgs()
		if len(args) != 2 {
			return nil, d.Errf("%s: want <count> <window>, like 60 10m", d.Val())
		}
		n, err := strconv.Atoi(args[0])
		if err != nil || n < 1 {
			return nil, d.Errf("%s count %q: a number of 1 or more", d.Val(), args[0])
		}
		w, err := caddy.ParseDuration(args[1])
		if err != nil || w <= 0 || w > maxLimitWindow {
			return nil, d.Errf("%s window %q: a duration above 0, at most %v", d.Val(), args[1], maxLimitWindow)
		}
		return &Rate{Count: n, Window: caddy.Duration(w)}, nil
	}
	block := *d // the line to report an error about no one option at
	lines := map[string]caddyfile.Dispenser{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		lines[d.Val()] = *d
		var err error
		switch d.Val() {
		case "resend_cooldown":
			p.Limits.ResendCooldown, err = durationArg(d)
			if cd := time.Duration(p.Limits.ResendCooldown); err == nil && (cd < minResendCooldown || cd > maxLimitWindow) {
				return nil, d.Errf("resend_cooldown: %v to %v", minResendCooldown, maxLimitWindow)
			}
		case "sends_per_hour":
			// <per address and network> [<per address>]; their bounds
			// depend on each other, so validate checks them. A 0 would
			// read as "the default" in JSON: refused here.
			args := d.RemainingArgs()
			counts := make([]int, len(args))
			ok := len(args) == 1 || len(args) == 2
			for i, a := range args {
				counts[i], err = strconv.Atoi(a)
				ok = ok && err == nil && counts[i] >= 1
			}
			if !ok {
				return nil, d.Errf("sends_per_hour: want <per network> [<per address>], numbers of 1 or more, like 5 20")
			}
			p.Limits.SendsPerHour = counts[0]
			if len(counts) == 2 {
				p.Limits.SendsPerHourPerAddress = counts[1]
			}
		case "starts_per_ip":
			p.Limits.StartsPerIP, err = rate()
		case "verifies_per_ip":
			p.Limits.VerifiesPerIP, err = rate()
		case "wrong_codes_per_day":
			p.Limits.WrongCodesPerDay, err = intArg(d, "wrong_codes_per_day", 1, math.MaxInt32)
		default:
			return nil, d.Errf("unknown limits option %q", d.Val())
		}
		if err != nil {
			return nil, err
		}
	}
	return func() error {
		code := p.Code
		if code.Length == 0 {
			code.Length = verify.DefaultCodeLength
		}
		if code.MaxAttempts == 0 {
			code.MaxAttempts = verify.DefaultMaxAttempts
		}
		verr := p.Limits.validate(code)
		if verr == nil {
			return nil
		}
		at := block
		var le *limitError
		if errors.As(verr, &le) {
			if l, ok := lines[le.option]; ok {
				at = l
			}
		}
		return at.Errf("%v", verr)
	}, nil
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
		var set func(name string)
		switch d.Val() {
		case "user_id":
			set = func(n string) { p.Headers.UserID = &n }
		case "email":
			set = func(n string) { p.Headers.Email = &n }
		case "phone":
			set = func(n string) { p.Headers.Phone = &n }
		case "roles":
			set = func(n string) { p.Headers.Roles = &n }
		case "assertion":
			set = func(n string) { p.Headers.Assertion = n }
		case "pass_credentials":
			if d.NextArg() {
				return d.ArgErr()
			}
			p.Headers.PassCredentials = true
			continue
		case "strip":
			names := d.RemainingArgs()
			if len(names) == 0 {
				return d.ArgErr()
			}
			for _, n := range names {
				if !validHeaderName(n) {
					return d.Errf("header name %q: letters, digits and - only, and not a header HTTP or sign-in needs", n)
				}
			}
			p.Headers.Strip = append(p.Headers.Strip, names...)
			continue
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
			return d.Errf("header name %q: letters, digits and - only, and not a header HTTP or sign-in needs", name)
		}
		set(name)
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

func validBasePath(bp string) bool {
	bp = strings.TrimSuffix(bp, "/")
	if !strings.HasPrefix(bp, "/") || len(bp) < 2 {
		return false
	}
	for _, seg := range strings.Split(bp[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		for i := 0; i < len(seg); i++ {
			c := seg[i]
			if !(c == '-' || c == '_' || c == '.' || c == '~' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
				return false
			}
		}
	}
	return true
}

// reservedHeaders may not be identity headers: stripping them from every
// request would break the protocol or sign-in itself.
var reservedHeaders = map[string]bool{
	"Authorization": true, "Connection": true, "Content-Length": true, "Content-Type": true,
	"Cookie": true, "Host": true, "Keep-Alive": true, "Proxy-Authorization": true, "Proxy-Connection": true,
	"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true, "Origin": true,
	"Accept": true, "Sec-Fetch-Site": true, "X-Forwarded-For": true, "X-Forwarded-Proto": true,
	"X-Forwarded-Host": true, "Forwarded": true,
}

func validHeaderName(s string) bool {
	if reservedHeaders[http.CanonicalHeaderKey(s)] {
		return false
	}
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

// validRoleName refuses names that would break the comma-separated
// X-Auth-Roles header.
func validRoleName(name string) bool {
	return name != "" && !strings.ContainsAny(name, ", \t")
}
