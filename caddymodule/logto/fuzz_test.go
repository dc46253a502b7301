package logto

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// An identifier is an email address or Logto's digits-only phone number,
// and a phone number maps to E.164 and back unchanged.
func FuzzIdentifier(f *testing.F) {
	for _, s := range [][2]string{{"email", "a@example.com"}, {"phone", "15555550100"}, {"phone", "+15555550100"},
		{"email", "a@b"}, {"username", "ann"}, {"phone", ""}, {"email", strings.Repeat("a", 250) + "@example.com"}, {"phone", "١٢٣"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, typ, value string) {
		channel, address, msg, ok := identifier{Type: typ, Value: value}.address()
		if !ok {
			if msg == "" || channel != "" || address != "" {
				t.Fatalf("refused %q %q without a message, or with an address", typ, value)
			}
			return
		}
		switch {
		case typ == "email" && (channel != "email" || address != value || len(value) > maxEmailLen):
			t.Fatalf("email %q: %q %q", value, channel, address)
		case typ == "phone" && (channel != "phone" || address != "+"+value || logtoPhone(address) != value || strings.Trim(value, "0123456789") != ""):
			t.Fatalf("phone %q: %q %q", value, channel, address)
		case typ != "email" && typ != "phone":
			t.Fatalf("type %q accepted", typ)
		}
	})
}

// Client authentication: HTTP Basic (form-urlencoded id and secret) or the
// form, never both, never an empty id or secret; what Basic encodes comes
// back as it was.
func FuzzClientCredentials(f *testing.F) {
	f.Add("shop", "secret", "", "", "")
	f.Add("", "", "Basic "+base64.StdEncoding.EncodeToString([]byte("shop:secret")), "", "")
	f.Add("", "", "Basic "+base64.StdEncoding.EncodeToString([]byte("a%3Ab:c%25d")), "a:b", "")
	f.Add("shop", "secret", "Basic !!", "", "")
	f.Add("", "", "Bearer x", "", "")
	f.Add("", "", "", "i d", "s:e:c")
	f.Fuzz(func(t *testing.T, formID, formSecret, authorization, basicID, basicSecret string) {
		form := url.Values{}
		if formID != "" {
			form.Set("client_id", formID)
		}
		if formSecret != "" {
			form.Set("client_secret", formSecret)
		}
		r := httptest.NewRequest("POST", "/logto/oidc/token", nil)
		r.PostForm = form
		if basicID != "" || basicSecret != "" {
			authorization = "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(basicID)+":"+url.QueryEscape(basicSecret)))
		}
		if authorization != "" {
			r.Header.Set("Authorization", authorization)
		}
		id, secret, ok := clientCredentials(r)
		if !ok {
			return
		}
		if id == "" || secret == "" {
			t.Fatalf("empty id or secret accepted: %q %q", id, secret)
		}
		if authorization != "" && formSecret != "" {
			t.Fatal("both mechanisms accepted")
		}
		if (basicID != "" || basicSecret != "") && (id != basicID || secret != basicSecret) {
			t.Fatalf("Basic %q:%q read as %q:%q", basicID, basicSecret, id, secret)
		}
	})
}

// Only an interaction the door sealed opens, and it opens to what was
// sealed.
func FuzzInteractionCookie(f *testing.F) {
	d, _ := testDoor(f)
	// Fixed times: the fuzzing workers make want again, in processes of
	// their own.
	far := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	it := &interaction{Event: eventSignIn, RedirectTo: "/app", Expires: far}
	it.add(record{ID: strings.Repeat("A", 26), Channel: "email", Address: "a@example.com", Expires: far})
	w := httptest.NewRecorder()
	if err := d.interaction.save(w, it); err != nil {
		f.Fatal(err)
	}
	good := w.Result().Cookies()[0].Value
	want, _ := json.Marshal(it)
	for _, s := range []string{good, "", good[:len(good)-1], good + "A", strings.ToUpper(good), "%%%", "a|b|c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		r := httptest.NewRequest("GET", "/logto/api/experience", nil)
		r.Header.Set("Cookie", interactionCookieName+"="+value)
		got := d.interaction.load(r)
		if got == nil {
			return
		}
		if b, _ := json.Marshal(got); !bytes.Equal(b, want) {
			t.Fatalf("%q opens to %s", value, b)
		}
	})
}

// Whatever a client sends to whichever route, with or without an
// interaction, the door answers without a panic and without a 5xx (the
// memory store never fails; 501 says there is no SMS), with Logto's error body (or OAuth's, at the
// token endpoint) for every error.
func FuzzRequests(f *testing.F) {
	d, _ := testDoor(f)
	routes := []string{"sign-in", "api/experience", "api/experience/interaction-event", "api/experience/verification/verification-code",
		"api/experience/verification/verification-code/verify", "api/experience/identification", "api/experience/submit",
		"oidc/token", "oidc/jwks", "api/verification-codes", "api/verification-codes/verify", "nope"}
	methods := []string{"GET", "POST", "PUT", "HEAD", "OPTIONS"}
	// A live interaction with one record, for the requests that carry it.
	w := httptest.NewRecorder()
	d.ServeHTTP(w, jsonRequest("PUT", "/logto/api/experience", `{"interactionEvent":"SignIn"}`, nil))
	cookies := w.Result().Cookies()
	w = httptest.NewRecorder()
	d.ServeHTTP(w, jsonRequest("POST", "/logto/api/experience/verification/verification-code",
		`{"identifier":{"type":"email","value":"a@example.com"},"interactionEvent":"SignIn"}`, cookies))
	if w.Code != 200 {
		f.Fatalf("send: %d %s", w.Code, w.Body)
	}
	cookies = w.Result().Cookies()
	var sent struct{ VerificationID string }
	_ = json.Unmarshal(w.Body.Bytes(), &sent)
	f.Add(uint8(1), uint8(2), "application/json", []byte(`{"interactionEvent":"Register","captchaToken":"x"}`), "", true)
	f.Add(uint8(3), uint8(1), "application/json", []byte(`{"identifier":{"type":"phone","value":"15555550100"},"interactionEvent":"SignIn"}`), "", true)
	f.Add(uint8(4), uint8(1), "application/json", []byte(`{"identifier":{"type":"email","value":"a@example.com"},"verificationId":"`+sent.VerificationID+`","code":"123456"}`), "", true)
	f.Add(uint8(5), uint8(1), "application/json", []byte(`{"verificationId":"`+sent.VerificationID+`"}`), "", true)
	f.Add(uint8(6), uint8(1), "", []byte{}, "", true)
	f.Add(uint8(7), uint8(1), "application/x-www-form-urlencoded", []byte("grant_type=client_credentials&client_id=shop&client_secret="+testClientSecret), "", false)
	f.Add(uint8(7), uint8(1), "application/x-www-form-urlencoded", []byte("grant_type=client_credentials&resource=x"), "Basic c2hvcDp4", false)
	f.Add(uint8(9), uint8(1), "application/json", []byte(`{"email":"a@example.com"}`), "Bearer a.b.c", false)
	f.Add(uint8(10), uint8(1), "application/json", []byte(`{"phone":"15555550100","verificationCode":"1"}`), "Bearer x", false)
	f.Add(uint8(0), uint8(0), "", []byte{}, "", false)
	f.Fuzz(func(t *testing.T, route, method uint8, contentType string, body []byte, authorization string, withCookie bool) {
		target := DefaultMount + "/" + routes[int(route)%len(routes)]
		r := httptest.NewRequest(methods[int(method)%len(methods)], target, bytes.NewReader(body))
		for _, h := range [][2]string{{"Content-Type", contentType}, {"Authorization", authorization}} {
			if h[1] != "" && validHeaderValue(h[1]) {
				r.Header.Set(h[0], h[1])
			}
		}
		if withCookie {
			for _, c := range cookies {
				r.AddCookie(c)
			}
		}
		w := httptest.NewRecorder()
		d.ServeHTTP(w, r)
		// 501 is Logto's own answer for a channel without a connector.
		if w.Code >= 500 && !(w.Code == 501 && strings.Contains(w.Body.String(), `"connector.not_found"`)) {
			t.Fatalf("%s %s: %d %s", r.Method, target, w.Code, w.Body)
		}
		if w.Code < 400 || r.Method == "HEAD" {
			return
		}
		var e map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %q", r.Method, target, w.Code, w.Body)
		}
		if _, oauth := e["error"].(string); !oauth || e["code"] != nil {
			if code, _ := e["code"].(string); code == "" || e["message"] == nil {
				t.Fatalf("%s %s: %d without Logto's error body: %s", r.Method, target, w.Code, w.Body)
			}
		}
	})
}

func jsonRequest(method, target, body string, cookies []*http.Cookie) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return r
}

func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
