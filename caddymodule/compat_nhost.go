package caddymodule

import (
	"net/http"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/passgate/caddy-passgate/caddymodule/nhost"
	"github.com/passgate/caddy-passgate/internal/httpkit"
)

// compat nhost [<path>] { default_role <role>; issuer <iss> }: the Nhost
// Auth routes nhost-js calls (caddymodule/nhost).
func init() {
	compatDoors["nhost"] = compatDoor{
		mount: nhost.DefaultMount,
		check: func(c CompatConfig, mount string) error {
			if err := nhost.CheckMount(mount); err != nil {
				return err
			}
			if c.Nhost == nil {
				return nil
			}
			return c.Nhost.Check()
		},
		build: func(env *httpkit.Env, c CompatConfig) (http.Handler, error) {
			var cfg nhost.Config
			if c.Nhost != nil {
				cfg = *c.Nhost
			}
			return nhost.New(env, cfg)
		},
	}
}

// nhostOptions are the readers of the `compat nhost` block's options.
func nhostOptions(d *caddyfile.Dispenser, cc *CompatConfig) map[string]func() error {
	cfg := func() *nhost.Config {
		if cc.Nhost == nil {
			cc.Nhost = new(nhost.Config)
		}
		return cc.Nhost
	}
	return map[string]func() error{
		"default_role": func() (err error) { cfg().DefaultRole, err = oneArg(d); return err },
		"issuer":       func() (err error) { cfg().Issuer, err = oneArg(d); return err },
	}
}
