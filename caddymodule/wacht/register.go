package wacht

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/passgate/caddy-passgate/internal/httpkit"
)

// compat wacht [<path>] {
//
//	origin <scheme://host[:port]>   # the publishable key's Frontend API origin
//
// }
func init() {
	httpkit.RegisterDoorOf("wacht", httpkit.Door[Config]{
		Mount: "/wacht",
		Options: func(c *Config) map[string]func([]string) error {
			return map[string]func([]string) error{
				"origin": func(a []string) error { return httpkit.OneArg(a, &c.Origin) },
			}
		},
		Check: func(c Config, _ string) error {
			if strings.Contains(c.Origin, "{") { // a placeholder's value is checked at provision
				return nil
			}
			_, err := canonicalOrigin(c.Origin)
			return err
		},
		Build: func(env *httpkit.Env, c Config) (http.Handler, error) {
			origin, err := caddy.NewReplacer().ReplaceOrErr(c.Origin, true, true)
			if err != nil {
				return nil, fmt.Errorf("origin: %v", err)
			}
			if c.Origin, err = canonicalOrigin(origin); err != nil {
				return nil, err
			}
			if c.Origin == "" && env.LinkOrigin == "" {
				env.Logger.Info("compat wacht: no origin set: its session tokens carry iss " + DefaultIssuer +
					", which @wacht/backend refuses; set origin to the origin of the publishable key's URL")
			}
			return New(env, c)
		},
	})
}

// canonicalOrigin is the origin as @wacht/backend computes it from the
// publishable key (new URL(...).origin): scheme and host in lower case,
// the default port left out, no path.
func canonicalOrigin(o string) (string, error) {
	if o == "" {
		return "", nil
	}
	scheme, hostport, err := httpkit.ParseOrigin(o)
	if err != nil {
		return "", err // it names the origin
	}
	if strings.Contains(hostport, "*") {
		return "", errors.New("origin: no wildcard (want https://host[:port])")
	}
	return scheme + "://" + hostport, nil
}
