package supabase_test

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/passgate/caddy-passgate/internal/testenv"
)

// anonKey is what the test apps are built with; without `anon_key` the
// door takes any.
const anonKey = "sb_publishable_test-key"

// client speaks to the door as supabase-js does: apikey, the key as
// bearer unless a call sets another, the version header.
type client struct {
	*testenv.Client
	t *testing.T
}

func newClient(g *testenv.Gateway) *client {
	return &client{Client: g.NewClient(), t: g.T}
}

func (c *client) call(method, path string, body any, header ...string) testenv.Response {
	c.t.Helper()
	h := []string{"apikey", anonKey, "X-Supabase-Api-Version", "2024-01-01", "X-Client-Info", "supabase-js/2.119.1"}
	if !hasHeader(header, "Authorization") {
		h = append(h, "Authorization", "Bearer "+anonKey)
	}
	return c.Do(method, "/auth/v1"+path, body, append(h, header...)...)
}

func hasHeader(h []string, name string) bool {
	for i := 0; i+1 < len(h); i += 2 {
		if strings.EqualFold(h[i], name) {
			return true
		}
	}
	return false
}

// wantError checks a GoTrue error answer: status, both codes, both
// message keys, the version header and x-sb-error-code.
func wantError(t *testing.T, r testenv.Response, status int, code string) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d %s: %s", r.Status, status, code, r.Body)
	}
	var b map[string]any
	if err := json.Unmarshal(r.Body, &b); err != nil {
		t.Fatalf("error body is not JSON: %q", r.Body)
	}
	if b["code"] != code || b["error_code"] != code {
		t.Fatalf("code %v, error_code %v, want %s", b["code"], b["error_code"], code)
	}
	if m, _ := b["msg"].(string); m == "" || b["message"] != m {
		t.Fatalf("msg %v, message %v: want one message under both", b["msg"], b["message"])
	}
	if r.Header.Get("X-Supabase-Api-Version") != "2024-01-01" || r.Header.Get("X-Sb-Error-Code") != code {
		t.Fatalf("headers %v", r.Header)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("content type %q", ct)
	}
	return b
}

// session signs email in with a code through the door and returns the
// session object.
func (c *client) signIn(g *testenv.Gateway, email string, data map[string]any) map[string]any {
	c.t.Helper()
	body := map[string]any{"email": email, "create_user": true}
	if data != nil {
		body["data"] = data
	}
	if r := c.call("POST", "/otp", body); r.Status != 200 {
		c.t.Fatalf("otp: %d %s", r.Status, r.Body)
	}
	r := c.call("POST", "/verify", map[string]any{"email": email, "token": g.CodeFor(email), "type": "email"})
	if r.Status != 200 {
		c.t.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	return r.JSON(c.t)
}

// claims decodes a JWT's payload, unverified.
func claims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// location parses a redirect's target with its query and fragment.
func location(t *testing.T, r testenv.Response) (*url.URL, url.Values, url.Values) {
	t.Helper()
	if r.Status != 303 {
		t.Fatalf("status %d, want 303: %s", r.Status, r.Body)
	}
	u, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	frag, err := url.ParseQuery(u.Fragment)
	if err != nil {
		t.Fatal(err)
	}
	return u, u.Query(), frag
}
