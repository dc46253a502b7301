package caddymodule_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/passgate/caddy-passgate/internal/testenv"
)

// The rules of these tests, besides the harness's roles (staff: every
// @example.com user; admin: admin@example.com) and `public /public/*`.
const accessRules = `role ops email ops@example.com
require admin /admin /admin/*
require ops admin {
	path /reports/*
	path /public/secret/*
}`

// reached reports whether a response is the upstream's echo, and which
// path it got.
func reached(t *testing.T, r testenv.Response) (string, bool) {
	t.Helper()
	var echo struct {
		Path    *string        `json:"path"`
		Headers map[string]any `json:"headers"`
	}
	if json.Unmarshal(r.Body, &echo) != nil || echo.Path == nil || echo.Headers == nil {
		return "", false
	}
	return *echo.Path, true
}

// forbiddenJSON fails unless r is the gate's 403 JSON error.
func forbiddenJSON(t *testing.T, what string, r testenv.Response) {
	t.Helper()
	if _, ok := reached(t, r); ok || r.Status != 403 || r.JSON(t)["error"] != "forbidden" ||
		!strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("%s: %d %s %s, want 403 forbidden as JSON, upstream not reached", what, r.Status, r.Header.Get("Content-Type"), r.Body)
	}
}

// A signed-in user without the role gets 403 (JSON for an API client,
// with a cookie or a bearer token; a page offering to sign out for a
// browser), never the upstream; a user with the role passes; a covered
// path is never public; each refusal is an audit event and counted.
func TestAccessRules(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithExtra(accessRules), testenv.WithAdmin())
	before := scrape(t, g)

	anon := g.NewClient()
	if r := anon.Do("GET", "/admin/users", nil); r.Status != 401 {
		t.Fatalf("no session on a covered path: %d, want 401 (sign-in first, roles after)", r.Status)
	}
	r := anon.Do("GET", "/admin/users?x=1", nil, "Accept", "text/html")
	if r.Status != 302 || r.Header.Get("Location") != "/auth/login?redirect_to=%2Fadmin%2Fusers%3Fx%3D1" {
		t.Fatalf("browser without a session: %d %q, want 302 to the sign-in page and back", r.Status, r.Header.Get("Location"))
	}
	if r := anon.Do("GET", "/public/secret/plan", nil); r.Status != 401 {
		t.Fatalf("a covered path under public: %d %s, want 401 (a rule's path is never public)", r.Status, r.Body)
	}
	if p, ok := reached(t, anon.Do("GET", "/public/other", nil)); !ok || p != "/public/other" {
		t.Fatal("an uncovered public path no longer passes")
	}

	alice := g.NewClient()
	tok := alice.SignInTokens("alice@example.com")["access_token"].(string)
	forbiddenJSON(t, "alice (staff) on /admin/users", alice.Do("GET", "/admin/users", nil))
	forbiddenJSON(t, "alice posting to /admin/users", alice.Do("POST", "/admin/users", map[string]any{"a": 1}))
	forbiddenJSON(t, "alice with a bearer token, accepting HTML", alice.Do("GET", "/reports/q3", nil,
		"Authorization", "Bearer "+tok, "Accept", "text/html"))
	if p, ok := reached(t, alice.Do("GET", "/app", nil)); !ok || p != "/app" {
		t.Fatal("alice no longer reaches an uncovered path")
	}

	page := alice.Do("GET", "/admin/users", nil, "Accept", "text/html,application/xhtml+xml")
	body := string(page.Body)
	if page.Status != 403 || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("browser page: %d %s", page.Status, page.Header.Get("Content-Type"))
	}
	for _, want := range []string{"Access denied", "alice@example.com", `action="/auth/logout"`, "Sign out / switch account"} {
		if !strings.Contains(body, want) {
			t.Fatalf("the 403 page lacks %q:\n%s", want, body)
		}
	}
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") ||
		page.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("the 403 page's headers: %v", page.Header)
	}
	// Its button signs out: the page's form, posted from the page's origin.
	r = alice.Do("POST", "/auth/logout", "", "Content-Type", "application/x-www-form-urlencoded", "Origin", g.Base)
	if r.Status != 303 || !strings.HasPrefix(r.Header.Get("Location"), "/auth/login") {
		t.Fatalf("the page's sign-out: %d %v", r.Status, r.Header)
	}
	if r := alice.Do("GET", "/admin/users", nil); r.Status != 401 {
		t.Fatalf("after signing out from the 403 page: %d, want 401", r.Status)
	}

	admin := g.NewClient()
	admin.SignIn("admin@example.com")
	for _, path := range []string{"/admin", "/admin/users", "/reports/q3", "/app"} {
		if p, ok := reached(t, admin.Do("GET", path, nil)); !ok || p != path {
			t.Fatalf("admin on %s: not passed on", path)
		}
	}
	ops := g.NewClient()
	ops.SignIn("ops@example.com")
	if _, ok := reached(t, ops.Do("GET", "/reports/q3", nil)); !ok {
		t.Fatal("ops (one of the rule's two roles) on /reports/q3: not passed on")
	}
	forbiddenJSON(t, "ops on /admin", ops.Do("GET", "/admin", nil))

	// Four refusals of alice, one of ops.
	var denied []map[string]any
	for _, e := range g.WaitLog("access denied", 5) {
		if e["logger"] == "http.handlers.passgate.audit" {
			denied = append(denied, e)
		}
	}
	if len(denied) != 5 {
		t.Fatalf("%d access denied audit events, want 5: %v", len(denied), denied)
	}
	first := denied[0]
	if first["path"] != "/admin/users" || first["user_id"] == "" || first["client_ip"] != "127.0.0.1" ||
		first["door"] != "gate" || strings.Join(anyStrings(first["required"]), ",") != "admin" {
		t.Fatalf("access denied event: %v", first)
	}
	after := scrape(t, g)
	for _, m := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"caddy_passgate_gate_requests_total", []string{"outcome", "forbidden"}, 5},
		{"caddy_passgate_events_total", []string{"event", "access denied", "detail", "admin"}, 4},
		{"caddy_passgate_events_total", []string{"event", "access denied", "detail", "ops,admin"}, 1},
	} {
		if got := value(after, m.name, m.labels...) - value(before, m.name, m.labels...); got != m.want {
			t.Fatalf("%s%v rose by %v, want %v", m.name, m.labels, got, m.want)
		}
	}
}

func anyStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

// The path-confusion corpus: every way of writing a covered path that
// Caddy's matcher, or some server behind it, reads as that path is
// refused to a user without the role; the boundary is a segment's.
func TestAccessPathConfusion(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithExtra(accessRules))
	alice := g.NewClient()
	alice.SignIn("alice@example.com")
	admin := g.NewClient()
	admin.SignIn("admin@example.com")
	for _, tc := range []struct {
		path    string
		reaches bool
	}{
		{"/admin", false},
		{"/admin/", false},
		{"/admin/users", false},
		{"/ADMIN", false},
		{"/Admin/Users", false},
		{"//admin", false},
		{"///admin/users", false},
		{"/%2fadmin", false},
		{"/%2Fadmin/users", false},
		{"/%61dmin", false},
		{"/admin;x", false},
		{"/admin;jsessionid=1/users", false},
		{"/x/..;/admin", false},
		{"/admin/../x", false}, // an upstream that keeps dot segments routes it under /admin/
		{"/x/../admin", false},
		{"/x/./../admin/users", false},
		{"/admin%2f..", false}, // /admin/.. once decoded
		{"/admin%2F..%2Fx", false},
		{"/x/..%5cadmin", false}, // a backslash is a slash to IIS
		{"/x%5c..;%5cadmin", false},
		{"/adminx", true}, // a segment boundary: /admin/* is not /admin*
		{"/administrator", true},
		{"/x/admin", true},
		{"/app", true},
		{"/reportsx", true},
		{"/REPORTS/q3", false},
	} {
		r := alice.Do("GET", tc.path, nil)
		_, ok := reached(t, r)
		if ok != tc.reaches {
			t.Errorf("alice (staff) on %s: %d %s, want upstream reached %v", tc.path, r.Status, r.Body, tc.reaches)
		}
		if !ok && r.Status != 403 {
			t.Errorf("alice on %s: %d, want 403", tc.path, r.Status)
		}
		// The role opens each of them: what is refused is the user, not
		// the spelling (Caddy itself may still answer 4xx for some).
		if r := admin.Do("GET", tc.path, nil); r.Status == 403 {
			t.Errorf("admin on %s: 403 %s", tc.path, r.Body)
		}
	}
}

// A role that a config reload gives takes effect on a live session at
// its next request, and one it takes away as well: rules read the roles
// the policy gives now, not those of the sign-in.
func TestAccessRoleGrantedByReload(t *testing.T) {
	g := testenv.StartGateway(t, testenv.WithExtra(accessRules))
	bob := g.NewClient()
	bob.SignIn("bob@example.com")
	forbiddenJSON(t, "bob before the reload", bob.Do("GET", "/reports/q3", nil))

	g.Extra = accessRules + "\nrole ops email bob@example.com"
	g.Load()
	r := bob.Do("GET", "/reports/q3", nil)
	if p, ok := reached(t, r); !ok || p != "/reports/q3" {
		t.Fatalf("bob's live session after a reload gave him ops: %d %s, want the upstream", r.Status, r.Body)
	}
	if h := testenv.Echoed(t, r); h.Get("X-Auth-Roles") != "staff,ops" {
		t.Fatalf("roles passed on after the reload: %q", h.Get("X-Auth-Roles"))
	}

	g.Extra = accessRules
	g.Load()
	forbiddenJSON(t, "bob after a reload took ops away", bob.Do("GET", "/reports/q3", nil))
}
