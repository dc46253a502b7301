package caddymodule_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/passgate/caddy-passgate/internal/testenv"
)

// evaluate evaluates expr in the page into a T.
// browser is headless chromium in a phone-sized window, as the sign-in
// pages are mostly seen.
func browser(t *testing.T) context.Context {
	return testenv.Browser(t, chromedp.WindowSize(390, 844))
}

func evaluate[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// submit runs steps that make the page navigate (a form post and its
// redirects) and returns the status of the page it lands on.
func submit(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) int64 {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Status
}

// A user in a real browser: the app sends them to the sign-in page, they
// type their address, then the code, which submits itself, and they land
// where they were going. Scripts and styles run under the page's strict
// CSP, or none of this would work.
func TestBrowserSignIn(t *testing.T) {
	sms := testenv.StartSMSGateway(t)
	g := testenv.StartGateway(t, testenv.WithSMS(sms, ""))
	ctx := browser(t)

	do(t, ctx, chromedp.Navigate(g.Base+"/app/deep?x=1"), chromedp.WaitVisible(chromedp.ID("email")))
	// The button colour comes from the nonce-carrying style, the switch
	// from the nonce-carrying script.
	if c := evaluate[string](t, ctx, `getComputedStyle(document.querySelector("#f-email button")).backgroundColor`); c != "rgb(45, 91, 215)" {
		t.Fatalf("button colour %q: style blocked", c)
	}
	if evaluate[bool](t, ctx, `document.querySelector("[data-switch]").hidden`) {
		t.Fatal("the email/phone switch is hidden: script blocked")
	}
	if st := submit(t, ctx, chromedp.SendKeys(chromedp.ID("email"), "Liz@Example.com\r")); st != 200 {
		t.Fatalf("start: %d", st)
	}
	if !evaluate[bool](t, ctx, `document.getElementById("resend").disabled`) {
		t.Fatal("resend is enabled before the cooldown")
	}
	// No Enter: the complete code submits itself.
	if st := submit(t, ctx, chromedp.SendKeys(chromedp.ID("code"), g.CodeFor("liz@example.com"))); st != 200 {
		t.Fatalf("verify: landed with %d", st)
	}
	if u := evaluate[string](t, ctx, `location.pathname + location.search`); u != "/app/deep?x=1" {
		t.Fatalf("landed on %s", u)
	}
	if body := evaluate[string](t, ctx, `document.body.innerText`); !strings.Contains(body, "liz@example.com") {
		t.Fatalf("upstream got %s", body)
	}
}

// By phone: the switch, the number, a wrong code, the code from the SMS
// gateway pasted with a space.
func TestBrowserSignInByPhone(t *testing.T) {
	sms := testenv.StartSMSGateway(t)
	g := testenv.StartGateway(t, testenv.WithSMS(sms, ""))
	ctx := browser(t)

	do(t, ctx, chromedp.Navigate(g.Base+"/auth/login?redirect_to=/app/p"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.Click(chromedp.CSS("[data-channel=phone]")),
		chromedp.WaitVisible(chromedp.ID("phone")))
	if !evaluate[bool](t, ctx, `document.getElementById("f-email").hidden`) {
		t.Fatal("the email form still shows after switching to phone")
	}
	if f := evaluate[string](t, ctx, `document.activeElement.id`); f != "phone" {
		t.Fatalf("focus on %q after switching, want the phone field", f)
	}
	if st := submit(t, ctx, chromedp.SendKeys(chromedp.ID("phone"), "+44 7946 095800\r")); st != 200 {
		t.Fatalf("start: %d", st)
	}
	code := sms.CodeFor("+447946095800")

	if st := submit(t, ctx, chromedp.SendKeys(chromedp.ID("code"), "000000")); st != 400 {
		t.Fatalf("wrong code: %d", st)
	}
	if e := evaluate[string](t, ctx, `document.getElementById("error").textContent`); e != "That code is not right. You have 4 tries left." {
		t.Fatalf("after a wrong code: %q", e)
	}
	if st := submit(t, ctx, chromedp.SendKeys(chromedp.ID("code"), code[:3]+" "+code[3:])); st != 200 {
		t.Fatalf("verify: landed with %d", st)
	}
	if u := evaluate[string](t, ctx, `location.pathname`); u != "/app/p" {
		t.Fatalf("landed on %s", u)
	}
	if body := evaluate[string](t, ctx, `document.body.innerText`); !strings.Contains(body, "+447946095800") {
		t.Fatalf("upstream got %s", body)
	}
}
