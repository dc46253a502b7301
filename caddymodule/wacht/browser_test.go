package wacht_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/passgate/caddy-passgate/internal/clock"
	"github.com/passgate/caddy-passgate/internal/testenv"
)

// chromium starts headless Debian chromium for one test.
func chromium(t *testing.T, allow3PC bool) context.Context {
	t.Helper()
	dir := t.TempDir()
	if allow3PC {
		// A user who allows third-party cookies (Chrome's default outside
		// incognito), which headless chromium does not.
		if err := os.MkdirAll(filepath.Join(dir, "Default"), 0o700); err != nil {
			t.Fatal(err)
		}
		prefs := `{"profile":{"cookie_controls_mode":0,"block_third_party_cookies":false}}`
		if err := os.WriteFile(filepath.Join(dir, "Default", "Preferences"), []byte(prefs), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return testenv.Browser(t, chromedp.UserDataDir(dir))
}

// appPage is the app: a page on another site that calls the Wacht door as
// Wacht's React client does (use-client.ts, use-signin.ts,
// use-session.ts, use-magic-link.ts): fetch with credentials "include",
// FormData bodies, no custom headers, ids in query strings built as the
// client builds them.
const appPage = `<!doctype html><meta charset="utf-8"><title>app</title>
<script>
const API = %q;
async function call(path, init) {
	const r = await fetch(API + path, Object.assign({credentials: "include"}, init || {}));
	let json = null;
	try { json = await r.json(); } catch (e) {}
	return {status: r.status, json};
}
function fd(fields) { const f = new FormData(); for (const k in fields) f.append(k, fields[k]); return f; }
let attempt = null;
async function signIn(strategy, field, value) {
	const r = await call("/auth/signin", {method: "POST", body: fd({strategy, [field]: value})});
	if (r.json && r.json.data && r.json.data.signin_attempts) attempt = r.json.data.signin_attempts.at(-1);
	return r;
}
async function prepare(strategy, redirectUri) {
	const url = new URL("/auth/prepare-verification", window.location.origin);
	url.searchParams.set("attempt_identifier", attempt.id.toString());
	url.searchParams.set("strategy", strategy);
	url.searchParams.set("identifier_type", "signin");
	if (redirectUri) url.searchParams.set("redirect_uri", redirectUri);
	return call(url.pathname + url.search, {method: "POST"});
}
async function complete(code) {
	return call("/auth/attempt-verification?attempt_identifier=" + attempt.id + "&identifier_type=signin",
		{method: "POST", body: fd({verification_code: code})});
}
// The landing page of the magic link (MagicLinkVerification).
window.landed = null;
if (location.pathname === "/landing") {
	const p = new URLSearchParams(window.location.search);
	const url = new URL("/auth/verify-magic-link", window.location.origin);
	url.searchParams.set("token", p.get("token"));
	url.searchParams.set("attempt", p.get("attempt"));
	if (p.get("redirect_uri")) url.searchParams.set("redirect_uri", p.get("redirect_uri"));
	call(url.pathname + url.search, {method: "GET"}).then(r => { window.landed = r; });
}
</script>`

// Wacht's client in a real browser, on a page of the app on another origin
// that `cors` allows: the credentialed FormData calls sign in by code, the
// __session cookie arrives (HttpOnly, Secure, SameSite=None) and is sent
// with the next calls, sign-out ends it; the emailed link, opened in the
// browser, goes to the app's landing page, whose fetch signs in; and the
// cookie opens the protected app. On the same site as the door (another
// port), and on another site (localhost against 127.0.0.1), where the
// cookies are third-party ones: that works only in a browser that allows
// them, as Chrome does by default but not headless (docs/compat.md).
func TestBrowser(t *testing.T) {
	t.Run("same site", func(t *testing.T) { testBrowser(t, "127.0.0.1", true) })
	t.Run("another site", func(t *testing.T) { testBrowser(t, "localhost", false) })
}

func testBrowser(t *testing.T, appHost string, restrict3PC bool) {
	var api string // set before the app serves anything
	app := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, appPage, api)
	}))
	t.Cleanup(app.Close)
	appOrigin := "http://" + appHost + ":" + strconv.Itoa(app.Listener.Addr().(*net.TCPAddr).Port)
	s := startSite(t, siteOptions{secure: true, cors: []string{appOrigin}, extra: "redirect_origins " + appOrigin})
	api = s.api
	app.Start()
	ctx := chromium(t, !restrict3PC)
	run := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	eval := func(expr string) map[string]any {
		t.Helper()
		out, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]any](expr, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return out
	}
	status := func(r map[string]any) int { n, _ := r["status"].(float64); return int(n) }
	data := func(r map[string]any) map[string]any {
		d, _ := r["json"].(map[string]any)["data"].(map[string]any)
		return d
	}

	run(chromedp.Navigate(appOrigin + "/"))
	if r := eval(`call("/deployment")`); status(r) != 200 || data(r)["mode"] != "production" {
		t.Fatalf("deployment: %v", r)
	}
	email := "chromium@example.com"
	if r := eval(`signIn("email_otp", "email", "` + email + `")`); status(r) != 200 {
		t.Fatalf("signin: %v", r)
	}
	if r := eval(`prepare("email_otp")`); status(r) != 200 {
		t.Fatalf("prepare: %v", r)
	}
	code := s.message(email, 0)["code"].(string)
	if r := eval(`complete("` + wrong(code) + `")`); status(r) != 400 {
		t.Fatalf("wrong code: %v", r)
	}
	r := eval(`complete("` + code + `")`)
	if status(r) != 200 || data(r)["active_signin"] == nil {
		t.Fatalf("verify: %v", r)
	}
	userID := data(r)["active_signin"].(map[string]any)["user_id"].(string)

	got, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{s.api + "/session"}})
	if err != nil {
		t.Fatal(err)
	}
	cookies := got.Cookies
	found := map[string]bool{}
	for _, c := range cookies {
		found[c.Name] = true
		if !c.HTTPOnly || !c.Secure || c.SameSite != network.CookieSameSiteNone {
			t.Fatalf("cookie %s: httpOnly %v secure %v sameSite %q", c.Name, c.HTTPOnly, c.Secure, c.SameSite)
		}
	}
	if !found["__session"] || !found["__wacht_browser"] {
		t.Fatalf("cookies the browser kept: %v", found)
	}
	if r := eval(`call("/session")`); status(r) != 200 || data(r)["active_signin"] == nil {
		t.Fatalf("session: %v", r)
	}
	if r := eval(`call("/me")`); status(r) != 200 || data(r)["id"] != userID {
		t.Fatalf("me: %v", r)
	}
	if r := eval(`call("/session/token?template=default")`); status(r) != 200 || data(r)["token"] == "" {
		t.Fatalf("token: %v", r)
	}
	if r := eval(`call("/session/sign-out", {method: "POST"})`); status(r) != 200 || data(r)["active_signin"] != nil {
		t.Fatalf("sign-out: %v", r)
	}
	if r := eval(`call("/me")`); status(r) != 401 {
		t.Fatalf("me after sign-out: %v", r)
	}

	// The magic link: opened in this browser, it lands on the app's page,
	// whose fetch signs in.
	if r := eval(`signIn("magic_link", "email", "` + email + `")`); status(r) != 200 {
		t.Fatalf("signin (link): %v", r)
	}
	clock.Advance(11 * time.Second) // the resend cooldown
	if r := eval(`prepare("magic_link", "` + appOrigin + `/landing")`); status(r) != 200 {
		t.Fatalf("prepare (link): %v", r)
	}
	link := s.message(email, 1)["link"].(string)
	run(chromedp.Navigate(link))
	landed, err := chromedp.Run(ctx, chromedp.Poll[map[string]any](`window.landed`, chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		t.Fatalf("the landing page's call: %v", err)
	}
	at, _ := chromedp.Run(ctx, chromedp.Location())
	if status(landed) != 200 || !strings.HasPrefix(at, appOrigin+"/landing?") {
		t.Fatalf("landed on %s: %v", at, landed)
	}
	if r := eval(`call("/session")`); status(r) != 200 || data(r)["active_signin"] == nil {
		t.Fatalf("session after the link: %v", r)
	}

	// The protected app, opened in the browser: the cookie is its session.
	run(chromedp.Navigate(s.Base + "/app/page"))
	body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, userID) || strings.Contains(body, "__session") {
		t.Fatalf("the app got: %s", body)
	}
}
