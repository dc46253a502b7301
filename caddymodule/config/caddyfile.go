package config

import (
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/verify"
)

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax
// (each subdirective of a block on its own line):
//
//	passgate {
//	    secret           <secret>              # repeat to rotate: first signs, all verify
//	    store            memory | redis <url> | redis sentinel <master> <host:port>... | redis cluster <host:port>... {
//	        prefix            <p>
//	        timeout           <duration>       # redis only, as all below
//	        username          <u>
//	        password          <p>
//	        sentinel_password <p>              # sentinel only
//	        tls {
//	            ca          <file>
//	            server_name <name>
//	            client_cert <cert file> <key file>
//	        }
//	    }
//	    base_path        <path>
//	    email            log | smtp <host:port> {
//	        from      <addr>
//	        username  <u>
//	        password  <p>
//	        tls       none | starttls | implicit
//	        subject   <s>
//	        templates <dir>
//	        timeout   <duration>
//	    }
//	    sms              log | webhook <url> {
//	        secret  <s>
//	        timeout <duration>
//	        retries <n>
//	    }
//	    redirect_origins <https://host[:port] | https://*.domain>...
//	    link_origin      <https://host[:port]>
//	    cors             <https://host[:port]>...   # browser apps on other origins
//	    compat           supabase | nhost | wacht | logto | otpless [<path>] { ... }   # repeatable
//	    allow            email | phone <glob>...
//	    role             <name> email | phone <glob>...
//	    public           <path>...
//	    code {
//	        length       <n>
//	        ttl          <duration>
//	        max_attempts <n>
//	    }
//	    session {
//	        idle     <duration>
//	        lifetime <duration>
//	    }
//	    limits {
//	        resend_cooldown     <duration>
//	        sends_per_hour      <per network> [<per address>]
//	        starts_per_ip       <n> <window>
//	        verifies_per_ip     <n> <window>
//	        wrong_codes_per_day <n>
//	        starts_per_client   <n> <window>   # per backend client
//	        verifies_per_client <n> <window>
//	    }
//	    client <id> {                          # a backend client; repeatable
//	        secret <placeholder>               # {env.X} or {file.X}, >= 32 bytes
//	    }
//	    cookie {
//	        name     <name>
//	        domain   <domain>
//	        insecure
//	    }
//	    headers {
//	        user_id   <name>                   # "" or off turns a header off
//	        email     <name>
//	        phone     <name>
//	        roles     <name>
//	        assertion <name>
//	        strip     <name>...
//	        pass_credentials
//	    }
//	    jwt {
//	        issuer     <iss>
//	        audience   <aud>
//	        access_ttl <duration>
//	        key        <kid> <pem file or placeholder>   # repeat to rotate: first signs
//	    }
//	    require <role>... <path>...
//	    require <role>... {
//	        path <path>...
//	    }
//	    page {
//	        title    <t>
//	        logo     <path or data: URL>
//	        color    <css colour>
//	        template <file>
//	    }
//	}
//
// The parser reads the syntax; the rules every value must keep are
// Check's (validate.go), the same for a Caddyfile and for JSON. Either
// kind of error names its Caddyfile line.
func (cfg *Config) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	// Where each setting was given, for check's errors.
	lines := map[string]caddyfile.Dispenser{}
	at := func(option string) { lines[option] = *d }
	for d.NextBlock(0) {
		var err error
		switch d.Val() {
		case "secret":
			at("secret " + strconv.Itoa(len(cfg.Secrets)))
			var s string
			if s, err = oneArg(d); err == nil {
				cfg.Secrets = append(cfg.Secrets, s)
			}
		case "store":
			at("store")
			err = cfg.parseStore(d, at)
		case "base_path":
			at("base_path")
			cfg.BasePath, err = oneArg(d)
		case "email":
			err = cfg.parseEmail(d, at)
		case "sms":
			err = cfg.parseSMS(d, at)
		case "redirect_origins":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			for range args {
				at("redirect_origins " + strconv.Itoa(len(cfg.RedirectOrigins)))
				cfg.RedirectOrigins = append(cfg.RedirectOrigins, "")
			}
			copy(cfg.RedirectOrigins[len(cfg.RedirectOrigins)-len(args):], args)
		case "cors":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			for range args {
				at("cors " + strconv.Itoa(len(cfg.CORS)))
				cfg.CORS = append(cfg.CORS, "")
			}
			copy(cfg.CORS[len(cfg.CORS)-len(args):], args)
		case "compat":
			err = cfg.parseCompat(d, at)
		case "link_origin":
			at("link_origin")
			cfg.LinkOrigin, err = oneArg(d)
		case "allow":
			var ch string
			var globs []string
			if ch, globs, err = channelGlobs(d); err == nil {
				if ch == verify.ChannelEmail {
					cfg.Allow.Email = append(cfg.Allow.Email, globs...)
				} else {
					cfg.Allow.Phone = append(cfg.Allow.Phone, globs...)
				}
			}
		case "role":
			if !d.NextArg() {
				return d.ArgErr()
			}
			at("role " + strconv.Itoa(len(cfg.Roles)))
			rc := RoleConfig{Name: d.Val()}
			var ch string
			var globs []string
			if ch, globs, err = channelGlobs(d); err == nil {
				if ch == verify.ChannelEmail {
					rc.Email = globs
				} else {
					rc.Phone = globs
				}
				cfg.Roles = append(cfg.Roles, rc)
			}
		case "public":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			cfg.Public = append(cfg.Public, args...)
		case "require":
			err = cfg.parseRequire(d, at)
		case "code":
			err = block(d, "code", at, map[string]func() error{
				"length":       func() (err error) { cfg.Code.Length, err = intArg(d); return },
				"ttl":          func() (err error) { cfg.Code.TTL, err = durationArg(d); return },
				"max_attempts": func() (err error) { cfg.Code.MaxAttempts, err = intArg(d); return },
			})
		case "session":
			err = block(d, "session", at, map[string]func() error{
				"idle":     func() (err error) { cfg.Session.Idle, err = durationArg(d); return },
				"lifetime": func() (err error) { cfg.Session.Lifetime, err = durationArg(d); return },
			})
		case "limits":
			err = cfg.parseLimits(d, at)
		case "cookie":
			err = block(d, "cookie", at, map[string]func() error{
				"name":     func() (err error) { cfg.Cookie.Name, err = oneArg(d); return },
				"domain":   func() (err error) { cfg.Cookie.Domain, err = oneArg(d); return },
				"insecure": func() error { cfg.Cookie.Insecure = true; return noArgs(d) },
			})
		case "headers":
			err = cfg.parseHeaders(d, at)
		case "jwt":
			err = cfg.parseJWT(d, at)
		case "page":
			err = cfg.parsePage(d, at)
		case "client":
			err = cfg.parseClient(d, at)
		default:
			return d.Errf("unknown subdirective %q", d.Val())
		}
		if err != nil {
			return err
		}
	}
	if err := cfg.Check(); err != nil {
		if ce, ok := err.(*configError); ok {
			if line, ok := lines[ce.option]; ok {
				return line.Errf("%v", ce)
			}
		}
		return d.Errf("%v", err)
	}
	return nil
}

// block reads the options of a subdirective's block, each with its own
// reader, recording where each was given (as "<name> <option>") and where
// the block ends (as name), for checks of the whole block.
func block(d *caddyfile.Dispenser, name string, at func(string), readers map[string]func() error) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		read, ok := readers[d.Val()]
		if !ok {
			return d.Errf("unknown %s option %q", name, d.Val())
		}
		at(name + " " + d.Val())
		if err := read(); err != nil {
			return err
		}
	}
	at(name)
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

func noArgs(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
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

func intArg(d *caddyfile.Dispenser) (int, error) {
	option := d.Val()
	v, err := oneArg(d)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, d.Errf("%s %q: not a number", option, v)
	}
	return n, nil
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

// parseStore reads the backend and, for redis, how to reach it; the mode
// is said, never guessed from the number of addresses.
func (cfg *Config) parseStore(d *caddyfile.Dispenser, at func(string)) error {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return d.ArgErr()
	}
	s := &cfg.Store
	s.Backend = args[0]
	switch {
	case s.Backend != "redis":
		if len(args) > 1 {
			return d.ArgErr()
		}
	case len(args) < 2:
		return d.Errf("store redis: a URL (redis://host:6379/0), or sentinel <master> <host:port>..., or cluster <host:port>...")
	case args[1] == "sentinel":
		if len(args) < 4 {
			return d.Errf("store redis sentinel: want <master name> <host:port>... (the sentinels)")
		}
		s.Mode, s.Master, s.Addrs = "sentinel", args[2], args[3:]
	case args[1] == "cluster":
		if len(args) < 3 {
			return d.Errf("store redis cluster: want <host:port>... (some of the nodes)")
		}
		s.Mode, s.Addrs = "cluster", args[2:]
	case len(args) > 2:
		return d.ArgErr()
	default:
		s.URL = args[1]
	}
	return block(d, "store", at, map[string]func() error{
		"prefix":            func() (err error) { s.Prefix, err = oneArg(d); return },
		"timeout":           func() (err error) { s.Timeout, err = durationArg(d); return },
		"username":          func() (err error) { s.Username, err = oneArg(d); return },
		"password":          func() (err error) { s.Password, err = oneArg(d); return },
		"sentinel_password": func() (err error) { s.SentinelPassword, err = oneArg(d); return },
		"tls": func() error {
			s.TLS = &StoreTLS{}
			t := s.TLS
			return block(d, "store tls", at, map[string]func() error{
				"ca":          func() (err error) { t.CA, err = oneArg(d); return },
				"server_name": func() (err error) { t.ServerName, err = oneArg(d); return },
				"client_cert": func() error {
					args := d.RemainingArgs()
					if len(args) != 2 {
						return d.Errf("client_cert: want <certificate file> <key file>")
					}
					t.ClientCert, t.ClientKey = args[0], args[1]
					return nil
				},
			})
		},
	})
}

func (cfg *Config) parseEmail(d *caddyfile.Dispenser, at func(string)) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	switch delivery := d.Val(); delivery {
	case "log":
		cfg.Email = &DeliveryConfig{Delivery: delivery}
		return noArgs(d)
	case "smtp":
		if !d.NextArg() {
			return d.Errf("email smtp: the server's host:port is required")
		}
		c := &SMTPConfig{Addr: d.Val()}
		cfg.Email = &DeliveryConfig{Delivery: delivery, SMTP: c}
		if err := noArgs(d); err != nil {
			return err
		}
		return block(d, "email smtp", at, map[string]func() error{
			"from":      func() (err error) { c.From, err = oneArg(d); return },
			"username":  func() (err error) { c.Username, err = oneArg(d); return },
			"password":  func() (err error) { c.Password, err = oneArg(d); return },
			"tls":       func() (err error) { c.TLS, err = oneArg(d); return },
			"subject":   func() (err error) { c.Subject, err = oneArg(d); return },
			"templates": func() (err error) { c.Templates, err = oneArg(d); return },
			"timeout":   func() (err error) { c.Timeout, err = durationArg(d); return },
		})
	default:
		return d.Errf("email: unknown delivery %q (want log or smtp)", delivery)
	}
}

func (cfg *Config) parseSMS(d *caddyfile.Dispenser, at func(string)) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	at("sms")
	c := &SMSConfig{Delivery: d.Val()}
	cfg.SMS = c
	switch c.Delivery {
	case "log":
		if err := noArgs(d); err != nil {
			return err
		}
		if d.NextBlock(d.Nesting()) {
			return d.Errf("sms log takes no options")
		}
		return nil
	case "webhook":
		if !d.NextArg() {
			return d.Errf("sms webhook: a URL is required")
		}
		c.URL = d.Val()
		if err := noArgs(d); err != nil {
			return err
		}
		return block(d, "sms webhook", at, map[string]func() error{
			"secret":  func() (err error) { c.Secret, err = oneArg(d); return },
			"timeout": func() (err error) { c.Timeout, err = durationArg(d); return },
			"retries": func() error {
				n, err := intArg(d)
				c.Retries = &n
				return err
			},
		})
	default:
		return d.Errf("sms: unknown delivery %q (want log or webhook)", c.Delivery)
	}
}

func (cfg *Config) parseLimits(d *caddyfile.Dispenser, at func(string)) error {
	rate := func() (*Rate, error) {
		args := d.RemainingArgs()
		if len(args) != 2 {
			return nil, d.Errf("%s: want <count> <window>, like 60 10m", d.Val())
		}
		n, err := strconv.Atoi(args[0])
		if err != nil {
			return nil, d.Errf("%s count %q: not a number", d.Val(), args[0])
		}
		w, err := caddy.ParseDuration(args[1])
		if err != nil {
			return nil, d.Errf("%s window %q: %v", d.Val(), args[1], err)
		}
		return &Rate{Count: n, Window: caddy.Duration(w)}, nil
	}
	l := &cfg.Limits
	return block(d, "limits", at, map[string]func() error{
		"resend_cooldown": func() (err error) { l.ResendCooldown, err = durationArg(d); return },
		"sends_per_hour": func() error {
			// <per address and network> [<per address>]. A 0 would read
			// as "the default" in JSON: refused here.
			args := d.RemainingArgs()
			counts := make([]int, len(args))
			ok := len(args) == 1 || len(args) == 2
			for i, a := range args {
				var err error
				counts[i], err = strconv.Atoi(a)
				ok = ok && err == nil && counts[i] >= 1
			}
			if !ok {
				return d.Errf("sends_per_hour: want <per network> [<per address>], numbers of 1 or more, like 5 20")
			}
			l.SendsPerHour = counts[0]
			if len(counts) == 2 {
				l.SendsPerHourPerAddress = counts[1]
			}
			return nil
		},
		"starts_per_ip":       func() (err error) { l.StartsPerIP, err = rate(); return },
		"verifies_per_ip":     func() (err error) { l.VerifiesPerIP, err = rate(); return },
		"wrong_codes_per_day": func() (err error) { l.WrongCodesPerDay, err = intArg(d); return },
		"starts_per_client":   func() (err error) { l.StartsPerClient, err = rate(); return },
		"verifies_per_client": func() (err error) { l.VerifiesPerClient, err = rate(); return },
	})
}

func (cfg *Config) parseHeaders(d *caddyfile.Dispenser, at func(string)) error {
	name := func(set func(*string)) func() error {
		return func() error {
			n, err := oneArg(d)
			if n == "off" {
				n = ""
			}
			set(&n)
			return err
		}
	}
	h := &cfg.Headers
	return block(d, "headers", at, map[string]func() error{
		"user_id":   name(func(n *string) { h.UserID = n }),
		"email":     name(func(n *string) { h.Email = n }),
		"phone":     name(func(n *string) { h.Phone = n }),
		"roles":     name(func(n *string) { h.Roles = n }),
		"assertion": name(func(n *string) { h.Assertion = *n }),
		"strip": func() error {
			names := d.RemainingArgs()
			if len(names) == 0 {
				return d.ArgErr()
			}
			h.Strip = append(h.Strip, names...)
			return nil
		},
		"pass_credentials": func() error { h.PassCredentials = true; return noArgs(d) },
	})
}

func (cfg *Config) parseJWT(d *caddyfile.Dispenser, at func(string)) error {
	if cfg.JWT == nil {
		cfg.JWT = new(JWTConfig)
	}
	j := cfg.JWT
	return block(d, "jwt", at, map[string]func() error{
		"issuer":     func() (err error) { j.Issuer, err = oneArg(d); return },
		"audience":   func() (err error) { j.Audience, err = oneArg(d); return },
		"access_ttl": func() (err error) { j.AccessTTL, err = durationArg(d); return },
		"key": func() error {
			args := d.RemainingArgs()
			if len(args) != 2 {
				return d.Errf("jwt key: want <kid> <pem file or placeholder>")
			}
			at("jwt key " + strconv.Itoa(len(j.Keys)))
			j.Keys = append(j.Keys, JWTKey{ID: args[0], PEM: args[1]})
			return nil
		},
	})
}

func (cfg *Config) parsePage(d *caddyfile.Dispenser, at func(string)) error {
	pc := &cfg.Page
	value := func(set *string) func() error {
		return func() (err error) { *set, err = oneArg(d); return }
	}
	colour := func() error {
		at("page color") // either spelling
		if !d.NextArg() {
			// The usual mistake: an unquoted #hex is a comment.
			return d.Errf("page color: a value is required (quote hex colours, \"#2d5bd7\": # starts a comment)")
		}
		d.Prev()
		return value(&pc.Color)()
	}
	return block(d, "page", at, map[string]func() error{
		"title":    value(&pc.Title),
		"logo":     value(&pc.Logo),
		"color":    colour,
		"colour":   colour,
		"template": value(&pc.Template),
	})
}

// parseClient reads `client <id> { secret <s> }`.
func (cfg *Config) parseClient(d *caddyfile.Dispenser, at func(string)) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	option := "client " + strconv.Itoa(len(cfg.Clients))
	at(option)
	c := ClientConfig{ID: d.Val()}
	if err := noArgs(d); err != nil {
		return err
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if d.Val() != "secret" {
			return d.Errf("unknown client option %q (want secret)", d.Val())
		}
		at(option + " secret")
		var err error
		if c.Secret, err = oneArg(d); err != nil {
			return err
		}
	}
	cfg.Clients = append(cfg.Clients, c)
	return nil
}

// parseRequire reads `require <role>... <path>...`, where the first
// argument starting with / or * begins the paths, or
// `require <role>... { path <path>... }` (repeatable `path` lines).
func (cfg *Config) parseRequire(d *caddyfile.Dispenser, at func(string)) error {
	at("require " + strconv.Itoa(len(cfg.Require)))
	var rc RequireConfig
	for d.NextArg() {
		if v := d.Val(); len(rc.Paths) > 0 || strings.HasPrefix(v, "/") || strings.HasPrefix(v, "*") {
			rc.Paths = append(rc.Paths, v)
		} else {
			rc.Roles = append(rc.Roles, v)
		}
	}
	if len(rc.Roles) == 0 {
		return d.Errf("require: want <role>... <path>..., or <role>... { path <path>... }")
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if d.Val() != "path" {
			return d.Errf("unknown require option %q (want path)", d.Val())
		}
		paths := d.RemainingArgs()
		if len(paths) == 0 {
			return d.ArgErr()
		}
		rc.Paths = append(rc.Paths, paths...)
	}
	cfg.Require = append(cfg.Require, rc)
	return nil
}

// parseCompat reads `compat <service> [<path>] { <the door's options> }`;
// the door reads its own options (httpkit.DoorSpec).
func (cfg *Config) parseCompat(d *caddyfile.Dispenser, at func(string)) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	at("compat " + strconv.Itoa(len(cfg.Compat)))
	c := CompatConfig{Service: d.Val()}
	spec, ok := httpkit.LookupDoor(c.Service)
	if !ok {
		return d.Errf("compat %q: unknown service (want %s)", c.Service, strings.Join(httpkit.DoorNames(), ", "))
	}
	if d.NextArg() {
		c.Path = d.Val()
	}
	if err := noArgs(d); err != nil {
		return err
	}
	if spec.Options != nil {
		var err error
		if c.Options, err = spec.Options(d); err != nil {
			return err
		}
	} else if d.NextBlock(d.Nesting()) {
		return d.Errf("compat %s takes no options", c.Service)
	}
	cfg.Compat = append(cfg.Compat, c)
	return nil
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Config)(nil)

// literal reports whether s holds no placeholder, so that its rules can
// be checked before provision replaces them.
func literal(s string) bool { return !strings.Contains(s, "{") }
