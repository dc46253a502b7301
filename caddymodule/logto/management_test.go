package logto_test

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/passgate/caddy-passgate/internal/testenv"
)

const (
	clientID     = "shop"
	clientSecret = "a-backend-client-secret-of-40-bytes-----"
)

// m2mGateway is the door with a backend client, whose secret comes from a
// placeholder as it must.
func m2mGateway(t *testing.T, opts ...testenv.Option) *testenv.Gateway {
	t.Setenv("LOGTO_TEST_CLIENT_SECRET", clientSecret)
	extra := doorOptions + "client " + clientID + " {\n\tsecret {env.LOGTO_TEST_CLIENT_SECRET}\n}\n"
	return testenv.StartGateway(t, append([]testenv.Option{withSignInPage(t), testenv.WithExtra(extra)}, opts...)...)
}

// The Management API pair through @logto/api, the official client: token,
// send, wrong code, right code, reuse, unknown record, too many tries,
// invalid input, a wrong secret, and the token refused on a protected
// route.
func TestManagementAPIClient(t *testing.T) {
	g := m2mGateway(t)
	g.RunClient("logto.mjs", "PASSGATE_LOGTO_CLIENT_ID="+clientID, "PASSGATE_LOGTO_CLIENT_SECRET="+clientSecret,
		"PASSGATE_PROTECTED_URL="+g.Base+"/app")
}

func tokenRequest(c *testenv.Client, form url.Values, header ...string) testenv.Response {
	return c.Do("POST", mount+"/oidc/token", form.Encode(), append([]string{"Content-Type", "application/x-www-form-urlencoded"}, header...)...)
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// The token endpoint as oidc-provider answers: client authentication by
// HTTP Basic or in the form, not both; grant, resource and scope checked;
// OAuth's error bodies.
func TestTokenEndpoint(t *testing.T) {
	g := m2mGateway(t)
	c := g.NewClient()
	grant := url.Values{"grant_type": {"client_credentials"}, "resource": {"https://default.logto.app/api"}, "scope": {"all"}}
	with := func(extra url.Values) url.Values {
		v := url.Values{}
		for k, vs := range grant {
			v[k] = vs
		}
		for k, vs := range extra {
			v[k] = vs
		}
		return v
	}
	oauthErr := func(r testenv.Response, status int, code string) {
		t.Helper()
		if r.Status != status || r.JSON(t)["error"] != code {
			t.Fatalf("want %d %s, got %d %s", status, code, r.Status, r.Body)
		}
	}
	var token string
	for _, r := range []testenv.Response{
		tokenRequest(c, with(url.Values{"client_id": {clientID}, "client_secret": {clientSecret}})),
		tokenRequest(c, grant, "Authorization", basic(clientID, clientSecret)),
	} {
		body := r.JSON(t)
		if r.Status != 200 || body["token_type"] != "Bearer" || body["scope"] != "all" || body["expires_in"] != 600.0 {
			t.Fatalf("token: %d %s", r.Status, r.Body)
		}
		token = body["access_token"].(string)
	}
	oauthErr(tokenRequest(c, with(url.Values{"client_id": {clientID}, "client_secret": {clientSecret + "x"}})), 401, "invalid_client")
	oauthErr(tokenRequest(c, grant, "Authorization", basic(clientID, "wrong")), 401, "invalid_client")
	oauthErr(tokenRequest(c, with(url.Values{"client_id": {"nobody"}, "client_secret": {clientSecret}})), 401, "invalid_client")
	oauthErr(tokenRequest(c, with(url.Values{"client_secret": {clientSecret}}), "Authorization", basic(clientID, clientSecret)), 400, "invalid_request")
	oauthErr(tokenRequest(c, grant), 400, "invalid_request")
	oauthErr(tokenRequest(c, with(url.Values{"client_id": {clientID}, "client_secret": {clientSecret}, "grant_type": {"password"}})), 400, "unsupported_grant_type")
	oauthErr(tokenRequest(c, with(url.Values{"client_id": {clientID}, "client_secret": {clientSecret}, "resource": {"https://other.example/api"}})), 400, "invalid_target")
	oauthErr(tokenRequest(c, with(url.Values{"client_id": {clientID}, "client_secret": {clientSecret}, "scope": {"all write:users"}})), 400, "invalid_scope")
	if r := c.Do("POST", mount+"/oidc/token", map[string]any{"grant_type": "client_credentials"}); r.Status != 400 {
		t.Fatalf("JSON body: %d %s", r.Status, r.Body)
	}

	// The token opens the Management API only: not the app, not the
	// native routes, not another door's.
	for _, path := range []string{"/app", "/auth/session", "/"} {
		if r := c.Do("GET", path, nil, "Authorization", "Bearer "+token, "Accept", "application/json"); r.Status != 401 {
			t.Fatalf("GET %s with the Management API token: %d %s", path, r.Status, r.Body)
		}
	}
	email := "m2m@example.com"
	send := func(body map[string]any, header ...string) testenv.Response {
		return c.Do("POST", mount+"/api/verification-codes", body, header...)
	}
	auth := []string{"Authorization", "Bearer " + token}
	logtoError(t, send(map[string]any{"email": email}), 401, "auth.authorization_header_missing")
	logtoError(t, send(map[string]any{"email": email}, "Authorization", "Bearer "+token[:len(token)-2]), 401, "auth.unauthorized")
	logtoError(t, send(map[string]any{"email": email, "phone": "15555550100"}, auth...), 400, "guard.invalid_input")
	logtoError(t, send(map[string]any{"phone": "15555550100"}, auth...), 501, "connector.not_found")
	if r := send(map[string]any{"email": email}, auth...); r.Status != 204 || len(r.Body) != 0 {
		t.Fatalf("send: %d %s", r.Status, r.Body)
	}
	code := g.CodeFor(email)
	verify := func(code string) testenv.Response {
		return c.Do("POST", mount+"/api/verification-codes/verify", map[string]any{"email": strings.ToUpper(email), "verificationCode": code}, auth...)
	}
	logtoError(t, verify("000000"), 400, "verification_code.code_mismatch")
	if r := verify(code); r.Status != 204 {
		t.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	logtoError(t, verify(code), 400, "verification_code.not_found")
	// Nobody was signed in by it.
	if r := c.Do("GET", "/auth/session", nil); r.Status != 401 {
		t.Fatalf("a session after the Management API's verify: %d", r.Status)
	}
}
