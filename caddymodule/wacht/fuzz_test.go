package wacht

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/passgate/caddy-passgate/internal/httpkit"
)

// FuzzReadFields: whatever the body, its content type and the query, the
// door reads single text fields within bounds, or answers 400, 413 or 415
// in its envelope; never anything else, never a panic.
func FuzzReadFields(f *testing.F) {
	for _, s := range [][3]string{
		{"multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"verification_code\"\r\n\r\n123456\r\n--x--\r\n", "attempt_identifier=123&identifier_type=signin"},
		{"application/json", `{"signin_attempt_id":"123456789","code":"123456"}`, ""},
		{"application/json", `{"signin_attempt_id":123456789,"code":123456}`, ""},
		{"application/json", `{"code":null,"x":{"y":1}}`, ""},
		{"application/x-www-form-urlencoded", "strategy=email_otp&email=a%40example.com", "a=1&a=2"},
		{"", "", "redirect_uri=%ZZ"},
		{"text/plain", "x", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, ctype, body, query string) {
		r := httptest.NewRequest("POST", "/wacht/auth/attempt-verification", strings.NewReader(body))
		r.URL.RawQuery = query
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		fs, e := readFields(httptest.NewRecorder(), r)
		if e != nil {
			switch e.Status {
			case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			default:
				t.Fatalf("status %d", e.Status)
			}
			if e.Code == "" || e.Message == "" {
				t.Fatalf("error %+v", e)
			}
			return
		}
		for _, vs := range []url.Values{fs.body, fs.query} {
			for k, v := range vs {
				if len(v) != 1 || len(v[0]) > maxField || !utf8.ValidString(v[0]) {
					t.Fatalf("field %q: %q", k, v)
				}
			}
		}
	})
}

func testBrowserCookie() browserCookie {
	key := func(b byte) [][]byte { return [][]byte{[]byte(strings.Repeat(string(rune('a'+b)), 32))} }
	return newBrowserCookie("/wacht", false, false, key(0), key(1))
}

// FuzzBrowserCookie: any cookie value gives a state the door can use (a
// forged or broken one a new, empty state), never a panic; and a state
// the door saves reads back the same, or, if it would not fit in a
// cookie, its newest attempts.
func FuzzBrowserCookie(f *testing.F) {
	c := testBrowserCookie()
	f.Add("x", "a@example.com", uint8(1))
	f.Add("MTc5NTYyMzMzNXx0SHJMUFBMekYxRVZ8", strings.Repeat("a", 240)+"@example.com", uint8(4))
	f.Add("", "+442079460958", uint8(0))
	f.Fuzz(func(t *testing.T, value, address string, n uint8) {
		r := httptest.NewRequest("GET", "/wacht/session", nil)
		r.Header.Set("Cookie", browserCookieName+"="+value)
		st, _ := c.load(r)
		if !st.valid() {
			t.Fatalf("load gave an invalid state %+v", st)
		}

		// Addresses are normalised before they are kept: text, and at
		// most 254 bytes (RFC 5321), always.
		address = strings.ToValidUTF8(address[:min(len(address), 254)], "")
		want := &browserState{ID: newID()}
		for i := 0; i < int(n%(maxAttempts+1)); i++ {
			want.add(attempt{ID: newID(), Channel: "email", Address: address, Method: strategyEmailOTP,
				Created: int64(i), Expires: int64(i) + 600000, Engine: "ABCDEFGHIJKLMNOPQRSTUVWXYZ", Done: i%2 == 1})
		}
		all := append([]attempt(nil), want.Attempts...)
		w := httptest.NewRecorder()
		if err := c.save(w, want); err != nil {
			t.Fatal(err)
		}
		r = httptest.NewRequest("GET", "/wacht/session", nil)
		for _, ck := range w.Result().Cookies() {
			if len(ck.String()) > 4096 {
				t.Fatalf("a cookie of %d bytes", len(ck.String()))
			}
			r.AddCookie(ck)
		}
		got, ok := c.load(r)
		if !ok {
			t.Fatalf("a saved state did not load (%d attempts, address of %d bytes)", len(want.Attempts), len(address))
		}
		if got.ID != want.ID || len(got.Attempts) > len(all) || !reflect.DeepEqual(got.Attempts, all[len(all)-len(got.Attempts):]) {
			t.Fatalf("saved %+v, loaded %+v", all, got)
		}
		if len(all) > 0 && len(got.Attempts) == 0 {
			t.Fatal("the newest attempt was dropped")
		}
	})
}

// FuzzLanding: the page a navigation of the link is sent on to is on this
// site or an allowed origin, whatever redirect_uri the URL carries, and
// carries the link's token and attempt.
func FuzzLanding(f *testing.F) {
	rp, err := httpkit.NewRedirectPolicy([]string{"https://app.example.com"})
	if err != nil {
		f.Fatal(err)
	}
	d := &Door{env: &httpkit.Env{Redirects: rp}}
	for _, s := range []string{"https://app.example.com/verify?x=1#f", "//evil.example", "/landing", "https://app.example.com@evil.example/", "javascript:alert(1)", "/\\evil", ""} {
		f.Add(s, "tok_en-123", "123456")
	}
	f.Fuzz(func(t *testing.T, redirect, token, attempt string) {
		q := url.Values{"redirect_uri": {redirect}, "token": {token}, "attempt": {attempt}}
		r := httptest.NewRequest("GET", "/wacht/auth/verify-magic-link?"+q.Encode(), nil)
		w := httptest.NewRecorder()
		d.landing(w, r, r.URL.Query())
		if w.Code != http.StatusSeeOther {
			t.Fatalf("status %d", w.Code)
		}
		loc, err := url.Parse(w.Header().Get("Location"))
		if err != nil {
			t.Fatalf("Location %q: %v", w.Header().Get("Location"), err)
		}
		switch {
		case loc.Scheme == "" && loc.Host == "":
			if !strings.HasPrefix(loc.Path, "/") || strings.HasPrefix(loc.String(), "//") || strings.Contains(loc.String(), "\\") {
				t.Fatalf("a path off this site: %q", loc)
			}
		case loc.Scheme == "https" && loc.Host == "app.example.com" && loc.User == nil:
		default:
			t.Fatalf("landed on %q", loc)
		}
		lq := loc.Query()
		if token != "" && len(token) <= maxField && lq.Get("token") != token {
			t.Fatalf("token %q became %q", token, lq.Get("token"))
		}
		if attempt != "" && len(attempt) <= maxField && lq.Get("attempt") != attempt {
			t.Fatalf("attempt %q became %q", attempt, lq.Get("attempt"))
		}
	})
}

// The client's fetch is told from a browser opening, embedding or
// prefetching the link by the headers browsers set and pages cannot;
// without them, by Accept.
func TestClientFetch(t *testing.T) {
	for _, tc := range []struct {
		method string
		header []string
		want   bool
	}{
		{"GET", []string{"Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty", "Sec-Fetch-Site", "same-origin"}, true},
		{"GET", []string{"Sec-Fetch-Mode", "same-origin", "Sec-Fetch-Dest", "empty"}, true},
		{"GET", []string{"Sec-Fetch-Mode", "cors"}, true}, // Node's fetch
		{"GET", []string{"Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty", "Accept", "text/html"}, true},
		{"GET", []string{"Accept", "*/*"}, true},
		{"GET", nil, true},
		{"GET", []string{"Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "document"}, false},
		{"GET", []string{"Sec-Fetch-Mode", "navigate", "Sec-Fetch-Dest", "iframe"}, false},
		{"GET", []string{"Sec-Fetch-Mode", "no-cors", "Sec-Fetch-Dest", "image"}, false},
		{"GET", []string{"Sec-Fetch-Mode", "no-cors", "Sec-Fetch-Dest", "empty"}, false},
		{"GET", []string{"Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty", "Sec-Purpose", "prefetch"}, false},
		{"GET", []string{"Purpose", "prefetch"}, false},
		{"GET", []string{"Sec-Fetch-Dest", "document"}, false},
		{"GET", []string{"Accept", "text/html,application/xhtml+xml"}, false},
		{"GET", []string{"Accept", "TEXT/HTML"}, false},
		{"HEAD", nil, false},
	} {
		r := httptest.NewRequest(tc.method, "/wacht/auth/verify-magic-link", nil)
		for i := 0; i+1 < len(tc.header); i += 2 {
			r.Header.Set(tc.header[i], tc.header[i+1])
		}
		if got := clientFetch(r); got != tc.want {
			t.Errorf("%s %v: clientFetch %v, want %v", tc.method, tc.header, got, tc.want)
		}
	}
}
