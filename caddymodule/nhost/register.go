package nhost

import (
	"encoding/json"
	"net/http"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/passgate/caddy-passgate/internal/httpkit"
)

// compat nhost [<path>] {
//
//	default_role <role>
//	issuer       <iss>
//
// }
func init() {
	httpkit.RegisterDoor("nhost", httpkit.DoorSpec{
		Mount: DefaultMount,
		Options: func(d *caddyfile.Dispenser) (json.RawMessage, error) {
			var c Config
			err := httpkit.ReadOptions(d, "nhost", map[string]func([]string) error{
				"default_role": func(a []string) error { return httpkit.OneArg(a, &c.DefaultRole) },
				"issuer":       func(a []string) error { return httpkit.OneArg(a, &c.Issuer) },
			})
			if err != nil || c == (Config{}) {
				return nil, err
			}
			return json.Marshal(c)
		},
		Check: func(raw json.RawMessage, mount string) error {
			var c Config
			if err := httpkit.DecodeOptions(raw, &c); err != nil {
				return err
			}
			if err := CheckMount(mount); err != nil {
				return err
			}
			return c.Check()
		},
		Build: func(env *httpkit.Env, raw json.RawMessage) (http.Handler, error) {
			var c Config
			if err := httpkit.DecodeOptions(raw, &c); err != nil {
				return nil, err
			}
			return New(env, c)
		},
	})
}
