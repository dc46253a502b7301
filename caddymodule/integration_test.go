package caddymodule_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// backends runs a test against the memory store and against Redis.
func backends(t *testing.T, fn func(t *testing.T, opts ...gatewayOption)) {
	t.Run("memory", func(t *testing.T) { fn(t) })
	t.Run("redis", func(t *testing.T) { fn(t, withRedis(startRedis(t))) })
}

func TestWholeFlow(t *testing.T) {
	backends(t, func(t *testing.T, opts ...gatewayOption) {
		g := startGateway(t, opts...)
		c := g.newClient()

		// Not signed in: a browser is sent to sign in, with the way back...
		r := c.do("GET", "/app/page?q=1", nil, "Accept", "text/html,application/xhtml+xml")
		if r.status != 302 {
			t.Fatalf("browser without session: %d, want 302", r.status)
		}
		loc, _ := url.Parse(r.header.Get("Location"))
		if loc.Path != "/auth/login" || loc.Query().Get("redirect_to") != "/app/page?q=1" {
			t.Fatalf("redirected to %q", r.header.Get("Location"))
		}
		// ...and an API client gets 401 JSON.
		r = c.do("GET", "/app/page", nil, "Accept", "application/json")
		if r.status != 401 || r.json(t)["error"] != "unauthorized" {
			t.Fatalf("API without session: %d %s", r.status, r.body)
		}
		// The sign-in page is served.
		r = c.do("GET", "/auth/login?redirect_to=/app/page", nil)
		if r.status != 200 || !strings.Contains(string(r.body), `action="/auth/start"`) {
			t.Fatalf("login page: %d %s", r.status, r.body)
		}

		out := c.signIn("Ann@Example.com")
		user := out["user"].(map[string]any)
		if user["email"] != "ann@example.com" || out["redirect_to"] != "/app/next?x=1" {
			t.Fatalf("verify answered %v", out)
		}
		if roles := fmt.Sprint(user["roles"]); roles != "[staff]" {
			t.Fatalf("roles %s, want [staff]", roles)
		}
		userID := user["id"].(string)

		h := echoed(t, c.do("GET", "/app/page", nil))
		if h.Get("X-Auth-User-Id") != userID || h.Get("X-Auth-Email") != "ann@example.com" ||
			h.Get("X-Auth-Roles") != "staff" || h.Get("X-Auth-Phone") != "" {
			t.Fatalf("identity headers upstream: %v", h)
		}
		if h.Get("X-Seen-Placeholder-Id") != userID || h.Get("X-Seen-Placeholder-Email") != "ann@example.com" ||
			h.Get("X-Seen-Placeholder-Roles") != "staff" {
			t.Fatalf("placeholders seen by a later handler: id %q email %q roles %q, want %q, ann@example.com, staff",
				h.Get("X-Seen-Placeholder-Id"), h.Get("X-Seen-Placeholder-Email"), h.Get("X-Seen-Placeholder-Roles"), userID)
		}

		r = c.do("GET", "/auth/session", nil)
		sess := r.json(t)
		if r.status != 200 || sess["user"].(map[string]any)["id"] != userID || sess["session"].(map[string]any)["id"] == "" {
			t.Fatalf("session: %d %s", r.status, r.body)
		}

		// A second sign-in of the same person is the same user, new session.
		other := g.newClient()
		out2 := other.signIn("ann@example.com")
		if out2["user"].(map[string]any)["id"] != userID {
			t.Fatal("second sign-in created another user")
		}
		if out2["session"].(map[string]any)["id"] == sess["session"].(map[string]any)["id"] {
			t.Fatal("second sign-in reused the session id")
		}

		// Caddy's access log names the user.
		found := false
		for _, e := range readLog(t, g.access) {
			if e["user_id"] == userID {
				found = true
			}
		}
		if !found {
			t.Fatalf("no access log entry with user_id %s", userID)
		}
	})
}

func TestSpoofedIdentityHeadersAreStripped(t *testing.T) {
	g := startGateway(t)
	c := g.newClient()
	spoof := []string{
		"X-Auth-User-Id", "root", "X-Auth-Email", "boss@example.com", "X-Auth-Roles", "admin",
		"X-Auth-Phone", "+15550000", "X_Auth_User_Id", "root", "x-auth-roles", "admin",
	}
	// Public route: passes unauthenticated, but without the claimed identity.
	h := echoed(t, c.do("GET", "/public/file", nil, spoof...))
	for _, name := range []string{"X-Auth-User-Id", "X-Auth-Email", "X-Auth-Roles", "X-Auth-Phone", "X_auth_user_id"} {
		if v := h.Values(name); len(v) > 0 {
			t.Fatalf("public route: upstream got %s: %v", name, v)
		}
	}
	// Without a session the spoof gets nowhere.
	if r := c.do("GET", "/app", nil, spoof...); r.status != 401 {
		t.Fatalf("spoofed identity without session: %d, want 401", r.status)
	}
	// With a session, upstream sees the real identity only, once.
	c.signIn("eve@example.com")
	h = echoed(t, c.do("GET", "/app", nil, spoof...))
	if got := h.Values("X-Auth-Email"); len(got) != 1 || got[0] != "eve@example.com" {
		t.Fatalf("X-Auth-Email upstream = %v", got)
	}
	if got := h.Values("X-Auth-Roles"); len(got) != 1 || got[0] != "staff" {
		t.Fatalf("X-Auth-Roles upstream = %v", got)
	}
	if got := h.Values("X-Auth-Phone"); len(got) != 0 {
		t.Fatalf("X-Auth-Phone upstream = %v", got)
	}
	if got := h.Values("X_auth_user_id"); len(got) != 0 {
		t.Fatalf("underscore variant upstream = %v", got)
	}
}

func TestWrongCodes(t *testing.T) {
	backends(t, func(t *testing.T, opts ...gatewayOption) {
		g := startGateway(t, opts...)
		c := g.newClient()
		id := c.start("bob@example.com")
		code := g.codeFor("bob@example.com")
		wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1000000)

		for left := 4; left >= 1; left-- {
			r := c.do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": wrong})
			m := r.json(t)
			if r.status != 400 || m["error"] != "invalid_code" || m["attempts_left"] != float64(left) {
				t.Fatalf("wrong code: %d %s, want 400 invalid_code attempts_left %d", r.status, r.body, left)
			}
		}
		r := c.do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": wrong})
		if r.status != 429 || r.json(t)["error"] != "too_many_attempts" {
			t.Fatalf("fifth wrong code: %d %s, want 429 too_many_attempts", r.status, r.body)
		}
		r = c.do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": code})
		if r.status != 404 || r.json(t)["error"] != "attempt_not_found" {
			t.Fatalf("right code after burn: %d %s, want 404", r.status, r.body)
		}
	})
}

func TestReplayedCode(t *testing.T) {
	backends(t, func(t *testing.T, opts ...gatewayOption) {
		g := startGateway(t, opts...)
		c := g.newClient()
		id := c.start("cat@example.com")
		body := map[string]any{"attempt_id": id, "code": g.codeFor("cat@example.com")}
		if r := c.do("POST", "/auth/verify", body); r.status != 200 {
			t.Fatalf("first verify: %d %s", r.status, r.body)
		}
		r := g.newClient().do("POST", "/auth/verify", body)
		if r.status != 404 || r.json(t)["error"] != "attempt_not_found" {
			t.Fatalf("replay: %d %s, want 404 attempt_not_found", r.status, r.body)
		}
	})
}

func TestConcurrentVerifiesGiveOneSession(t *testing.T) {
	backends(t, func(t *testing.T, opts ...gatewayOption) {
		g := startGateway(t, opts...)
		id := g.newClient().start("dan@example.com")
		body := map[string]any{"attempt_id": id, "code": g.codeFor("dan@example.com")}
		statuses := make([]int, 20)
		clients := make([]*client, 20)
		for i := range clients {
			clients[i] = g.newClient()
		}
		var wg sync.WaitGroup
		for i, c := range clients {
			wg.Go(func() { statuses[i] = c.do("POST", "/auth/verify", body).status })
		}
		wg.Wait()
		ok, notFound := 0, 0
		for _, s := range statuses {
			switch s {
			case 200:
				ok++
			case 404:
				notFound++
			}
		}
		if ok != 1 || notFound != 19 {
			t.Fatalf("statuses %v: want one 200 and nineteen 404", statuses)
		}
	})
}

func TestLogout(t *testing.T) {
	backends(t, func(t *testing.T, opts ...gatewayOption) {
		g := startGateway(t, opts...)
		laptop, phone, tablet := g.newClient(), g.newClient(), g.newClient()
		for _, c := range []*client{laptop, phone, tablet} {
			c.signIn("fay@example.com")
		}
		otherUser := g.newClient()
		otherUser.signIn("gus@example.com")

		r := laptop.do("POST", "/auth/logout", nil)
		if r.status != 200 || r.json(t)["revoked"] != float64(1) {
			t.Fatalf("logout: %d %s", r.status, r.body)
		}
		if !strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
			t.Fatalf("logout did not clear the cookie: %q", r.header.Get("Set-Cookie"))
		}
		if r := laptop.do("GET", "/app", nil); r.status != 401 {
			t.Fatalf("after logout: %d, want 401", r.status)
		}
		if r := phone.do("GET", "/app", nil); r.status != 200 {
			t.Fatalf("other device after local logout: %d, want 200", r.status)
		}

		r = phone.do("POST", "/auth/logout", map[string]any{"scope": "global"})
		if r.status != 200 || r.json(t)["revoked"] != float64(2) {
			t.Fatalf("global logout: %d %s, want revoked 2", r.status, r.body)
		}
		for name, c := range map[string]*client{"phone": phone, "tablet": tablet} {
			if r := c.do("GET", "/app", nil); r.status != 401 {
				t.Fatalf("%s after global logout: %d, want 401", name, r.status)
			}
		}
		if r := otherUser.do("GET", "/app", nil); r.status != 200 {
			t.Fatalf("another user after global logout: %d, want 200", r.status)
		}
	})
}

func TestSessionSurvivesCaddyRestartWithRedis(t *testing.T) {
	rs := startRedis(t)
	g := startGateway(t, withRedis(rs))
	c := g.newClient()
	c.signIn("hal@example.com")
	g.restart()
	if h := echoed(t, c.do("GET", "/app", nil)); h.Get("X-Auth-Email") != "hal@example.com" {
		t.Fatalf("after restart: %v", h)
	}
}

func TestRedisDownFailsClosedAndRecovers(t *testing.T) {
	rs := startRedis(t)
	g := startGateway(t, withRedis(rs))
	c := g.newClient()
	c.signIn("ivy@example.com")

	rs.stop()
	for _, path := range []string{"/app", "/auth/session"} {
		began := time.Now()
		// A session cached before the outage may pass until the cache
		// sees the subscription drop (at once here: the server is gone).
		r := within(t, revocationBound, path+" with Redis down", func() response { return c.do("GET", path, nil) }, unavailable)
		took := time.Since(began)
		if r.status != 503 || r.json(t)["error"] != "store_unavailable" {
			t.Fatalf("%s with Redis down: %d %s, want 503 store_unavailable", path, r.status, r.body)
		}
		t.Logf("%s with Redis down answered 503 in %v", path, took)
	}
	r := g.newClient().do("POST", "/auth/start", map[string]any{"email": "ivy@example.com"})
	if r.status != 503 {
		t.Fatalf("start with Redis down: %d %s, want 503", r.status, r.body)
	}
	// Public paths do not need the store.
	if r := c.do("GET", "/public/x", nil); r.status != 200 {
		t.Fatalf("public path with Redis down: %d", r.status)
	}

	rs.start()
	if h := echoed(t, c.do("GET", "/app", nil)); h.Get("X-Auth-Email") != "ivy@example.com" {
		t.Fatalf("after Redis came back: %v", h)
	}
	g.newClient().signIn("joe@example.com")
}

// The client never re-sends a command (a reply lost after a script ran
// must not run it twice), so it has no retry to cover connections that a
// Redis restart closed while they sat idle in the pool: the pool's check
// before use must drop them. The first requests after a restart, with no
// request in between to clear the pool, all succeed.
func TestFirstRequestsAfterRedisRestart(t *testing.T) {
	rs := startRedis(t)
	g := startGateway(t, withRedis(rs))
	c := g.newClient()
	out := c.signInTokens("pia@example.com")
	// Concurrent starts leave several connections idle in the pool.
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			r := g.newClient().do("POST", "/auth/start", map[string]any{"email": fmt.Sprintf("load%d@example.com", i)})
			if r.status != 200 {
				t.Errorf("start under load: %d %s", r.status, r.body)
			}
		})
	}
	wg.Wait()
	if n := rs.passgateConnections(); n < 3 {
		t.Fatalf("%d passgate connections before the restart, want several", n)
	}

	rs.stop()
	rs.start()
	r := c.refresh(out["refresh_token"])
	if r.status != 200 {
		t.Fatalf("first /token after the restart: %d %s", r.status, r.body)
	}
	if r := g.newClient().do("POST", "/auth/start", map[string]any{"email": "pia2@example.com"}); r.status != 200 {
		t.Fatalf("first /start after the restart: %d %s", r.status, r.body)
	}
	if h := echoed(t, c.do("GET", "/app", nil)); h.Get("X-Auth-Email") != "pia@example.com" {
		t.Fatalf("first page after the restart: %v", h)
	}
}

func TestReloadsLeakNoConnections(t *testing.T) {
	rs := startRedis(t)
	g := startGateway(t, withRedis(rs))
	c := g.newClient()
	c.signIn("kim@example.com")
	// The first session lookup starts the session cache's subscription:
	// one more connection, which lives as long as the shared client.
	echoed(t, c.do("GET", "/app", nil))
	rs.waitSubscribed()
	before := rs.passgateConnections()
	if before == 0 {
		t.Fatal("no passgate connection seen before the reloads")
	}
	cookies := c.hc.Jar.Cookies(mustURL(g.base))
	// Quiet reloads: the shared client is kept, so the count cannot move.
	for i := range 20 {
		g.extra = fmt.Sprintf("public /quiet-%d", i) // a real change each time
		g.load()
		if status, err := getAcrossReload(g.base+"/app", cookies, nil); status != 200 {
			t.Fatalf("after reload %d: %d %v", i, status, err)
		}
	}
	if after := rs.passgateConnections(); after != before {
		t.Fatalf("%d passgate connections before 20 reloads, %d after", before, after)
	}

	// Traffic runs through all the reloads: every request must be answered
	// 200 (see getAcrossReload for the connection resets Caddy causes).
	done := make(chan struct{})
	var served, resets atomic.Int32
	var failure atomic.Value
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				status, err := getAcrossReload(g.base+"/app", cookies, &resets)
				if status != 200 {
					failure.CompareAndSwap(nil, fmt.Sprintf("status %d, error %v", status, err))
					return
				}
				served.Add(1)
			}
		})
	}
	for i := range 20 {
		g.extra = fmt.Sprintf("public /reload-%d", i) // a real change each time
		g.load()
	}
	close(done)
	wg.Wait()
	t.Logf("%d requests answered 200 during 20 reloads; %d connection attempts reset by the listener handover and retried", served.Load(), resets.Load())
	if f := failure.Load(); f != nil || served.Load() == 0 {
		t.Fatalf("a request failed during reloads: %v", f)
	}
	// Under load the pool may grow to the load's concurrency, not with the
	// number of reloads.
	if after := rs.passgateConnections(); after > before+4 {
		t.Fatalf("%d passgate connections before 20 reloads under a load of 4, %d after", before, after)
	}
}

// getAcrossReload GETs url on a new connection, retrying connection-level
// errors: while Caddy hands its listener over on a reload, connection
// attempts queued on the old socket are reset (plain Caddy does the same,
// with no passgate in the config), and clients retry those, as browsers
// do. It returns the HTTP status of the answer.
func getAcrossReload(url string, cookies []*http.Cookie, resets *atomic.Int32) (int, error) {
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	var err error
	for try := range 100 {
		if try > 0 {
			time.Sleep(5 * time.Millisecond) // a client's backoff, as between browser retries
		}
		req, _ := http.NewRequest("GET", url, nil)
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		var resp *http.Response
		resp, err = hc.Do(req)
		if err != nil {
			if resets != nil {
				resets.Add(1)
			}
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	return 0, err
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

// A hung Redis (stopped with SIGSTOP, as under a long DEBUG SLEEP) must
// give 503 once the store timeout passes, not a hanging request.
func TestRedisHungFailsClosed(t *testing.T) {
	rs := startRedis(t)
	g := startGateway(t, withRedis(rs))
	c := g.newClient()
	c.signIn("oli@example.com")

	if err := rs.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	// A hung server keeps the subscription's connection open, so a cached
	// session passes until its entry expires (SessionCacheTTL); the first
	// request after that waits for the store timeout and gets 503. The
	// client gives up after 30 s: a hang fails the test.
	r := within(t, revocationBound, "hung Redis", func() response { return c.do("GET", "/app", nil) }, unavailable)
	t.Logf("hung Redis: %d after %v (store timeout 1s)", r.status, time.Since(began))
	if r.status != 503 || r.json(t)["error"] != "store_unavailable" {
		t.Fatalf("hung Redis: %d %s, want 503 store_unavailable", r.status, r.body)
	}
	if err := rs.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if h := echoed(t, c.do("GET", "/app", nil)); h.Get("X-Auth-Email") != "oli@example.com" {
		t.Fatalf("after Redis resumed: %v", h)
	}
}

func TestRateLimitedAnswer(t *testing.T) {
	backends(t, func(t *testing.T, opts ...gatewayOption) {
		g := startGateway(t, opts...)
		c := g.newClient()
		c.start("sam@example.com")
		for _, email := range []string{"sam@example.com", "nobody@elsewhere.example"} {
			if email != "sam@example.com" {
				c.start(email)
			}
			r := c.do("POST", "/auth/start", map[string]any{"email": email})
			m := r.json(t)
			if r.status != 429 || m["error"] != "rate_limited" || m["retry_after"] != float64(60) || r.header.Get("Retry-After") != "60" {
				t.Fatalf("%s within the cooldown: %d %s Retry-After %q; want 429 rate_limited, 60 s",
					email, r.status, r.body, r.header.Get("Retry-After"))
			}
		}
	})
}

// Redis restarted under traffic: every answer is 200 or 503, never a
// pass-through or another error; afterwards all are 200 again, and the
// connection count is back where it was.
func TestRedisRestartMidTraffic(t *testing.T) {
	rs := startRedis(t)
	g := startGateway(t, withRedis(rs))
	c := g.newClient()
	c.signIn("val@example.com")
	before := rs.passgateConnections()

	var ok, unavailable atomic.Int32
	var other atomic.Value
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		client := g.newClient()
		client.hc.Jar = c.hc.Jar
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				r := client.do("GET", "/app", nil)
				switch {
				case r.status == 200 && echoed(t, r).Get("X-Auth-Email") == "val@example.com":
					ok.Add(1)
				case r.status == 503 && r.json(t)["error"] == "store_unavailable":
					unavailable.Add(1)
				default:
					other.CompareAndSwap(nil, fmt.Sprintf("%d %s", r.status, r.body))
				}
			}
		})
	}
	// Wait for traffic to flow, restart Redis, wait for traffic to flow again.
	waitFor(t, func() bool { return ok.Load() >= 20 })
	rs.stop()
	waitFor(t, func() bool { return unavailable.Load() >= 5 })
	rs.start()
	seen := ok.Load()
	waitFor(t, func() bool { return ok.Load() >= seen+20 })
	close(done)
	wg.Wait()
	t.Logf("%d answered 200, %d answered 503 across a Redis restart", ok.Load(), unavailable.Load())
	if o := other.Load(); o != nil {
		t.Fatalf("an answer other than 200 or 503 during the restart: %v", o)
	}
	if after := rs.passgateConnections(); after > before+4 {
		t.Fatalf("%d passgate connections before the restart, %d after (load of 4)", before, after)
	}
}

// waitFor polls cond until it holds, failing after 20 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The policy applies to every request, not only at sign-in: someone taken
// out of `allow` is locked out by the next reload, and roles follow the
// configuration at once.
func TestPolicyAppliesToLiveSessions(t *testing.T) {
	g := startGateway(t)
	c := g.newClient()
	c.signIn("wes@example.com")
	api := g.newClient()
	out := api.signInTokens("wes@example.com")
	bearer := []string{"Authorization", "Bearer " + out["access_token"].(string)}
	// Answered once before the reload, so that the policy's answer is
	// remembered and the reload must forget it.
	if h := echoed(t, c.do("GET", "/app", nil)); h.Get("X-Auth-Roles") != "staff" {
		t.Fatalf("roles before the reload: %q, want staff", h.Get("X-Auth-Roles"))
	}

	g.extra = "role ops email wes@example.com"
	g.load()
	if h := echoed(t, c.do("GET", "/app", nil)); h.Get("X-Auth-Roles") != "staff,ops" {
		t.Fatalf("roles after adding a role: %q, want staff,ops", h.Get("X-Auth-Roles"))
	}
	if r := c.do("GET", "/auth/session", nil); fmt.Sprint(r.json(t)["user"].(map[string]any)["roles"]) != "[staff ops]" {
		t.Fatalf("/session roles: %s", r.body)
	}

	g.allow = "allow email *@other.example"
	g.load()
	if r := c.do("GET", "/app", nil); r.status != 401 {
		t.Fatalf("cookie session of someone no longer allowed: %d %s, want 401", r.status, r.body)
	}
	// A refused bearer token is refused as such, a browser's too.
	wantRefused(t, "bearer of someone no longer allowed", api.do("GET", "/app", nil, append(bearer, "Accept", "text/html")...))
	wantRefused(t, "/session by bearer of someone no longer allowed", api.do("GET", "/auth/session", nil, bearer...))
	if r := api.refresh(out["refresh_token"]); r.status != 401 || r.json(t)["error"] != "invalid_grant" {
		t.Fatalf("refresh by someone no longer allowed: %d %s, want 401 invalid_grant", r.status, r.body)
	}
	// They may still end their sessions.
	if r := c.do("POST", "/auth/logout", map[string]any{"scope": "global"}); r.status != 200 || r.json(t)["revoked"] != float64(2) {
		t.Fatalf("logout of someone no longer allowed: %d %s, want revoked 2", r.status, r.body)
	}
}

// Public paths pass only as written: `;` parameters and dot segments,
// which servlet containers resolve elsewhere (/public/..;/admin is /admin
// to Tomcat), need a session; so do dot segments ending in a backslash,
// which IIS reads as a slash (/public/..\private is /private there).
func TestPublicPathTricksNeedASession(t *testing.T) {
	g := startGateway(t)
	c := g.newClient()
	if r := c.do("GET", "/public/file", nil); r.status != 200 {
		t.Fatalf("plain public path: %d", r.status)
	}
	for _, path := range []string{"/public/..;/admin", "/public/x;jsessionid=1", "/public/%2e%2e/admin", "/public/./x",
		`/public/..%5cprivate`, `/public/..%5Cprivate`, `/public/%2e%2e%5cprivate`, `/public/.%5cx`, `/public/x/..%5c..%5cprivate`, `/public/..%5c`} {
		if r := c.do("GET", path, nil); r.status != 401 {
			t.Fatalf("%s: %d %s, want 401", path, r.status, r.body)
		}
	}
}

// The upstream never holds passgate's credentials: its session cookie is
// removed from every request passed on (other cookies stay as sent), and
// so is the Authorization header of a request accepted by bearer token.
// An Authorization header on a public path was not passgate's to judge
// and stays. `headers { pass_credentials }` passes both.
func TestCredentialsNotPassedUpstream(t *testing.T) {
	for _, pass := range []bool{false, true} {
		t.Run(fmt.Sprintf("pass_credentials=%v", pass), func(t *testing.T) {
			var opts []gatewayOption
			if pass {
				opts = append(opts, withExtra("headers {\n\t\t\tpass_credentials\n\t\t}"))
			}
			g := startGateway(t, opts...)
			c := g.newClient()
			out := c.signInTokens("cara@example.com")
			access := out["access_token"].(string)

			hasSession := func(h http.Header) bool {
				for _, line := range h.Values("Cookie") {
					if strings.Contains(line, "passgate_session=") {
						return true
					}
				}
				return false
			}
			check := func(what string, h http.Header, wantCookie []string, wantAuth string) {
				t.Helper()
				got := h.Values("Cookie")
				if hasSession(h) != pass {
					t.Fatalf("%s: upstream Cookie = %q: session cookie there %v, want %v", what, got, !pass, pass)
				}
				// The app's own cookies arrive either way; without
				// pass_credentials, in the very lines sent.
				if others := otherCookies(got); !slices.Equal(others, otherCookies(wantCookie)) || !pass && !slices.Equal(got, wantCookie) {
					t.Fatalf("%s: upstream Cookie = %q, want %q besides the session cookie", what, got, wantCookie)
				}
				if got := h.Get("Authorization"); got != wantAuth {
					t.Fatalf("%s: upstream Authorization = %q, want %q", what, got, wantAuth)
				}
				if what != "public" && h.Get("X-Auth-Email") != "cara@example.com" {
					t.Fatalf("%s: identity upstream: %v", what, h)
				}
			}
			ifPassed := func(v string) string {
				if pass {
					return v
				}
				return ""
			}

			// The jar appends the session cookie to the app's own.
			h := echoed(t, c.do("GET", "/app", nil, "Cookie", "theme=dark; passgate_session_x=1"))
			check("cookie", h, []string{"theme=dark; passgate_session_x=1"}, "")
			// Only the session cookie: no Cookie header at all.
			h = echoed(t, c.do("GET", "/app", nil))
			check("cookie only", h, nil, "")
			// A bearer request, with the cookie as well.
			h = echoed(t, c.do("GET", "/app", nil, "Authorization", "Bearer "+access, "Cookie", "a=1"))
			check("bearer", h, []string{"a=1"}, ifPassed("Bearer "+access))
			// A cookie session beside the app's own Authorization: that stays.
			h = echoed(t, c.do("GET", "/app", nil, "Authorization", "Basic dTpw", "Cookie", "a=1"))
			check("cookie with Basic", h, []string{"a=1"}, "Basic dTpw")
			// A public path: the cookie goes, someone else's token stays.
			h = echoed(t, c.do("GET", "/public/file", nil, "Authorization", "Basic dTpw", "Cookie", "a=1"))
			check("public", h, []string{"a=1"}, "Basic dTpw")
		})
	}
}

// otherCookies lists, as name=value, the cookies in Cookie lines other
// than the session cookie, as net/http reads them.
func otherCookies(lines []string) []string {
	var out []string
	for _, c := range (&http.Request{Header: http.Header{"Cookie": lines}}).Cookies() {
		if c.Name != "passgate_session" {
			out = append(out, c.Name+"="+c.Value)
		}
	}
	return out
}
