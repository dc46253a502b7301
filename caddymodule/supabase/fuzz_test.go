package supabase

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/internal/httpkit"
	"github.com/passgate/caddy-passgate/sessionstore/memory"
	"github.com/passgate/caddy-passgate/verify"
	"github.com/passgate/caddy-passgate/verify/tokens"
)

type nopSender struct{}

func (nopSender) Send(context.Context, verify.Message) error { return nil }

// testDoor is a door over an engine on the memory store, with email and
// SMS senders that drop their messages.
func testDoor(t testing.TB, cfg Config) *Door {
	t.Helper()
	store := memory.New(nil, 0)
	t.Cleanup(func() { store.Close() })
	ed, err := tokens.DeriveEd25519(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	es, err := tokens.DeriveES256(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	iss, err := tokens.New(tokens.Config{Issuer: "passgate", Audience: "passgate", Keys: []tokens.Key{ed}, ProfileKeys: []tokens.Key{es}})
	if err != nil {
		t.Fatal(err)
	}
	allow, _ := verify.NewPattern("email", "*@example.com")
	e, err := verify.New(verify.Config{
		Store: store, Senders: map[string]verify.Sender{"email": nopSender{}, "phone": nopSender{}},
		Policy: verify.Policy{Allow: []verify.Pattern{allow}}, Tokens: iss,
		Keys: [][]byte{[]byte("code key 0123456789abcdef0123456")}, RefreshKey: []byte("refresh key"),
	})
	if err != nil {
		t.Fatal(err)
	}
	redirects, _ := httpkit.NewRedirectPolicy([]string{"https://app.example.com"})
	env := &httpkit.Env{Door: "supabase", Engine: e, Logger: zap.NewNop(), Mount: DefaultMount, Redirects: redirects,
		Keys: func(p string) [][]byte {
			return [][]byte{[]byte(strings.Repeat("k", 32)), []byte(strings.Repeat("o", 32))}
		}}
	d, err := New(env, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

var fuzzRoutes = []string{"otp", "verify", "token", "user", "logout", "resend", "settings", "health", ".well-known/jwks.json", "x"}

// Whatever a client sends to any route, the door answers without a panic
// and without a 5xx; a JSON route's error is GoTrue's body with both codes
// and both message keys; a link route answers a page or a redirect on an
// allowed origin.
func FuzzRequests(f *testing.F) {
	d := testDoor(f, Config{})
	for _, s := range []struct {
		route             uint8
		method, query     string
		ctype, auth, body string
	}{
		{0, "POST", "redirect_to=https://app.example.com/x", "application/json", "", `{"email":"a@example.com","data":{"a":1}}`},
		{0, "POST", "", "application/json", "", `{"phone":"447946095800","channel":"sms"}`},
		{0, "POST", "", "application/json", "", `{"email":"a@example.com","code_challenge":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","code_challenge_method":"S256"}`},
		{1, "POST", "", "application/json", "", `{"email":"a@example.com","token":"123456","type":"email"}`},
		{1, "POST", "", "application/json", "", `{"token_hash":"pkce_AAAA","type":"magiclink"}`},
		{1, "GET", "token=pkce_abc&type=magiclink&redirect_to=https://app.example.com/cb?x=1", "", "", ""},
		{1, "POST", "", "application/x-www-form-urlencoded", "", "token=pkce_abc&redirect_to=%2F%2Fevil.example"},
		{2, "POST", "grant_type=pkce", "application/json", "", `{"auth_code":"AAAA","code_verifier":"x"}`},
		{2, "POST", "grant_type=refresh_token", "application/json;charset=UTF-8", "Bearer x", `{"refresh_token":"x"}`},
		{3, "GET", "", "", "Bearer a.b.c", ""},
		{4, "POST", "scope=others", "application/json", "bearer eyJ", ""},
		{5, "POST", "", "application/json", "", `{"email":"a@example.com","type":"signup"}`},
		{0, "POST", "", "application/json", "", `{"email":"a@example.com","Email":"b"}`},
		{0, "POST", "", "application/json", "", `{"data":"\u0000","email":["x"]}`},
	} {
		f.Add(s.route, s.method, s.query, s.ctype, s.auth, s.body)
	}
	f.Fuzz(func(t *testing.T, route uint8, method, query, ctype, auth, body string) {
		path := DefaultMount + "/" + fuzzRoutes[int(route)%len(fuzzRoutes)]
		r, err := http.NewRequest(method, "http://gw.example"+path, strings.NewReader(body))
		if err != nil {
			return // not a request a server can receive
		}
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", ctype)
		r.Header.Set("Authorization", auth)
		r.RemoteAddr = "192.0.2.1:1234"
		w := httptest.NewRecorder()
		d.ServeHTTP(w, r)
		res := w.Result()
		if res.StatusCode >= 500 {
			t.Fatalf("%s %s?%s: %d %s", method, path, query, res.StatusCode, w.Body)
		}
		if res.Header.Get("X-Supabase-Api-Version") != apiVersion {
			t.Fatalf("no version header: %v", res.Header)
		}
		switch {
		case res.StatusCode == http.StatusSeeOther:
			loc := res.Header.Get("Location")
			if !strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "https://app.example.com/") && !strings.HasPrefix(loc, "https://app.example.com?") &&
				!strings.HasPrefix(loc, "https://app.example.com#") || strings.HasPrefix(loc, "//") {
				t.Fatalf("redirect to %q", loc)
			}
		case strings.HasPrefix(res.Header.Get("Content-Type"), "text/html"):
		case res.StatusCode >= 400:
			var b map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
				t.Fatalf("%d body not JSON: %q", res.StatusCode, w.Body)
			}
			if c, _ := b["code"].(string); c == "" || b["error_code"] != c || b["msg"] == "" || b["msg"] != b["message"] {
				t.Fatalf("error body %v", b)
			}
		}
	})
}

// An auth code opens only as sealed; anything else is no code; none has
// the power of the link it names.
func FuzzAuthCode(f *testing.F) {
	d := testDoor(f, Config{})
	code, err := d.sealCode("the-link-token")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", "AAAA", code, code + "A", code[:len(code)-1], strings.Repeat("A", 300), "%%%", code[:16]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Only the seeded codes (sealed by whichever process made the
		// corpus, with the same keys) open.
		tok, _, ok := d.openCode(s)
		if ok && tok != "the-link-token" {
			t.Fatalf("%q opened as %q", s, tok)
		}
		sealed, err := d.sealCode(s)
		if err != nil {
			t.Fatal(err)
		}
		if got, issued, ok := d.openCode(sealed); len(sealed) <= maxCodeLen && (!ok || got != s || time.Since(issued) > time.Minute) {
			t.Fatalf("sealed %q opened as %q %v %v", s, got, issued, ok)
		}
	})
}

// Adding to a redirect target's query or fragment keeps its origin and
// path, whatever it holds.
func FuzzRedirectTarget(f *testing.F) {
	d := testDoor(f, Config{})
	for _, s := range []string{"/", "https://app.example.com/cb?sb_flow_id=1#x", "https://app.example.com?a=%zz", "/p?x#y#z", "//evil.example", "https://app.example.com/a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		to := d.env.Redirects.Safe(raw)
		base, _, _ := strings.Cut(to, "#")
		base, _, _ = strings.Cut(base, "?")
		if out := withFragment(to, url.Values{"e": {"x#y"}}); strings.Count(out, "#") != 1 {
			t.Fatalf("%q became %q", to, out)
		}
		for _, out := range []string{withQuery(to, url.Values{"code": {"c"}}), withFragment(to, url.Values{"e": {"x#y"}})} {
			if !strings.HasPrefix(out, base) {
				t.Fatalf("%q became %q", to, out)
			}
			u, err := url.Parse(out)
			if err != nil {
				t.Fatalf("%q: %v", out, err)
			}
			if u.Host != "" && u.Host != "app.example.com" {
				t.Fatalf("%q leads to %s", out, u.Host)
			}
		}
		if q, _ := url.Parse(withQuery(to, url.Values{"code": {"c"}})); q.Query().Get("code") != "c" {
			t.Fatalf("the code is lost from %q", to)
		}
	})
}

// A metadata object is compacted and bounded; anything else is refused.
func FuzzMetadata(f *testing.F) {
	for _, s := range []string{"", "null", "{}", `{"a":1}`, " { \"a\" : [1, 2] } ", "[]", `"x"`, "{", `{"a":"` + strings.Repeat("x", 5000) + `"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		md, e := metadata(json.RawMessage(s))
		if e != nil {
			if e.Status != http.StatusBadRequest {
				t.Fatalf("%q: %v", s, e)
			}
			return
		}
		if md == nil {
			return
		}
		var obj map[string]any
		if err := json.Unmarshal(md, &obj); err != nil || len(md) > maxMetadata || len(obj) == 0 {
			t.Fatalf("%q kept as %q", s, md)
		}
	})
}
