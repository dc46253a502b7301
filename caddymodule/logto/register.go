package logto

import (
	"encoding/json"
	"net/http"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/passgate/caddy-passgate/internal/httpkit"
)

// compat logto [<path>] {
//
//	sign_in_page <path>
//	resource     <api indicator>
//	issuer       <iss>
//
// }
func init() {
	httpkit.RegisterDoor("logto", httpkit.DoorSpec{
		Mount: DefaultMount,
		Options: func(d *caddyfile.Dispenser) (json.RawMessage, error) {
			var c Config
			err := httpkit.ReadOptions(d, "logto", map[string]func([]string) error{
				"sign_in_page": func(a []string) error { return httpkit.OneArg(a, &c.SignInPage) },
				"resource":     func(a []string) error { return httpkit.OneArg(a, &c.Resource) },
				"issuer":       func(a []string) error { return httpkit.OneArg(a, &c.Issuer) },
			})
			if err != nil || c == (Config{}) {
				return nil, err
			}
			return json.Marshal(c)
		},
		Check: func(raw json.RawMessage, _ string) error {
			var c Config
			if err := httpkit.DecodeOptions(raw, &c); err != nil {
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
