package nhost

import (
	"net/http"

	"github.com/passgate/caddy-passgate/internal/httpkit"
)

// compat nhost [<path>] {
//
//	default_role <role>
//	issuer       <iss>
//
// }
func init() {
	httpkit.RegisterDoorOf("nhost", httpkit.Door[Config]{
		Mount: DefaultMount,
		Options: func(c *Config) map[string]func([]string) error {
			return map[string]func([]string) error{
				"default_role": func(a []string) error { return httpkit.OneArg(a, &c.DefaultRole) },
				"issuer":       func(a []string) error { return httpkit.OneArg(a, &c.Issuer) },
			}
		},
		Check: func(c Config, mount string) error {
			if err := CheckMount(mount); err != nil {
				return err
			}
			return c.Check()
		},
		Build: func(env *httpkit.Env, c Config) (http.Handler, error) { return New(env, c) },
	})
}
