// Package passgate is a Caddy plugin that puts passwordless sign-in (one-time
// codes by email or SMS) in front of any web app. Importing it registers the
// http.handlers.passgate module and the passgate Caddyfile directive, so that
//
//	xcaddy build --with github.com/passgate/caddy-passgate
//
// builds a Caddy with it. See README.md for configuration.
package passgate

import (
	_ "github.com/passgate/caddy-passgate/caddymodule"
)
