package caddymodule

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/passgate/caddy-passgate/caddymodule/wacht"
	"github.com/passgate/caddy-passgate/internal/httpkit"
)

func init() {
	compatDoors["wacht"] = compatDoor{
		mount: "/wacht",
		check: func(c CompatConfig, _ string) error {
			if c.Wacht == nil || !literal(c.Wacht.Origin) {
				return nil
			}
			_, err := wachtOrigin(c.Wacht.Origin)
			return err
		},
		build: func(env *httpkit.Env, c CompatConfig) (http.Handler, error) {
			var cfg wacht.Config
			if c.Wacht != nil {
				cfg = *c.Wacht
			}
			origin, err := caddy.NewReplacer().ReplaceOrErr(cfg.Origin, true, true)
			if err != nil {
				return nil, fmt.Errorf("origin: %v", err)
			}
			if cfg.Origin, err = wachtOrigin(origin); err != nil {
				return nil, err
			}
			if cfg.Origin == "" && env.LinkOrigin == "" {
				env.Logger.Info("compat wacht: no origin set: its session tokens carry iss " + wacht.DefaultIssuer +
					", which @wacht/backend refuses; set origin to the origin of the publishable key's URL")
			}
			return wacht.New(env, cfg)
		},
	}
}

// wachtOrigin is the origin as @wacht/backend computes it from the
// publishable key (new URL(...).origin): scheme and host in lower case,
// the default port left out, no path.
func wachtOrigin(o string) (string, error) {
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
