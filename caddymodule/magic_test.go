package caddymodule_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/internal/clock"
	"github.com/passgate/caddy-passgate/internal/testenv"
	"github.com/passgate/caddy-passgate/internal/testenv/smtptest"
)

// withSMTP sends email through srv, authenticating with a password that
// comes from an {env.*} placeholder. The line comes after `email log` in
// the harness's Caddyfile, so it replaces it.
func withSMTP(t *testing.T, srv *smtptest.Server, more string) testenv.Option {
	t.Setenv("PASSGATE_TEST_SMTP_PASSWORD", "pw from env")
	return testenv.WithExtra(fmt.Sprintf(`email smtp %s {
			from "Passgate <noreply@example.com>"
			username mailer
			password {env.PASSGATE_TEST_SMTP_PASSWORD}
			tls none
			timeout 2s
		}
		%s`, srv.Addr, more))
}

func smtpUsers() map[string]string { return map[string]string{"mailer": "pw from env"} }

// mailParts is a received message's text and HTML parts, decoded.
type mailParts struct{ text, html string }

func readMail(t *testing.T, m smtptest.Message) mailParts {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	var p mailParts
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(part)
		if strings.HasPrefix(part.Header.Get("Content-Type"), "text/html") {
			p.html = string(b)
		} else {
			p.text = string(b)
		}
	}
	return p
}

var (
	codeInMail = regexp.MustCompile(`code is: (\d{6})`)
	linkInMail = regexp.MustCompile(`(http://\S+/auth/magic\?token=[A-Za-z0-9_-]+)`)
)

// codeAndLink returns the code and the magic link of the next message,
// checking that both parts carry both.
func codeAndLink(t *testing.T, srv *smtptest.Server, to string) (string, string) {
	t.Helper()
	m := srv.Next(t)
	if len(m.To) != 1 || m.To[0] != to || m.Auth != "mailer" {
		t.Fatalf("message to %v auth %q, want to %s as mailer", m.To, m.Auth, to)
	}
	p := readMail(t, m)
	cm, lm := codeInMail.FindStringSubmatch(p.text), linkInMail.FindStringSubmatch(p.text)
	if cm == nil || lm == nil {
		t.Fatalf("text part lacks code or link:\n%s", p.text)
	}
	if !strings.Contains(p.html, cm[1]) || !strings.Contains(p.html, html.EscapeString(lm[1])) {
		t.Fatalf("HTML part lacks code %s or link %s:\n%s", cm[1], lm[1], p.html)
	}
	return cm[1], lm[1]
}

func TestSignInWithCodeFromSMTP(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Users: smtpUsers()})
	g := testenv.StartGateway(t, withSMTP(t, srv, ""))
	c := g.NewClient()
	id := c.Start("Kim@Example.com")
	code, link := codeAndLink(t, srv, "kim@example.com")
	if !strings.HasPrefix(link, g.Base+"/auth/magic?token=") {
		t.Fatalf("link %q is not on this site (%s)", link, g.Base)
	}
	r := c.Do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": code})
	if r.Status != 200 {
		t.Fatalf("verify with the mailed code: %d %s", r.Status, r.Body)
	}
	if h := testenv.Echoed(t, c.Do("GET", "/app", nil)); h.Get("X-Auth-Email") != "kim@example.com" {
		t.Fatalf("after sign-in: %v", h)
	}
	// The code was used: its link is dead too.
	r = c.Do("GET", strings.TrimPrefix(link, g.Base), nil)
	if r.Status != 404 || !strings.Contains(string(r.Body), "no longer works") {
		t.Fatalf("link of a used code: %d %s", r.Status, r.Body)
	}
	// Nothing secret in Caddy's log: the code, token and password appear
	// in no text field (numbers such as timestamps could hold six digits
	// by chance, and are not where a leak would be).
	token := link[strings.Index(link, "token=")+6:]
	for _, e := range testenv.ReadLog(t, g.LogPath) {
		for k, v := range e {
			s, ok := v.(string)
			if ok && (strings.Contains(s, code) || strings.Contains(s, token) || strings.Contains(s, "pw from env")) {
				t.Fatalf("log field %s leaks a secret: %v", k, e)
			}
		}
	}
}

var (
	hiddenToken = regexp.MustCompile(`name="token" value="([A-Za-z0-9_-]+)"`)
	scriptNonce = regexp.MustCompile(`<script nonce="([^"]+)">`)
)

func TestSignInWithMagicLink(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Users: smtpUsers()})
	g := testenv.StartGateway(t, withSMTP(t, srv, ""))
	c := g.NewClient()
	id := c.Start("lou@example.com") // redirect_to /app/next?x=1
	code, link := codeAndLink(t, srv, "lou@example.com")
	path := strings.TrimPrefix(link, g.Base)
	token, _ := url.ParseQuery(path[strings.Index(path, "?")+1:])

	// GET shows the page, as often as it is fetched, and consumes nothing.
	for range 3 {
		r := c.Do("GET", path, nil)
		body := string(r.Body)
		if r.Status != 200 || !strings.Contains(body, `action="/auth/magic"`) || !strings.Contains(body, "lou@example.com") {
			t.Fatalf("magic page: %d %s", r.Status, body)
		}
		if m := hiddenToken.FindStringSubmatch(body); m == nil || m[1] != token.Get("token") {
			t.Fatalf("page does not carry the token in its form: %s", body)
		}
		nonce := scriptNonce.FindStringSubmatch(body)
		csp := r.Header.Get("Content-Security-Policy")
		if nonce == nil || !strings.Contains(csp, "script-src 'nonce-"+nonce[1]+"'") || strings.Contains(csp, "script-src 'unsafe-inline'") {
			t.Fatalf("auto-submit script not allowed by its nonce: CSP %q", csp)
		}
		if r.Header.Get("Referrer-Policy") != "no-referrer" || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("magic page headers %v", r.Header)
		}
	}
	if r := c.Do("GET", "/app", nil); r.Status != 401 {
		t.Fatalf("GET of the link signed in: %d", r.Status)
	}

	// A cross-site POST is refused and uses nothing up.
	r := c.Do("POST", "/auth/magic", form("token", token.Get("token")), "Content-Type", "application/x-www-form-urlencoded", "Origin", "https://evil.example")
	if r.Status != 403 {
		t.Fatalf("cross-site POST /magic: %d", r.Status)
	}

	// POST consumes it: 303 to redirect_to with a working cookie.
	r = c.Do("POST", "/auth/magic", form("token", token.Get("token")), "Content-Type", "application/x-www-form-urlencoded", "Origin", g.Base)
	if r.Status != 303 || r.Header.Get("Location") != "/app/next?x=1" {
		t.Fatalf("POST /magic: %d Location %q %s", r.Status, r.Header.Get("Location"), r.Body)
	}
	if sc := r.Header.Get("Set-Cookie"); !strings.Contains(sc, "passgate_session=") || !strings.Contains(sc, "HttpOnly") {
		t.Fatalf("POST /magic cookie %q", sc)
	}
	if h := testenv.Echoed(t, c.Do("GET", "/app/next?x=1", nil)); h.Get("X-Auth-Email") != "lou@example.com" || h.Get("X-Auth-Roles") != "staff" {
		t.Fatalf("after magic sign-in: %v", h)
	}

	// Replayed: the used-link page, leading back to sign-in.
	other := g.NewClient()
	for _, method := range []string{"POST", "GET"} {
		var r testenv.Response
		if method == "POST" {
			r = other.Do("POST", "/auth/magic", form("token", token.Get("token")), "Content-Type", "application/x-www-form-urlencoded", "Origin", g.Base)
		} else {
			r = other.Do("GET", path, nil)
		}
		body := string(r.Body)
		if r.Status != 404 || !strings.Contains(body, "expired or was already used") || !strings.Contains(body, `href="/auth/login"`) ||
			strings.Contains(body, "<script") || strings.Contains(r.Header.Get("Content-Security-Policy"), "script-src") {
			t.Fatalf("replayed link (%s): %d %s", method, r.Status, body)
		}
		if r.Header.Get("Set-Cookie") != "" {
			t.Fatalf("replayed link (%s) set a cookie", method)
		}
	}
	if r := other.Do("GET", "/app", nil); r.Status != 401 {
		t.Fatalf("replayed link signed in: %d", r.Status)
	}
	// The code of an attempt whose link was used is gone.
	r = other.Do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": code})
	if r.Status != 404 || r.JSON(t)["error"] != "attempt_not_found" {
		t.Fatalf("code after its link: %d %s", r.Status, r.Body)
	}
}

func TestMagicLinkBadTokens(t *testing.T) {
	g := testenv.StartGateway(t)
	c := g.NewClient()
	for _, q := range []string{"", "?token=", "?token=abc", "?token=" + strings.Repeat("A", 43), "?token=%00%0d%0a", "?token=" + strings.Repeat("x", 5000)} {
		r := c.Do("GET", "/auth/magic"+q, nil)
		if r.Status != 404 || !strings.Contains(string(r.Body), "no longer works") {
			t.Fatalf("GET /auth/magic%s: %d %s", q, r.Status, r.Body)
		}
	}
	ct := []string{"Content-Type", "application/x-www-form-urlencoded", "Origin", g.Base}
	for _, body := range []string{"", "token=", "token=" + strings.Repeat("A", 43)} {
		if r := c.Do("POST", "/auth/magic", body, ct...); r.Status != 404 {
			t.Fatalf("POST /auth/magic %q: %d %s", body, r.Status, r.Body)
		}
	}
	if r := c.Do("POST", "/auth/magic", map[string]any{"token": "nope"}); r.Status != 404 || r.JSON(t)["error"] != "attempt_not_found" {
		t.Fatalf("JSON POST /auth/magic: %d %s", r.Status, r.Body)
	}
	if r := c.Do("PUT", "/auth/magic", nil); r.Status != 405 || r.Header.Get("Allow") != "GET, HEAD, POST" {
		t.Fatalf("PUT /auth/magic: %d Allow %q", r.Status, r.Header.Get("Allow"))
	}
}

// The log delivery writes the link too, on this site's origin.
func TestLogDeliveryWritesLink(t *testing.T) {
	g := testenv.StartGateway(t)
	c := g.NewClient()
	c.Start("max@example.com")
	link := g.LinkFor("max@example.com")
	if !strings.HasPrefix(link, g.Base+"/auth/magic?token=") {
		t.Fatalf("logged link %q", link)
	}
	r := c.Do("POST", "/auth/magic", form("token", link[strings.Index(link, "=")+1:]), "Content-Type", "application/x-www-form-urlencoded", "Origin", g.Base)
	if r.Status != 303 || r.Header.Get("Location") != "/app/next?x=1" {
		t.Fatalf("POST /magic: %d %q", r.Status, r.Header.Get("Location"))
	}
}

// A message the server refuses, or a server that never answers: /start
// has answered 200 by then. The failure leaves nothing usable (the
// attempt stays, void, only to say why) and nothing of the address's
// limits, and the next /verify answers 502 delivery_failed.
func TestDeliveryFailureLeavesNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts smtptest.Options
	}{
		{"rcpt rejected", smtptest.Options{Users: smtpUsers(), RejectRcpt: true}},
		{"server never answers", smtptest.Options{Silent: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.Start(t, tc.opts)
			rs := testenv.StartRedis(t)
			g := testenv.StartGateway(t, testenv.WithRedis(rs), withSMTP(t, srv, ""))
			c := g.NewClient()
			r := c.Do("POST", "/auth/start", map[string]any{"email": "ned@example.com"})
			if r.Status != 200 {
				t.Fatalf("start: %d %s, want 200 before the delivery ends", r.Status, r.Body)
			}
			id := r.JSON(t)["attempt_id"].(string)
			g.WaitLog("delivery failed", 1)
			rc := rs.Client()
			defer rc.Close()
			ctx := context.Background()
			keys, err := rc.Keys(ctx, "pgtest:*").Result()
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(keys)
			// Only the client's start count, and the attempt without its
			// code's MAC or its link (and the pointer to it as the address's
			// latest): nothing of the address (no link, cooldown or hourly
			// count) may be left.
			if want := []string{"pgtest:a:" + id, "pgtest:l:ips:127.0.0.1", "pgtest:n:email:ned@example.com"}; !slices.Equal(keys, want) {
				t.Fatalf("keys left after a failed delivery: %v, want %v", keys, want)
			}
			if f := rc.HMGet(ctx, "pgtest:a:"+id, "f", "mac", "th").Val(); f[0] != "1" || f[1] != "" || f[2] != "" {
				t.Fatalf("failed attempt's f, mac, th = %q, want it marked failed with no MAC or link", f)
			}
			r = c.Do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": "123456"})
			if r.Status != 502 || r.JSON(t)["error"] != "delivery_failed" {
				t.Fatalf("verify: %d %s, want 502 delivery_failed", r.Status, r.Body)
			}
			// The form: a new start at once (the cooldown was given back),
			// and its check gets the sign-in page with the error, not a
			// bare 502.
			ct := []string{"Content-Type", "application/x-www-form-urlencoded", "Origin", g.Base}
			r = c.Do("POST", "/auth/start", form("email", "ned@example.com"), ct...)
			m := hiddenAttempt.FindSubmatch(r.Body)
			if r.Status != 200 || m == nil {
				t.Fatalf("form start: %d %s", r.Status, r.Body)
			}
			g.WaitLog("delivery failed", 2)
			r = c.Do("POST", "/auth/verify", form("attempt_id", string(m[1]), "code", "123456", "email", "ned@example.com"), ct...)
			if r.Status != 502 || !strings.Contains(string(r.Body), "could not send your code") {
				t.Fatalf("form verify: %d %s", r.Status, r.Body)
			}
		})
	}
}

// redirect_to on an allowed origin survives to the 303; any other origin
// becomes "/". The login page's CSP lets its form redirect there.
func TestMagicLinkRedirectOrigins(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Users: smtpUsers()})
	g := testenv.StartGateway(t, withSMTP(t, srv, "redirect_origins https://app.example.com"))
	for _, tc := range []struct{ redirectTo, want string }{
		{"https://app.example.com/dash?x=1", "https://app.example.com/dash?x=1"},
		{"https://evil.example/", "/"},
		{"//evil.example", "/"},
		{"https://app.example.com@evil.example/", "/"},
		{"JaVaScRiPt:alert(1)", "/"},
	} {
		c := g.NewClient()
		clock.Advance(61 * time.Second) // past the resend cooldown
		r := c.Do("POST", "/auth/start", map[string]any{"email": "oli@example.com", "redirect_to": tc.redirectTo})
		if r.Status != 200 {
			t.Fatalf("start: %d %s", r.Status, r.Body)
		}
		_, link := codeAndLink(t, srv, "oli@example.com")
		token := link[strings.Index(link, "=")+1:]
		r = c.Do("POST", "/auth/magic", form("token", token), "Content-Type", "application/x-www-form-urlencoded", "Origin", g.Base)
		if r.Status != 303 || r.Header.Get("Location") != tc.want {
			t.Fatalf("redirect_to %q: %d Location %q, want %q", tc.redirectTo, r.Status, r.Header.Get("Location"), tc.want)
		}
	}
	r := g.NewClient().Do("GET", "/auth/login", nil)
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://app.example.com;") || strings.Contains(csp, "unsafe") {
		t.Fatalf("login page CSP %q", csp)
	}
}

// link_origin fixes the links' origin, whatever Host the request had.
func TestLinkOrigin(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Users: smtpUsers()})
	g := testenv.StartGateway(t, withSMTP(t, srv, "link_origin https://auth.example.com"))
	g.NewClient().Start("pat@example.com")
	m := readMail(t, srv.Next(t))
	if !strings.Contains(m.text, "https://auth.example.com/auth/magic?token=") {
		t.Fatalf("text part:\n%s", m.text)
	}
}

// Caddy matches a site by the Host's name only, so a client may claim any
// port; the link's port is the one the request came in on, never the
// claimed one. The link goes to the victim's mailbox: a claimed port would
// send the token to whatever listens there.
func TestMagicLinkPortFromListener(t *testing.T) {
	g := testenv.StartGateway(t)
	for i, tc := range []struct{ host, want string }{
		{fmt.Sprintf("127.0.0.1:%d", g.Port+1), g.Base},
		{"127.0.0.1:8443", g.Base},
		{"127.0.0.1:80", g.Base},
		{fmt.Sprintf("127.0.0.1:%d", g.Port), g.Base},
		// No port: the scheme's default, as a front that maps port 80 to
		// Caddy's sends it.
		{"127.0.0.1", "http://127.0.0.1"},
	} {
		email := fmt.Sprintf("port%d@example.com", i)
		body := fmt.Sprintf(`{"email":%q}`, email)
		resp := rawHTTP(t, g, "POST /auth/start HTTP/1.1\r\nHost: "+tc.host+
			"\r\nContent-Type: application/json\r\nContent-Length: "+fmt.Sprint(len(body))+
			"\r\nConnection: close\r\n\r\n"+body)
		if resp.StatusCode != 200 {
			t.Fatalf("Host %s: start %d", tc.host, resp.StatusCode)
		}
		link := g.LinkFor(email)
		if want := tc.want + "/auth/magic?token="; !strings.HasPrefix(link, want) {
			t.Errorf("Host %s: link %s, want it to start %s", tc.host, link[:strings.Index(link, "?")], want)
		}
	}
}

// rawHTTP sends req, written out by hand, to the gateway and reads the answer.
func rawHTTP(t *testing.T, g *testenv.Gateway, req string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", g.Port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// Login CSRF: any site can send a browser to a link, the attacker's own
// for the attacker's account. The link page presses its button by script
// only in the browser that asked for the link (its pre-sign-in cookie
// names the attempt) or when a person opened it from outside any site
// (Sec-Fetch-Site: none with Sec-Fetch-User: ?1, a mail program); anywhere
// else it asks, with no script, and a click signs in.
func TestMagicPageAsksUnlessItsBrowser(t *testing.T) {
	g := testenv.StartGateway(t)
	attacker := g.NewClient()
	r := attacker.Do("POST", "/auth/start", map[string]any{"email": "mallory@example.com", "redirect_to": "/app/mallory"})
	if r.Status != 200 {
		t.Fatalf("start: %d %s", r.Status, r.Body)
	}
	attackerStart := r
	path := strings.TrimPrefix(g.LinkFor("mallory@example.com"), g.Base)

	asks := func(who string, r testenv.Response) {
		t.Helper()
		body, csp := string(r.Body), r.Header.Get("Content-Security-Policy")
		if r.Status != 200 || !strings.Contains(body, "Sign in as mallory@example.com?") || !strings.Contains(body, `name="token"`) {
			t.Fatalf("%s: the link page does not ask: %d, heading %q, script %v", who, r.Status,
				pageHeading(body), strings.Contains(body, "<script"))
		}
		if strings.Contains(body, "<script") || strings.Contains(csp, "script-src") {
			t.Fatalf("%s: the asking page has a script or allows one: CSP %q\n%s", who, csp, body)
		}
	}
	goesOn := func(who string, r testenv.Response) {
		t.Helper()
		body := string(r.Body)
		nonce := scriptNonce.FindStringSubmatch(body)
		if r.Status != 200 || nonce == nil || !strings.Contains(r.Header.Get("Content-Security-Policy"), "script-src 'nonce-"+nonce[1]+"'") {
			t.Fatalf("%s: the link page does not sign in by itself: %d, heading %q", who, r.Status, pageHeading(body))
		}
	}

	victim := g.NewClient()
	asks("no cookie, no headers", victim.Do("GET", path, nil))
	asks("cross-site navigation", victim.Do("GET", path, nil, "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate"))
	asks("cross-site click", victim.Do("GET", path, nil, "Sec-Fetch-Site", "cross-site", "Sec-Fetch-User", "?1"))
	asks("same-site click", victim.Do("GET", path, nil, "Sec-Fetch-Site", "same-site", "Sec-Fetch-User", "?1"))
	asks("browser-initiated, not by a person", victim.Do("GET", path, nil, "Sec-Fetch-Site", "none"))
	// The victim's own sign-in, started in the same browser, does not
	// vouch for the attacker's link.
	victim.Start("vic@example.com")
	asks("a cookie for another attempt", victim.Do("GET", path, nil, "Sec-Fetch-Site", "cross-site"))

	goesOn("the browser that asked", attacker.Do("GET", path, nil))
	goesOn("the browser that asked, from webmail", attacker.Do("GET", path, nil, "Sec-Fetch-Site", "cross-site", "Sec-Fetch-User", "?1"))
	goesOn("a mail program", g.NewClient().Do("GET", path, nil, "Sec-Fetch-Site", "none", "Sec-Fetch-User", "?1"))

	// Nothing above used the link up or signed anyone in.
	if r := victim.Do("GET", "/auth/session", nil); r.Status != 401 {
		t.Fatalf("the victim is signed in: %d %s", r.Status, r.Body)
	}
	// The click, on another device: the post of the asking page.
	phone := g.NewClient()
	asks("another device", phone.Do("GET", path, nil))
	r = phone.Do("POST", "/auth/magic", form("token", path[strings.Index(path, "=")+1:]),
		"Content-Type", "application/x-www-form-urlencoded", "Origin", "null", "Sec-Fetch-Site", "same-origin")
	if r.Status != 303 || r.Header.Get("Location") != "/app/mallory" {
		t.Fatalf("the button on another device: %d %q %s", r.Status, r.Header.Get("Location"), r.Body)
	}

	// /start sets the cookie alike for an address that may not sign in,
	// and for the form.
	started := startCookieOf(t, attackerStart)
	clock.Advance(61 * time.Second)
	for _, req := range []struct {
		body   any
		header []string
	}{
		{map[string]any{"email": "nobody@elsewhere.example"}, nil},
		{form("email", "vic@example.com"), []string{"Content-Type", "application/x-www-form-urlencoded", "Origin", g.Base}},
	} {
		r := g.NewClient().Do("POST", "/auth/start", req.body, req.header...)
		if r.Status != 200 {
			t.Fatalf("start %v: %d %s", req.body, r.Status, r.Body)
		}
		if ck := startCookieOf(t, r); ck.Path != started.Path || ck.MaxAge != started.MaxAge || ck.HttpOnly != started.HttpOnly ||
			ck.SameSite != started.SameSite || len(ck.Value) != len(started.Value) {
			t.Fatalf("start %v: cookie %s, unlike %s", req.body, ck, started)
		}
	}
}

var h1 = regexp.MustCompile(`(?s)<h1[^>]*>(.*?)</h1>`)

// pageHeading is the text of a page's first h1.
func pageHeading(body string) string {
	if m := h1.FindStringSubmatch(body); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

// startCookieOf returns the pre-sign-in cookie a /start answer sets.
func startCookieOf(t *testing.T, r testenv.Response) *http.Cookie {
	t.Helper()
	for _, ck := range (&http.Response{Header: r.Header}).Cookies() {
		if ck.Name == "passgate_start" {
			if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/auth" || ck.MaxAge != 600 {
				t.Fatalf("pre-sign-in cookie %s", ck)
			}
			return ck
		}
	}
	t.Fatalf("no pre-sign-in cookie in %q", r.Header.Values("Set-Cookie"))
	return nil
}

var styleNonce = regexp.MustCompile(`<style nonce="([^"]+)">`)

// The link pages wear the sign-in page's theme, and their style runs by
// nonce, not by 'unsafe-inline'.
func TestMagicPagesTheme(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithExtra(`page {
			title "Acme staff"
			logo /public/logo.svg
			color "#aa3300"
		}`))
	c := g.NewClient()
	c.Start("max@example.com")
	link := g.LinkFor("max@example.com")
	for _, tc := range []struct {
		name, path string
		status     int
		script     bool
	}{
		{"live link", strings.TrimPrefix(link, g.Base), 200, true},
		{"dead link", "/auth/magic?token=" + strings.Repeat("A", 43), 404, false},
	} {
		r := c.Do("GET", tc.path, nil)
		body, csp := string(r.Body), r.Header.Get("Content-Security-Policy")
		if r.Status != tc.status {
			t.Fatalf("%s: %d %s", tc.name, r.Status, body)
		}
		for _, want := range []string{"--accent: #aa3300;", `<img class="logo" src="/public/logo.svg" alt="Acme staff">`, "· Acme staff</title>"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: page lacks %q", tc.name, want)
			}
		}
		m := styleNonce.FindStringSubmatch(body)
		if m == nil || !strings.Contains(csp, "style-src 'nonce-"+m[1]+"'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: style not allowed by its nonce alone: CSP %q", tc.name, csp)
		}
		if got := strings.Contains(csp, "script-src"); got != tc.script {
			t.Errorf("%s: script-src in CSP %v, want %v: %q", tc.name, got, tc.script, csp)
		}
	}
}
