package caddymodule

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/passgate/caddy-passgate/sessionstore"
)

// Seeds are in testdata/fuzz/<FuzzName>/ as well as here.

// The Caddyfile parser never panics, and what it accepts serialises.
func FuzzCaddyfile(f *testing.F) {
	for _, s := range []string{
		"secret {env.X}\nstore redis redis://127.0.0.1:6379 {\nprefix p:\n}",
		"allow email *@example.com\nrole admin email a@example.com",
		"code {\nlength 8\n}\nsession {\nidle 1h\n}\nlimits {\nstarts_per_ip 5 1m\n}",
		"headers {\nemail off\n}\ncookie {\ninsecure\n}",
		"jwt {\nkey k1 {file./x.pem}\n}\npage {\ncolor \"#112233\"\n}",
		"email smtp 127.0.0.1:25 {\nfrom a@b.c\ntls starttls\n}\nsms webhook https://x/y {\nsecret {env.S}\n}",
		"{\n}", "}", "public", "store redis",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		// Tokenised as Caddy's adapter does, which refuses what does not
		// tokenise before any directive sees it (NewTestDispenser would
		// exit the process instead).
		tokens, err := caddyfile.Tokenize([]byte("passgate {\n"+body+"\n}"), "Caddyfile")
		if err != nil {
			return
		}
		p := new(Passgate)
		err = p.UnmarshalCaddyfile(caddyfile.NewDispenser(tokens))
		if err != nil {
			return
		}
		if _, err := json.Marshal(p); err != nil {
			t.Fatalf("accepted config does not serialise: %v", err)
		}
	})
}

// Request decoding answers a body it cannot use with 400, 413 or 415, and
// nothing else.
func FuzzReadBody(f *testing.F) {
	for _, s := range [][2]string{
		{"application/json", `{"email":"a@example.com","redirect_to":"/x"}`},
		{"application/json", `{"email":`},
		{"application/json; charset=utf-8", `{"email":"a@b.c"} {}`},
		{"application/x-www-form-urlencoded", "email=a%40b.c&redirect_to=%2F"},
		{"text/plain", `{}`},
		{"", ""},
		{"application/json", `{"create_user":"yes"}`},
		{"multipart/form-data; boundary=x", "--x--"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, ctype, body string) {
		r := httptest.NewRequest("POST", "/auth/start", strings.NewReader(body))
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		var req startRequest
		_, apiErr := readBody(httptest.NewRecorder(), r, &req)
		if apiErr == nil {
			return
		}
		switch apiErr.Status {
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		default:
			t.Fatalf("content type %q, body %q: status %d", ctype, body, apiErr.Status)
		}
		if apiErr.Code != errInvalidRequest || apiErr.Message == "" {
			t.Fatalf("error %+v", apiErr)
		}
	})
}

// A cookie decodes only if this server made it; what it made always
// decodes back.
func FuzzCookieDecode(f *testing.F) {
	keys, err := deriveKeys("fuzz-secret-0123456789abcdef0123456789")
	if err != nil {
		f.Fatal(err)
	}
	c := newSessionCookie(CookieConfig{Name: "sid"}, time.Hour, []keySet{keys})
	for _, s := range []string{"", "x", "MTc5NTMwMzc0M3xPSkNyT1QzZFN5MEhRR1JVaXliLXNNaVlD", strings.Repeat("A", 5000), "a|b|c"} {
		f.Add(s, "secret")
	}
	f.Fuzz(func(t *testing.T, raw, secret string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: "sid", Value: raw})
		if got := c.sessionID(r); got != "" {
			t.Fatalf("a forged cookie %q decoded to %q", raw, got)
		}
		// Round trips hold for secrets of the size sign-in makes (52
		// characters); a cookie has no room for kilobytes.
		if secret == "" || len(secret) > 256 {
			return
		}
		w := httptest.NewRecorder()
		if err := c.set(w, secret); err != nil {
			t.Fatal(err)
		}
		r = httptest.NewRequest("GET", "/", nil)
		for _, ck := range w.Result().Cookies() {
			r.AddCookie(ck)
		}
		if got := c.sessionID(r); got != sessionstore.SessionID(secret) {
			t.Fatalf("round trip of %q gave %q", secret, got)
		}
	})
}

// A pre-sign-in cookie names attempts only if this server made it, and
// one it makes after any cookie names the new attempt.
func FuzzStartCookie(f *testing.F) {
	c := testStartCookie(f, "fuzz-secret-0123456789abcdef0123456789")
	for _, s := range []string{"", "x", "AAAAAAAAAAAAAAAAAAAAAAAAAA", "MTc5NTMwMzc0M3xPSkNyT1QzZFN5MEhRR1JVaXliLXNNaVlD", strings.Repeat("A", 5000), "a|b|c", `"q"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r := httptest.NewRequest("GET", "/auth/magic", nil)
		r.Header.Set("Cookie", startCookieName+"="+raw)
		if ids := c.attempts(r); ids != nil {
			t.Fatalf("a forged cookie %q names %q", raw, ids)
		}
		w := httptest.NewRecorder()
		if err := c.add(w, r, "AAAAAAAAAAAAAAAAAAAAAAAAAA"); err != nil {
			t.Fatal(err)
		}
		r = httptest.NewRequest("GET", "/auth/magic", nil)
		for _, ck := range w.Result().Cookies() {
			r.AddCookie(ck)
		}
		if ids := c.attempts(r); len(ids) != 1 || ids[0] != "AAAAAAAAAAAAAAAAAAAAAAAAAA" {
			t.Fatalf("after a forged %q, the new cookie names %q", raw, ids)
		}
	})
}

// Removing the session cookie from Cookie lines leaves what Go's own
// parser reads there, less every cookie of that name.
func FuzzRemoveCookie(f *testing.F) {
	for _, s := range []string{"sid=1", "a=1; sid=2; b=3", " sid=1 ;; sid=2;x", "sidx=1; x=sid", "=sid; sid", "a=\"sid=1\"; sid=\"x\""} {
		f.Add(s, "b=2")
		f.Add("b=2", s) // the session cookie on a second Cookie line
	}
	f.Fuzz(func(t *testing.T, line1, line2 string) {
		h := http.Header{"Cookie": {line1, line2}}
		want := slices.DeleteFunc((&http.Request{Header: h.Clone()}).Cookies(), func(c *http.Cookie) bool { return c.Name == "sid" })
		removeCookie(h, "sid")
		got := (&http.Request{Header: h}).Cookies()
		if len(got) != len(want) {
			t.Fatalf("%q, %q: got %v, want %v", line1, line2, got, want)
		}
		for i := range got {
			if got[i].Name != want[i].Name || got[i].Value != want[i].Value || got[i].Quoted != want[i].Quoted {
				t.Fatalf("%q, %q: got %v, want %v", line1, line2, got, want)
			}
		}
		// A line emptied of the session cookie goes; one sent empty may stay.
		if emptyLines(h["Cookie"]) > emptyLines([]string{line1, line2}) {
			t.Fatalf("%q, %q: removal left an empty Cookie line: %q", line1, line2, h["Cookie"])
		}
	})
}

// The session cookie is read as net/http reads it: the same value from
// the same Cookie lines, or none where it finds none.
func FuzzCookieValue(f *testing.F) {
	for _, s := range []string{"sid=1", "a=1; sid=2; b=3", " sid=1 ;; sid=2;x", "sidx=1; x=sid", "=sid; sid",
		"a=\"sid=1\"; sid=\"x\"", "sid=\"", "sid=a\\b; sid=ok", "sid =v", "sid=\"\"", "sid=1" + strings.Repeat(";", 3000)} {
		f.Add(s, "b=2")
		f.Add("b=2", s)
	}
	f.Fuzz(func(t *testing.T, line1, line2 string) {
		h := http.Header{"Cookie": {line1, line2}}
		want := ""
		if c, err := (&http.Request{Header: h}).Cookie("sid"); err == nil {
			want = c.Value
		}
		if got := cookieValue(h, "sid"); got != want {
			t.Fatalf("%q, %q: read %q, net/http reads %q", line1, line2, got, want)
		}
	})
}

func emptyLines(lines []string) int {
	n := 0
	for _, l := range lines {
		if l == "" {
			n++
		}
	}
	return n
}

// A redirect target is either refused ("/") or stays on this site or an
// allowed origin, however it is encoded.
func FuzzSafeRedirect(f *testing.F) {
	for _, s := range []string{"/app?x=1", "//evil.example", "/\\evil.example", "https://app.example.com/x",
		"https://app.example.com@evil.example/", "javascript:alert(1)", "/%2F%2Fevil", "https://a.sub.example.org/"} {
		f.Add(s)
	}
	rp, err := newRedirectPolicy([]string{"https://app.example.com", "https://*.sub.example.org"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, target string) {
		got := rp.safe(target)
		if got == "/" {
			return
		}
		if got != target {
			t.Fatalf("safe(%q) = %q: neither the input nor /", target, got)
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("passed an unparsable target %q", got)
		}
		switch {
		case u.Scheme == "" && u.Host == "":
			if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.ContainsAny(got, "\\\t\r\n") {
				t.Fatalf("passed a path that leaves the site: %q", got)
			}
		case u.Scheme == "https" && (u.Port() == "" || u.Port() == "443") &&
			(strings.EqualFold(u.Hostname(), "app.example.com") || strings.HasSuffix(strings.ToLower(u.Hostname()), ".sub.example.org")):
			if u.User != nil || strings.ContainsAny(got, "\\\t\r\n") {
				t.Fatalf("passed a deceptive URL %q", got)
			}
		default:
			t.Fatalf("passed another origin: %q (scheme %q host %q)", got, u.Scheme, u.Host)
		}
	})
}
