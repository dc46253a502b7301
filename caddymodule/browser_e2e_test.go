package caddymodule_test

// End-to-end sign-in in a real browser, with the email going through a
// real SMTP conversation: what a person sees and clicks, from the app's
// URL to the app's answer.

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/passgate/caddy-passgate/internal/clock"
	"github.com/passgate/caddy-passgate/internal/testenv"
	"github.com/passgate/caddy-passgate/internal/testenv/smtptest"
)

// secondContext opens a browser context beside ctx's, with its own
// cookies: another device, or a browser the link opens in.
func secondContext(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Location()); err != nil { // the browser must be running
		t.Fatal(err)
	}
	c, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	return c
}

// withoutScripts turns JavaScript off in ctx's tab, as some people and
// most mail scanners browse.
func withoutScripts(t *testing.T, ctx context.Context) {
	t.Helper()
	if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
}

// screenshot saves the page, at the phone size the browser starts with and
// at a desktop size and in dark mode, into $PASSGATE_SCREENSHOTS if that is set: for a
// person to look at, not for an assertion.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv("PASSGATE_SCREENSHOTS")
	if dir == "" {
		return
	}
	for _, v := range []struct {
		suffix string
		w, h   int64
		scheme string
	}{{"narrow", 390, 844, "light"}, {"wide", 1280, 800, "light"}, {"narrow-dark", 390, 844, "dark"}} {
		do(t, ctx, chromedp.EmulateViewport(v.w, v.h))
		if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: v.scheme}},
		}); err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+"-"+v.suffix+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{}); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, chromedp.EmulateViewport(390, 844))
}

// text is the visible text of the page.
func text(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// background is the computed background colour of the first element sel
// matches: the accent comes only from the page's nonce-carrying style, so
// this tells whether the CSP let the style in. It asks through CSS, so it
// works with scripts off.
func background(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	props, err := chromedp.Run(ctx, chromedp.ComputedStyle(chromedp.CSS(sel)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range props {
		if p.Name == "background-color" {
			return p.Value
		}
	}
	t.Fatalf("%s has no background-color", sel)
	return ""
}

const accentRGB = "rgb(45, 91, 215)" // the default accent, #2d5bd7

// location is the path and query of the page shown.
func location(t *testing.T, ctx context.Context, base string) string {
	t.Helper()
	u, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u, base) {
		t.Fatalf("the browser left the site: %s", u)
	}
	return strings.TrimPrefix(u, base)
}

// landed checks that the browser shows the upstream's echo of path, sent
// with email's identity.
func landed(t *testing.T, ctx context.Context, base, path, email string) {
	t.Helper()
	if u := location(t, ctx, base); u != path {
		t.Fatalf("landed on %s, want %s", u, path)
	}
	body := text(t, ctx)
	if !strings.Contains(body, `"X-Auth-Email":["`+email+`"]`) {
		t.Fatalf("upstream echo lacks the identity of %s: %s", email, body)
	}
}

// openLogin starts at a protected URL and checks that it leads to the
// sign-in page, which it leaves showing.
func openLogin(t *testing.T, ctx context.Context, base, path string) {
	t.Helper()
	if st := submit(t, ctx, chromedp.Navigate(base+path)); st != 200 {
		t.Fatalf("GET %s ended in %d", path, st)
	}
	if u := location(t, ctx, base); !strings.HasPrefix(u, "/auth/login?redirect_to=") {
		t.Fatalf("GET %s without a session shows %s, not the sign-in page", path, u)
	}
	do(t, ctx, chromedp.WaitVisible(chromedp.ID("email")))
}

// askForCode types the address on the sign-in page and checks the page
// that asks for the code.
func askForCode(t *testing.T, ctx context.Context, email string) {
	t.Helper()
	if st := submit(t, ctx, chromedp.SendKeys(chromedp.ID("email"), email+"\r")); st != 200 {
		t.Fatalf("start: %d", st)
	}
	body := text(t, ctx)
	if !strings.Contains(body, "Check your email") || !strings.Contains(body, "click the link in the email") {
		t.Fatalf("the code page does not tell of the code and the link: %s", body)
	}
}

// (a) and (c): the code read from the SMTP server, a wrong code first;
// then sign out and the app sends to sign-in again.
func TestBrowserSignInWithMailedCode(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Users: smtpUsers()})
	g := testenv.StartGateway(t, withSMTP(t, srv, ""))
	ctx := browser(t)

	openLogin(t, ctx, g.Base, "/app/page?x=1")
	screenshot(t, ctx, "1-sign-in")
	askForCode(t, ctx, "Ann@Example.com")
	screenshot(t, ctx, "2-check-your-email")
	code, _ := codeAndLink(t, srv, "ann@example.com")

	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	if st := submit(t, ctx, chromedp.SendKeys(chromedp.ID("code"), wrong)); st != 400 {
		t.Fatalf("wrong code: %d", st)
	}
	if e := evaluate[string](t, ctx, `document.getElementById("error").textContent`); e != "That code is not right. You have 4 tries left." {
		t.Fatalf("after a wrong code: %q", e)
	}
	screenshot(t, ctx, "3-wrong-code")
	if st := submit(t, ctx, chromedp.SendKeys(chromedp.ID("code"), code)); st != 200 {
		t.Fatalf("verify: landed with %d", st)
	}
	landed(t, ctx, g.Base, "/app/page?x=1", "ann@example.com")

	// The sign-in page, signed in, offers to sign out.
	if st := submit(t, ctx, chromedp.Navigate(g.Base+"/auth/login")); st != 200 {
		t.Fatalf("sign-in page when signed in: %d", st)
	}
	if body := text(t, ctx); !strings.Contains(body, "You are signed in") || !strings.Contains(body, "ann@example.com") {
		t.Fatalf("signed-in page: %s", body)
	}
	screenshot(t, ctx, "4-signed-in")
	if st := submit(t, ctx, chromedp.Click(chromedp.Search(`//button[normalize-space()="Sign out"]`))); st != 200 {
		t.Fatalf("sign out: landed with %d", st)
	}
	if u := location(t, ctx, g.Base); u != "/auth/login?signed_out=1" {
		t.Fatalf("after signing out: %s", u)
	}
	if body := text(t, ctx); !strings.Contains(body, "You are signed out.") {
		t.Fatalf("after signing out: %s", body)
	}
	screenshot(t, ctx, "7-signed-out")
	openLogin(t, ctx, g.Base, "/app/page?x=1")
}

// (b) and (d): the link from the email, opened in another browser context
// (the mail app's browser), signs in by its own script; opened again it
// says it no longer works, with the way back to sign-in. The code page the
// user left behind now refuses the used code.
func TestBrowserMagicLinkSignsIn(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Users: smtpUsers()})
	g := testenv.StartGateway(t, withSMTP(t, srv, ""))
	ctx := browser(t)

	openLogin(t, ctx, g.Base, "/app/page?x=1")
	askForCode(t, ctx, "bea@example.com")
	code, link := codeAndLink(t, srv, "bea@example.com")

	other := secondContext(t, ctx)
	// GET the link, the script posts its form, 303, the app. Wait for a
	// <pre>: the browser shows the app's JSON echo in one, or the JSON
	// error a refused post would get; the link page has none.
	do(t, other, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("pre")))
	landed(t, other, g.Base, "/app/page?x=1", "bea@example.com")
	// The script posts while the page loads, so the post replaces the link
	// page in the history: Back does not show the now used link, and the
	// token is not left in the history list.
	h, err := chromedp.Run(other, chromedp.NavigationEntries())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range h.Entries {
		if strings.Contains(e.URL, "/auth/magic") {
			t.Fatalf("the link page stayed in the history: %s", e.URL)
		}
	}

	// Used: the same link again.
	if st := submit(t, other, chromedp.Navigate(link)); st != 404 {
		t.Fatalf("used link: %d", st)
	}
	if body := text(t, other); !strings.Contains(body, "This sign-in link no longer works") {
		t.Fatalf("used link: %s", body)
	}
	if c := background(t, other, "a.button"); c != accentRGB {
		t.Fatalf("used-link page button %s: style blocked", c)
	}
	screenshot(t, other, "6-used-link")
	if st := submit(t, other, chromedp.Click(chromedp.Search(`//a[normalize-space()="Back to sign-in"]`))); st != 200 {
		t.Fatalf("back to sign-in: %d", st)
	}
	if u := location(t, other, g.Base); u != "/auth/login" {
		t.Fatalf("back to sign-in leads to %s", u)
	}

	// The first tab still asks for the code, which the link used up.
	if st := submit(t, ctx, chromedp.SendKeys(chromedp.ID("code"), code)); st != 404 {
		t.Fatalf("code after its link: %d", st)
	}
	if e := evaluate[string](t, ctx, `document.getElementById("error").textContent`); !strings.Contains(e, "expired or was already used") {
		t.Fatalf("code after its link: %q", e)
	}
}

// (b) without script: a mail scanner's GET and a browser with JavaScript
// off both only look; the button then signs in. The button's post comes
// from a no-referrer page, so the browser sends "Origin: null": it must
// still pass.
func TestBrowserMagicLinkWithoutScript(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Users: smtpUsers()})
	g := testenv.StartGateway(t, withSMTP(t, srv, ""))
	ctx := browser(t)

	openLogin(t, ctx, g.Base, "/app/page?x=1")
	askForCode(t, ctx, "cy@example.com")
	_, link := codeAndLink(t, srv, "cy@example.com")
	path := strings.TrimPrefix(link, g.Base)

	scanner := g.NewClient()
	if r := scanner.Do("GET", path, nil, "Accept", "text/html"); r.Status != 200 {
		t.Fatalf("scanner GET of the link: %d", r.Status)
	}

	noJS := secondContext(t, ctx)
	withoutScripts(t, noJS)
	if st := submit(t, noJS, chromedp.Navigate(link)); st != 200 {
		t.Fatalf("link without script: %d", st)
	}
	do(t, noJS, chromedp.WaitVisible(chromedp.CSS(`#magic button`)))
	if u := location(t, noJS, g.Base); u != path {
		t.Fatalf("without script the link page went on to %s", u)
	}
	if body := text(t, noJS); !strings.Contains(body, "cy@example.com") {
		t.Fatalf("link page: %s", body)
	}
	if c := background(t, noJS, "#magic button"); c != accentRGB {
		t.Fatalf("link page button %s: style blocked", c)
	}
	screenshot(t, noJS, "5-magic-link")
	// Neither GET used the link up.
	if r := scanner.Do("GET", path, nil); r.Status != 200 || !strings.Contains(string(r.Body), `name="token"`) {
		t.Fatalf("the link after two GETs: %d %s", r.Status, r.Body)
	}
	if r := scanner.Do("GET", "/app/page", nil); r.Status != 401 {
		t.Fatalf("a GET of the link signed the scanner in: %d", r.Status)
	}

	if st := submit(t, noJS, chromedp.Click(chromedp.CSS(`#magic button`))); st != 200 {
		t.Fatalf("the link's button: landed with %d", st)
	}
	landed(t, noJS, g.Base, "/app/page?x=1", "cy@example.com")
	// The post really came as Origin: null, and was let through.
	found := false
	for _, e := range testenv.ReadLog(t, g.AccessLog) {
		req, _ := e["request"].(map[string]any)
		if req == nil || req["method"] != "POST" || req["uri"] != "/auth/magic" {
			continue
		}
		found = true
		h, _ := req["headers"].(map[string]any)
		if o, _ := h["Origin"].([]any); len(o) != 1 || o[0] != "null" || e["status"] != float64(303) {
			t.Fatalf("POST /auth/magic: Origin %v, status %v", h["Origin"], e["status"])
		}
	}
	if !found {
		t.Fatal("no POST /auth/magic in the access log")
	}
}

// (c) "Sign out everywhere" on one device ends the session on another.
func TestBrowserSignOutEverywhere(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Users: smtpUsers()})
	g := testenv.StartGateway(t, withSMTP(t, srv, ""))
	laptop := browser(t)
	phone := secondContext(t, laptop)

	for i, ctx := range []context.Context{laptop, phone} {
		if i > 0 {
			clock.Advance(61 * time.Second) // the resend cooldown
		}
		openLogin(t, ctx, g.Base, "/app/page?x=1")
		askForCode(t, ctx, "dee@example.com")
		code, _ := codeAndLink(t, srv, "dee@example.com")
		if st := submit(t, ctx, chromedp.SendKeys(chromedp.ID("code"), code)); st != 200 {
			t.Fatalf("verify: landed with %d", st)
		}
		landed(t, ctx, g.Base, "/app/page?x=1", "dee@example.com")
	}

	do(t, laptop, chromedp.Navigate(g.Base+"/auth/login"))
	if st := submit(t, laptop, chromedp.Click(chromedp.Search(`//button[normalize-space()="Sign out everywhere"]`))); st != 200 {
		t.Fatalf("sign out everywhere: landed with %d", st)
	}
	if body := text(t, laptop); !strings.Contains(body, "You are signed out.") {
		t.Fatalf("after signing out everywhere: %s", body)
	}
	openLogin(t, laptop, g.Base, "/app/page?x=1")
	openLogin(t, phone, g.Base, "/app/page?x=1")
}
