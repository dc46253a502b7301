package logto_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/passgate/caddy-passgate/internal/testenv"
)

// A custom sign-in page (testdata/sign-in.html, the one docs/compat.md
// shows) in a real browser: the app sends the browser to the door's
// /sign-in, which sends it to the page; the page runs the Experience API
// sequence with fetch: a wrong code shows Logto's code_mismatch, the right
// one (a first sign-in, so through Register) ends at the app's page the
// sign-in started from, signed in, with the identity headers.
func TestBrowserCustomSignInPage(t *testing.T) {
	g := gateway(t)
	ctx := testenv.Browser(t)
	email := "browser@example.com"
	start := g.Base + mount + "/sign-in?redirect_to=" + url.QueryEscape("/app/dashboard?tab=1")
	if err := chromedp.Do(ctx,
		chromedp.Navigate(start),
		chromedp.WaitVisible(chromedp.ID("email")),
	); err != nil {
		t.Fatal(err)
	}
	if at, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.HasSuffix(at, signInPage) {
		t.Fatalf("sign-in page at %q: %v", at, err)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.Click(chromedp.ID("send")),
		chromedp.WaitVisible(chromedp.ID("code")),
		chromedp.SendKeys(chromedp.ID("code"), "000000"),
		chromedp.Click(chromedp.ID("verify")),
		chromedp.WaitVisible(chromedp.CSS(`#error[data-code="verification_code.code_mismatch"]`)),
	); err != nil {
		t.Fatal(err)
	}
	code := g.CodeFor(email)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("code").value = ""`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("code"), code),
		chromedp.Click(chromedp.ID("verify")),
	); err != nil {
		t.Fatal(err)
	}
	// The page navigates away: poll again when a poll meets the
	// navigation.
	for deadline := time.Now().Add(20 * time.Second); ; {
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](`location.pathname === "/app/dashboard" && document.readyState === "complete"`,
			chromedp.WithPollingTimeout(5*time.Second)))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never reached the app: %v", err)
		}
	}
	at, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(at, "/app/dashboard?tab=1") {
		t.Fatalf("ended at %q", at)
	}
	var echo struct {
		Headers map[string][]string
	}
	if err := json.Unmarshal([]byte(body), &echo); err != nil {
		t.Fatalf("upstream echo: %v: %q", err, body)
	}
	if got := echo.Headers["X-Auth-Email"]; len(got) != 1 || got[0] != email {
		t.Fatalf("identity headers: %v", echo.Headers)
	}
}
