package nhost_test

import (
	"testing"

	"github.com/passgate/caddy-passgate/internal/testenv"
)

// gatewayConfig is the passgate block's extra lines for the Nhost door:
// SMS to the log, London numbers allowed, a short resend cooldown so that
// the client script's waits stay short.
const gatewayConfig = `
		compat nhost
		sms log
		allow phone +44*
		limits {
			resend_cooldown 10s
		}
`

// The official client, @nhost/nhost-js 4.7.0, signs in through a real
// Caddy by every way the door offers, refreshes, reads the user, reaches a
// protected route with its token and signs out (see
// internal/testenv/clients/nhost.mjs for every step it checks).
func TestNhostClient(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithExtra(gatewayConfig))
	g.RunClient("nhost.mjs",
		"PASSGATE_PHONE_PREFIX=+44207",
		"PASSGATE_PROTECTED_URL="+g.Base+"/protected",
	)
}

// With access tokens under nhost-js's 60 s refresh margin, the client
// refreshes before every call: each POST …/v1/token must answer once, not
// recurse, and the refreshed session works.
func TestNhostClientShortTokens(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithExtra(gatewayConfig+"jwt {\naccess_ttl 30s\n}\n"))
	g.RunClient("nhost.mjs", "PASSGATE_NHOST_SHORT_TOKENS=1")
	if !g.LogHas("nhost-js refreshes a token 1m0s before it expires") {
		t.Error("no warning that the tokens are shorter than the client's refresh margin")
	}
}
