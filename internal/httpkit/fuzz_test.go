package httpkit

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

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
		var req struct{ Email, RedirectTo string }
		_, apiErr := ReadBody(httptest.NewRecorder(), r, &req)
		if apiErr == nil {
			return
		}
		switch apiErr.Status {
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		default:
			t.Fatalf("content type %q, body %q: status %d", ctype, body, apiErr.Status)
		}
		if apiErr.Message == "" {
			t.Fatalf("error %+v", apiErr)
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
		RemoveCookie(h, "sid")
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
		if got := CookieValue(h, "sid"); got != want {
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
	rp, err := NewRedirectPolicy([]string{"https://app.example.com", "https://*.sub.example.org"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, target string) {
		got := rp.Safe(target)
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
