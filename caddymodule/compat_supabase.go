package caddymodule

import (
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/passgate/caddy-passgate/caddymodule/supabase"
	"github.com/passgate/caddy-passgate/internal/httpkit"
)

// compat supabase [<path>] {
//
//	anon_key   <key>...   # repeatable; placeholders ({env.X}) for secrets
//	issuer     <iss>
//	access_ttl <duration>
//
// }
func init() {
	compatDoors["supabase"] = compatDoor{
		mount: supabase.DefaultMount,
		check: func(c CompatConfig, mount string) error {
			if c.Supabase == nil {
				return nil
			}
			cfg := *c.Supabase
			var keys []string
			for _, k := range cfg.AnonKeys {
				if literal(k) { // a placeholder's value is checked at provision
					keys = append(keys, k)
				}
			}
			cfg.AnonKeys = keys
			return cfg.Check(mount)
		},
		build: func(env *httpkit.Env, c CompatConfig) (http.Handler, error) {
			var cfg supabase.Config
			if c.Supabase != nil {
				cfg = *c.Supabase
			}
			repl := caddy.NewReplacer()
			keys := make([]string, len(cfg.AnonKeys))
			for i, k := range cfg.AnonKeys {
				v, err := repl.ReplaceOrErr(k, true, true)
				if err != nil {
					return nil, fmt.Errorf("anon_key %d: %v", i+1, err)
				}
				keys[i] = v
			}
			cfg.AnonKeys = keys
			return supabase.New(env, cfg)
		},
	}
}

// supabaseOptions reads the options of a `compat supabase` block into c.
func supabaseOptions(d *caddyfile.Dispenser, c *CompatConfig) map[string]func() error {
	c.Supabase = new(supabase.Config)
	s := c.Supabase
	return map[string]func() error{
		"anon_key": func() error {
			keys := d.RemainingArgs()
			if len(keys) == 0 {
				return d.ArgErr()
			}
			s.AnonKeys = append(s.AnonKeys, keys...)
			return nil
		},
		"issuer":     func() (err error) { s.Issuer, err = oneArg(d); return },
		"access_ttl": func() (err error) { s.AccessTTL, err = durationArg(d); return },
	}
}
