package supabase_test

import (
	"strings"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/internal/clock"
	"github.com/passgate/caddy-passgate/internal/testenv"
)

const doorConfig = `compat supabase
		sms log
		allow phone +44*
		redirect_origins https://app.example.com`

// Every malformed request gets GoTrue's 4xx, never a 5xx, with both error
// codes and both message keys; the body rules hold (size, JSON, one key
// once, content type).
func TestBadRequests(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithExtra(doorConfig))
	c := newClient(g)
	for _, tc := range []struct {
		name, method, path string
		body               any
		header             []string
		status             int
		code               string
	}{
		{"email and phone", "POST", "/otp", map[string]any{"email": "a@example.com", "phone": "+442079460958"}, nil, 400, "validation_failed"},
		{"neither", "POST", "/otp", map[string]any{}, nil, 400, "validation_failed"},
		{"bad email", "POST", "/otp", map[string]any{"email": "not an address"}, nil, 400, "validation_failed"},
		{"bad phone", "POST", "/otp", map[string]any{"phone": "+1"}, nil, 400, "validation_failed"},
		{"whatsapp", "POST", "/otp", map[string]any{"phone": "+442079460958", "channel": "whatsapp"}, nil, 400, "validation_failed"},
		{"data not an object", "POST", "/otp", map[string]any{"email": "a@example.com", "data": []int{1}}, nil, 400, "validation_failed"},
		{"data too large", "POST", "/otp", map[string]any{"email": "a@example.com", "data": map[string]string{"x": strings.Repeat("x", 5000)}}, nil, 400, "validation_failed"},
		{"challenge without method", "POST", "/otp", map[string]any{"email": "a@example.com", "code_challenge": strings.Repeat("a", 43)}, nil, 400, "validation_failed"},
		{"short challenge", "POST", "/otp", map[string]any{"email": "a@example.com", "code_challenge": "abc", "code_challenge_method": "s256"}, nil, 400, "validation_failed"},
		{"unknown method", "POST", "/otp", map[string]any{"email": "a@example.com", "code_challenge": strings.Repeat("a", 43), "code_challenge_method": "s512"}, nil, 400, "validation_failed"},
		{"malformed JSON", "POST", "/otp", `{"email":`, []string{"Content-Type", "application/json"}, 400, "bad_json"},
		{"trailing data", "POST", "/otp", `{"email":"a@example.com"} {}`, []string{"Content-Type", "application/json"}, 400, "bad_json"},
		{"duplicate key", "POST", "/otp", `{"email":"a@example.com","Email":"b@example.com"}`, []string{"Content-Type", "application/json"}, 400, "bad_json"},
		{"form", "POST", "/otp", "email=a%40example.com", []string{"Content-Type", "application/x-www-form-urlencoded"}, 400, "bad_json"},
		{"text", "POST", "/otp", "email", []string{"Content-Type", "text/plain"}, 415, "bad_json"},
		{"no content type", "POST", "/otp", `{"email":"a@example.com"}`, nil, 415, "bad_json"},
		{"oversized", "POST", "/otp", `{"email":"` + strings.Repeat("a", 20000) + `"}`, []string{"Content-Type", "application/json"}, 413, "bad_json"},
		{"unicode junk", "POST", "/otp", map[string]any{"email": "a\u202e@example.com"}, nil, 400, "validation_failed"},
		{"verify without type", "POST", "/verify", map[string]any{"email": "a@example.com", "token": "123456"}, nil, 400, "validation_failed"},
		{"token and hash", "POST", "/verify", map[string]any{"email": "a@example.com", "token": "123456", "token_hash": "x", "type": "email"}, nil, 400, "validation_failed"},
		{"neither token nor hash", "POST", "/verify", map[string]any{"email": "a@example.com", "type": "email"}, nil, 400, "validation_failed"},
		{"recovery", "POST", "/verify", map[string]any{"email": "a@example.com", "token": "123456", "type": "recovery"}, nil, 400, "validation_failed"},
		{"sms without phone", "POST", "/verify", map[string]any{"email": "a@example.com", "token": "123456", "type": "sms"}, nil, 400, "validation_failed"},
		{"bad email at verify", "POST", "/verify", map[string]any{"email": "nope", "token": "123456", "type": "email"}, nil, 422, "validation_failed"},
		{"hash with email", "POST", "/verify", map[string]any{"email": "a@example.com", "token_hash": "x", "type": "email"}, nil, 400, "validation_failed"},
		{"unsupported grant", "POST", "/token?grant_type=password", map[string]any{"email": "a@example.com"}, nil, 400, "invalid_credentials"},
		{"no grant", "POST", "/token", map[string]any{}, nil, 400, "invalid_credentials"},
		{"empty refresh", "POST", "/token?grant_type=refresh_token", map[string]any{}, nil, 400, "validation_failed"},
		{"unknown refresh", "POST", "/token?grant_type=refresh_token", map[string]any{"refresh_token": "nope"}, nil, 400, "refresh_token_not_found"},
		{"empty pkce", "POST", "/token?grant_type=pkce", map[string]any{"auth_code": "x"}, nil, 400, "validation_failed"},
		{"forged code", "POST", "/token?grant_type=pkce", map[string]any{"auth_code": "AAAA", "code_verifier": strings.Repeat("a", 43)}, nil, 404, "flow_state_not_found"},
		{"bad scope", "POST", "/logout?scope=all", nil, bearer("x"), 400, "validation_failed"},
		{"resend magiclink", "POST", "/resend", map[string]any{"email": "a@example.com", "type": "magiclink"}, nil, 400, "validation_failed"},
		{"resend email_change", "POST", "/resend", map[string]any{"email": "a@example.com", "type": "email_change"}, nil, 400, "validation_failed"},
		{"link without type", "GET", "/verify?token=abc", nil, nil, 400, "validation_failed"},
		{"link of recovery", "GET", "/verify?token=abc&type=recovery", nil, nil, 400, "validation_failed"},
		{"unknown route", "GET", "/admin/users", nil, nil, 404, "not_found"},
		{"wrong method", "GET", "/otp", nil, nil, 405, "method_not_allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, c.call(tc.method, tc.path, tc.body, tc.header...), tc.status, tc.code)
		})
	}
	if r := c.call("PUT", "/user", map[string]any{}); r.Header.Get("Allow") != "GET, HEAD" {
		t.Fatalf("405 without Allow: %v", r.Header)
	}
}

// A wrong code, a code for an address that got none, a code of the wrong
// length and a used code all get the same 403 otp_expired; five wrong codes burn the
// attempt; nothing tells whether an address exists or may sign in.
func TestCodes(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithExtra(doorConfig))
	c := newClient(g)
	email := "ann@example.com"
	if r := c.call("POST", "/otp", map[string]any{"email": email, "create_user": true}); r.Status != 200 || string(r.Body) != "{}\n" {
		t.Fatalf("otp: %d %s", r.Status, r.Body)
	}
	code := g.CodeFor(email)
	if len(code) < 6 {
		t.Fatalf("code %q: shorter than the floor", code)
	}
	wrong := func(code string) string { return strings.Map(func(r rune) rune { return '0' + (r-'0'+5)%10 }, code) }
	first := wantError(t, c.call("POST", "/verify", map[string]any{"email": email, "token": wrong(code), "type": "email"}), 403, "otp_expired")
	unknown := wantError(t, c.call("POST", "/verify", map[string]any{"email": "zed@example.com", "token": code, "type": "email"}), 403, "otp_expired")
	if first["msg"] != unknown["msg"] {
		t.Fatalf("a wrong code and an unknown address answer differently: %v, %v", first, unknown)
	}
	wantError(t, c.call("POST", "/verify", map[string]any{"email": email, "token": "12", "type": "email"}), 403, "otp_expired")
	// The anon key as bearer is no session, and no error.
	r := c.call("POST", "/verify", map[string]any{"email": email, "token": code, "type": "magiclink",
		"options": map[string]any{"redirectTo": "x"}, "gotrue_meta_security": map[string]any{}})
	if r.Status != 200 {
		t.Fatalf("right code: %d %s", r.Status, r.Body)
	}
	wantError(t, c.call("POST", "/verify", map[string]any{"email": email, "token": code, "type": "email"}), 403, "otp_expired")

	// (An expired code is the store's ErrNotFound, as a used one: the
	// engine's tests cover expiry.)
	clock.Advance(61 * time.Second)

	// Burned: five wrong codes, then the right one fails too.
	c.call("POST", "/otp", map[string]any{"email": email})
	code = g.CodeFor(email)
	for range 5 {
		wantError(t, c.call("POST", "/verify", map[string]any{"email": email, "token": wrong(code), "type": "email"}), 403, "otp_expired")
	}
	wantError(t, c.call("POST", "/verify", map[string]any{"email": email, "token": code, "type": "email"}), 403, "otp_expired")

	// create_user:false for an unknown address, and an address the policy
	// does not allow: {} like any other, and nothing sent.
	for _, body := range []map[string]any{
		{"email": "new@example.com", "create_user": false},
		{"email": "eve@elsewhere.example"},
	} {
		r := c.call("POST", "/otp", body)
		if r.Status != 200 || string(r.Body) != "{}\n" {
			t.Fatalf("%v: %d %s", body, r.Status, r.Body)
		}
	}
	// An existing user with create_user:false gets a code.
	clock.Advance(61 * time.Second)
	if r := c.call("POST", "/otp", map[string]any{"email": email, "create_user": false}); r.Status != 200 {
		t.Fatalf("existing user, create_user false: %d", r.Status)
	}
	g.CodeFor(email)
	for _, addr := range []string{"new@example.com", "eve@elsewhere.example"} {
		if n := sentTo(g, addr); n != 0 {
			t.Fatalf("%d messages to %s", n, addr)
		}
	}
}

// sentTo counts the log delivery's messages to addr.
func sentTo(g *testenv.Gateway, addr string) int {
	n := 0
	for _, e := range testenv.ReadLog(g.T, g.LogPath) {
		if e["code"] != nil && e["to"] == addr {
			n++
		}
	}
	return n
}
