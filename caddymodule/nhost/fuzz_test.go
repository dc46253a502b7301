package nhost

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Only a code the door sealed opens, and it opens to what was sealed: here
// one token and challenge are ever sealed, so anything else that opens is
// a forgery.
func FuzzOpenCode(f *testing.F) {
	d, _ := testDoor(f)
	token, challenge := strings.Repeat("t", tokenLen), strings.Repeat("c", challengeLen)
	good, err := d.sealCode(token, challenge, time.Now().Add(time.Hour))
	if err != nil {
		f.Fatal(err)
	}
	if tok, ch, ok := d.openCode(good, time.Now()); !ok || tok != token || ch != challenge {
		f.Fatalf("a sealed code does not open: %q %q %v", tok, ch, ok)
	}
	if _, _, ok := d.openCode(good, time.Now().Add(2*time.Hour)); ok {
		f.Fatal("an expired code opens")
	}
	for _, s := range []string{good, "", strings.Repeat("A", codeLen), good[:codeLen-1] + "B", good + "A", strings.ToUpper(good), "%%%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		tok, ch, ok := d.openCode(code, time.Now())
		if ok && (tok != token || ch != challenge) {
			t.Fatalf("%q opens to %q, %q", code, tok, ch)
		}
	})
}

// Whatever a client sends to whichever route, the door answers without a
// panic and without a 5xx (the memory store never fails), in JSON with
// Nhost's error body for every error, except the link's HTML page and
// redirects.
func FuzzRequests(f *testing.F) {
	d, _ := testDoor(f)
	routes := []string{"signin/otp/email", "signin/otp/email/verify", "signin/passwordless/email", "signin/passwordless/sms",
		"signin/passwordless/sms/otp", "verify", "token", "token/exchange", "user", "signout", ".well-known/jwks.json", "healthz", "nope"}
	methods := []string{"GET", "POST", "HEAD", "PUT", "OPTIONS"}
	f.Add(uint8(0), uint8(1), "application/json", []byte(`{"email":"a@example.com","options":{"redirectTo":"https://app.example.com/x"}}`), "", "")
	f.Add(uint8(1), uint8(1), "application/json", []byte(`{"email":"a@example.com","otp":"123456"}`), "", "")
	f.Add(uint8(2), uint8(1), "application/json", []byte(`{"email":"a@example.com","codeChallenge":"`+strings.Repeat("a", 43)+`"}`), "", "")
	f.Add(uint8(3), uint8(1), "application/json", []byte(`{"phoneNumber":"+442079460000"}`), "", "")
	f.Add(uint8(5), uint8(0), "", []byte{}, "", "ticket=passwordlessEmail:x&redirectTo=/a")
	f.Add(uint8(5), uint8(1), "application/x-www-form-urlencoded", []byte("ticket=passwordlessEmail%3Ax&codeChallenge=abc"), "", "")
	f.Add(uint8(6), uint8(1), "application/json", []byte(`{"refreshToken":"x"}`), "Bearer a.b.c", "")
	f.Add(uint8(7), uint8(1), "application/json", []byte(`{"code":"x","codeVerifier":"y"}`), "", "")
	f.Add(uint8(8), uint8(0), "", []byte{}, "Bearer x", "")
	f.Add(uint8(9), uint8(1), "application/json", []byte(`{"all":true}`), "Bearer x", "")
	f.Add(uint8(9), uint8(1), "application/json", []byte(`{"refreshToken":null,"all":false}`), "", "")
	f.Fuzz(func(t *testing.T, route, method uint8, contentType string, body []byte, authorization, query string) {
		target := DefaultMount + "/" + routes[int(route)%len(routes)]
		if q, err := url.ParseQuery(query); err == nil && len(q) > 0 {
			target += "?" + q.Encode()
		}
		r := httptest.NewRequest(methods[int(method)%len(methods)], target, bytes.NewReader(body))
		for _, h := range [][2]string{{"Content-Type", contentType}, {"Authorization", authorization}} {
			if h[1] != "" && validHeaderValue(h[1]) {
				r.Header.Set(h[0], h[1])
			}
		}
		w := httptest.NewRecorder()
		d.ServeHTTP(w, r)
		status := w.Code
		if status >= 500 {
			t.Fatalf("%s %s: %d %s", r.Method, target, status, w.Body)
		}
		ct := w.Header().Get("Content-Type")
		if strings.HasPrefix(ct, "text/html") || status/100 == 3 || status == http.StatusNoContent || r.Method == "HEAD" {
			return
		}
		var answer any
		if err := json.Unmarshal(w.Body.Bytes(), &answer); err != nil || !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("%s %s: %d %q (%s), not JSON", r.Method, target, status, w.Body, ct)
		}
		if status >= 400 {
			e, ok := answer.(map[string]any)
			msg, _ := e["message"].(string)
			code, _ := e["error"].(string)
			if !ok || e["status"] != float64(status) || msg == "" || code == "" {
				t.Fatalf("%s %s: %d %s: not Nhost's error body", r.Method, target, status, w.Body)
			}
		}
	})
}

func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// A redirect goes where redirectTarget allowed, with the parameters added
// intact: never to another origin, never to a protocol-relative or
// scheme-less place a browser could read as one.
func FuzzRedirect(f *testing.F) {
	d, _ := testDoor(f)
	for _, s := range []string{"", "/", "/cb?x=1#f", "https://app.example.com/cb?refreshToken=x#a?b", "http://gw.example.com:80/a",
		"//evil.example", "/\\evil.example", "https://app.example.com.evil.example/", "https://app.example.com@evil.example",
		"javascript:alert(1)", "https://APP.example.com:443/x", "/a?", "/a?&", "/%2F%2Fevil.example"} {
		f.Add(s)
	}
	const value = "v&x=y#z ?"
	f.Fuzz(func(t *testing.T, target string) {
		r := httptest.NewRequest("GET", "http://gw.example.com/nhost/v1/verify", nil)
		to, ok := d.redirectTarget(r, target)
		if !ok {
			return
		}
		w := httptest.NewRecorder()
		d.redirect(w, to, "refreshToken", value, "type", "passwordlessEmail")
		loc := w.Header().Get("Location")
		if !validHeaderValue(loc) || strings.ContainsAny(loc, " \\") {
			t.Fatalf("%q: Location %q", target, loc)
		}
		u, err := url.Parse(loc)
		if err != nil {
			t.Fatalf("%q: Location %q: %v", target, loc, err)
		}
		origin := strings.ToLower(u.Scheme + "://" + u.Host)
		origin = strings.TrimSuffix(strings.TrimSuffix(origin, ":443"), ":80") // the schemes' own ports, as browsers read them
		switch {
		case u.Host == "" && u.Scheme == "":
			if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") {
				t.Fatalf("%q: Location %q is not a path of this site", target, loc)
			}
		case origin != "http://gw.example.com" && origin != "https://app.example.com":
			t.Fatalf("%q: Location %q on another origin", target, loc)
		}
		q := u.Query()["refreshToken"]
		if len(q) == 0 || q[len(q)-1] != value || u.Query().Get("type") != "passwordlessEmail" {
			t.Fatalf("%q: Location %q does not carry the parameters", target, loc)
		}
	})
}
