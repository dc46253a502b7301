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
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/internal/testenv"
)

// backends runs a test against the memory store and against Redis.
func backends(t *testing.T, fn func(t *testing.T, opts ...testenv.Option)) {
	t.Run("memory", func(t *testing.T) { fn(t) })
	t.Run("redis", func(t *testing.T) { fn(t, testenv.WithRedis(testenv.StartRedis(t))) })
}

func TestWholeFlow(t *testing.T) {
	backends(t, func(t *testing.T, opts ...testenv.Option) {
		g := testenv.StartGateway(t, opts...)
		c := g.NewClient()

		// Not signed in: a browser is sent to sign in, with the way back...
		r := c.Do("GET", "/app/page?q=1", nil, "Accept", "text/html,application/xhtml+xml")
		if r.Status != 302 {
			t.Fatalf("browser without session: %d, want 302", r.Status)
		}
		loc, _ := url.Parse(r.Header.Get("Location"))
		if loc.Path != "/auth/login" || loc.Query().Get("redirect_to") != "/app/page?q=1" {
			t.Fatalf("redirected to %q", r.Header.Get("Location"))
		}
		// ...and an API client gets 401 JSON.
		r = c.Do("GET", "/app/page", nil, "Accept", "application/json")
		if r.Status != 401 || r.JSON(t)["error"] != "unauthorized" {
			t.Fatalf("API without session: %d %s", r.Status, r.Body)
		}
		// The sign-in page is served.
		r = c.Do("GET", "/auth/login?redirect_to=/app/page", nil)
		if r.Status != 200 || !strings.Contains(string(r.Body), `action="/auth/start"`) {
			t.Fatalf("login page: %d %s", r.Status, r.Body)
		}

		out := c.SignIn("Ann@Example.com")
		user := out["user"].(map[string]any)
		if user["email"] != "ann@example.com" || out["redirect_to"] != "/app/next?x=1" {
			t.Fatalf("verify answered %v", out)
		}
		if roles := fmt.Sprint(user["roles"]); roles != "[staff]" {
			t.Fatalf("roles %s, want [staff]", roles)
		}
		userID := user["id"].(string)

		h := testenv.Echoed(t, c.Do("GET", "/app/page", nil))
		if h.Get("X-Auth-User-Id") != userID || h.Get("X-Auth-Email") != "ann@example.com" ||
			h.Get("X-Auth-Roles") != "staff" || h.Get("X-Auth-Phone") != "" {
			t.Fatalf("identity headers upstream: %v", h)
		}
		if h.Get("X-Seen-Placeholder-Id") != userID || h.Get("X-Seen-Placeholder-Email") != "ann@example.com" ||
			h.Get("X-Seen-Placeholder-Roles") != "staff" {
			t.Fatalf("placeholders seen by a later handler: id %q email %q roles %q, want %q, ann@example.com, staff",
				h.Get("X-Seen-Placeholder-Id"), h.Get("X-Seen-Placeholder-Email"), h.Get("X-Seen-Placeholder-Roles"), userID)
		}

		r = c.Do("GET", "/auth/session", nil)
		sess := r.JSON(t)
		if r.Status != 200 || sess["user"].(map[string]any)["id"] != userID || sess["session"].(map[string]any)["id"] == "" {
			t.Fatalf("session: %d %s", r.Status, r.Body)
		}

		// A second sign-in of the same person is the same user, new session.
		other := g.NewClient()
		out2 := other.SignIn("ann@example.com")
		if out2["user"].(map[string]any)["id"] != userID {
			t.Fatal("second sign-in created another user")
		}
		if out2["session"].(map[string]any)["id"] == sess["session"].(map[string]any)["id"] {
			t.Fatal("second sign-in reused the session id")
		}

		// Caddy's access log names the user.
		found := false
		for _, e := range testenv.ReadLog(t, g.AccessLog) {
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
	g := testenv.StartGateway(t)
	c := g.NewClient()
	spoof := []string{
		"X-Auth-User-Id", "root", "X-Auth-Email", "boss@example.com", "X-Auth-Roles", "admin",
		"X-Auth-Phone", "+15550000", "X_Auth_User_Id", "root", "x-auth-roles", "admin",
	}
	// Public route: passes unauthenticated, but without the claimed identity.
	h := testenv.Echoed(t, c.Do("GET", "/public/file", nil, spoof...))
	for _, name := range []string{"X-Auth-User-Id", "X-Auth-Email", "X-Auth-Roles", "X-Auth-Phone", "X_auth_user_id"} {
		if v := h.Values(name); len(v) > 0 {
			t.Fatalf("public route: upstream got %s: %v", name, v)
		}
	}
	// Without a session the spoof gets nowhere.
	if r := c.Do("GET", "/app", nil, spoof...); r.Status != 401 {
		t.Fatalf("spoofed identity without session: %d, want 401", r.Status)
	}
	// With a session, upstream sees the real identity only, once.
	c.SignIn("eve@example.com")
	h = testenv.Echoed(t, c.Do("GET", "/app", nil, spoof...))
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
	backends(t, func(t *testing.T, opts ...testenv.Option) {
		g := testenv.StartGateway(t, opts...)
		c := g.NewClient()
		id := c.Start("bob@example.com")
		code := g.CodeFor("bob@example.com")
		wrong := fmt.Sprintf("%06d", (atoi(code)+1)%1000000)

		for left := 4; left >= 1; left-- {
			r := c.Do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": wrong})
			m := r.JSON(t)
			if r.Status != 400 || m["error"] != "invalid_code" || m["attempts_left"] != float64(left) {
				t.Fatalf("wrong code: %d %s, want 400 invalid_code attempts_left %d", r.Status, r.Body, left)
			}
		}
		r := c.Do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": wrong})
		if r.Status != 429 || r.JSON(t)["error"] != "too_many_attempts" {
			t.Fatalf("fifth wrong code: %d %s, want 429 too_many_attempts", r.Status, r.Body)
		}
		r = c.Do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": code})
		if r.Status != 404 || r.JSON(t)["error"] != "attempt_not_found" {
			t.Fatalf("right code after burn: %d %s, want 404", r.Status, r.Body)
		}
	})
}

func TestReplayedCode(t *testing.T) {
	backends(t, func(t *testing.T, opts ...testenv.Option) {
		g := testenv.StartGateway(t, opts...)
		c := g.NewClient()
		id := c.Start("cat@example.com")
		body := map[string]any{"attempt_id": id, "code": g.CodeFor("cat@example.com")}
		if r := c.Do("POST", "/auth/verify", body); r.Status != 200 {
			t.Fatalf("first verify: %d %s", r.Status, r.Body)
		}
		r := g.NewClient().Do("POST", "/auth/verify", body)
		if r.Status != 404 || r.JSON(t)["error"] != "attempt_not_found" {
			t.Fatalf("replay: %d %s, want 404 attempt_not_found", r.Status, r.Body)
		}
	})
}

func TestConcurrentVerifiesGiveOneSession(t *testing.T) {
	backends(t, func(t *testing.T, opts ...testenv.Option) {
		g := testenv.StartGateway(t, opts...)
		id := g.NewClient().Start("dan@example.com")
		body := map[string]any{"attempt_id": id, "code": g.CodeFor("dan@example.com")}
		statuses := make([]int, 20)
		clients := make([]*testenv.Client, 20)
		for i := range clients {
			clients[i] = g.NewClient()
		}
		var wg sync.WaitGroup
		for i, c := range clients {
			wg.Go(func() { statuses[i] = c.Do("POST", "/auth/verify", body).Status })
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
	backends(t, func(t *testing.T, opts ...testenv.Option) {
		g := testenv.StartGateway(t, opts...)
		laptop, phone, tablet := g.NewClient(), g.NewClient(), g.NewClient()
		for _, c := range []*testenv.Client{laptop, phone, tablet} {
			c.SignIn("fay@example.com")
		}
		otherUser := g.NewClient()
		otherUser.SignIn("gus@example.com")

		r := laptop.Do("POST", "/auth/logout", nil)
		if r.Status != 200 || r.JSON(t)["revoked"] != float64(1) {
			t.Fatalf("logout: %d %s", r.Status, r.Body)
		}
		if !strings.Contains(r.Header.Get("Set-Cookie"), "Max-Age=0") {
			t.Fatalf("logout did not clear the cookie: %q", r.Header.Get("Set-Cookie"))
		}
		if r := laptop.Do("GET", "/app", nil); r.Status != 401 {
			t.Fatalf("after logout: %d, want 401", r.Status)
		}
		if r := phone.Do("GET", "/app", nil); r.Status != 200 {
			t.Fatalf("other device after local logout: %d, want 200", r.Status)
		}

		r = phone.Do("POST", "/auth/logout", map[string]any{"scope": "global"})
		if r.Status != 200 || r.JSON(t)["revoked"] != float64(2) {
			t.Fatalf("global logout: %d %s, want revoked 2", r.Status, r.Body)
		}
		for name, c := range map[string]*testenv.Client{"phone": phone, "tablet": tablet} {
			if r := c.Do("GET", "/app", nil); r.Status != 401 {
				t.Fatalf("%s after global logout: %d, want 401", name, r.Status)
			}
		}
		if r := otherUser.Do("GET", "/app", nil); r.Status != 200 {
			t.Fatalf("another user after global logout: %d, want 200", r.Status)
		}
	})
}

func TestSessionSurvivesCaddyRestartWithRedis(t *testing.T) {
	rs := testenv.StartRedis(t)
	g := testenv.StartGateway(t, testenv.WithRedis(rs))
	c := g.NewClient()
	c.SignIn("hal@example.com")
	g.Restart()
	if h := testenv.Echoed(t, c.Do("GET", "/app", nil)); h.Get("X-Auth-Email") != "hal@example.com" {
		t.Fatalf("after restart: %v", h)
	}
}

func TestRedisDownFailsClosedAndRecovers(t *testing.T) {
	rs := testenv.StartRedis(t)
	g := testenv.StartGateway(t, testenv.WithRedis(rs))
	c := g.NewClient()
	c.SignIn("ivy@example.com")

	rs.Stop()
	for _, path := range []string{"/app", "/auth/session"} {
		began := time.Now()
		// A session cached before the outage may pass until the cache
		// sees the subscription drop (at once here: the server is gone).
		r := within(t, revocationBound, path+" with Redis down", func() testenv.Response { return c.Do("GET", path, nil) }, unavailable)
		took := time.Since(began)
		if r.Status != 503 || r.JSON(t)["error"] != "store_unavailable" {
			t.Fatalf("%s with Redis down: %d %s, want 503 store_unavailable", path, r.Status, r.Body)
		}
		t.Logf("%s with Redis down answered 503 in %v", path, took)
	}
	r := g.NewClient().Do("POST", "/auth/start", map[string]any{"email": "ivy@example.com"})
	if r.Status != 503 {
		t.Fatalf("start with Redis down: %d %s, want 503", r.Status, r.Body)
	}
	// Public paths do not need the store.
	if r := c.Do("GET", "/public/x", nil); r.Status != 200 {
		t.Fatalf("public path with Redis down: %d", r.Status)
	}

	rs.Start()
	if h := testenv.Echoed(t, c.Do("GET", "/app", nil)); h.Get("X-Auth-Email") != "ivy@example.com" {
		t.Fatalf("after Redis came back: %v", h)
	}
	g.NewClient().SignIn("joe@example.com")
}

// The client never re-sends a command (a reply lost after a script ran
// must not run it twice), so it has no retry to cover connections that a
// Redis restart closed while they sat idle in the pool: the pool's check
// before use must drop them. The first requests after a restart, with no
// request in between to clear the pool, all succeed.
func TestFirstRequestsAfterRedisRestart(t *testing.T) {
	rs := testenv.StartRedis(t)
	g := testenv.StartGateway(t, testenv.WithRedis(rs))
	c := g.NewClient()
	out := c.SignInTokens("pia@example.com")
	// Concurrent starts leave several connections idle in the pool.
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			r := g.NewClient().Do("POST", "/auth/start", map[string]any{"email": fmt.Sprintf("load%d@example.com", i)})
			if r.Status != 200 {
				t.Errorf("start under load: %d %s", r.Status, r.Body)
			}
		})
	}
	wg.Wait()
	if n := rs.PassgateConnections(); n < 3 {
		t.Fatalf("%d passgate connections before the restart, want several", n)
	}

	rs.Stop()
	rs.Start()
	r := c.Refresh(out["refresh_token"])
	if r.Status != 200 {
		t.Fatalf("first /token after the restart: %d %s", r.Status, r.Body)
	}
	if r := g.NewClient().Do("POST", "/auth/start", map[string]any{"email": "pia2@example.com"}); r.Status != 200 {
		t.Fatalf("first /start after the restart: %d %s", r.Status, r.Body)
	}
	if h := testenv.Echoed(t, c.Do("GET", "/app", nil)); h.Get("X-Auth-Email") != "pia@example.com" {
		t.Fatalf("first page after the restart: %v", h)
	}
}

func TestReloadsLeakNoConnections(t *testing.T) {
	rs := testenv.StartRedis(t)
	g := testenv.StartGateway(t, testenv.WithRedis(rs))
	c := g.NewClient()
	c.SignIn("kim@example.com")
	// The first session lookup starts the session cache's subscription:
	// one more connection, which lives as long as the shared client.
	testenv.Echoed(t, c.Do("GET", "/app", nil))
	rs.WaitSubscribed()
	before := rs.PassgateConnections()
	if before == 0 {
		t.Fatal("no passgate connection seen before the reloads")
	}
	cookies := c.HC.Jar.Cookies(mustURL(g.Base))
	// Quiet reloads: the shared client is kept, so the count cannot move.
	for i := range 20 {
		g.Extra = fmt.Sprintf("public /quiet-%d", i) // a real change each time
		g.Load()
		if status, err := getAcrossReload(g.Base+"/app", cookies, nil); status != 200 {
			t.Fatalf("after reload %d: %d %v", i, status, err)
		}
	}
	if after := rs.PassgateConnections(); after != before {
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
				status, err := getAcrossReload(g.Base+"/app", cookies, &resets)
				if status != 200 {
					failure.CompareAndSwap(nil, fmt.Sprintf("status %d, error %v", status, err))
					return
				}
				served.Add(1)
			}
		})
	}
	for i := range 20 {
		g.Extra = fmt.Sprintf("public /reload-%d", i) // a real change each time
		g.Load()
	}
	close(done)
	wg.Wait()
	t.Logf("%d requests answered 200 during 20 reloads; %d connection attempts reset by the listener handover and retried", served.Load(), resets.Load())
	if f := failure.Load(); f != nil || served.Load() == 0 {
		t.Fatalf("a request failed during reloads: %v", f)
	}
	// Under load the pool may grow to the load's concurrency, not with the
	// number of reloads.
	if after := rs.PassgateConnections(); after > before+4 {
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
	rs := testenv.StartRedis(t)
	g := testenv.StartGateway(t, testenv.WithRedis(rs))
	c := g.NewClient()
	c.SignIn("oli@example.com")

	rs.Freeze()
	began := time.Now()
	// A hung server keeps the subscription's connection open, so a cached
	// session passes until its entry expires (SessionCacheTTL); the first
	// request after that waits for the store timeout and gets 503. The
	// client gives up after 30 s: a hang fails the test.
	r := within(t, revocationBound, "hung Redis", func() testenv.Response { return c.Do("GET", "/app", nil) }, unavailable)
	t.Logf("hung Redis: %d after %v (store timeout 1s)", r.Status, time.Since(began))
	if r.Status != 503 || r.JSON(t)["error"] != "store_unavailable" {
		t.Fatalf("hung Redis: %d %s, want 503 store_unavailable", r.Status, r.Body)
	}
	rs.Thaw()
	if h := testenv.Echoed(t, c.Do("GET", "/app", nil)); h.Get("X-Auth-Email") != "oli@example.com" {
		t.Fatalf("after Redis resumed: %v", h)
	}
}

func TestRateLimitedAnswer(t *testing.T) {
	backends(t, func(t *testing.T, opts ...testenv.Option) {
		g := testenv.StartGateway(t, opts...)
		c := g.NewClient()
		c.Start("sam@example.com")
		for _, email := range []string{"sam@example.com", "nobody@elsewhere.example"} {
			if email != "sam@example.com" {
				c.Start(email)
			}
			r := c.Do("POST", "/auth/start", map[string]any{"email": email})
			m := r.JSON(t)
			if r.Status != 429 || m["error"] != "rate_limited" || m["retry_after"] != float64(60) || r.Header.Get("Retry-After") != "60" {
				t.Fatalf("%s within the cooldown: %d %s Retry-After %q; want 429 rate_limited, 60 s",
					email, r.Status, r.Body, r.Header.Get("Retry-After"))
			}
		}
	})
}

// Redis restarted under traffic: every answer is 200 or 503, never a
// pass-through or another error; afterwards all are 200 again, and the
// connection count is back where it was.
func TestRedisRestartMidTraffic(t *testing.T) {
	rs := testenv.StartRedis(t)
	g := testenv.StartGateway(t, testenv.WithRedis(rs))
	c := g.NewClient()
	c.SignIn("val@example.com")
	before := rs.PassgateConnections()

	var ok, unavailable atomic.Int32
	var other atomic.Value
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		client := g.NewClient()
		client.HC.Jar = c.HC.Jar
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				r := client.Do("GET", "/app", nil)
				switch {
				case r.Status == 200 && testenv.Echoed(t, r).Get("X-Auth-Email") == "val@example.com":
					ok.Add(1)
				case r.Status == 503 && r.JSON(t)["error"] == "store_unavailable":
					unavailable.Add(1)
				default:
					other.CompareAndSwap(nil, fmt.Sprintf("%d %s", r.Status, r.Body))
				}
			}
		})
	}
	// Wait for traffic to flow, restart Redis, wait for traffic to flow again.
	waitFor(t, func() bool { return ok.Load() >= 20 })
	rs.Stop()
	waitFor(t, func() bool { return unavailable.Load() >= 5 })
	rs.Start()
	seen := ok.Load()
	waitFor(t, func() bool { return ok.Load() >= seen+20 })
	close(done)
	wg.Wait()
	t.Logf("%d answered 200, %d answered 503 across a Redis restart", ok.Load(), unavailable.Load())
	if o := other.Load(); o != nil {
		t.Fatalf("an answer other than 200 or 503 during the restart: %v", o)
	}
	if after := rs.PassgateConnections(); after > before+4 {
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
	g := testenv.StartGateway(t)
	c := g.NewClient()
	c.SignIn("wes@example.com")
	api := g.NewClient()
	out := api.SignInTokens("wes@example.com")
	bearer := []string{"Authorization", "Bearer " + out["access_token"].(string)}
	// Answered once before the reload, so that the policy's answer is
	// remembered and the reload must forget it.
	if h := testenv.Echoed(t, c.Do("GET", "/app", nil)); h.Get("X-Auth-Roles") != "staff" {
		t.Fatalf("roles before the reload: %q, want staff", h.Get("X-Auth-Roles"))
	}

	g.Extra = "role ops email wes@example.com"
	g.Load()
	if h := testenv.Echoed(t, c.Do("GET", "/app", nil)); h.Get("X-Auth-Roles") != "staff,ops" {
		t.Fatalf("roles after adding a role: %q, want staff,ops", h.Get("X-Auth-Roles"))
	}
	if r := c.Do("GET", "/auth/session", nil); fmt.Sprint(r.JSON(t)["user"].(map[string]any)["roles"]) != "[staff ops]" {
		t.Fatalf("/session roles: %s", r.Body)
	}

	g.Allow = "allow email *@other.example"
	g.Load()
	if r := c.Do("GET", "/app", nil); r.Status != 401 {
		t.Fatalf("cookie session of someone no longer allowed: %d %s, want 401", r.Status, r.Body)
	}
	// A refused bearer token is refused as such, a browser's too.
	wantRefused(t, "bearer of someone no longer allowed", api.Do("GET", "/app", nil, append(bearer, "Accept", "text/html")...))
	wantRefused(t, "/session by bearer of someone no longer allowed", api.Do("GET", "/auth/session", nil, bearer...))
	if r := api.Refresh(out["refresh_token"]); r.Status != 401 || r.JSON(t)["error"] != "invalid_grant" {
		t.Fatalf("refresh by someone no longer allowed: %d %s, want 401 invalid_grant", r.Status, r.Body)
	}
	// They may still end their sessions.
	if r := c.Do("POST", "/auth/logout", map[string]any{"scope": "global"}); r.Status != 200 || r.JSON(t)["revoked"] != float64(2) {
		t.Fatalf("logout of someone no longer allowed: %d %s, want revoked 2", r.Status, r.Body)
	}
}

// Public paths pass only as written: `;` parameters and dot segments,
// which servlet containers resolve elsewhere (/public/..;/admin is /admin
// to Tomcat), need a session; so do dot segments ending in a backslash,
// which IIS reads as a slash (/public/..\private is /private there).
func TestPublicPathTricksNeedASession(t *testing.T) {
	g := testenv.StartGateway(t)
	c := g.NewClient()
	if r := c.Do("GET", "/public/file", nil); r.Status != 200 {
		t.Fatalf("plain public path: %d", r.Status)
	}
	for _, path := range []string{"/public/..;/admin", "/public/x;jsessionid=1", "/public/%2e%2e/admin", "/public/./x",
		`/public/..%5cprivate`, `/public/..%5Cprivate`, `/public/%2e%2e%5cprivate`, `/public/.%5cx`, `/public/x/..%5c..%5cprivate`, `/public/..%5c`} {
		if r := c.Do("GET", path, nil); r.Status != 401 {
			t.Fatalf("%s: %d %s, want 401", path, r.Status, r.Body)
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
			var opts []testenv.Option
			if pass {
				opts = append(opts, testenv.WithExtra("headers {\n\t\t\tpass_credentials\n\t\t}"))
			}
			g := testenv.StartGateway(t, opts...)
			c := g.NewClient()
			out := c.SignInTokens("cara@example.com")
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
			h := testenv.Echoed(t, c.Do("GET", "/app", nil, "Cookie", "theme=dark; passgate_session_x=1"))
			check("cookie", h, []string{"theme=dark; passgate_session_x=1"}, "")
			// Only the session cookie: no Cookie header at all.
			h = testenv.Echoed(t, c.Do("GET", "/app", nil))
			check("cookie only", h, nil, "")
			// A bearer request, with the cookie as well.
			h = testenv.Echoed(t, c.Do("GET", "/app", nil, "Authorization", "Bearer "+access, "Cookie", "a=1"))
			check("bearer", h, []string{"a=1"}, ifPassed("Bearer "+access))
			// A cookie session beside the app's own Authorization: that stays.
			h = testenv.Echoed(t, c.Do("GET", "/app", nil, "Authorization", "Basic dTpw", "Cookie", "a=1"))
			check("cookie with Basic", h, []string{"a=1"}, "Basic dTpw")
			// A public path: the cookie goes, someone else's token stays.
			h = testenv.Echoed(t, c.Do("GET", "/public/file", nil, "Authorization", "Basic dTpw", "Cookie", "a=1"))
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
