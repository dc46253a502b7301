package nhost_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/passgate/caddy-passgate/internal/testenv"
)

// run evaluates an async expression in the page and decodes its JSON
// result into out.
func run(t *testing.T, ctx context.Context, expr string, out any) {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string]("(async () => JSON.stringify(await ("+expr+")))()", chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	if err := json.Unmarshal([]byte(s), out); err != nil {
		t.Fatalf("%s: %q: %v", expr, s, err)
	}
}

// An app on another origin, in a real browser, with nhost-js's browser
// bundle: it signs in by an emailed code, reads the user, refreshes and
// signs out through the door, across origins (CORS, the preflights of
// JSON and Authorization), with the session in localStorage and the
// refresh under navigator.locks, as in any browser app.
func TestNhostBrowserOtherOrigin(t *testing.T) {
	bundle := filepath.Join(testenv.ClientsDir(), "node_modules", "@nhost", "nhost-js", "dist", "nhost-js.umd.js")
	if _, err := os.Stat(bundle); err != nil {
		t.Fatalf("the official client packages are not installed: run `npm ci` in %s", testenv.ClientsDir())
	}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/nhost-js.umd.js" {
			http.ServeFile(w, r, bundle)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html><head><script src="/nhost-js.umd.js"></script></head><body>app</body></html>`))
	}))
	t.Cleanup(app.Close)
	g := testenv.StartGateway(t, testenv.WithExtra(gatewayConfig+"cors "+app.URL+"\n"))
	ctx := testenv.Browser(t)
	if _, err := chromedp.Run(ctx, chromedp.Navigate(app.URL+"/")); err != nil {
		t.Fatal(err)
	}
	var ready bool
	run(t, ctx, `typeof NhostJs === 'object' && !!navigator.locks`, &ready)
	if !ready {
		t.Fatal("nhost-js did not load, or the page has no navigator.locks")
	}
	email := "browser@example.com"
	run(t, ctx, `(window.nh = NhostJs.createClient({authUrl: `+jsString(g.Base+mount)+`, storageUrl: `+jsString(g.Base+mount)+
		`, graphqlUrl: `+jsString(g.Base+mount)+`, functionsUrl: `+jsString(g.Base+mount)+`}),
		nh.auth.signInOTPEmail({email: `+jsString(email)+`}).then(r => r.body))`, new(string))

	var wrong struct {
		Status int
		Error  string
	}
	run(t, ctx, `nh.auth.verifySignInOTPEmail({email: `+jsString(email)+`, otp: "000000"}).then(() => ({}), e => ({status: e.status, error: e.body.error}))`, &wrong)
	if wrong.Status != 400 || wrong.Error != "invalid-otp" {
		t.Fatalf("wrong code: %+v", wrong)
	}
	var in struct {
		Stored bool
		Roles  []string
		Email  string
		UserID string
	}
	run(t, ctx, `nh.auth.verifySignInOTPEmail({email: `+jsString(email)+`, otp: `+jsString(g.CodeFor(email))+`}).then(async () => {
		const u = await nh.auth.getUser()
		const s = nh.getUserSession()
		return {stored: !!localStorage.getItem('nhostSession'), roles: s.decodedToken['https://hasura.io/jwt/claims']['x-hasura-allowed-roles'],
			email: u.body.email, userId: u.body.id === s.decodedToken.sub ? u.body.id : ''}
	})`, &in)
	if !in.Stored || in.Email != email || in.UserID == "" || len(in.Roles) != 2 {
		t.Fatalf("signed in: %+v", in)
	}
	var rotated bool
	run(t, ctx, `(async () => { const before = nh.getUserSession().refreshToken; const s = await nh.refreshSession(0); return !!s && s.refreshToken !== before })()`, &rotated)
	if !rotated {
		t.Fatal("refreshSession(0) did not rotate")
	}
	var out struct {
		Body    string
		Cleared bool
	}
	run(t, ctx, `nh.auth.signOut({all: true}).then(r => ({body: r.body, cleared: nh.getUserSession() === null && !localStorage.getItem('nhostSession')}))`, &out)
	if out.Body != "OK" || !out.Cleared {
		t.Fatalf("signed out: %+v", out)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
