package caddymodule_test

// Login CSRF through the magic-link page, in a real browser: an attacker's
// page on another site sends the victim's browser to the attacker's own
// link. The page must not sign the victim in as the attacker by itself.

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/passgate/caddy-passgate/internal/testenv"
)

// startOtherSite serves, on ip (127.0.0.2 is another site than the
// gateway's 127.0.0.1; another port of 127.0.0.1 is the same site), a page
// that sends the browser on at once (/go?to=URL, as
// `location.href = URL`), and a page with a link to click (/mail?link=URL,
// as in webmail).
func startOtherSite(t *testing.T, ip string) string {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch r.URL.Path {
		case "/go":
			to, _ := json.Marshal(r.URL.Query().Get("to"))
			fmt.Fprintf(w, "<!doctype html><title>Cute cats</title><p>Cats.</p><script>location.href = %s;</script>", to)
		case "/mail":
			fmt.Fprintf(w, `<!doctype html><title>Inbox</title><p><a id="link" href="%s">Sign in</a></p>`,
				html.EscapeString(r.URL.Query().Get("link")))
		default:
			http.NotFound(w, r)
		}
	}))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// askingPage is the link page that waits for a click; pre is the upstream's
// echo, where a page that signed in by itself would land.
const askingPageOrApp = `//h1[starts-with(normalize-space(), "Sign in as ")] | //pre`

// asksToSignIn checks that the browser shows the link page at path asking
// "Sign in as email?", with no script in it.
func asksToSignIn(t *testing.T, ctx context.Context, base, path, email string) {
	t.Helper()
	do(t, ctx, chromedp.WaitVisible(chromedp.Search(askingPageOrApp)))
	if u := location(t, ctx, base); u != path {
		var echo struct{ Headers http.Header }
		_ = json.Unmarshal([]byte(text(t, ctx)), &echo)
		t.Fatalf("the link page went on by itself to %s, signed in as %q", u, echo.Headers.Get("X-Auth-Email"))
	}
	if body := text(t, ctx); !strings.Contains(body, "Sign in as "+email+"?") {
		t.Fatalf("the link page does not ask: %s", body)
	}
	if n := evaluate[int](t, ctx, `document.scripts.length`); n != 0 {
		t.Fatalf("the asking page has %d scripts", n)
	}
}

// signedOut checks that the browser holds no session of the gateway.
func signedOut(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies.Cookies {
		if c.Name == "passgate_session" {
			t.Fatalf("the browser holds a session cookie")
		}
	}
	if st := submit(t, ctx, chromedp.Navigate(base+"/auth/session")); st != 401 {
		t.Fatalf("GET /auth/session: %d, want 401: %s", st, text(t, ctx))
	}
}

// fetchHeaders returns the Sec-Fetch-Site and Sec-Fetch-User of the
// requests for path in the access log, in order.
func fetchHeaders(t *testing.T, g *testenv.Gateway, path string) []string {
	t.Helper()
	var out []string
	for _, e := range testenv.ReadLog(t, g.AccessLog) {
		req, _ := e["request"].(map[string]any)
		if req == nil || req["method"] != "GET" || req["uri"] != path {
			continue
		}
		h, _ := req["headers"].(map[string]any)
		one := func(name string) string {
			if v, _ := h[name].([]any); len(v) == 1 {
				return fmt.Sprint(v[0])
			}
			return fmt.Sprint(h[name])
		}
		out = append(out, one("Sec-Fetch-Site")+" "+one("Sec-Fetch-User"))
	}
	return out
}

func TestBrowserMagicLinkLoginCSRF(t *testing.T) {
	g := testenv.StartGateway(t)
	evil := startOtherSite(t, "127.0.0.2")
	sameSite := startOtherSite(t, "127.0.0.1")

	// The attacker asks for a link to their own account, and chooses
	// where it lands.
	r := g.NewClient().Do("POST", "/auth/start", map[string]any{"email": "mallory@example.com", "redirect_to": "/app/mallory"})
	if r.Status != 200 {
		t.Fatalf("attacker's start: %d %s", r.Status, r.Body)
	}
	attackLink := g.LinkFor("mallory@example.com")
	attackPath := strings.TrimPrefix(attackLink, g.Base)

	// The victim has just asked for a link of their own in this browser,
	// so it holds a pre-sign-in cookie: for the victim's attempt only.
	ctx := browser(t)
	openLogin(t, ctx, g.Base, "/app/page?x=1")
	askForCode(t, ctx, "vic@example.com")

	// Then visits the attacker's pages, on another site and on another
	// port of the same site.
	for _, site := range []string{evil, sameSite} {
		do(t, ctx, chromedp.Navigate(site+"/go?to="+url.QueryEscape(attackLink)))
		asksToSignIn(t, ctx, g.Base, attackPath, "mallory@example.com")
	}
	if got := fetchHeaders(t, g, attackPath); strings.Join(got, ",") != "cross-site <nil>,same-site <nil>" {
		t.Fatalf("the link was opened with Sec-Fetch-Site, Sec-Fetch-User %q, not as this test means", got)
	}
	screenshot(t, ctx, "5b-magic-link-asks")
	signedOut(t, ctx, g.Base)

	// The victim's own link, opened from webmail (a click on another
	// site), in the browser that asked for it, signs in by itself.
	victimLink := g.LinkFor("vic@example.com")
	do(t, ctx, chromedp.Navigate(evil+"/mail?link="+url.QueryEscape(victimLink)),
		chromedp.Click(chromedp.ID("link")), chromedp.WaitVisible(chromedp.CSS("pre")))
	landed(t, ctx, g.Base, "/app/page?x=1", "vic@example.com")
	if got := fetchHeaders(t, g, strings.TrimPrefix(victimLink, g.Base)); strings.Join(got, ",") != "cross-site ?1" {
		t.Fatalf("the victim's link was opened with %q", got)
	}

	// A link opened on a device that did not ask for it: a navigation the
	// browser starts without a person's activation asks, and the click
	// signs in.
	phone := g.NewClient()
	phone.Start("mo@example.com")
	moLink := g.LinkFor("mo@example.com")
	other := secondContext(t, ctx)
	if _, err := chromedp.Call(other, page.Navigate, page.NavigateParams{URL: moLink, TransitionType: page.TransitionTypeLink}); err != nil {
		t.Fatal(err)
	}
	asksToSignIn(t, other, g.Base, strings.TrimPrefix(moLink, g.Base), "mo@example.com")
	if st := submit(t, other, chromedp.Click(chromedp.CSS("#magic button"))); st != 200 {
		t.Fatalf("the button: landed with %d", st)
	}
	landed(t, other, g.Base, "/app/next?x=1", "mo@example.com")
	if got := fetchHeaders(t, g, strings.TrimPrefix(moLink, g.Base)); strings.Join(got, ",") != "none <nil>" {
		t.Fatalf("mo's link was opened with %q", got)
	}

	// A mail program opening the link in a browser that did not ask for
	// it: Chromium sends what it sends for an address typed or handed over
	// by another program (checked in the access log), and the page signs
	// in by itself.
	g.NewClient().Start("ned@example.com")
	nedLink := g.LinkFor("ned@example.com")
	third := secondContext(t, ctx)
	do(t, third, chromedp.Navigate(nedLink), chromedp.WaitVisible(chromedp.CSS("pre")))
	landed(t, third, g.Base, "/app/next?x=1", "ned@example.com")
	if got := fetchHeaders(t, g, strings.TrimPrefix(nedLink, g.Base)); strings.Join(got, ",") != "none ?1" {
		t.Fatalf("ned's link was opened with %q", got)
	}
}
