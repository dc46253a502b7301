package admin_test

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/internal/clock"
	"github.com/passgate/caddy-passgate/internal/testenv"
	redisstore "github.com/passgate/caddy-passgate/sessionstore/redis"
)

// call sends a request to the admin endpoint at addr.
func call(t *testing.T, addr, method, path string) testenv.Response {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return testenv.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// user is the path of a user's routes.
func user(identifier string) string { return "/passgate/users/" + url.PathEscape(identifier) }

// only returns the one store's result of an answer, failing on any other
// status or number of stores.
func only(t *testing.T, what string, r testenv.Response) map[string]any {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("%s: %d %s", what, r.Status, r.Body)
	}
	stores, _ := r.JSON(t)["stores"].([]any)
	if len(stores) != 1 {
		t.Fatalf("%s: %s, want one store", what, r.Body)
	}
	return stores[0].(map[string]any)
}

func wantError(t *testing.T, what string, r testenv.Response, status int, code string) {
	t.Helper()
	if r.Status != status || r.JSON(t)["error"] != code || r.JSON(t)["message"] == "" {
		t.Fatalf("%s: %d %s, want %d %q with a message", what, r.Status, r.Body, status, code)
	}
}

// app is a protected request as an API client makes it: 200, or 401.
func app(c *testenv.Client) int { return c.Do("GET", "/app", nil).Status }

// Through the real admin endpoint of a running Caddy: an operator lists a
// user's sessions (by email and by id), ends them all (the user's next
// request is challenged, another user's is not), blocks the user (their
// sessions end, a code sent before is refused, a start sends nothing) and
// unblocks them (sign-in works again); bad identifiers, unknown users,
// routes and methods get clear JSON errors; each operator call is in the
// audit log and the metrics.
func TestAdminAPI(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithAdmin())
	ann1, ann2, bob := g.NewClient(), g.NewClient(), g.NewClient()
	uid := ann1.SignIn("ann@example.com")["user"].(map[string]any)["id"].(string)
	ann2.SignIn("Ann@Example.com")
	bob.SignIn("bob@example.com")

	for _, id := range []string{"ann@example.com", " ANN@example.com", uid} {
		got := only(t, "list by "+id, call(t, g.Admin, "GET", user(id)+"/sessions"))
		u := got["user"].(map[string]any)
		sessions := got["sessions"].([]any)
		if u["id"] != uid || u["email"] != "ann@example.com" || u["blocked"] != false || len(sessions) != 2 ||
			!strings.HasPrefix(got["store"].(string), "memory ") {
			t.Fatalf("list by %q: %v", id, got)
		}
		for _, s := range sessions {
			if s := s.(map[string]any); s["id"] == "" || s["created_at"] == nil || s["last_seen_at"] == nil || s["expires_at"] == nil {
				t.Fatalf("session %v", s)
			}
		}
	}

	wantError(t, "bad identifier", call(t, g.Admin, "GET", user("ann")+"/sessions"), 400, "invalid_identifier")
	wantError(t, "bad email", call(t, g.Admin, "GET", user("ann@@example.com")+"/sessions"), 400, "invalid_identifier")
	wantError(t, "bad phone", call(t, g.Admin, "POST", user("+1")+"/block"), 400, "invalid_identifier")
	wantError(t, "unknown user", call(t, g.Admin, "GET", user("nobody@example.com")+"/sessions"), 404, "user_not_found")
	wantError(t, "unknown id", call(t, g.Admin, "POST", user("0b7e8a8c-3d5f-4b8e-9a51-3f2d1c0e9b7a")+"/block"), 404, "user_not_found")
	wantError(t, "unknown route", call(t, g.Admin, "GET", "/passgate/sessions"), 404, "not_found")
	wantError(t, "unknown store", call(t, g.Admin, "GET", user(uid)+"/sessions?store=nope"), 404, "no_store")
	r := call(t, g.Admin, "GET", user(uid)+"/block")
	wantError(t, "GET of block", r, 405, "method_not_allowed")
	if r.Header.Get("Allow") != "POST" {
		t.Fatalf("Allow: %q", r.Header.Get("Allow"))
	}

	// End all: ann's two sessions end, bob's stays.
	got := only(t, "end", call(t, g.Admin, "DELETE", user("ann@example.com")+"/sessions"))
	if got["ended"] != 2.0 {
		t.Fatalf("end: %v, want 2 ended", got)
	}
	if app(ann1) != 401 || app(ann2) != 401 || app(bob) != 200 {
		t.Fatalf("after end: ann %d %d, bob %d; want 401 401 200", app(ann1), app(ann2), app(bob))
	}
	if got := only(t, "end again", call(t, g.Admin, "POST", user(uid)+"/sessions/end")); got["ended"] != 0.0 {
		t.Fatalf("end again: %v", got)
	}

	// Block: the session ends, a code sent before is refused, a start
	// answers as for anyone and sends nothing.
	ann1.SignIn("ann@example.com")
	clock.Advance(61 * time.Second)
	pending := ann2.Start("ann@example.com")
	code := g.CodeFor("ann@example.com")
	got = only(t, "block", call(t, g.Admin, "POST", user("ann@example.com")+"/block"))
	if got["ended"] != 1.0 || got["user"].(map[string]any)["blocked"] != true {
		t.Fatalf("block: %v", got)
	}
	if app(ann1) != 401 || app(bob) != 200 {
		t.Fatal("after block: ann's session lives, or bob's ended")
	}
	r = ann2.Do("POST", "/auth/verify", map[string]any{"attempt_id": pending, "code": code})
	if r.Status != 403 || r.JSON(t)["error"] != "user_blocked" {
		t.Fatalf("verify of a code sent before the block: %d %s, want 403 user_blocked", r.Status, r.Body)
	}
	clock.Advance(61 * time.Second)
	r = ann2.Do("POST", "/auth/start", map[string]any{"email": "ann@example.com"})
	if r.Status != 200 {
		t.Fatalf("start of a blocked user: %d %s, want 200 as for anyone", r.Status, r.Body)
	}
	decoy := r.JSON(t)["attempt_id"]
	if r := ann2.Do("POST", "/auth/verify", map[string]any{"attempt_id": decoy, "code": code}); r.Status != 400 {
		t.Fatalf("verify of a blocked user's start: %d %s", r.Status, r.Body)
	}
	got = only(t, "list blocked", call(t, g.Admin, "GET", user(uid)+"/sessions"))
	if got["user"].(map[string]any)["blocked"] != true || len(got["sessions"].([]any)) != 0 {
		t.Fatalf("list of a blocked user: %v", got)
	}

	// Unblock: sign-in works again, and the blocked start sent nothing.
	got = only(t, "unblock", call(t, g.Admin, "POST", user(uid)+"/unblock"))
	if got["user"].(map[string]any)["blocked"] != false {
		t.Fatalf("unblock: %v", got)
	}
	clock.Advance(time.Hour) // past the hourly cap of codes to one address
	ann1.SignIn("ann@example.com")
	if app(ann1) != 200 {
		t.Fatal("no session after the unblock")
	}
	sent := 0
	for _, e := range testenv.ReadLog(t, g.LogPath) {
		if e["code"] != nil && e["to"] == "ann@example.com" {
			sent++
		}
	}
	if sent != 5 { // three sign-ins before the block, the pending code, one after
		t.Fatalf("%d messages to ann, want 5: the blocked start sent one", sent)
	}

	for msg, n := range map[string]int{"user blocked": 1, "user unblocked": 1, "sessions ended by an operator": 2} {
		lines := g.WaitLog(msg, n)
		if lines[0]["door"] != "admin" || lines[0]["user_id"] != uid {
			t.Fatalf("audit %q: %v", msg, lines[0])
		}
	}
	if e := g.WaitLog("sign-in failed", 1); e[0]["reason"] != "the user is blocked" {
		t.Fatalf("audit of the refused sign-in: %v", e)
	}
	metrics := scrape(t, g)
	for _, want := range []string{
		`caddy_passgate_events_total{channel="",detail="",door="admin",event="user blocked"} 1`,
		`caddy_passgate_events_total{channel="",detail="",door="admin",event="user unblocked"} 1`,
		`caddy_passgate_events_total{channel="",detail="",door="admin",event="sessions ended by an operator"} 2`,
		`caddy_passgate_events_total{channel="email",detail="user_blocked",door="native",event="sign-in failed"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func scrape(t *testing.T, g *testenv.Gateway) string {
	t.Helper()
	r := call(t, g.Admin, "GET", "/metrics")
	if r.Status != 200 {
		t.Fatalf("/metrics: %d", r.Status)
	}
	return string(r.Body)
}

// Two instances on one Redis, each with its own admin endpoint: a block
// through one ends the session the user holds on the other within the
// revocation bound, and the other refuses the user's sign-in; an unblock
// through the other lets them in again. (B is another process, on the real
// clock; the starts that follow B's are made on A, whose clock the test
// moves past the resend cooldown.)
func TestAdminBlockAcrossInstances(t *testing.T) {
	rs := testenv.StartRedis(t)
	a := testenv.StartGateway(t, testenv.WithRedis(rs), testenv.WithAdmin())
	b := testenv.StartTwin(t, a)
	onB := b.NewClient()
	uid := onB.SignIn("cat@example.com")["user"].(map[string]any)["id"].(string)
	if app(onB) != 200 {
		t.Fatal("no session on B")
	}
	rs.WaitSubscribed() // B's cache, which its first lookup started
	clock.Advance(61 * time.Second)
	pendingOnA := a.NewClient()
	pending := pendingOnA.Start("cat@example.com")
	code := a.CodeFor("cat@example.com")

	// Listed through A's endpoint, though the session was made on B.
	got := only(t, "list on A", call(t, a.Admin, "GET", user("cat@example.com")+"/sessions"))
	if got["store"] != "redis pgtest:" || len(got["sessions"].([]any)) != 1 {
		t.Fatalf("list on A: %v", got)
	}

	blockedAt := time.Now()
	if got := only(t, "block on A", call(t, a.Admin, "POST", user(uid)+"/block")); got["ended"] != 1.0 {
		t.Fatalf("block on A: %v", got)
	}
	for app(onB) != 401 {
		if time.Since(blockedAt) > redisstore.SessionCacheTTL {
			t.Fatalf("B still serves the blocked user's session after %v", time.Since(blockedAt))
		}
		time.Sleep(10 * time.Millisecond) // polling B; nothing to wait on
	}
	t.Logf("B refused the blocked user's session %v after the block", time.Since(blockedAt))
	r := pendingOnA.On(b).Do("POST", "/auth/verify", map[string]any{"attempt_id": pending, "code": code})
	if r.Status != 403 || r.JSON(t)["error"] != "user_blocked" {
		t.Fatalf("sign-in on B of a user blocked on A: %d %s", r.Status, r.Body)
	}
	got = only(t, "list on B", call(t, b.Admin, "GET", user(uid)+"/sessions"))
	if got["user"].(map[string]any)["blocked"] != true || len(got["sessions"].([]any)) != 0 {
		t.Fatalf("list on B: %v", got)
	}

	only(t, "unblock on B", call(t, b.Admin, "POST", user(uid)+"/unblock"))
	again := a.NewClient()
	again.SignIn("cat@example.com")
	if app(again) != 200 || app(again.On(b)) != 200 {
		t.Fatal("no session on A or B after the unblock")
	}
}

// The store out of reach is 503, never 500, and service comes back.
func TestAdminStoreDown(t *testing.T) {
	rs := testenv.StartRedis(t)
	g := testenv.StartGateway(t, testenv.WithRedis(rs), testenv.WithAdmin())
	g.NewClient().SignIn("dan@example.com")
	rs.Stop()
	for _, tc := range []struct{ method, route string }{
		{"GET", "/sessions"}, {"DELETE", "/sessions"}, {"POST", "/block"}, {"POST", "/unblock"},
	} {
		r := call(t, g.Admin, tc.method, user("dan@example.com")+tc.route)
		wantError(t, tc.method+" "+tc.route+" with Redis down", r, 503, "store_unavailable")
		if r.Header.Get("Retry-After") == "" {
			t.Fatal("503 without Retry-After")
		}
	}
	rs.Start()
	only(t, "list with Redis back", call(t, g.Admin, "GET", user("dan@example.com")+"/sessions"))
}

// `caddy passgate` calls the running Caddy's admin endpoint.
func TestCLI(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithAdmin())
	uid := g.NewClient().SignIn("eve@example.com")["user"].(map[string]any)["id"].(string)
	run := func(args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(testenv.CaddyBinary(t), append([]string{"passgate"}, append(args, "--address", g.Admin)...)...)
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("sessions", "eve@example.com")
	if err != nil || !strings.Contains(out, `"id": "`+uid+`"`) || !strings.Contains(out, `"sessions": [`) {
		t.Fatalf("caddy passgate sessions: %v\n%s", err, out)
	}
	out, err = run("block", "eve@example.com")
	if err != nil || !strings.Contains(out, `"blocked": true`) || !strings.Contains(out, `"ended": 1`) {
		t.Fatalf("caddy passgate block: %v\n%s", err, out)
	}
	out, err = run("unblock", uid)
	if err != nil || !strings.Contains(out, `"blocked": false`) {
		t.Fatalf("caddy passgate unblock: %v\n%s", err, out)
	}
	if out, err = run("end", "eve@example.com"); err != nil || !strings.Contains(out, `"ended": 0`) {
		t.Fatalf("caddy passgate end: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		args []string
		Want string
	}{
		{[]string{"sessions", "nobody@example.com"}, "user_not_found"},
		{[]string{"sessions", "nobody"}, "invalid_identifier"},
		{[]string{"frobnicate", "eve@example.com"}, "unknown command"},
	} {
		if out, err := run(tc.args...); err == nil || !strings.Contains(out, tc.Want) {
			t.Fatalf("caddy passgate %v: %v, want an error with %q:\n%s", tc.args, err, tc.Want, out)
		}
	}
}

// A code sent before a block gets each compatibility door's answer for a
// blocked user, in its format, not a 5xx: GoTrue's 403 user_banned and
// Nhost's 401 disabled-user.
func TestBlockedAtTheDoors(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithAdmin(), testenv.WithExtra("compat supabase\n\t\tcompat nhost"))
	// Each has a user, signed in once before.
	for _, email := range []string{"gus@example.com", "hal@example.com"} {
		g.NewClient().SignIn(email)
	}
	c := g.NewClient()
	start := func(path, email string) {
		t.Helper()
		clock.Advance(61 * time.Second)
		if r := c.Do("POST", path, map[string]any{"email": email}); r.Status != 200 {
			t.Fatalf("start at %s: %d %s", path, r.Status, r.Body)
		}
	}
	start("/auth/v1/otp", "gus@example.com")
	gotrueCode := g.CodeFor("gus@example.com")
	start("/nhost/v1/signin/otp/email", "hal@example.com")
	nhostCode := g.CodeFor("hal@example.com")
	for _, email := range []string{"gus@example.com", "hal@example.com"} {
		only(t, "block "+email, call(t, g.Admin, "POST", user(email)+"/block"))
	}

	r := c.Do("POST", "/auth/v1/verify", map[string]any{"email": "gus@example.com", "token": gotrueCode, "type": "email"})
	if m := r.JSON(t); r.Status != 403 || m["error_code"] != "user_banned" {
		t.Fatalf("GoTrue verify of a blocked user: %d %s, want 403 user_banned", r.Status, r.Body)
	}
	r = c.Do("POST", "/nhost/v1/signin/otp/email/verify", map[string]any{"email": "hal@example.com", "otp": nhostCode})
	if m := r.JSON(t); r.Status != 401 || m["error"] != "disabled-user" {
		t.Fatalf("Nhost verify of a blocked user: %d %s, want 401 disabled-user", r.Status, r.Body)
	}
}
