package supabase_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/internal/clock"
	"github.com/passgate/caddy-passgate/internal/testenv"
)

var hiddenField = regexp.MustCompile(`name="(token|redirect_to)" value="([^"]*)"`)

// openLink GETs an emailed link as a browser does and returns the page's
// form fields.
func openLink(t *testing.T, c *client, link string) url.Values {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Do("GET", u.RequestURI(), nil, "Accept", "text/html")
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("link page: %d %s", r.Status, r.Body)
	}
	if r.Header.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(r.Header.Get("Content-Security-Policy"), "form-action 'self'") {
		t.Fatalf("page headers %v", r.Header)
	}
	form := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(string(r.Body), -1) {
		form.Set(m[1], strings.ReplaceAll(m[2], "&amp;", "&"))
	}
	if form.Get("token") == "" {
		t.Fatalf("no form on the page: %s", r.Body)
	}
	return form
}

func (c *client) continueLink(form url.Values, header ...string) testenv.Response {
	return c.Do("POST", "/auth/v1/verify", form.Encode(), append([]string{
		"Content-Type", "application/x-www-form-urlencoded", "Origin", c.G.Base, "Sec-Fetch-Site", "same-origin",
	}, header...)...)
}

// The implicit flow: the emailed link's GET shows a page and consumes
// nothing, however often; its form's POST signs in and redirects to
// redirect_to with the session in the fragment; the link is then spent,
// and opening it again redirects with GoTrue's error. A cross-site post is
// refused.
func TestMagicLinkImplicit(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithExtra(doorConfig))
	c := newClient(g)
	email := "gus@example.com"
	redirect := "https://app.example.com/welcome#old"
	if r := c.call("POST", "/otp?redirect_to="+url.QueryEscape(redirect), map[string]any{"email": email, "data": map[string]any{"plan": "pro"}}); r.Status != 200 {
		t.Fatalf("otp: %d %s", r.Status, r.Body)
	}
	link := g.LinkFor(email)
	if !strings.HasPrefix(link, g.Base+"/auth/v1/verify?token=") || !strings.Contains(link, "type=magiclink") {
		t.Fatalf("link %s", link)
	}
	form := openLink(t, c, link)
	page := c.Do("GET", strings.TrimPrefix(link, g.Base), nil)
	if !strings.Contains(page.Header.Get("Content-Security-Policy"), "form-action 'self' https://app.example.com;") {
		t.Fatalf("the page's form may not redirect to the allowed origins: %v", page.Header)
	}
	openLink(t, c, link) // scanners, previews: still there
	if form.Get("redirect_to") != redirect {
		t.Fatalf("form redirect_to %q", form.Get("redirect_to"))
	}

	if r := c.continueLink(form, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"); r.Status != 403 {
		t.Fatalf("cross-site post: %d", r.Status)
	}
	big := url.Values{"token": {strings.Repeat("a", 20000)}}
	if r := c.continueLink(big); r.Status != 413 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("oversized form: %d %v", r.Status, r.Header)
	}
	if r := c.continueLink(url.Values{"token": {"junk"}, "redirect_to": {"https://evil.example/x"}}); r.Status != 303 ||
		!strings.HasPrefix(r.Header.Get("Location"), "/#error=access_denied") {
		t.Fatalf("junk token with a foreign redirect: %d %v", r.Status, r.Header.Get("Location"))
	}
	u, q, f := location(t, c.continueLink(form))
	if u.Scheme+"://"+u.Host+u.Path != "https://app.example.com/welcome" || len(q) != 0 {
		t.Fatalf("redirected to %s", u)
	}
	for _, k := range []string{"access_token", "refresh_token", "expires_in", "expires_at", "token_type", "type"} {
		if f.Get(k) == "" {
			t.Fatalf("fragment lacks %s: %v", k, f)
		}
	}
	if f.Get("type") != "magiclink" || f.Get("token_type") != "bearer" || !f.Has("sb") {
		t.Fatalf("fragment %v", f)
	}
	cl := claims(t, f.Get("access_token"))
	if cl["email"] != email || cl["amr"].([]any)[0].(map[string]any)["method"] != "magiclink" ||
		cl["user_metadata"].(map[string]any)["plan"] != "pro" {
		t.Fatalf("claims %v", cl)
	}
	if r := c.call("GET", "/user", nil, bearer(f.Get("access_token"))...); r.Status != 200 {
		t.Fatalf("the fragment's token: %d", r.Status)
	}

	// Spent: the GET and the POST redirect with the error; the code of the
	// same message is spent too; and token_hash gives otp_expired.
	lu, _ := url.Parse(link)
	_, q, f = location(t, c.Do("GET", lu.RequestURI(), nil))
	if f.Get("error") != "access_denied" || f.Get("error_code") != "otp_expired" || f.Get("error_description") != "Email link is invalid or has expired" || len(q) != 0 {
		t.Fatalf("spent link: %v %v", q, f)
	}
	_, _, f = location(t, c.continueLink(form))
	if f.Get("error_code") != "otp_expired" {
		t.Fatalf("spent link's post: %v", f)
	}
	wantError(t, c.call("POST", "/verify", map[string]any{"token_hash": form.Get("token"), "type": "magiclink"}), 403, "otp_expired")

	// token_hash (verifyOtp) signs in with a fresh link's token.
	clock.Advance(61 * time.Second)
	c.call("POST", "/otp", map[string]any{"email": email})
	form = openLink(t, c, g.LinkFor(email))
	r := c.call("POST", "/verify", map[string]any{"token_hash": form.Get("token"), "type": "email"})
	if r.Status != 200 || r.JSON(t)["user"].(map[string]any)["email"] != email {
		t.Fatalf("token_hash: %d %s", r.Status, r.Body)
	}
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// PKCE: the link's POST redirects with ?code= (keeping redirect_to's own
// query), and consumes nothing yet; the code with the right verifier gives
// the session once; a wrong verifier burns the code and the link; a code
// older than 5 minutes is flow_state_expired; errors on a PKCE link go in
// the query too.
func TestMagicLinkPKCE(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithExtra(doorConfig))
	c := newClient(g)
	verifier := strings.Repeat("0123456789abcdef", 7) // 112 hex digits, as auth-js makes them
	exchange := func(code, verifier string) testenv.Response {
		return c.call("POST", "/token?grant_type=pkce", map[string]any{"auth_code": code, "code_verifier": verifier})
	}
	start := func(email, challenge, method string) url.Values {
		t.Helper()
		clock.Advance(61 * time.Second)
		r := c.call("POST", "/otp?redirect_to="+url.QueryEscape("https://app.example.com/cb?sb_flow_id=f1"),
			map[string]any{"email": email, "code_challenge": challenge, "code_challenge_method": method})
		if r.Status != 200 {
			t.Fatalf("otp: %d %s", r.Status, r.Body)
		}
		link := g.LinkFor(email)
		if !strings.Contains(link, "token=pkce_") {
			t.Fatalf("PKCE link %s", link)
		}
		return openLink(t, c, link)
	}
	code := func(form url.Values) string {
		t.Helper()
		u, q, f := location(t, c.continueLink(form))
		if u.Host != "app.example.com" || q.Get("sb_flow_id") != "f1" || q.Get("code") == "" || f.Get("access_token") != "" {
			t.Fatalf("PKCE redirect %s", u)
		}
		return q.Get("code")
	}

	form := start("hal@example.com", s256(verifier), "s256")
	first := code(form)
	second := code(form) // nothing consumed yet: the link still works
	wantError(t, exchange(first, strings.Repeat("f", 112)), 400, "bad_code_verifier")
	// The wrong verifier burned the link: the other code is dead too.
	wantError(t, exchange(second, verifier), 404, "flow_state_not_found")

	form = start("hal@example.com", s256(verifier), "S256")
	ac := code(form)
	r := exchange(ac, verifier)
	if r.Status != 200 {
		t.Fatalf("exchange: %d %s", r.Status, r.Body)
	}
	s := r.JSON(t)
	if s["user"].(map[string]any)["email"] != "hal@example.com" || s["refresh_token"] == "" {
		t.Fatalf("session %v", s)
	}
	wantError(t, exchange(ac, verifier), 404, "flow_state_not_found")
	// Spent PKCE link: the error in the query and the fragment.
	_, q, f := location(t, c.continueLink(form))
	if q.Get("error_code") != "otp_expired" || f.Get("error_code") != "otp_expired" || q.Get("sb_flow_id") != "f1" {
		t.Fatalf("spent PKCE link: %v %v", q, f)
	}

	form = start("hal@example.com", verifier, "plain")
	ac = code(form)
	clock.Advance(6 * time.Minute)
	wantError(t, exchange(ac, verifier), 422, "flow_state_expired")
	ac = code(form) // the link lives 10 minutes: a new code
	if r := exchange(ac, verifier); r.Status != 200 {
		t.Fatalf("plain exchange: %d %s", r.Status, r.Body)
	}

	// A code is not a token hash, nor the reverse; tampered codes are
	// unknown.
	form = start("hal@example.com", s256(verifier), "s256")
	ac = code(form)
	wantError(t, c.call("POST", "/verify", map[string]any{"token_hash": ac, "type": "email"}), 403, "otp_expired")
	wantError(t, exchange(strings.TrimPrefix(form.Get("token"), "pkce_"), verifier), 404, "flow_state_not_found")
	tampered := []byte(ac)
	tampered[10] ^= 1
	wantError(t, exchange(string(tampered), verifier), 404, "flow_state_not_found")
	if r := exchange(ac, verifier); r.Status != 200 {
		t.Fatalf("after the failed tries the code still works: %d %s", r.Status, r.Body)
	}
}
