package supabase

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"

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
	httpkit.RegisterDoorOf("supabase", httpkit.Door[Config]{
		Mount: DefaultMount,
		Options: func(c *Config) map[string]func([]string) error {
			return map[string]func([]string) error{
				"anon_key": func(a []string) error {
					if len(a) == 0 {
						return httpkit.ErrArgs
					}
					c.AnonKeys = append(c.AnonKeys, a...)
					return nil
				},
				"issuer": func(a []string) error { return httpkit.OneArg(a, &c.Issuer) },
				"access_ttl": func(a []string) error {
					var v string
					if err := httpkit.OneArg(a, &v); err != nil {
						return err
					}
					d, err := caddy.ParseDuration(v)
					c.AccessTTL = caddy.Duration(d)
					return err
				},
			}
		},
		Check: func(c Config, mount string) error {
			var keys []string
			for _, k := range c.AnonKeys {
				if !strings.Contains(k, "{") { // a placeholder's value is checked at provision
					keys = append(keys, k)
				}
			}
			c.AnonKeys = keys
			return c.Check(mount)
		},
		Build: func(env *httpkit.Env, c Config) (http.Handler, error) {
			repl := caddy.NewReplacer()
			for i, k := range c.AnonKeys {
				v, err := repl.ReplaceOrErr(k, true, true)
				if err != nil {
					return nil, fmt.Errorf("anon_key %d: %v", i+1, err)
				}
				c.AnonKeys[i] = v
			}
			return New(env, c)
		},
	})
}
