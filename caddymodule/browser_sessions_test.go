package caddymodule_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/passgate/caddy-passgate/internal/clock"
	"github.com/passgate/caddy-passgate/internal/testenv"
)

// signInPages signs the browser in through the pages of g, from a
// protected path, and checks it lands there.
func signInPages(t *testing.T, ctx context.Context, g *testenv.Gateway, path, email string) {
	t.Helper()
	openLogin(t, ctx, g.Base, path)
	if st := submit(t, ctx, chromedp.SendKeys(chromedp.ID("email"), email+"\r")); st != 200 {
		t.Fatalf("start: %d", st)
	}
	if st := submit(t, ctx, chromedp.SendKeys(chromedp.ID("code"), g.CodeFor(email)+"\r")); st != 200 {
		t.Fatalf("verify: landed with %d", st)
	}
	landed(t, ctx, g.Base, path, email)
}

// challengedWithin navigates to path on g until the gate sends the browser
// to sign in, and fails if that takes longer than d.
func challengedWithin(t *testing.T, ctx context.Context, g *testenv.Gateway, path string, d time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		late := time.Since(start) >= d
		do(t, ctx, chromedp.Navigate(g.Base+path))
		if u := location(t, ctx, g.Base); strings.HasPrefix(u, "/auth/login?redirect_to=") {
			t.Logf("%s challenged after %v", path, time.Since(start))
			return
		}
		if late {
			t.Fatalf("%s still served %v after its session was ended", path, time.Since(start))
		}
	}
}

// Two browsers of one user, on two instances sharing one Redis: the
// laptop, on instance A's signed-in page, ends the phone's session with
// its button, scripts off (plain forms); the phone, last seen on instance
// B, is sent to sign in at its next request there, within the 1 s bound.
// Then "End every other session" does the same for a new phone session.
func TestBrowserEndsAnotherSession(t *testing.T) {
	a := testenv.StartGateway(t, testenv.WithRedis(testenv.StartRedis(t)))
	b := testenv.StartTwin(t, a)
	laptop := browser(t)
	phone := secondContext(t, laptop)

	signInPages(t, laptop, b, "/app/laptop", "kim@example.com")
	clock.Advance(61 * time.Second) // A's clock: past the resend cooldown
	signInPages(t, phone, a, "/app/phone", "kim@example.com")
	// Cookies are the host's, whatever the port: the phone goes on on B.
	do(t, phone, chromedp.Navigate(b.Base+"/app/phone"))
	landed(t, phone, b.Base, "/app/phone", "kim@example.com")

	withoutScripts(t, laptop)
	if st := submit(t, laptop, chromedp.Navigate(a.Base+"/auth/login?redirect_to=/app/laptop")); st != 200 {
		t.Fatalf("signed-in page: %d", st)
	}
	if n := evaluate[int](t, laptop, `document.querySelectorAll(".sessions li").length`); n != 2 {
		t.Fatalf("%d sessions listed, want 2: %s", n, text(t, laptop))
	}
	row := func(sel string) string {
		return evaluate[string](t, laptop, `document.querySelector(`+"`"+sel+"`"+`).innerText`)
	}
	for _, sel := range []string{".sessions li[data-current]", ".sessions li:not([data-current])"} {
		if r := row(sel); !strings.Contains(r, "Chrome on Linux") || !strings.Contains(r, "127.0.0.0/24") || !strings.Contains(r, "last used") {
			t.Fatalf("row %s: %q", sel, r)
		}
	}
	if r := row(".sessions li[data-current]"); !strings.Contains(r, "this browser") {
		t.Fatalf("the current row is not marked: %q", r)
	}
	screenshot(t, laptop, "sessions-1-list")

	if st := submit(t, laptop, chromedp.Click(chromedp.CSS(".sessions li:not([data-current]) button"))); st != 200 {
		t.Fatalf("ending the phone's session: landed with %d", st)
	}
	ended := time.Now()
	if u := location(t, laptop, a.Base); u != "/auth/login?ended=1&redirect_to=%2Fapp%2Flaptop" {
		t.Fatalf("after ending a session the laptop is on %s", u)
	}
	if body := text(t, laptop); !strings.Contains(body, "1 session was ended.") || !strings.Contains(body, "You are signed in") {
		t.Fatalf("after ending a session: %s", body)
	}
	if n := evaluate[int](t, laptop, `document.querySelectorAll(".sessions li").length`); n != 1 {
		t.Fatalf("%d sessions listed after ending one, want 1", n)
	}
	challengedWithin(t, phone, b, "/app/phone", time.Second-time.Since(ended))

	// The laptop goes on, on both instances.
	for _, g := range []*testenv.Gateway{a, b} {
		do(t, laptop, chromedp.Navigate(g.Base+"/app/laptop"))
		landed(t, laptop, g.Base, "/app/laptop", "kim@example.com")
	}

	// The phone signs in again (on A: B's clock is not the one tests
	// move) and goes on on B; the laptop ends every other session.
	clock.Advance(61 * time.Second)
	signInPages(t, phone, a, "/app/phone", "kim@example.com")
	do(t, phone, chromedp.Navigate(b.Base+"/app/phone"))
	landed(t, phone, b.Base, "/app/phone", "kim@example.com")
	do(t, laptop, chromedp.Navigate(a.Base+"/auth/login"))
	if st := submit(t, laptop, chromedp.Click(chromedp.ID("end-others"))); st != 200 {
		t.Fatalf("ending the others: landed with %d", st)
	}
	ended = time.Now()
	if body := text(t, laptop); !strings.Contains(body, "1 session was ended.") {
		t.Fatalf("after ending the others: %s", body)
	}
	challengedWithin(t, phone, b, "/app/phone", time.Second-time.Since(ended))
	do(t, laptop, chromedp.Navigate(b.Base+"/app/laptop"))
	landed(t, laptop, b.Base, "/app/laptop", "kim@example.com")
}
