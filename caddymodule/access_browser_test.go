package caddymodule_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/passgate/caddy-passgate/internal/testenv"
)

// In a real browser: a user without the role signs in on the way to a
// covered page and lands on the 403 page (styled under its CSP), whose
// button signs them out; they sign in with another account, which has
// the role, and reach the page.
func TestBrowserAccessDeniedSwitchAccount(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithExtra(accessRules))
	ctx := browser(t)

	signIn := func(email string) int64 {
		t.Helper()
		do(t, ctx, chromedp.Navigate(g.Base+"/admin/users"), chromedp.WaitVisible(chromedp.ID("email")))
		if st := submit(t, ctx, chromedp.SendKeys(chromedp.ID("email"), email+"\r")); st != 200 {
			t.Fatalf("start: %d", st)
		}
		return submit(t, ctx, chromedp.SendKeys(chromedp.ID("code"), g.CodeFor(email)))
	}
	if st := signIn("alice@example.com"); st != 403 {
		t.Fatalf("alice landed on /admin/users with %d, want 403", st)
	}
	if h := evaluate[string](t, ctx, `document.querySelector("h1").textContent`); h != "Access denied" {
		t.Fatalf("heading %q", h)
	}
	if c := evaluate[string](t, ctx, `getComputedStyle(document.querySelector("button")).backgroundColor`); c != "rgb(45, 91, 215)" {
		t.Fatalf("button colour %q: style blocked", c)
	}
	if st := submit(t, ctx, chromedp.Click(chromedp.CSS("button"))); st != 200 {
		t.Fatalf("sign out / switch account: landed with %d", st)
	}
	if body := evaluate[string](t, ctx, `document.body.innerText`); !strings.Contains(body, "You are signed out.") {
		t.Fatalf("after the 403 page's button: %s", body)
	}

	if st := signIn("admin@example.com"); st != 200 {
		t.Fatalf("admin landed on /admin/users with %d", st)
	}
	if body := evaluate[string](t, ctx, `document.body.innerText`); !strings.Contains(body, `"/admin/users"`) ||
		!strings.Contains(body, "admin@example.com") {
		t.Fatalf("admin did not reach the upstream: %s", body)
	}
}
