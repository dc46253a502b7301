package caddymodule

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("passgate", parseCaddyfile)
	// Before request rewriting (method, rewrite, uri, try_files), so that
	// base_path and public paths are the paths clients send, and a
	// single-page app's try_files cannot swallow the sign-in routes; and
	// before everything that answers or proxies.
	httpcaddyfile.RegisterDirectiveOrder("passgate", httpcaddyfile.Before, "method")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	p := new(Passgate)
	err := p.UnmarshalCaddyfile(h.Dispenser)
	return p, err
}

// UnmarshalCaddyfile reads the passgate block (config.Config's syntax).
func (p *Passgate) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	return p.Config.UnmarshalCaddyfile(d)
}

// Interface guard
var _ caddyfile.Unmarshaler = (*Passgate)(nil)
