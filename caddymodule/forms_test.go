package caddymodule_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/internal/testenv"
)

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

var hiddenAttempt = regexp.MustCompile(`name="attempt_id" value="([A-Z2-7]+)"`)

// The sign-in page works as plain HTML forms: address, then code, then back
// to where the user was going.
func TestSignInWithFormsOnly(t *testing.T) {
	g := testenv.StartGateway(t)
	c := g.NewClient()
	ct := []string{"Content-Type", "application/x-www-form-urlencoded", "Origin", g.Base}

	r := c.Do("GET", "/auth/login?redirect_to=%2Fapp%2Fdeep%3Fx%3D1", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `name="redirect_to" value="/app/deep?x=1"`) {
		t.Fatalf("login page: %d %s", r.Status, r.Body)
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("login page CSP %q", csp)
	}

	r = c.Do("POST", "/auth/start", form("email", "Liz@Example.com", "redirect_to", "/app/deep?x=1"), ct...)
	m := hiddenAttempt.FindSubmatch(r.Body)
	if r.Status != 200 || m == nil || !strings.Contains(string(r.Body), `autocomplete="one-time-code"`) {
		t.Fatalf("start by form: %d %s", r.Status, r.Body)
	}
	attempt := string(m[1])

	r = c.Do("POST", "/auth/verify", form("attempt_id", attempt, "code", "999999x", "email", "liz@example.com", "redirect_to", "/app/deep?x=1"), ct...)
	if r.Status != 400 || !strings.Contains(string(r.Body), "not right") || !hiddenAttempt.Match(r.Body) {
		t.Fatalf("wrong code by form: %d %s, want the code page again with an error", r.Status, r.Body)
	}

	code := g.CodeFor("liz@example.com")
	r = c.Do("POST", "/auth/verify", form("attempt_id", attempt, "code", code[:3]+" "+code[3:], "email", "liz@example.com"), ct...)
	if r.Status != 303 || r.Header.Get("Location") != "/app/deep?x=1" {
		t.Fatalf("verify by form: %d Location %q, want 303 to /app/deep?x=1", r.Status, r.Header.Get("Location"))
	}
	setCookie := r.Header.Get("Set-Cookie")
	for _, attr := range []string{"passgate_session=", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(setCookie, attr) {
			t.Fatalf("session cookie %q lacks %s", setCookie, attr)
		}
	}
	if h := testenv.Echoed(t, c.Do("GET", "/app/deep?x=1", nil)); h.Get("X-Auth-Email") != "liz@example.com" {
		t.Fatalf("after form sign-in: %v", h)
	}

	r = c.Do("GET", "/auth/login", nil)
	if !strings.Contains(string(r.Body), "liz@example.com") || !strings.Contains(string(r.Body), `action="/auth/logout"`) {
		t.Fatalf("login page when signed in: %s", r.Body)
	}
	r = c.Do("POST", "/auth/logout", form("scope", "global"), ct...)
	if r.Status != 303 || !strings.HasPrefix(r.Header.Get("Location"), "/auth/login") {
		t.Fatalf("logout by form: %d %q", r.Status, r.Header.Get("Location"))
	}
	if r := c.Do("GET", "/app", nil); r.Status != 401 {
		t.Fatalf("after logout by form: %d", r.Status)
	}
}

func TestCrossSitePostsRefused(t *testing.T) {
	g := testenv.StartGateway(t)
	c := g.NewClient()
	body := form("email", "max@example.com")
	for _, hdr := range [][]string{
		{"Origin", "https://evil.example"},
		{"Origin", "null"},
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
	} {
		r := c.Do("POST", "/auth/start", body, "Content-Type", "application/x-www-form-urlencoded", hdr[0], hdr[1])
		if r.Status != 403 {
			t.Fatalf("%s: %s: %d, want 403", hdr[0], hdr[1], r.Status)
		}
	}
	// The same post from the site itself goes through.
	r := c.Do("POST", "/auth/start", body, "Content-Type", "application/x-www-form-urlencoded", "Origin", g.Base, "Sec-Fetch-Site", "same-origin")
	if r.Status != 200 {
		t.Fatalf("same-origin post: %d %s", r.Status, r.Body)
	}
}

// The cross-site check compares the Origin's scheme and port too, and a
// browser's own word that a post is cross-site or same-site stands
// whatever Origin says. With link_origin set (a TLS-terminating proxy in
// front of a plain-HTTP Caddy), that origin is this site's too.
func TestCrossSiteCheckSchemePortAndFetchSite(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithExtra("link_origin https://auth.example.com"))
	c := g.NewClient()
	host := strings.TrimPrefix(g.Base, "http://")
	for _, tc := range []struct {
		headers []string
		status  int
	}{
		{[]string{"Origin", g.Base}, 200},
		{[]string{"Origin", g.Base, "Sec-Fetch-Site", "same-origin"}, 200},
		{[]string{"Origin", "HTTP://" + strings.ToUpper(host)}, 200},
		{[]string{"Origin", "https://auth.example.com"}, 200},
		{[]string{"Origin", "https://auth.example.com:443", "Sec-Fetch-Site", "same-origin"}, 200},
		{[]string{"Origin", "null", "Sec-Fetch-Site", "same-origin"}, 200},
		{[]string{"Sec-Fetch-Site", "none"}, 200},
		{nil, 200},
		{[]string{"Origin", "https://" + host}, 403},
		{[]string{"Origin", "ftp://" + host}, 403},
		{[]string{"Origin", "ws://" + host}, 403},
		{[]string{"Origin", "http://127.0.0.1"}, 403},
		{[]string{"Origin", "http://127.0.0.1:1"}, 403},
		{[]string{"Origin", "http://auth.example.com"}, 403},
		{[]string{"Origin", "https://auth.example.com:8443"}, 403},
		{[]string{"Origin", g.Base, "Sec-Fetch-Site", "cross-site"}, 403},
		{[]string{"Origin", g.Base, "Sec-Fetch-Site", "same-site"}, 403},
		{[]string{"Origin", "https://auth.example.com", "Sec-Fetch-Site", "cross-site"}, 403},
		{[]string{"Origin", g.Base, "Origin", "https://evil.example"}, 403},
		{[]string{"Origin", g.Base + "/path"}, 403},
		{[]string{"Origin", "http://user@" + host}, 403},
	} {
		r := c.Do("POST", "/auth/logout", nil, tc.headers...)
		if r.Status != tc.status {
			t.Errorf("POST /auth/logout with %q: %d, want %d (%s)", tc.headers, r.Status, tc.status, bytes.TrimSpace(r.Body))
		}
	}
}

func TestBadInputGetsClearErrors(t *testing.T) {
	g := testenv.StartGateway(t)
	c := g.NewClient()
	tests := []struct {
		name, method, path, body, ctype string
		status                          int
		code                            string
	}{
		{"broken JSON", "POST", "/auth/start", `{"email":`, "application/json", 400, "invalid_request"},
		{"trailing JSON", "POST", "/auth/start", `{"email":"a@example.com"} {}`, "application/json", 400, "invalid_request"},
		{"wrong type in JSON", "POST", "/auth/start", `{"email":42}`, "application/json", 400, "invalid_request"},
		{"empty JSON body", "POST", "/auth/start", ``, "application/json", 400, "invalid_request"},
		{"no content type", "POST", "/auth/start", `{"email":"a@example.com"}`, "", 415, "invalid_request"},
		{"text/plain", "POST", "/auth/start", `{"email":"a@example.com"}`, "text/plain", 415, "invalid_request"},
		{"oversized", "POST", "/auth/start", `{"email":"` + strings.Repeat("a", 1<<20) + `"}`, "application/json", 413, "invalid_request"},
		{"no identifier", "POST", "/auth/start", `{}`, "application/json", 400, "invalid_request"},
		{"both identifiers", "POST", "/auth/start", `{"email":"a@example.com","phone":"+441234567890"}`, "application/json", 400, "invalid_request"},
		{"invalid email", "POST", "/auth/start", `{"email":"a@b@c"}`, "application/json", 400, "invalid_request"},
		{"header injection", "POST", "/auth/start", `{"email":"a@example.com\r\nBcc: x@y.z"}`, "application/json", 400, "invalid_request"},
		{"phone not configured", "POST", "/auth/start", `{"phone":"+441234567890"}`, "application/json", 501, "channel_not_configured"},
		{"verify without code", "POST", "/auth/verify", `{"attempt_id":"AAAAAAAAAAAAAAAAAAAAAAAAAA"}`, "application/json", 400, "invalid_request"},
		{"verify junk attempt", "POST", "/auth/verify", `{"attempt_id":"../../etc","code":"123456"}`, "application/json", 404, "attempt_not_found"},
		{"verify unknown attempt", "POST", "/auth/verify", `{"attempt_id":"AAAAAAAAAAAAAAAAAAAAAAAAAA","code":"123456"}`, "application/json", 404, "attempt_not_found"},
		{"verify huge code", "POST", "/auth/verify", `{"attempt_id":"AAAAAAAAAAAAAAAAAAAAAAAAAA","code":"` + strings.Repeat("1", 100) + `"}`, "application/json", 400, "invalid_request"},
		{"bad logout scope", "POST", "/auth/logout", `{"scope":"galaxy"}`, "application/json", 400, "invalid_request"},
		{"GET start", "GET", "/auth/start", ``, "", 405, "method_not_allowed"},
		{"unknown route", "GET", "/auth/nope", ``, "", 404, "not_found"},
		{"session without cookie", "GET", "/auth/session", ``, "", 401, "unauthorized"},
		{"forged cookie", "GET", "/auth/session", ``, "", 401, "unauthorized"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := []string{}
			if tc.ctype != "" {
				hdr = append(hdr, "Content-Type", tc.ctype)
			}
			if tc.name == "forged cookie" {
				hdr = append(hdr, "Cookie", "passgate_session=MTc5NTMwMzc0M3xPSkNyT1QzZFN5MEhRR1JVaXliLXNNaVlD")
			}
			var body any
			if tc.body != "" {
				body = tc.body
			}
			r := c.Do(tc.method, tc.path, body, hdr...)
			if r.Status != tc.status || r.JSON(t)["error"] != tc.code || r.JSON(t)["message"] == "" {
				t.Fatalf("%d %s, want %d %s with a message", r.Status, r.Body, tc.status, tc.code)
			}
		})
	}
}

// No answer of start depends on whether an address may sign in.
func TestStartDoesNotEnumerate(t *testing.T) {
	g := testenv.StartGateway(t)
	c := g.NewClient()
	shape := func(email string) []string {
		r := c.Do("POST", "/auth/start", map[string]any{"email": email})
		if r.Status != 200 {
			t.Fatalf("start %s: %d %s", email, r.Status, r.Body)
		}
		var keys []string
		for k := range r.JSON(t) {
			keys = append(keys, k)
		}
		return keys
	}
	refused, allowed := shape("ned@elsewhere.example"), shape("ned@example.com")
	if len(allowed) != 4 || len(refused) != len(allowed) {
		t.Fatalf("answers differ: %v vs %v", allowed, refused)
	}
	g.CodeFor("ned@example.com") // deliveries end after the answers
	for _, e := range testenv.ReadLog(t, g.LogPath) {
		if e["to"] == "ned@elsewhere.example" {
			t.Fatal("a code was sent to an address that may not sign in")
		}
	}
}

// A body sent a byte at a time does not hold a passgate route open: past
// the bound on reading it, the request is answered 408 and the connection
// closed, however slowly the bytes still come.
func TestSlowBodyIsCutOff(t *testing.T) {
	t.Cleanup(httpkit.SetBodyReadTimeout(300 * time.Millisecond))
	g := testenv.StartGateway(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(g.Base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := strings.Repeat(" ", 4000) + `{"email":"slow@example.com"}`
	fmt.Fprintf(conn, "POST /auth/start HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
		strings.TrimPrefix(g.Base, "http://"), len(body))
	// Dribble the body, one byte per 100 ms (over 6 minutes in all), from
	// another goroutine, until the server gives up.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < len(body); i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := conn.Write([]byte{body[i]}); err != nil {
				return
			}
		}
	}()
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(b), "invalid_request") {
		t.Fatalf("slow body: %d %s, want 408", resp.StatusCode, b)
	}
}
