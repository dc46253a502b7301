package wacht_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// upstream is what the app behind passgate received, from its echo.
func upstream(t *testing.T, a answer) (http.Header, string) {
	t.Helper()
	if a.status != 200 {
		t.Fatalf("upstream not reached: %d %s", a.status, a.body)
	}
	var e struct {
		Path    string
		Headers http.Header
	}
	if err := json.Unmarshal(a.body, &e); err != nil {
		t.Fatalf("upstream echo: %v: %s", err, a.body)
	}
	return e.Headers, e.Path
}

// The __session cookie a Wacht sign-in sets authenticates the app's routes
// behind passgate as passgate's own does: the app gets the identity
// headers for that browser and never the cookie. The session token is a
// bearer token there too. A sign-out through any door ends it everywhere.
func TestGate(t *testing.T) {
	s := startSite(t, siteOptions{})
	b := s.browser()
	email := "gate@example.com"
	userID := b.signIn(email)

	h, path := upstream(t, b.get(s.Base+"/app/page", "Cookie", "theme=dark"))
	if path != "/app/page" || h.Get("X-Auth-User-Id") != userID || h.Get("X-Auth-Email") != email {
		t.Fatalf("identity at the upstream: %v", h)
	}
	for _, c := range h.Values("Cookie") {
		if strings.Contains(c, "__session") || strings.Contains(c, "passgate_session") {
			t.Fatalf("the upstream got the session cookie: %q", c)
		}
	}
	if !strings.Contains(strings.Join(h.Values("Cookie"), ";"), "theme=dark") {
		t.Fatalf("the app's own cookie was dropped: %v", h.Values("Cookie"))
	}

	// At the root of the origin, as @wacht/backend asks (the documented
	// rewrites), with the query kept.
	if a := b.get(s.Base + "/session/token"); a.status != 200 || a.data(t)["token"] == "" {
		t.Fatalf("root /session/token: %d %s", a.status, a.body)
	}
	wantError(t, "root /session/token, unknown template", b.get(s.Base+"/session/token?template=other"), 404, "NOT_FOUND")
	if a := s.browser().get(s.Base + "/.well-known/jwks.json"); a.status != 200 || !strings.Contains(string(a.body), `"kty":"EC"`) ||
		!strings.Contains(string(a.body), `"alg":"ES256"`) || strings.Contains(string(a.body), `"d":`) {
		t.Fatalf("root JWKS: %d %s", a.status, a.body)
	}

	// The session token, as a bearer token from a client without cookies.
	tok := b.get("/session/token?template=default")
	if tok.status != 200 {
		t.Fatalf("token: %d %s", tok.status, tok.body)
	}
	token := tok.data(t)["token"].(string)
	bearer := s.browser()
	h, _ = upstream(t, bearer.get(s.Base+"/app/api", "Authorization", "Bearer "+token))
	if h.Get("X-Auth-User-Id") != userID || h.Get("Authorization") != "" {
		t.Fatalf("bearer at the upstream: %v", h)
	}

	// Signed out through passgate's own door, with the __session cookie:
	// the Wacht door, the gate and the token all see it.
	if a := b.post(s.Base+"/auth/logout", "application/json", strings.NewReader(`{}`)); a.status != 200 {
		t.Fatalf("native logout: %d %s", a.status, a.body)
	}
	if a := b.get(s.Base + "/app/page"); a.status != 401 {
		t.Fatalf("the app after sign-out: %d", a.status)
	}
	if a := bearer.get(s.Base+"/app/api", "Authorization", "Bearer "+token); a.status != 401 {
		t.Fatalf("the token after sign-out: %d", a.status)
	}
	if a := b.get("/session"); a.status != 200 || strings.Contains(string(a.env.Data), `"active_signin":{`) {
		t.Fatalf("/session after sign-out: %d %s", a.status, a.body)
	}

	// A copy of __session kept from before a Wacht sign-out (as an app's
	// server may hold one for @wacht/backend) is worth nothing after it.
	c := s.browser()
	c.signIn("copy@example.com")
	cookie := c.cookie("__session")
	if a := c.post("/session/sign-out", "", nil); a.status != 200 {
		t.Fatalf("sign-out: %d %s", a.status, a.body)
	}
	if c.cookie("__session") != nil {
		t.Fatal("__session kept after sign-out")
	}
	if a := s.browser().get(s.Base+"/app/page", "Cookie", "__session="+cookie.Value); a.status != 401 {
		t.Fatalf("an old copy of __session after sign-out: %d", a.status)
	}

	// And the other way: a session of passgate's own door is the Wacht
	// door's sign-in too, and a Wacht sign-out ends it.
	n := s.browser()
	start := n.post(s.Base+"/auth/start", "application/json", strings.NewReader(`{"email":"native@example.com"}`))
	if start.status != 200 {
		t.Fatalf("native start: %d %s", start.status, start.body)
	}
	var started struct {
		AttemptID string `json:"attempt_id"`
	}
	json.Unmarshal(start.body, &started)
	ct, body := jsonBody(map[string]string{"attempt_id": started.AttemptID, "code": s.message("native@example.com", 0)["code"].(string)})
	if a := n.post(s.Base+"/auth/verify", ct, body); a.status != 200 {
		t.Fatalf("native verify: %d %s", a.status, a.body)
	}
	if a := n.get("/me"); a.status != 200 || a.data(t)["primary_email_address"].(map[string]any)["email"] != "native@example.com" {
		t.Fatalf("/me with passgate's own cookie: %d %s", a.status, a.body)
	}
	if a := n.post("/session/sign-out", "", nil); a.status != 200 {
		t.Fatalf("Wacht sign-out: %d %s", a.status, a.body)
	}
	if a := n.get(s.Base + "/app/page"); a.status != 401 {
		t.Fatalf("the app after a Wacht sign-out of a native session: %d", a.status)
	}
}
