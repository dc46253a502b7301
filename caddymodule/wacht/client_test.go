package wacht_test

import (
	"strconv"
	"testing"

	"github.com/passgate/caddy-passgate/internal/testenv"
)

// The calls of Wacht's browser client (reproduced by clients/wacht.mjs as
// its source makes them: FormData, query parameters, cookies) and the
// documented JSON, through a real Caddy set up as docs/compat.md shows,
// with the session token checked by the real @wacht/backend.
func TestWachtClient(t *testing.T) {
	s := startSite(t, siteOptions{})
	s.RunClient("wacht.mjs", "PASSGATE_PHONE_PREFIX=+44207", "PASSGATE_PROTECTED_URL="+s.Base+"/app/whoami")
}

// The same with the app on another site (`cors` lists its origin): every
// answer allows it with credentials, and the cookies are SameSite=None and
// Secure, or the browser would not send them on the app's fetches.
func TestWachtClientCrossSite(t *testing.T) {
	app := "http://localhost:" + strconv.Itoa(testenv.FreePort(t))
	s := startSite(t, siteOptions{secure: true, cors: []string{app}})
	s.RunClient("wacht.mjs", "PASSGATE_PHONE_PREFIX=+44207", "PASSGATE_APP_ORIGIN="+app,
		"PASSGATE_REDIRECT_URL="+app+"/callback")
}
