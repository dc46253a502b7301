package supabase

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

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
	httpkit.RegisterDoor("supabase", httpkit.DoorSpec{
		Mount: DefaultMount,
		Options: func(d *caddyfile.Dispenser) (json.RawMessage, error) {
			var c Config
			err := httpkit.ReadOptions(d, "supabase", map[string]func([]string) error{
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
			})
			if err != nil {
				return nil, err
			}
			return json.Marshal(c)
		},
		Check: func(raw json.RawMessage, mount string) error {
			var c Config
			if err := httpkit.DecodeOptions(raw, &c); err != nil {
				return err
			}
			var keys []string
			for _, k := range c.AnonKeys {
				if !strings.Contains(k, "{") { // a placeholder's value is checked at provision
					keys = append(keys, k)
				}
			}
			c.AnonKeys = keys
			return c.Check(mount)
		},
		Build: func(env *httpkit.Env, raw json.RawMessage) (http.Handler, error) {
			var c Config
			if err := httpkit.DecodeOptions(raw, &c); err != nil {
				return nil, err
			}
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
