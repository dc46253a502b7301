package supabase_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/passgate/caddy-passgate/internal/testenv"
)

// appServer serves a page that loads supabase-js (the published browser
// build) and makes a client for the gateway named in its query.
func appServer(t *testing.T) *httptest.Server {
	t.Helper()
	js, err := os.ReadFile(filepath.Join(testenv.ClientsDir(), "node_modules/@supabase/supabase-js/dist/umd/supabase.js"))
	if err != nil {
		t.Fatalf("supabase-js is not installed: run `npm ci` in %s (%v)", testenv.ClientsDir(), err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/supabase.js" {
			w.Header().Set("Content-Type", "text/javascript")
			w.Write(js)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<!doctype html><script src="/supabase.js"></script><script>
window.sb = supabase.createClient(new URLSearchParams(location.search).get("gw"), "sb_publishable_browser-key",
  { auth: { detectSessionInUrl: new URLSearchParams(location.search).has("detect"), autoRefreshToken: false } });
window.err = (e) => e && { name: e.name, status: e.status, code: e.code };
</script>`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// run evaluates an async expression in the page and decodes its JSON.
func run(t *testing.T, ctx context.Context, expr string) map[string]any {
	t.Helper()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => JSON.stringify(await (async () => {`+expr+`})()))()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatalf("%s: %q", expr, raw)
	}
	return out
}

// A page on an origin `cors` allows signs in with supabase-js in a real
// browser: code, wrong code (its GoTrue code readable), getUser,
// getClaims, signOut; the version header is readable there. A page on
// another origin cannot read any answer.
func TestBrowserCORS(t *testing.T) {
	app, other := appServer(t), appServer(t)
	g := testenv.StartGateway(t, testenv.WithExtra("compat supabase\n\t\tcors "+app.URL))
	ctx := testenv.Browser(t)
	if _, err := chromedp.Run(ctx, chromedp.Navigate(app.URL+"/?gw="+g.Base)); err != nil {
		t.Fatal(err)
	}
	if r := run(t, ctx, `const r = await sb.auth.signInWithOtp({ email: "lu@example.com" }); return { error: err(r.error) }`); r["error"] != nil {
		t.Fatalf("signInWithOtp: %v", r)
	}
	code := g.CodeFor("lu@example.com")
	wrong := strings.Map(func(r rune) rune { return '0' + (r-'0'+5)%10 }, code)
	r := run(t, ctx, `const r = await sb.auth.verifyOtp({ email: "lu@example.com", token: "`+wrong+`", type: "email" });
		const raw = await fetch("`+g.Base+`/auth/v1/health", { headers: { apikey: "k" } });
		return { error: err(r.error), version: raw.headers.get("x-supabase-api-version") }`)
	if e, _ := r["error"].(map[string]any); e == nil || e["code"] != "otp_expired" || e["status"] != 403.0 || r["version"] != "2024-01-01" {
		t.Fatalf("wrong code from the app's origin: %v", r)
	}
	r = run(t, ctx, `const v = await sb.auth.verifyOtp({ email: "lu@example.com", token: "`+code+`", type: "email" });
		const u = await sb.auth.getUser();
		const c = await sb.auth.getClaims();
		const o = await sb.auth.signOut();
		const after = await sb.auth.getSession();
		return { verify: err(v.error), email: u.data.user && u.data.user.email, user: err(u.error),
			claims: c.data && c.data.claims.email, claimsErr: err(c.error), signOut: err(o.error), after: after.data.session }`)
	if r["verify"] != nil || r["email"] != "lu@example.com" || r["claims"] != "lu@example.com" || r["signOut"] != nil || r["after"] != nil {
		t.Fatalf("signed in from the app's origin: %v", r)
	}

	if _, err := chromedp.Run(ctx, chromedp.Navigate(other.URL+"/?gw="+g.Base)); err != nil {
		t.Fatal(err)
	}
	r = run(t, ctx, `const r = await sb.auth.signInWithOtp({ email: "mo@example.com" });
		let raw = "read";
		try { await fetch("`+g.Base+`/auth/v1/health", { headers: { apikey: "k" } }) } catch (e) { raw = e.name }
		return { error: err(r.error), raw }`)
	if e, _ := r["error"].(map[string]any); e == nil || e["name"] != "AuthRetryableFetchError" || r["raw"] != "TypeError" {
		t.Fatalf("from a disallowed origin: %v", r)
	}
}

// The emailed link in a real browser, implicit flow. Followed from a
// page, it asks first and its button posts under the page's CSP; opened
// as from a mail program (typed in the address bar), it continues by
// itself. Either way the redirect lands on the app with the session in
// the fragment, and supabase-js takes it from the URL (detectSessionInUrl)
// after checking it with GET /user.
func TestBrowserMagicLink(t *testing.T) {
	app := appServer(t)
	g := testenv.StartGateway(t, testenv.WithExtra("compat supabase\n\t\tcors "+app.URL+"\n\t\tredirect_origins "+app.URL))
	ctx := testenv.Browser(t)
	for _, tc := range []struct {
		email string
		open  func(link string)
	}{
		{"ola@example.com", func(link string) {
			// From a page: the browser says cross-site, the page asks.
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`location.href = "`+link+`"`)); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				heading, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("h1") ? document.querySelector("h1").textContent : ""`))
				if heading == "Sign in as ola@example.com?" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("link page heading %q", heading)
				}
				time.Sleep(20 * time.Millisecond) // polling the navigation
			}
			if _, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("button"))); err != nil {
				t.Fatal(err)
			}
		}},
		{"pia@example.com", func(link string) {
			if _, err := chromedp.Run(ctx, chromedp.Navigate(link)); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		if _, err := chromedp.Run(ctx, chromedp.Navigate(app.URL+"/?detect=1&gw="+g.Base)); err != nil {
			t.Fatal(err)
		}
		r := run(t, ctx, `const r = await sb.auth.signInWithOtp({ email: "`+tc.email+`", options: { emailRedirectTo: location.href } }); return { error: err(r.error) }`)
		if r["error"] != nil {
			t.Fatalf("signInWithOtp: %v", r)
		}
		tc.open(g.LinkFor(tc.email))
		deadline := time.Now().Add(10 * time.Second)
		for {
			r, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => { if (typeof sb === "undefined") return "";
				const s = await sb.auth.getSession(); return location.origin + " " + location.hash + "|" + (s.data.session ? s.data.session.user.email : "") })()`, chromedp.EvalAwaitPromise))
			if err == nil && r == app.URL+" |"+tc.email {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the app did not take the session from the link: %q %v", tc.email, r, err)
			}
			time.Sleep(50 * time.Millisecond) // polling the page; nothing to wait on
		}
	}
}
