// Command caddybin is Caddy with the standard modules and passgate, built
// with plain `go build` from this module. The tests use it where they need
// a Caddy binary (`caddy validate`, `caddy adapt`, a second instance);
// operators use xcaddy (../../../xcaddy.sh), which produces the same.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/passgate/caddy-passgate"
)

func main() {
	caddycmd.Main()
}
