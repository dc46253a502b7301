package caddymodule

// The compatibility front doors register themselves (httpkit.RegisterDoor).
import (
	_ "github.com/passgate/caddy-passgate/caddymodule/logto"
	_ "github.com/passgate/caddy-passgate/caddymodule/nhost"
	_ "github.com/passgate/caddy-passgate/caddymodule/otpless"
	_ "github.com/passgate/caddy-passgate/caddymodule/supabase"
	_ "github.com/passgate/caddy-passgate/caddymodule/wacht"
)
