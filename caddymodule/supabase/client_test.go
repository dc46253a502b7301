package supabase_test

import (
	"testing"

	"github.com/passgate/caddy-passgate/internal/testenv"
)

// The official client (@supabase/supabase-js and @supabase/auth-js
// 2.119.1) signs in through a real Caddy with the door, on Redis, with the
// app's key required: every step of
// internal/testenv/clients/supabase.mjs must pass, the access token
// reaching a protected upstream route among them. The short cooldown keeps
// the script's second sign-ins of one address quick.
func TestOfficialClient(t *testing.T) {
	rs := testenv.StartRedis(t)
	g := testenv.StartGateway(t, testenv.WithRedis(rs), testenv.WithExtra(`compat supabase {
			anon_key sb_publishable_passgate-test-key
		}
		sms log
		allow phone +44*
		redirect_origins https://app.example.com
		limits {
			resend_cooldown 10s
		}`))
	g.RunClient("supabase.mjs",
		"PASSGATE_PHONE_PREFIX=+44207",
		"PASSGATE_PROTECTED_URL="+g.Base+"/app/data",
		"PASSGATE_REDIRECT_URL=https://app.example.com/auth/callback?next=%2Fhome",
		"PASSGATE_RATE_WAIT_MS=30000",
	)
}
