package logto_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/internal/clock"
	"github.com/passgate/caddy-passgate/internal/testenv"
)

const (
	mount       = "/logto"
	experience  = mount + "/api/experience"
	signInPage  = "/public/sign-in"
	doorOptions = "compat logto {\n\tsign_in_page " + signInPage + "\n}\n"
)

// withSignInPage puts the custom sign-in page on the upstream, at
// /public/sign-in (a public path), in front of the usual echo: the page is
// on the same origin as the door, as Logto's custom UIs are.
func withSignInPage(t *testing.T) testenv.Option {
	page, err := os.ReadFile("testdata/sign-in.html")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == signInPage {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(page)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"path": r.URL.Path, "headers": r.Header})
	}))
	t.Cleanup(srv.Close)
	return func(g *testenv.Gateway) { g.Upstream = srv }
}

func gateway(t *testing.T, opts ...testenv.Option) *testenv.Gateway {
	return testenv.StartGateway(t, append([]testenv.Option{withSignInPage(t), testenv.WithExtra(doorOptions)}, opts...)...)
}

// logtoError reads Logto's error body and checks its status and code.
func logtoError(t *testing.T, r testenv.Response, status int, code string) map[string]any {
	t.Helper()
	body := r.JSON(t)
	if r.Status != status || body["code"] != code {
		t.Fatalf("want %d %s, got %d %s", status, code, r.Status, r.Body)
	}
	if msg, _ := body["message"].(string); msg == "" {
		t.Fatalf("no message: %s", r.Body)
	}
	return body
}

// begin starts an interaction for event and sends a code to email,
// returning the record's verificationId.
func begin(t *testing.T, c *testenv.Client, email string) string {
	t.Helper()
	clock.Advance(61 * time.Second) // past the resend cooldown of an earlier send
	if r := c.Do("PUT", experience, map[string]any{"interactionEvent": "SignIn"}); r.Status != 204 {
		t.Fatalf("PUT /api/experience: %d %s", r.Status, r.Body)
	}
	r := c.Do("POST", experience+"/verification/verification-code", map[string]any{
		"identifier": map[string]any{"type": "email", "value": email}, "interactionEvent": "SignIn"})
	if r.Status != 200 {
		t.Fatalf("send: %d %s", r.Status, r.Body)
	}
	id, _ := r.JSON(t)["verificationId"].(string)
	if id == "" {
		t.Fatalf("no verificationId: %s", r.Body)
	}
	return id
}

func verifyCode(c *testenv.Client, email, id, code string) testenv.Response {
	return c.Do("POST", experience+"/verification/verification-code/verify", map[string]any{
		"identifier": map[string]any{"type": "email", "value": email}, "verificationId": id, "code": code})
}

// The whole sequence over plain HTTP: a first sign-in is a Register (the
// identification says user_not_exist first, as Logto's does), submit
// answers where the sign-in started and the session cookie, which opens
// the app; the interaction is gone after it. A second sign-in is a SignIn.
func TestSequence(t *testing.T) {
	g := gateway(t)
	c := g.NewClient()
	r := c.Do("GET", mount+"/sign-in?redirect_to="+"%2Fapp%2Fdashboard%3Fx%3D1", nil)
	if r.Status != 303 || r.Header.Get("Location") != signInPage {
		t.Fatalf("sign-in start: %d %v", r.Status, r.Header)
	}
	cookie := r.Header.Get("Set-Cookie")
	for _, want := range []string{"_interaction=", "Path=" + mount, "HttpOnly", "SameSite=Lax", "Max-Age="} {
		if !strings.Contains(cookie, want) {
			t.Fatalf("interaction cookie %q lacks %s", cookie, want)
		}
	}
	email := "first@example.com"
	id := begin(t, c, email)
	r = verifyCode(c, email, id, g.CodeFor(email))
	if r.Status != 200 || r.JSON(t)["verificationId"] != id {
		t.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	// Nothing signed in yet: the session waits for submit.
	if r := c.Do("GET", "/app/dashboard", nil, "Accept", "application/json"); r.Status != 401 {
		t.Fatalf("before submit: %d", r.Status)
	}
	logtoError(t, c.Do("POST", experience+"/submit", nil), 404, "session.identifier_not_found")
	logtoError(t, c.Do("POST", experience+"/identification", map[string]any{"verificationId": id}), 404, "user.user_not_exist")
	if r := c.Do("PUT", experience+"/interaction-event", map[string]any{"interactionEvent": "Register"}); r.Status != 204 {
		t.Fatalf("interaction-event: %d %s", r.Status, r.Body)
	}
	if r := c.Do("POST", experience+"/identification", map[string]any{"verificationId": id}); r.Status != 201 {
		t.Fatalf("identification (Register): %d %s", r.Status, r.Body)
	}
	r = c.Do("POST", experience+"/submit", nil)
	if r.Status != 200 || r.JSON(t)["redirectTo"] != "/app/dashboard?x=1" {
		t.Fatalf("submit: %d %s", r.Status, r.Body)
	}
	if h := testenv.Echoed(t, c.Do("GET", "/app/dashboard?x=1", nil)); h.Get("X-Auth-Email") != email {
		t.Fatalf("identity headers: %v", h)
	}
	// The interaction ended with the submit.
	logtoError(t, c.Do("POST", experience+"/submit", nil), 400, "session.not_found")

	// Signing in again: the user exists, so SignIn identifies (204), and
	// with no sign-in start the page goes to /.
	c2 := g.NewClient()
	id = begin(t, c2, email)
	if r := verifyCode(c2, email, id, g.CodeFor(email)); r.Status != 200 {
		t.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	if r := c2.Do("POST", experience+"/identification", map[string]any{"verificationId": id}); r.Status != 204 {
		t.Fatalf("identification (SignIn): %d %s", r.Status, r.Body)
	}
	if r := c2.Do("POST", experience+"/submit", nil); r.Status != 200 || r.JSON(t)["redirectTo"] != "/" {
		t.Fatalf("submit: %d %s", r.Status, r.Body)
	}
	if h := testenv.Echoed(t, c2.Do("GET", "/", nil)); h.Get("X-Auth-Email") != email {
		t.Fatalf("identity headers: %v", h)
	}
}

// Logto's errors, with its codes and statuses.
func TestErrors(t *testing.T) {
	g := gateway(t)
	c := g.NewClient()
	email := "errors@example.com"
	send := func(identifier map[string]any) testenv.Response {
		return c.Do("POST", experience+"/verification/verification-code", map[string]any{"identifier": identifier, "interactionEvent": "SignIn"})
	}

	// No interaction yet.
	logtoError(t, send(map[string]any{"type": "email", "value": email}), 400, "session.not_found")
	logtoError(t, verifyCode(c, email, "AAAAAAAAAAAAAAAAAAAAAAAAAA", "123456"), 400, "session.not_found")

	id := begin(t, c, email)
	code := g.CodeFor(email)
	t.Run("invalid input", func(t *testing.T) {
		logtoError(t, send(map[string]any{"type": "email", "value": "not-an-address"}), 400, "guard.invalid_input")
		logtoError(t, send(map[string]any{"type": "phone", "value": "+15555550100"}), 400, "guard.invalid_input")
		logtoError(t, send(map[string]any{"type": "username", "value": "ann"}), 400, "guard.invalid_input")
		logtoError(t, c.Do("PUT", experience, map[string]any{"interactionEvent": "ForgotPassword"}), 400, "guard.invalid_input")
		logtoError(t, c.Do("POST", experience+"/verification/verification-code", `{"identifier":`, "Content-Type", "application/json"), 400, "guard.invalid_input")
	})
	t.Run("no connector", func(t *testing.T) {
		// The gateway has no sms line.
		logtoError(t, send(map[string]any{"type": "phone", "value": "15555550100"}), 501, "connector.not_found")
		r := c.Do("POST", experience+"/verification/verification-code/verify", map[string]any{
			"identifier": map[string]any{"type": "phone", "value": "15555550100"}, "verificationId": id, "code": "123456"})
		logtoError(t, r, 501, "connector.not_found")
	})
	t.Run("record not found", func(t *testing.T) {
		logtoError(t, verifyCode(c, email, "AAAAAAAAAAAAAAAAAAAAAAAAAA", code), 404, "session.verification_session_not_found")
		logtoError(t, c.Do("POST", experience+"/identification", map[string]any{"verificationId": "nope"}), 404, "session.verification_session_not_found")
	})
	t.Run("mismatch", func(t *testing.T) {
		logtoError(t, verifyCode(c, "other@example.com", id, code), 400, "verification_code.email_mismatch")
	})
	t.Run("not verified", func(t *testing.T) {
		logtoError(t, c.Do("POST", experience+"/identification", map[string]any{"verificationId": id}), 400, "session.verification_failed")
	})
	t.Run("cross site", func(t *testing.T) {
		r := c.Do("POST", experience+"/verification/verification-code/verify", map[string]any{
			"identifier": map[string]any{"type": "email", "value": email}, "verificationId": id, "code": code},
			"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
		logtoError(t, r, 403, "passgate.cross_site_request")
	})
	t.Run("wrong code, then too many tries", func(t *testing.T) {
		body := logtoError(t, verifyCode(c, email, id, "000000"), 400, "verification_code.code_mismatch")
		if data, _ := body["data"].(map[string]any); data["attemptsLeft"] != 4.0 {
			t.Fatalf("data: %v", body["data"])
		}
		for range 3 {
			logtoError(t, verifyCode(c, email, id, "000000"), 400, "verification_code.code_mismatch")
		}
		logtoError(t, verifyCode(c, email, id, "000000"), 400, "verification_code.exceed_max_try")
		// The record is burned: the right code no longer works.
		logtoError(t, verifyCode(c, email, id, code), 400, "verification_code.not_found")
	})
	t.Run("routes", func(t *testing.T) {
		logtoError(t, c.Do("GET", experience+"/nope", nil), 404, "passgate.not_found")
		r := c.Do("GET", experience+"/submit", nil)
		logtoError(t, r, 405, "passgate.method_not_allowed")
		if r.Header.Get("Allow") != "POST" {
			t.Fatalf("Allow: %q", r.Header.Get("Allow"))
		}
	})
}

// An address that may not sign in gets a verificationId like any other,
// and nothing is sent: its code never matches.
func TestNotAllowed(t *testing.T) {
	g := gateway(t)
	c := g.NewClient()
	id := begin(t, c, "stranger@elsewhere.org")
	logtoError(t, verifyCode(c, "stranger@elsewhere.org", id, "123456"), 400, "verification_code.code_mismatch")
	if g.LogHas("stranger@elsewhere.org") {
		t.Fatal("a message went to an address that may not sign in")
	}
}

// Two instances on one Redis: the interaction begun on one carries on on
// the other, since it lives in the browser's cookie and the store.
func TestTwoInstances(t *testing.T) {
	rs := testenv.StartRedis(t)
	g := gateway(t, testenv.WithRedis(rs))
	other := testenv.StartTwin(t, g)
	a := g.NewClient()
	b := a.On(other)
	email := "twice@example.com"
	if r := a.Do("PUT", experience, map[string]any{"interactionEvent": "Register"}); r.Status != 204 {
		t.Fatalf("PUT: %d %s", r.Status, r.Body)
	}
	r := b.Do("POST", experience+"/verification/verification-code", map[string]any{
		"identifier": map[string]any{"type": "email", "value": email}, "interactionEvent": "Register"})
	if r.Status != 200 {
		t.Fatalf("send on the second instance: %d %s", r.Status, r.Body)
	}
	id := r.JSON(t)["verificationId"].(string)
	if r := verifyCode(a, email, id, other.CodeFor(email)); r.Status != 200 {
		t.Fatalf("verify on the first: %d %s", r.Status, r.Body)
	}
	if r := b.Do("POST", experience+"/identification", map[string]any{"verificationId": id}); r.Status != 201 {
		t.Fatalf("identification on the second: %d %s", r.Status, r.Body)
	}
	if r := a.Do("POST", experience+"/submit", nil); r.Status != 200 {
		t.Fatalf("submit on the first: %d %s", r.Status, r.Body)
	}
	if h := testenv.Echoed(t, b.Do("GET", "/app", nil)); h.Get("X-Auth-Email") != email {
		t.Fatalf("identity headers on the second: %v", h)
	}
}

// The seed request, Logto's verify, with passgate's answers to a
// wrong code and to the right one, as a run shows them (go test -v -run
// TestSeed).
func TestSeed(t *testing.T) {
	g := gateway(t)
	c := g.NewClient()
	email := "seed@example.com"
	id := begin(t, c, email)
	code := g.CodeFor(email)
	for _, try := range []string{"000000", code} {
		body := `{"identifier":{"type":"email","value":"` + email + `"},"verificationId":"` + id + `","code":"` + try + `"}`
		r := c.Do("POST", experience+"/verification/verification-code/verify", body, "Content-Type", "application/json")
		t.Logf("POST %s/verification/verification-code/verify\n%s\n-> %d %s\n%s", experience, body, r.Status, r.Header.Get("Content-Type"), r.Body)
		want := 400
		if try == code {
			want = 200
		}
		if r.Status != want {
			t.Fatalf("code %s: %d %s", try, r.Status, r.Body)
		}
	}
}
