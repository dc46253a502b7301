package otpless_test

import (
	"net/url"
	"testing"

	"github.com/passgate/caddy-passgate/internal/testenv"
)

// Two instances on one Redis: a code sent by one verifies at the other, and
// a magic link's ?code= made by one is exchanged once, at either.
func TestTwoInstancesOnRedis(t *testing.T) {
	rs := testenv.StartRedis(t)
	app := appServer(t)
	g := setup(t, testenv.StartSMSGateway(t), app.URL, testenv.WithRedis(rs))
	twin := testenv.StartTwin(t, g)
	shopA, shopB := newBackend(g, "shop", shopSecret), newBackend(twin, "shop", shopSecret)

	m := want(t, shopA.call("initiate/otp", map[string]any{"email": "two@example.com"}), 200, nil)
	code := g.CodeFor("two@example.com")
	want(t, shopB.call("verify/otp", map[string]any{"requestId": m["requestId"], "otp": code}), 200, map[string]any{"isOTPVerified": true})
	want(t, shopA.call("verify/otp", map[string]any{"requestId": m["requestId"], "otp": code}), 400, map[string]any{"isOTPVerified": false})

	want(t, shopA.call("initiate/magiclink", map[string]any{"email": "link@example.com", "redirectURI": app.URL + "/cb"}), 200, nil)
	token := mustQuery(t, g.LinkFor("link@example.com"), "token")
	r := twin.NewClient().Do("POST", "/otpless/link", url.Values{"token": {token}}.Encode(),
		"Content-Type", "application/x-www-form-urlencoded", "Origin", twin.Base)
	if r.Status != 303 {
		t.Fatalf("the link at the second instance: %d %s", r.Status, r.Body)
	}
	handed := mustQuery(t, r.Header.Get("Location"), "code")
	want(t, shopA.call("verify/code", map[string]any{"code": handed}), 200, map[string]any{"message": "Code verified successfully"})
	want(t, shopB.call("verify/code", map[string]any{"code": handed}), 400, map[string]any{"errorCode": "4000"})
}
