package caddymodule_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/passgate/caddy-passgate/internal/testenv"
)

// The audit trail names each event with user id and client IP, and no
// log line but the development delivery's ever holds a code, a link
// token, a cookie or a bearer or refresh token.
func TestAuditEventsLeakNoSecrets(t *testing.T) {
	g := testenv.StartGateway(t)
	c := g.NewClient()
	secrets := []string{}

	id := c.Start("uma@example.com")
	code := g.CodeFor("uma@example.com")
	// The code is digits: match it as a number of its own, not inside a
	// timestamp's digits.
	codeRE := regexp.MustCompile(`(^|[^0-9.])` + code + `([^0-9]|$)`)
	c.Do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": wrongCode(code)})
	r := c.Do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": code, "tokens": true})
	if r.Status != 200 {
		t.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	out := r.JSON(t)
	userID := out["user"].(map[string]any)["id"].(string)
	secrets = append(secrets, out["access_token"].(string), out["refresh_token"].(string))
	for _, ck := range c.HC.Jar.Cookies(mustURL(g.Base)) {
		secrets = append(secrets, ck.Value)
	}
	c.Do("GET", "/app", nil) // cookie and
	c.Do("GET", "/app", nil, "Authorization", "Bearer "+out["access_token"].(string))
	if r := c.Do("POST", "/auth/start", map[string]any{"email": "uma@example.com"}); r.Status != 429 {
		t.Fatalf("second start: %d, want 429", r.Status)
	}
	c.Do("POST", "/auth/logout", map[string]any{"scope": "global"})
	g.WaitLog("code sent", 1) // written when the delivery ends, after /start answered

	events := map[string]map[string]any{}
	for _, e := range testenv.ReadLog(t, g.LogPath) {
		if e["logger"] == "http.handlers.passgate.audit" {
			events[e["msg"].(string)] = e
		}
	}
	for _, want := range []struct {
		event  string
		userID bool
	}{
		{"sign-in started", false}, {"code sent", false}, {"sign-in failed", false},
		{"signed in", true}, {"rate limited", false}, {"signed out", true},
	} {
		e, ok := events[want.event]
		if !ok {
			t.Fatalf("no %q audit event; have %v", want.event, events)
		}
		if e["client_ip"] != "127.0.0.1" || (want.userID && e["user_id"] != userID) {
			t.Fatalf("%q event: %v, want client_ip 127.0.0.1 and user_id %v", want.event, e, want.userID)
		}
	}

	for _, path := range []string{g.LogPath, g.AccessLog} {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(raw), "\n") {
			if strings.Contains(line, `"logger":"http.handlers.passgate.delivery"`) {
				continue // the development delivery exists to show the code
			}
			if codeRE.MatchString(line) {
				t.Fatalf("the code is in %s: %s", path, line)
			}
			for _, s := range secrets {
				if strings.Contains(line, s) {
					t.Fatalf("a secret %.6s… is in %s: %s", s, path, line)
				}
			}
		}
	}
}

func wrongCode(code string) string {
	b := []byte(code)
	b[len(b)-1] = '0' + (b[len(b)-1]-'0'+1)%10
	return string(b)
}
