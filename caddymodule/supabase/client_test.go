package supabase_test

import (
	"testing"

	"github.com/passgate/caddy-passgate/internal/testenv"
)

// gatewayConfig is a gateway with the Supabase door at its default mount
// beside the native door at /auth, SMS by log, and a short cooldown so
// that the script's second sign-ins of one address wait little.
const gatewayConfig = `compat supabase
		sms log
		allow phone +44*
		redirect_origins https://app.example.com
		limits {
			resend_cooldown 10s
		}`

// The official client (@supabase/supabase-js and @supabase/auth-js
// 2.119.1) signs in through a real Caddy with the door: every step of
// internal/testenv/clients/supabase.mjs must pass, the access token
// reaching a protected upstream route among them.
func TestOfficialClient(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithExtra(gatewayConfig))
	g.RunClient("supabase.mjs",
		"PASSGATE_PHONE_PREFIX=+44207",
		"PASSGATE_PROTECTED_URL="+g.Base+"/app/data",
		"PASSGATE_RATE_WAIT_MS=30000",
		"PASSGATE_REDIRECT_URL=https://app.example.com/auth/callback?next=%2Fhome",
	)
}
