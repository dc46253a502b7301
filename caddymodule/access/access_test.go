package access

import (
	"context"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
)

func request(t testing.TB, target string) (*http.Request, bool) {
	u, err := url.ParseRequestURI(target)
	if err != nil || u.Path == "" || u.Path[0] != '/' {
		return nil, false
	}
	r := &http.Request{Method: "GET", URL: u, Header: http.Header{}}
	ctx := context.WithValue(context.Background(), caddy.ReplacerCtxKey, caddy.NewReplacer())
	return r.WithContext(ctx), true
}

func adminRules(t testing.TB) *Rules {
	rs, err := New(caddy.Context{}, []Rule{{Roles: []string{"admin", "root"}, Paths: []string{"/Admin", "/admin/*"}}})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// No rules: nil, which the gate tests for before anything else.
func TestNoRules(t *testing.T) {
	if rs, err := New(caddy.Context{}, nil); rs != nil || err != nil {
		t.Fatalf("New(nil) = %v, %v", rs, err)
	}
}

// Any one of a rule's roles opens it; overlapping rules must each be met.
func TestDenied(t *testing.T) {
	rs, err := New(caddy.Context{}, []Rule{
		{Roles: []string{"staff"}, Paths: []string{"/app/*"}},
		{Roles: []string{"admin", "root"}, Paths: []string{"/app/admin/*"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path  string
		roles []string
		want  []string
	}{
		{"/app/x", nil, []string{"staff"}},
		{"/app/x", []string{"staff"}, nil},
		{"/app/admin/x", []string{"staff"}, []string{"admin", "root"}},
		{"/app/admin/x", []string{"root"}, []string{"staff"}},
		{"/app/admin/x", []string{"root", "staff"}, nil},
		{"/other", nil, nil},
	} {
		r, _ := request(t, tc.path)
		if got := rs.Denied(r, tc.roles); !slices.Equal(got, tc.want) {
			t.Errorf("%s with %v: denied by %v, want %v", tc.path, tc.roles, got, tc.want)
		}
	}
}

// What a server behind Caddy could read as /admin is covered; a
// neighbour across a segment boundary is not.
func TestReadings(t *testing.T) {
	rs := adminRules(t)
	for target, covered := range map[string]bool{
		"/admin": true, "/ADMIN/x": true, "//admin": true, "/%2fadmin": true, "/admin;x": true,
		"/x/..;/admin": true, "/admin/../x": true, "/admin%2f..": true, "/x/..%5cadmin": true,
		"/x/.%5c..%5cadmin": true, "/x/./admin": false, "/adminx": false, "/x": false, "/x/y.css": false,
		"/x/admin": false, "/.;/admin": true, "/x%5c..;%5cadmin": true,
	} {
		r, _ := request(t, target)
		if got := rs.Covers(r); got != covered {
			t.Errorf("%s: covered %v, want %v", target, got, covered)
		}
	}
}

// A path without `;`, a backslash or a dot segment is read once, as is:
// the common request allocates nothing here.
func TestReadingsCommonPathAllocatesNothing(t *testing.T) {
	r, _ := request(t, "/static/app.v2.js")
	if n := testing.AllocsPerRun(100, func() { readings(r) }); n > 1 {
		t.Fatalf("%v allocations", n)
	}
}

// For any request path: a user with a role is never refused; without
// one, refused exactly where a rule covers; and every path that resolves
// to /admin or under /admin/ once parameters are dropped, backslashes are
// slashes and dot segments are either resolved or kept, is covered.
func FuzzRules(f *testing.F) {
	for _, s := range []string{
		"/admin", "/admin/", "//admin", "/%2fadmin", "/ADMIN", "/admin;x", "/admin%2f..", "/admin/../x",
		"/x/..;/admin", "/x/..%5cadmin", "/adminx", "/x", "/a/./b/../../admin/c", "/%61dmin;p/q", "/x%5c..;%5cadmin",
	} {
		f.Add(s)
	}
	rs := adminRules(f)
	f.Fuzz(func(t *testing.T, target string) {
		r, ok := request(t, target)
		if !ok {
			return
		}
		covered := rs.Covers(r)
		if got := rs.Denied(r, nil); (got != nil) != covered {
			t.Fatalf("%q: covered %v, denied %v", target, covered, got)
		}
		if got := rs.Denied(r, []string{"root"}); got != nil {
			t.Fatalf("%q: refused a user with the role", target)
		}
		for _, p := range oracle(r.URL.Path) {
			p = strings.ToLower(p)
			if (p == "/admin" || strings.HasPrefix(p, "/admin/")) && !covered {
				t.Fatalf("%q reads as %q, which is not covered", target, p)
			}
		}
	})
}

// oracle is how servers behind Caddy may read a path, said independently
// of readings: parameters dropped or kept, backslashes as slashes or not,
// and then dot segments resolved (with slashes merged) or left as names.
func oracle(p string) []string {
	slashed := strings.ReplaceAll(p, `\`, "/")
	var out []string
	for _, b := range []string{p, slashed, stripParams(p), stripParams(slashed), strings.ReplaceAll(stripParams(p), `\`, "/")} {
		merged := b
		for strings.Contains(merged, "//") {
			merged = strings.ReplaceAll(merged, "//", "/")
		}
		out = append(out, path.Clean(merged), merged)
	}
	return out
}
