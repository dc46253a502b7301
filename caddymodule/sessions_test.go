package caddymodule_test

import (
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/passgate/caddy-passgate/internal/clock"
	"github.com/passgate/caddy-passgate/internal/testenv"
)

const (
	firefoxLinux = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
	safariIPhone = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)

// signInWith signs c in as email, the verify sent with User-Agent ua: the
// device the session records.
func signInWith(t *testing.T, c *testenv.Client, email, ua string) map[string]any {
	t.Helper()
	clock.Advance(61 * time.Second) // the resend cooldown
	id := c.Start(email)
	r := c.Do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": c.G.CodeFor(email)}, "User-Agent", ua)
	if r.Status != 200 {
		t.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	return r.JSON(t)
}

// listSessions is c's GET /auth/sessions, by id.
func listSessions(t *testing.T, c *testenv.Client, header ...string) map[string]map[string]any {
	t.Helper()
	r := c.Do("GET", "/auth/sessions", nil, header...)
	if r.Status != 200 {
		t.Fatalf("GET /auth/sessions: %d %s", r.Status, r.Body)
	}
	out := map[string]map[string]any{}
	for _, s := range r.JSON(t)["sessions"].([]any) {
		s := s.(map[string]any)
		out[s["id"].(string)] = s
	}
	return out
}

// A user's sessions, as the JSON API lists and ends them, on Redis: each
// with the device and network it signed in from and when it was last
// used; one ended by DELETE, one by POST .../revoke, the others by logout
// scope others; never someone else's, never cross-site; events for each.
func TestSessionsAPI(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithRedis(testenv.StartRedis(t)), testenv.WithAdmin())
	metricsBefore := scrape(t, g)
	laptop, phone, eve := g.NewClient(), g.NewClient(), g.NewClient()
	mine := signInWith(t, laptop, "ann@example.com", firefoxLinux)["session"].(map[string]any)["id"].(string)
	theirs := signInWith(t, phone, "ann@example.com", safariIPhone)["session"].(map[string]any)["id"].(string)
	eves := signInWith(t, eve, "eve@example.com", firefoxLinux)["session"].(map[string]any)["id"].(string)

	// The phone is used after the touch interval: its last use moves.
	clock.Advance(2 * time.Minute)
	if r := phone.Do("GET", "/app", nil); r.Status != 200 {
		t.Fatalf("phone on /app: %d", r.Status)
	}
	list := listSessions(t, laptop)
	if len(list) != 2 || list[mine] == nil || list[theirs] == nil {
		t.Fatalf("list: %v", list)
	}
	for id, want := range map[string]struct {
		device  string
		current bool
	}{mine: {"Firefox on Linux", true}, theirs: {"Safari on iOS", false}} {
		s := list[id]
		if s["device"] != want.device || s["network"] != "127.0.0.0/24" || s["current"] != want.current {
			t.Errorf("session %s: %v, want %s from 127.0.0.0/24, current %v", id, s, want.device, want.current)
		}
	}
	created, _ := time.Parse(time.RFC3339, list[theirs]["created_at"].(string))
	used, _ := time.Parse(time.RFC3339, list[theirs]["last_used_at"].(string))
	if used.Sub(created) < 2*time.Minute {
		t.Errorf("last use of the phone's session, used 2 minutes on: %v", list[theirs])
	}
	// The id is the public one, never the cookie's secret.
	for _, ck := range laptop.HC.Jar.Cookies(mustURL(g.Base)) {
		if _, ok := list[ck.Value]; ok || strings.Contains(string(laptop.Do("GET", "/auth/sessions", nil).Body), ck.Value) {
			t.Fatalf("the list shows the cookie %s", ck.Name)
		}
	}
	if r := g.NewClient().Do("GET", "/auth/sessions", nil); r.Status != 401 || r.JSON(t)["error"] != "unauthorized" {
		t.Fatalf("list without a session: %d %s", r.Status, r.Body)
	}

	// Someone else's session, an unknown one and a malformed id are all
	// simply not found; nothing is ended.
	for _, path := range []string{"/auth/sessions/" + theirs, "/auth/sessions/" + theirs + "/revoke",
		"/auth/sessions/00000000-0000-8000-8000-000000000000", "/auth/sessions/x", "/auth/sessions/" + theirs + "/x"} {
		method := "DELETE"
		if strings.HasSuffix(path, "/revoke") {
			method = "POST"
		}
		if r := eve.Do(method, path, nil); r.Status != 404 || r.JSON(t)["error"] != "not_found" {
			t.Fatalf("eve %s %s: %d %s, want 404", method, path, r.Status, r.Body)
		}
	}
	if r := laptop.Do("DELETE", "/auth/sessions/"+eves, nil); r.Status != 404 {
		t.Fatalf("ann ending eve's session: %d %s, want 404", r.Status, r.Body)
	}
	// By form (a page older than the list), back to the page, which says so.
	r := laptop.Do("POST", "/auth/sessions/"+eves+"/revoke", "redirect_to=%2Fapp", "Content-Type", "application/x-www-form-urlencoded")
	if r.Status != 303 || r.Header.Get("Location") != "/auth/login?ended=gone&redirect_to=%2Fapp" {
		t.Fatalf("ann ending eve's session by form: %d %q", r.Status, r.Header.Get("Location"))
	}
	if r := laptop.Do("GET", r.Header.Get("Location"), nil); !strings.Contains(string(r.Body), "That session had already ended.") {
		t.Fatalf("the page after a form for a gone session: %s", r.Body)
	}
	if r := laptop.Do("GET", "/auth/sessions/"+theirs, nil); r.Status != 405 || r.Header.Get("Allow") != "DELETE" {
		t.Fatalf("GET of one session: %d Allow %q", r.Status, r.Header.Get("Allow"))
	}
	// Cross-site, with the cookie: refused, both ways.
	for _, method := range []string{"DELETE", "POST"} {
		path := "/auth/sessions/" + theirs
		if method == "POST" {
			path += "/revoke"
		}
		r := laptop.Do(method, path, "", "Content-Type", "application/x-www-form-urlencoded", "Origin", "https://evil.example")
		if r.Status != 403 || r.JSON(t)["error"] != "forbidden" {
			t.Fatalf("cross-site %s: %d %s, want 403", method, r.Status, r.Body)
		}
	}
	if r := laptop.Do("POST", "/auth/logout", map[string]any{"scope": "others"}, "Sec-Fetch-Site", "cross-site"); r.Status != 403 {
		t.Fatalf("cross-site logout of the others: %d", r.Status)
	}
	for _, c := range []*testenv.Client{phone, eve} {
		if r := c.Do("GET", "/app", nil); r.Status != 200 {
			t.Fatalf("after refused attempts: %d", r.Status)
		}
	}

	// DELETE ends the phone's session, and only it.
	if r := laptop.Do("DELETE", "/auth/sessions/"+theirs, nil); r.Status != 200 || r.JSON(t)["revoked"] != float64(1) {
		t.Fatalf("DELETE: %d %s", r.Status, r.Body)
	}
	if r := phone.Do("GET", "/app", nil); r.Status != 401 {
		t.Fatalf("the ended session on /app: %d, want 401", r.Status)
	}
	if r := laptop.Do("DELETE", "/auth/sessions/"+theirs, nil); r.Status != 404 {
		t.Fatalf("ending it again: %d, want 404", r.Status)
	}
	// POST .../revoke, with a bearer token as the credential.
	again := signInWith(t, phone, "ann@example.com", safariIPhone)["session"].(map[string]any)["id"].(string)
	tok := g.NewClient().SignInTokens("ann@example.com")
	bearer := []string{"Authorization", "Bearer " + tok["access_token"].(string)}
	if list := listSessions(t, g.NewClient(), bearer...); len(list) != 3 || list[tok["session"].(map[string]any)["id"].(string)]["current"] != true {
		t.Fatalf("list by bearer token: %v", list)
	}
	if r := g.NewClient().Do("POST", "/auth/sessions/"+again+"/revoke", nil, bearer...); r.Status != 200 {
		t.Fatalf("revoke by bearer: %d %s", r.Status, r.Body)
	}
	if r := phone.Do("GET", "/app", nil); r.Status != 401 {
		t.Fatalf("the revoked session on /app: %d, want 401", r.Status)
	}

	// Logout of the others: every session but this one ends.
	signInWith(t, phone, "ann@example.com", safariIPhone)
	if r := laptop.Do("POST", "/auth/logout", map[string]any{"scope": "others"}); r.Status != 200 || r.JSON(t)["revoked"] != float64(2) {
		t.Fatalf("logout others: %d %s, want revoked 2 (the phone and the token's session)", r.Status, r.Body)
	}
	if list := listSessions(t, laptop); len(list) != 1 || list[mine] == nil {
		t.Fatalf("after logout others: %v", list)
	}
	if r := phone.Do("GET", "/app", nil); r.Status != 401 {
		t.Fatalf("phone after logout others: %d", r.Status)
	}
	if r := g.NewClient().Do("POST", "/auth/logout", map[string]any{"scope": "others"}); r.Status != 401 {
		t.Fatalf("logout others without a session: %d, want 401", r.Status)
	}
	if r := eve.Do("GET", "/app", nil); r.Status != 200 {
		t.Fatalf("eve after ann's logouts: %d", r.Status)
	}

	// Ending this one signs it out.
	if r := laptop.Do("DELETE", "/auth/sessions/"+mine, nil); r.Status != 200 || !strings.Contains(r.Header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("ending this session: %d, Set-Cookie %q", r.Status, r.Header.Get("Set-Cookie"))
	}

	// The audit log and the metrics see each.
	after := scrape(t, g)
	for _, m := range []struct {
		event, detail string
		want          float64
	}{{"session revoked", "", 3}, {"signed out", "others", 1}} {
		count := func(f map[string]*dto.MetricFamily) float64 {
			return value(f, "caddy_passgate_events_total", "event", m.event, "door", "native", "channel", "", "detail", m.detail)
		}
		if d := count(after) - count(metricsBefore); d != m.want {
			t.Errorf("events_total{event=%q,detail=%q} rose by %v, want %v", m.event, m.detail, d, m.want)
		}
	}
	revoked := g.WaitLog("session revoked", 3)
	for _, e := range revoked {
		if e["user_id"] == nil || e["revoked"] != float64(1) || e["door"] != "native" {
			t.Fatalf("audit: %v", e)
		}
	}
	var others int
	for _, e := range g.WaitLog("signed out", 1) {
		if e["scope"] == "others" && e["revoked"] == float64(2) {
			others++
		}
	}
	if others != 1 {
		t.Fatal("no audit line for the logout of the others")
	}
}
