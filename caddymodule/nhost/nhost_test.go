package nhost_test

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/passgate/caddy-passgate/internal/clock"
	"github.com/passgate/caddy-passgate/internal/testenv"
)

const mount = "/nhost/v1"

// appOrigin is an app on another origin: its redirects are allowed and
// its pages may call the door.
const appOrigin = "https://app.example.com"

// edgeConfig is gatewayConfig with an app origin allowed for redirects and
// CORS.
const edgeConfig = gatewayConfig + `
		redirect_origins ` + appOrigin + `
		cors ` + appOrigin + `
`

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func start(t *testing.T, g *testenv.Gateway) (*testenv.Gateway, *testenv.Client) {
	t.Helper()
	return g, g.NewClient()
}

// wantError checks an error answer: the status, and Nhost's body with the
// same status, the code and a message, and nothing else.
func wantError(t *testing.T, r testenv.Response, status int, code string) {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("status %d, body not JSON: %q", r.Status, r.Body)
	}
	msg, _ := body["message"].(string)
	if r.Status != status || body["status"] != float64(status) || body["error"] != code || msg == "" || len(body) != 3 {
		t.Fatalf("got %d %s, want %d with error %q", r.Status, r.Body, status, code)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
}

// wantOK checks Nhost's "OK": the JSON string.
func wantOK(t *testing.T, r testenv.Response) {
	t.Helper()
	if r.Status != 200 || strings.TrimSpace(string(r.Body)) != `"OK"` {
		t.Fatalf("got %d %q, want 200 \"OK\"", r.Status, r.Body)
	}
}

func jsonOf(t *testing.T, r testenv.Response, status int) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	return r.JSON(t)
}

// signIn signs email in by an emailed code and answers the session. The
// resend cooldown is let pass first, so one address can sign in again.
func signIn(t *testing.T, g *testenv.Gateway, c *testenv.Client, email string) map[string]any {
	t.Helper()
	clock.Advance(11 * time.Second)
	wantOK(t, c.Do("POST", mount+"/signin/otp/email", map[string]any{"email": email}))
	r := c.Do("POST", mount+"/signin/otp/email/verify", map[string]any{"email": email, "otp": g.CodeFor(email)})
	return jsonOf(t, r, 200)["session"].(map[string]any)
}

func bearer(s map[string]any) []string {
	return []string{"Authorization", "Bearer " + s["accessToken"].(string)}
}

// payload is a JWT's claims, unverified.
func payload(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Email codes: a wrong code, an unknown address and a used code are
// Nhost's 400 invalid-otp; five wrong codes burn the attempt; the session
// is Nhost's, with Hasura's claims in a token signed by the door's JWKS.
func TestNhostEmailCode(t *testing.T) {
	g, c := start(t, testenv.StartGateway(t, testenv.WithExtra(edgeConfig)))
	email := "code@example.com"

	wantError(t, c.Do("POST", mount+"/signin/otp/email/verify", map[string]any{"email": "nobody@example.com", "otp": "123456"}), 400, "invalid-otp")
	wantOK(t, c.Do("POST", mount+"/signin/otp/email", map[string]any{"email": email}))
	code := g.CodeFor(email)
	wrong := strings.Map(func(r rune) rune { return '0' + (r-'0'+5)%10 }, code)
	wantError(t, c.Do("POST", mount+"/signin/otp/email/verify", map[string]any{"email": email, "otp": wrong}), 400, "invalid-otp")
	wantError(t, c.Do("POST", mount+"/signin/otp/email/verify", map[string]any{"email": "other@example.com", "otp": code}), 400, "invalid-otp")
	r := c.Do("POST", mount+"/signin/otp/email/verify", map[string]any{"email": "Code@Example.com", "otp": code})
	s := jsonOf(t, r, 200)["session"].(map[string]any)
	wantError(t, c.Do("POST", mount+"/signin/otp/email/verify", map[string]any{"email": email, "otp": code}), 400, "invalid-otp")

	// The session and its user, as nhost-js reads them.
	if s["accessTokenExpiresIn"] != float64(900) || s["refreshTokenId"] == "" || len(s["refreshToken"].(string)) < 43 {
		t.Fatalf("session %v", s)
	}
	u := s["user"].(map[string]any)
	want := map[string]any{"avatarUrl": "", "defaultRole": "user", "displayName": email, "email": email, "emailVerified": true,
		"isAnonymous": false, "locale": "en", "metadata": map[string]any{}, "phoneNumberVerified": false,
		"roles": []any{"staff", "user"}}
	for k, v := range want {
		if b1, _ := json.Marshal(u[k]); string(b1) != string(mustJSON(t, v)) {
			t.Errorf("user %s = %s, want %s", k, b1, mustJSON(t, v))
		}
	}
	if _, ok := u["phoneNumber"]; ok {
		t.Error("phoneNumber present for an email user")
	}
	if _, err := time.Parse(time.RFC3339, u["createdAt"].(string)); err != nil || !uuidRE.MatchString(u["id"].(string)) {
		t.Fatalf("createdAt %v, id %v", u["createdAt"], u["id"])
	}

	// Hasura's claims, as Nhost Auth writes them, in an ES256 token that
	// verifies against the door's JWKS alone.
	tok := s["accessToken"].(string)
	jwks := c.Do("GET", mount+"/.well-known/jwks.json", nil)
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks.Body, &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("JWKS %s: %v", jwks.Body, err)
	}
	parsed, err := josejwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(parsed.Headers[0].KeyID)
	var claims map[string]any
	if len(keys) != 1 || !keys[0].IsPublic() {
		t.Fatalf("kid %q: %d public keys in the JWKS", parsed.Headers[0].KeyID, len(keys))
	}
	if err := parsed.Claims(keys[0].Key, &claims); err != nil {
		t.Fatal(err)
	}
	h := claims["https://hasura.io/jwt/claims"].(map[string]any)
	if claims["iss"] != "hasura-auth" || claims["sub"] != u["id"] || h["x-hasura-user-id"] != u["id"] ||
		h["x-hasura-default-role"] != "user" || h["x-hasura-user-is-anonymous"] != "false" {
		t.Fatalf("claims %v", claims)
	}
	// A JSON array, as Nhost Auth's controller/jwt.go writes it and Hasura
	// requires; not the Postgres array string of Nhost's custom claims.
	if roles, ok := h["x-hasura-allowed-roles"].([]any); !ok || !slices.Equal(roles, []any{"staff", "user"}) {
		t.Fatalf("x-hasura-allowed-roles %#v", h["x-hasura-allowed-roles"])
	}
	if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 900 {
		t.Fatalf("token lives %vs", exp-iat)
	}

	// The session fits in nhost-js's one cookie (CookieStorage), with the
	// decoded token it keeps beside it.
	stored, _ := json.Marshal(map[string]any{"session": s, "decodedToken": claims})
	if n := len(url.QueryEscape(string(stored))); n > 3800 {
		t.Fatalf("stored session is %d bytes", n)
	} else {
		t.Logf("stored session: %d bytes", n)
	}

	// The token passes the gate like passgate's own, and is taken off the
	// request.
	echo := testenv.Echoed(t, c.Do("GET", "/protected", nil, bearer(s)...))
	if echo.Get("X-Auth-User-Id") != u["id"] || echo.Get("Authorization") != "" || echo.Get("X-Auth-Roles") != "staff" {
		t.Fatalf("upstream got %v", echo)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Five wrong codes burn the attempt: the fifth says so, and the right code
// no longer works.
func TestNhostWrongCodesBurn(t *testing.T) {
	g, c := start(t, testenv.StartGateway(t, testenv.WithExtra(edgeConfig)))
	email := "burn@example.com"
	wantOK(t, c.Do("POST", mount+"/signin/otp/email", map[string]any{"email": email}))
	code := g.CodeFor(email)
	wrong := strings.Map(func(r rune) rune { return '0' + (r-'0'+5)%10 }, code)
	for i := 1; i <= 5; i++ {
		r := c.Do("POST", mount+"/signin/otp/email/verify", map[string]any{"email": email, "otp": wrong})
		if i < 5 {
			wantError(t, r, 400, "invalid-otp")
		} else {
			wantError(t, r, 400, "otp-too-many-attempts")
		}
	}
	wantError(t, c.Do("POST", mount+"/signin/otp/email/verify", map[string]any{"email": email, "otp": code}), 400, "invalid-otp")
}

// SMS codes answer {session, mfa: null}; the user has the phone.
func TestNhostSMS(t *testing.T) {
	g, c := start(t, testenv.StartGateway(t, testenv.WithExtra(edgeConfig)))
	phone := "+442079460123"
	wantOK(t, c.Do("POST", mount+"/signin/passwordless/sms", map[string]any{"phoneNumber": "+44 20 7946 0123"}))
	code := g.CodeFor(phone)
	wantError(t, c.Do("POST", mount+"/signin/passwordless/sms/otp", map[string]any{"phoneNumber": phone, "otp": "12"}), 400, "invalid-otp")
	r := jsonOf(t, c.Do("POST", mount+"/signin/passwordless/sms/otp", map[string]any{"phoneNumber": phone, "otp": code}), 200)
	if mfa, ok := r["mfa"]; !ok || mfa != nil {
		t.Fatalf("mfa %v (present %v)", mfa, ok)
	}
	u := r["session"].(map[string]any)["user"].(map[string]any)
	if u["phoneNumber"] != phone || u["phoneNumberVerified"] != true || u["displayName"] != phone || u["emailVerified"] != false {
		t.Fatalf("user %v", u)
	}
	if _, ok := u["email"]; ok {
		t.Fatal("email present for a phone user")
	}
	wantError(t, c.Do("POST", mount+"/signin/passwordless/sms", map[string]any{"phoneNumber": "12"}), 400, "invalid-request")
}

// Refresh: the bare session, rotated; the same refresh asked again at once
// (a lost answer) gets the same successor; a spent token presented later
// ends the session; every dead token is 401 invalid-refresh-token.
func TestNhostRefresh(t *testing.T) {
	g, c := start(t, testenv.StartGateway(t, testenv.WithExtra(edgeConfig)))
	s := signIn(t, g, c, "refresh@example.com")
	first := s["refreshToken"].(string)
	r := jsonOf(t, c.Do("POST", mount+"/token", map[string]any{"refreshToken": first}, bearer(s)...), 200)
	if _, wrapped := r["session"]; wrapped || r["accessToken"] == nil || r["user"] == nil || r["refreshToken"] == first {
		t.Fatalf("refresh answered %v", r)
	}
	again := jsonOf(t, c.Do("POST", mount+"/token", map[string]any{"refreshToken": first}), 200)
	if again["refreshToken"] != r["refreshToken"] {
		t.Fatal("a retry within the grace got another successor")
	}
	clock.Advance(11 * time.Second)
	wantError(t, c.Do("POST", mount+"/token", map[string]any{"refreshToken": first}), 401, "invalid-refresh-token")
	// The reuse ended the session: its newest token and access token too.
	wantError(t, c.Do("POST", mount+"/token", map[string]any{"refreshToken": r["refreshToken"]}), 401, "invalid-refresh-token")
	wantError(t, c.Do("GET", mount+"/user", nil, bearer(r)...), 401, "unauthorized")

	for _, tok := range []any{"", "garbage", strings.Repeat("A", 43), 12} {
		r := c.Do("POST", mount+"/token", map[string]any{"refreshToken": tok})
		if tok == 12 {
			wantError(t, r, 400, "invalid-request")
			continue
		}
		wantError(t, r, 401, "invalid-refresh-token")
	}
	wantError(t, c.Do("POST", mount+"/token", map[string]any{}), 400, "invalid-request")
}

// Bodies nhost-js never sends are refused with Nhost's body and the right
// status: wrong content types, forms, malformed and oversized JSON,
// repeated keys, wrong types.
func TestNhostBadBodies(t *testing.T) {
	_, c := start(t, testenv.StartGateway(t, testenv.WithExtra(edgeConfig)))
	for _, route := range []string{"/signin/otp/email", "/signin/otp/email/verify", "/signin/passwordless/email",
		"/signin/passwordless/sms", "/signin/passwordless/sms/otp", "/token", "/token/exchange", "/signout"} {
		for _, tc := range []struct {
			name, body, ct string
			status         int
		}{
			{"text/plain", `{"email":"a@example.com"}`, "text/plain", 415},
			{"form", "email=a%40example.com", "application/x-www-form-urlencoded", 415},
			{"no content type", `{"email":"a@example.com"}`, "", 415},
			{"malformed", `{"email":`, "application/json", 400},
			{"trailing", `{} {}`, "application/json", 400},
			{"array", `[]`, "application/json", 400},
			{"repeated key", `{"email":"a@example.com","EMAIL":"b@example.com"}`, "application/json", 400},
			{"wrong type", `{"email":1,"phoneNumber":2,"otp":3,"refreshToken":4,"code":5,"all":"yes"}`, "application/json", 400},
			{"oversized", `{"email":"` + strings.Repeat("a", 20<<10) + `"}`, "application/json", 413},
		} {
			var hdr []string
			if tc.ct != "" {
				hdr = []string{"Content-Type", tc.ct}
			}
			r := c.Do("POST", mount+route, tc.body, hdr...)
			if r.Status != tc.status {
				t.Errorf("%s %s: %d %s, want %d", route, tc.name, r.Status, r.Body, tc.status)
				continue
			}
			wantError(t, r, tc.status, "invalid-request")
		}
	}
}

// Starts: what the options may say, and what passgate refuses.
func TestNhostStartOptions(t *testing.T) {
	g, c := start(t, testenv.StartGateway(t, testenv.WithExtra(edgeConfig)))
	opts := func(o map[string]any) map[string]any {
		return map[string]any{"email": "opts@example.com", "options": o}
	}
	for _, tc := range []struct {
		name string
		body map[string]any
		code string
	}{
		{"no email", map[string]any{}, "invalid-request"},
		{"bad email", map[string]any{"email": "not-an-address"}, "invalid-request"},
		{"redirect elsewhere", opts(map[string]any{"redirectTo": "https://evil.example/cb"}), "redirectTo-not-allowed"},
		{"redirect by scheme", opts(map[string]any{"redirectTo": "javascript:alert(1)"}), "redirectTo-not-allowed"},
		{"redirect protocol-relative", opts(map[string]any{"redirectTo": "//evil.example/cb"}), "redirectTo-not-allowed"},
		{"redirect to a lookalike", opts(map[string]any{"redirectTo": appOrigin + ".evil.example/cb"}), "redirectTo-not-allowed"},
		{"redirect with a user", opts(map[string]any{"redirectTo": "https://app.example.com@evil.example/"}), "redirectTo-not-allowed"},
		{"another default role", opts(map[string]any{"defaultRole": "admin"}), "role-not-allowed"},
		{"roles without the default", opts(map[string]any{"allowedRoles": []string{"me"}}), "default-role-must-be-in-allowed-roles"},
		{"challenge on a code", map[string]any{"email": "opts@example.com", "codeChallenge": strings.Repeat("a", 43)}, "invalid-request"},
	} {
		r := c.Do("POST", mount+"/signin/otp/email", tc.body)
		wantError(t, r, 400, tc.code)
	}
	for _, tc := range []struct{ name, route, challenge string }{
		{"short challenge", "/signin/passwordless/email", "abc"},
		{"challenge not base64url", "/signin/passwordless/email", strings.Repeat("+", 43)},
	} {
		r := c.Do("POST", mount+tc.route, map[string]any{"email": "opts@example.com", "codeChallenge": tc.challenge})
		wantError(t, r, 400, "invalid-request")
	}
	// Allowed: this site's paths and origin, and the redirect_origins.
	for i, to := range []string{"/app/callback?x=1", g.Base + "/app/callback", appOrigin + "/cb"} {
		clock.Advance(11 * time.Second)
		r := c.Do("POST", mount+"/signin/passwordless/email", opts(map[string]any{
			"redirectTo": to, "defaultRole": "user", "allowedRoles": []string{"user", "me"}, "displayName": "Opt", "locale": "fr",
			"metadata": map[string]any{"k": "v"}}))
		wantOK(t, r)
		link, _ := url.Parse(g.LinkFor("opts@example.com"))
		if got := link.Query().Get("redirectTo"); got != to {
			t.Fatalf("%d: link redirectTo %q, want %q", i, got, to)
		}
	}
	// Nobody is told whether an address may sign in: "OK", nothing sent.
	wantOK(t, c.Do("POST", mount+"/signin/otp/email", map[string]any{"email": "out@elsewhere.example"}))
	// The limits answer 429 with Retry-After, in Nhost's body.
	r := c.Do("POST", mount+"/signin/otp/email", map[string]any{"email": "opts@example.com"})
	wantError(t, r, 429, "too-many-requests")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
}

// Without an SMS delivery, the SMS routes are Nhost's disabled endpoint.
func TestNhostSMSNotConfigured(t *testing.T) {
	_, c := start(t, testenv.StartGateway(t, testenv.WithExtra("compat nhost")))
	wantError(t, c.Do("POST", mount+"/signin/passwordless/sms", map[string]any{"phoneNumber": "+442079460123"}), 409, "disabled-endpoint")
}

// GET /user needs the access token, and a live session behind it.
func TestNhostUser(t *testing.T) {
	g, c := start(t, testenv.StartGateway(t, testenv.WithExtra(edgeConfig)))
	for _, hdr := range [][]string{nil, {"Authorization", "Basic eDp5"}, {"Authorization", "Bearer "}, {"Authorization", "Bearer x.y.z"}} {
		r := c.Do("GET", mount+"/user", nil, hdr...)
		wantError(t, r, 401, "unauthorized")
		if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
		}
	}
	s := signIn(t, g, c, "admin@example.com")
	u := jsonOf(t, c.Do("GET", mount+"/user", nil, bearer(s)...), 200)
	if u["id"] != s["user"].(map[string]any)["id"] || !slices.Equal(u["roles"].([]any), []any{"staff", "admin", "user"}) {
		t.Fatalf("user %v", u)
	}
	// A cookie is no credential here: the door reads bearer tokens only.
	native := g.NewClient()
	native.SignIn("cookie@example.com")
	wantError(t, native.Do("GET", mount+"/user", nil), 401, "unauthorized")
}

// Sign-out by refresh token ends that session only; with all and the
// access token, every session of the user, through every door.
func TestNhostSignOut(t *testing.T) {
	g, c := start(t, testenv.StartGateway(t, testenv.WithExtra(edgeConfig)))
	email := "out@example.com"
	a, b := signIn(t, g, c, email), signIn(t, g, c, email)
	wantError(t, c.Do("POST", mount+"/signout", map[string]any{}), 400, "invalid-request")
	wantOK(t, c.Do("POST", mount+"/signout", map[string]any{"refreshToken": a["refreshToken"]}, bearer(a)...))
	wantError(t, c.Do("GET", mount+"/user", nil, bearer(a)...), 401, "unauthorized")
	wantError(t, c.Do("POST", mount+"/token", map[string]any{"refreshToken": a["refreshToken"]}), 401, "invalid-refresh-token")
	if r := c.Do("GET", "/protected", nil, bearer(a)...); r.Status != 401 {
		t.Fatalf("gate let an ended session's token in: %d", r.Status)
	}
	jsonOf(t, c.Do("GET", mount+"/user", nil, bearer(b)...), 200)
	// Twice, or an unknown token, is still signing out.
	wantOK(t, c.Do("POST", mount+"/signout", map[string]any{"refreshToken": a["refreshToken"]}))
	wantOK(t, c.Do("POST", mount+"/signout", map[string]any{"refreshToken": "nothing"}))

	// all needs the access token of a live session.
	wantError(t, c.Do("POST", mount+"/signout", map[string]any{"all": true}), 401, "unauthorized")
	wantError(t, c.Do("POST", mount+"/signout", map[string]any{"all": true}, bearer(a)...), 401, "unauthorized")
	native := g.NewClient()
	clock.Advance(61 * time.Second)
	native.SignIn(email)
	if r := native.Do("GET", "/protected", nil); r.Status != 200 {
		t.Fatalf("native session: %d", r.Status)
	}
	wantOK(t, c.Do("POST", mount+"/signout", map[string]any{"all": true}, bearer(b)...))
	wantError(t, c.Do("GET", mount+"/user", nil, bearer(b)...), 401, "unauthorized")
	if r := native.Do("GET", "/protected", nil); r.Status == 200 {
		t.Fatal("the native door's session outlived sign-out everywhere")
	}
}

// Routes, methods, health and the JWKS.
func TestNhostRoutes(t *testing.T) {
	_, c := start(t, testenv.StartGateway(t, testenv.WithExtra(edgeConfig)))
	wantError(t, c.Do("GET", mount+"/signin/anonymous", nil), 404, "not-found")
	wantError(t, c.Do("GET", mount, nil), 404, "not-found")
	r := c.Do("GET", mount+"/token", nil)
	wantError(t, r, 405, "method-not-allowed")
	if r.Header.Get("Allow") != "POST" {
		t.Fatalf("Allow %q", r.Header.Get("Allow"))
	}
	wantOK(t, c.Do("GET", mount+"/healthz", nil))
	if r := c.Do("HEAD", mount+"/healthz", nil); r.Status != 200 {
		t.Fatalf("HEAD /healthz: %d", r.Status)
	}
	var set struct{ Keys []map[string]any }
	if err := json.Unmarshal(c.Do("GET", mount+"/.well-known/jwks.json", nil).Body, &set); err != nil || len(set.Keys) == 0 {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if k["kty"] != "EC" || k["alg"] != "ES256" || k["kid"] == "" || k["d"] != nil {
			t.Fatalf("key %v", k)
		}
	}
}

// Browser apps on the allowed origin may call the door: preflights say
// what nhost-js sends, answers carry no credentials; other origins get
// nothing.
func TestNhostCORS(t *testing.T) {
	_, c := start(t, testenv.StartGateway(t, testenv.WithExtra(edgeConfig)))
	pre := c.Do("OPTIONS", mount+"/signin/otp/email", nil, "Origin", appOrigin,
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
	h := pre.Header
	if pre.Status != 204 || h.Get("Access-Control-Allow-Origin") != appOrigin || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "authorization") ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "content-type") || h.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("preflight %d %v", pre.Status, h)
	}
	r := c.Do("GET", mount+"/healthz", nil, "Origin", appOrigin)
	if r.Header.Get("Access-Control-Allow-Origin") != appOrigin || r.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("answer headers %v", r.Header)
	}
	other := c.Do("OPTIONS", mount+"/token", nil, "Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
	if other.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("other origin allowed: %v", other.Header)
	}
}

// The door's settings: its mount must end in /v1, and default_role is
// every user's default role.
func TestNhostConfig(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithExtra(gatewayConfig))
	g.Extra = "compat nhost /api/v1 {\ndefault_role member\nissuer https://auth.example.com\n}\n" + "compat nhost /other/v1\n"
	g.Load()
	c := g.NewClient()
	s := func() map[string]any {
		clock.Advance(11 * time.Second)
		wantOK(t, c.Do("POST", "/api/v1/signin/otp/email", map[string]any{"email": "m@example.com"}))
		r := c.Do("POST", "/api/v1/signin/otp/email/verify", map[string]any{"email": "m@example.com", "otp": g.CodeFor("m@example.com")})
		return jsonOf(t, r, 200)["session"].(map[string]any)
	}()
	p := payload(t, s["accessToken"].(string))
	h := p["https://hasura.io/jwt/claims"].(map[string]any)
	if p["iss"] != "https://auth.example.com" || h["x-hasura-default-role"] != "member" ||
		!slices.Equal(h["x-hasura-allowed-roles"].([]any), []any{"staff", "member"}) || s["user"].(map[string]any)["defaultRole"] != "member" {
		t.Fatalf("claims %v, user %v", p, s["user"])
	}
	// The other door has Nhost's issuer; each takes the other's tokens for
	// the same session.
	u := jsonOf(t, c.Do("GET", "/other/v1/user", nil, bearer(s)...), 200)
	if u["defaultRole"] != "user" {
		t.Fatalf("user on the other door %v", u)
	}

	// Two doors with one issuer cannot tell their tokens apart.
	g.Extra = "compat nhost /a/v1\ncompat nhost /b/v1\n"
	if err := g.TryLoad(); err == nil || !strings.Contains(err.Error(), "issuer of its own") {
		t.Fatalf("two doors with one issuer: %v", err)
	}
	g.Extra = gatewayConfig
	g.Load()
}

// A redirect's Location, parsed.
func location(t *testing.T, r testenv.Response) *url.URL {
	t.Helper()
	if r.Status/100 != 3 {
		t.Fatalf("status %d, want a redirect: %s", r.Status, r.Body)
	}
	u, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u
}
