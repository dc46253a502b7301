package nhost_test

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

// sendLink asks for a magic link to email and returns it.
func sendLink(t *testing.T, g *testenv.Gateway, c *testenv.Client, email string, body map[string]any) *url.URL {
	t.Helper()
	clock.Advance(11 * time.Second)
	body["email"] = email
	wantOK(t, c.Do("POST", mount+"/signin/passwordless/email", body))
	link, err := url.Parse(g.LinkFor(email))
	if err != nil {
		t.Fatal(err)
	}
	return link
}

// get fetches a link the way a mail scanner or a browser does.
func get(c *testenv.Client, link *url.URL, hdr ...string) testenv.Response {
	return c.Do("GET", link.RequestURI(), nil, append([]string{"Accept", "text/html"}, hdr...)...)
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([A-Za-z]+)" value="([^"]*)">`)

// form is the continue page's hidden fields.
func form(t *testing.T, r testenv.Response) url.Values {
	t.Helper()
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("want the continue page, got %d %s", r.Status, r.Body)
	}
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(string(r.Body), -1) {
		v.Set(m[1], strings.ReplaceAll(strings.ReplaceAll(m[2], "&#43;", "+"), "&amp;", "&"))
	}
	return v
}

// continueWith posts the continue page's form, as the page's own origin.
func continueWith(c *testenv.Client, g *testenv.Gateway, v url.Values, hdr ...string) testenv.Response {
	h := append([]string{"Content-Type", "application/x-www-form-urlencoded", "Origin", g.Base}, hdr...)
	return c.Do("POST", mount+"/verify", v.Encode(), h...)
}

// The emailed link is Nhost's, with a ticket of 256 bits. GETs (a mail
// scanner's, a preview's) show the continue page and use nothing up; its
// POST signs in and redirects to the redirectTo the sign-in started with,
// with the refresh token; the link then redirects with Nhost's error.
func TestNhostMagicLink(t *testing.T) {
	g, c := start(t, testenv.StartGateway(t, testenv.WithExtra(edgeConfig)))
	email := "link@example.com"
	link := sendLink(t, g, c, email, map[string]any{"options": map[string]any{"redirectTo": appOrigin + "/cb?x=1#frag"}})
	q := link.Query()
	ticket, ok := strings.CutPrefix(q.Get("ticket"), "passwordlessEmail:")
	if link.Path != mount+"/verify" || q.Get("type") != "signinPasswordless" || !ok || len(ticket) != 43 || q.Get("redirectTo") != appOrigin+"/cb?x=1#frag" {
		t.Fatalf("link %s", link)
	}
	var page testenv.Response
	for range 2 {
		page = get(c, link)
		if page.Status != 200 || strings.Contains(string(page.Body), "<script") {
			t.Fatalf("GET: %d, script %v", page.Status, strings.Contains(string(page.Body), "<script"))
		}
	}
	if h := page.Header; h.Get("Referrer-Policy") != "no-referrer" || h.Get("Cache-Control") != "no-store" ||
		!strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") || !strings.Contains(h.Get("Content-Security-Policy"), "form-action 'self' "+appOrigin) {
		t.Fatalf("page headers %v", h)
	}
	if r := c.Do("HEAD", link.RequestURI(), nil); r.Status != 200 {
		t.Fatalf("HEAD: %d", r.Status)
	}
	fields := form(t, page)
	if !strings.Contains(string(page.Body), email) || fields.Get("ticket") != q.Get("ticket") {
		t.Fatalf("page fields %v", fields)
	}
	// A person opening it from a mail program: the page presses its own
	// button, under a nonce.
	auto := get(c, link, "Sec-Fetch-Site", "none", "Sec-Fetch-User", "?1")
	if !strings.Contains(string(auto.Body), "<script nonce=") || !strings.Contains(auto.Header.Get("Content-Security-Policy"), "script-src 'nonce-") {
		t.Fatal("an opened link's page does not continue by itself")
	}

	// Another site cannot post it; a JSON post is not the page's.
	if r := continueWith(c, g, fields, "Origin", "https://evil.example"); r.Status != 403 {
		t.Fatalf("cross-site POST: %d", r.Status)
	}
	evil := c.Do("POST", mount+"/verify", fields.Encode(), "Content-Type", "application/x-www-form-urlencoded", "Origin", "https://evil.example")
	if evil.Status != 403 {
		t.Fatalf("cross-site POST: %d", evil.Status)
	}
	if r := c.Do("POST", mount+"/verify", map[string]any{"ticket": fields.Get("ticket")}, "Origin", g.Base); r.Status != 415 {
		t.Fatalf("JSON POST: %d", r.Status)
	}
	// The link's redirectTo is not where the tokens go: the sign-in's is.
	fields.Set("redirectTo", "https://evil.example/steal")
	to := location(t, continueWith(c, g, fields))
	if to.Scheme+"://"+to.Host != appOrigin || to.Path != "/cb" || to.Fragment != "frag" || to.Query().Get("x") != "1" ||
		to.Query().Get("type") != "passwordlessEmail" || len(to.Query().Get("refreshToken")) < 43 {
		t.Fatalf("redirect to %s", to)
	}
	s := jsonOf(t, c.Do("POST", mount+"/token", map[string]any{"refreshToken": to.Query().Get("refreshToken")}), 200)
	if s["user"].(map[string]any)["email"] != email {
		t.Fatalf("session %v", s)
	}

	// Used: GET and POST redirect with Nhost's error, never with tokens;
	// to the link's redirectTo only if allowed.
	for _, r := range []testenv.Response{get(c, link), continueWith(c, g, fields)} {
		to := location(t, r)
		if to.Query().Get("error") != "invalid-ticket" || to.Query().Get("errorDescription") != "Invalid ticket" || to.Query().Has("refreshToken") {
			t.Fatalf("used link: %s", to)
		}
	}
	if to := location(t, get(c, link)); to.Scheme+"://"+to.Host != appOrigin {
		t.Fatalf("error redirect for the allowed redirectTo went to %s", to)
	}
	tampered := *link
	tq := tampered.Query()
	tq.Set("redirectTo", "https://evil.example/")
	tampered.RawQuery = tq.Encode()
	if to := location(t, get(c, &tampered)); to.Host != "" || to.Path != "/" {
		t.Fatalf("error redirect to a refused redirectTo went to %s", to)
	}
	for _, bad := range []string{"", "passwordlessEmail:", "passwordlessEmail:" + strings.Repeat("A", 43), "verifyEmail:" + ticket, ticket} {
		u := *link
		uq := u.Query()
		uq.Set("ticket", bad)
		u.RawQuery = uq.Encode()
		if to := location(t, get(c, &u)); to.Query().Get("error") != "invalid-ticket" {
			t.Fatalf("ticket %q: %s", bad, to)
		}
	}
}

// A link whose sign-in has no redirectTo lands on this site's root; one on
// this site's own origin is allowed.
func TestNhostMagicLinkSameSite(t *testing.T) {
	g, c := start(t, testenv.StartGateway(t, testenv.WithExtra(gatewayConfig)))
	for _, tc := range []struct {
		body     map[string]any
		wantPath string
	}{
		{map[string]any{}, "/"},
		{map[string]any{"options": map[string]any{"redirectTo": g.Base + "/app/cb"}}, "/app/cb"},
	} {
		link := sendLink(t, g, c, "same@example.com", tc.body)
		to := location(t, continueWith(c, g, form(t, get(c, link))))
		if to.Path != tc.wantPath || to.Query().Get("refreshToken") == "" {
			t.Fatalf("redirect to %s, want %s", to, tc.wantPath)
		}
	}
}

func s256(v string) string {
	h := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// PKCE: the continue page redirects with a code, not a refresh token, and
// leaves the link unused; the code and the verifier give a session once;
// a wrong verifier, a forged, expired or used code are 400 invalid-request.
func TestNhostPKCE(t *testing.T) {
	g, c := start(t, testenv.StartGateway(t, testenv.WithExtra(edgeConfig)))
	verifier := strings.Repeat("v", 43)
	email := "pkce@example.com"
	link := sendLink(t, g, c, email, map[string]any{"codeChallenge": s256(verifier), "options": map[string]any{"redirectTo": appOrigin + "/cb"}})
	if link.Query().Get("codeChallenge") != s256(verifier) {
		t.Fatalf("link %s", link)
	}
	fields := form(t, get(c, link))
	code := func() string {
		to := location(t, continueWith(c, g, fields))
		if to.Query().Has("refreshToken") || to.Query().Get("code") == "" || to.Host != "app.example.com" {
			t.Fatalf("redirect %s", to)
		}
		return to.Query().Get("code")
	}
	first := code()
	exchange := func(code, verifier string) testenv.Response {
		return c.Do("POST", mount+"/token/exchange", map[string]any{"code": code, "codeVerifier": verifier})
	}
	for _, tc := range []struct{ name, code, verifier string }{
		{"wrong verifier", first, strings.Repeat("w", 43)},
		{"short verifier", first, "v"},
		{"verifier with a bad character", first, strings.Repeat("v", 42) + "+"},
		{"no code", "", verifier},
		{"forged code", strings.Repeat("A", len(first)), verifier},
		{"tampered code", first[:len(first)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(first, "AA")], verifier},
		{"long code", first + "A", verifier},
	} {
		wantError(t, exchange(tc.code, tc.verifier), 400, "invalid-request")
	}
	// None of those used the link: a second code still works, once.
	second := code()
	s := jsonOf(t, exchange(second, verifier), 200)["session"].(map[string]any)
	if s["user"].(map[string]any)["email"] != email || s["refreshToken"] == "" {
		t.Fatalf("session %v", s)
	}
	wantError(t, exchange(second, verifier), 400, "invalid-request")
	wantError(t, exchange(first, verifier), 400, "invalid-request")
	if to := location(t, get(c, link)); to.Query().Get("error") != "invalid-ticket" {
		t.Fatalf("link after the exchange: %s", to)
	}

	// A code expires in minutes, even while its link would still work.
	link = sendLink(t, g, c, email, map[string]any{"codeChallenge": s256(verifier)})
	fields = form(t, get(c, link))
	late := location(t, continueWith(c, g, fields)).Query().Get("code")
	clock.Advance(5*time.Minute + time.Second)
	wantError(t, exchange(late, verifier), 400, "invalid-request")
	// The link's challenge is checked too.
	fields.Set("codeChallenge", "short")
	if to := location(t, continueWith(c, g, fields)); to.Query().Get("error") != "invalid-ticket" {
		t.Fatalf("bad challenge: %s", to)
	}
}

// The store out of reach: 503 with Retry-After, in Nhost's body, or the
// link's page saying to try again; never a 500, never "no".
func TestNhostStoreUnavailable(t *testing.T) {
	rs := testenv.StartRedis(t)
	g, c := start(t, testenv.StartGateway(t, testenv.WithRedis(rs), testenv.WithExtra(edgeConfig)))
	s := signIn(t, g, c, "down@example.com")
	link := sendLink(t, g, c, "down@example.com", map[string]any{})
	rs.StopProcess()
	for _, r := range []testenv.Response{
		c.Do("POST", mount+"/token", map[string]any{"refreshToken": s["refreshToken"]}),
		c.Do("POST", mount+"/signin/otp/email", map[string]any{"email": "down2@example.com"}),
		c.Do("POST", mount+"/signin/otp/email/verify", map[string]any{"email": "down@example.com", "otp": "123456"}),
		c.Do("GET", mount+"/user", nil, bearer(s)...),
		c.Do("POST", mount+"/signout", map[string]any{"refreshToken": s["refreshToken"]}),
	} {
		wantError(t, r, 503, "service-unavailable")
		if r.Header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
	}
	if r := get(c, link); r.Status != 503 || !strings.Contains(string(r.Body), "again") {
		t.Fatalf("link page: %d %s", r.Status, r.Body)
	}
}
