package otpless_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/passgate/caddy-passgate/internal/testenv"
)

// The magic link in a real browser: the emailed link opens passgate's
// page, whose script posts its form, the browser lands on the app's page with
// ?code=, and the app's backend exchanges the code for what the browser
// told: its user agent, platform, language, screen and pixel ratio, and
// its address.
func TestMagicLinkInBrowser(t *testing.T) {
	app := appServer(t)
	g := setup(t, testenv.StartSMSGateway(t), app.URL)
	shop := newBackend(g, "shop", shopSecret)
	want(t, shop.call("initiate/magiclink", map[string]any{"email": "web@example.com", "channels": []string{"EMAIL"}, "redirectURI": app.URL + "/welcome"}), 200, nil)
	link := g.LinkFor("web@example.com")
	ctx := testenv.Browser(t, chromedp.WindowSize(1280, 800))
	// Opened as from a mail program: the page's script reads the device
	// and presses the button itself.
	if err := chromedp.Do(ctx, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("code"))); err != nil {
		t.Fatal(err)
	}
	eval := func(expr string) any {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[any](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	ua, platform, lang := eval("navigator.userAgent"), eval("navigator.platform"), eval("navigator.language")
	width, height, ratio := eval("screen.width"), eval("screen.height"), eval("window.devicePixelRatio")
	landed, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	shown, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("code")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(landed, app.URL+"/welcome?code=") || shown == "" {
		t.Fatalf("landed on %q showing %q", landed, shown)
	}
	code := mustQuery(t, landed, "code")
	answer := shop.call("verify/code", map[string]any{"code": code})
	got := want(t, answer, 200, map[string]any{"message": "Code verified successfully"})
	writeSeed(t, code, answer)
	d := got["userDetails"].(map[string]any)
	dev := d["deviceInfo"].(map[string]any)
	said := map[string]any{"userAgent": ua, "platform": platform, "language": lang, "screenWidth": width, "screenHeight": height, "devicePixelRatio": ratio}
	if len(dev) != len(said) {
		t.Fatalf("deviceInfo %v; the browser said %v", dev, said)
	}
	for k, v := range said {
		if dev[k] != v {
			t.Fatalf("deviceInfo %v; the browser said %v", dev, said)
		}
	}
	if s, _ := ua.(string); !strings.Contains(s, "Chrome") || width == 0.0 {
		t.Fatalf("the browser said user agent %v, width %v", ua, width)
	}
	if d["network"].(map[string]any)["ip"] != "127.0.0.1" {
		t.Fatalf("network %v", d["network"])
	}
	want(t, shop.call("verify/code", map[string]any{"code": code}), 400, map[string]any{"errorCode": "4000"})
}
