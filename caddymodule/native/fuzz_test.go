package native

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// A pre-sign-in cookie names attempts only if this server made it, and
// one it makes after any cookie names the new attempt.
func FuzzStartCookie(f *testing.F) {
	c := testStartCookie(f, "fuzz-secret-0123456789abcdef0123456789")
	for _, s := range []string{"", "x", "AAAAAAAAAAAAAAAAAAAAAAAAAA", "MTc5NTMwMzc0M3xPSkNyT1QzZFN5MEhRR1JVaXliLXNNaVlD", strings.Repeat("A", 5000), "a|b|c", `"q"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r := httptest.NewRequest("GET", "/auth/magic", nil)
		r.Header.Set("Cookie", startCookieName+"="+raw)
		if ids := c.attempts(r); ids != nil {
			t.Fatalf("a forged cookie %q names %q", raw, ids)
		}
		w := httptest.NewRecorder()
		if err := c.add(w, r, "AAAAAAAAAAAAAAAAAAAAAAAAAA"); err != nil {
			t.Fatal(err)
		}
		r = httptest.NewRequest("GET", "/auth/magic", nil)
		for _, ck := range w.Result().Cookies() {
			r.AddCookie(ck)
		}
		if ids := c.attempts(r); len(ids) != 1 || ids[0] != "AAAAAAAAAAAAAAAAAAAAAAAAAA" {
			t.Fatalf("after a forged %q, the new cookie names %q", raw, ids)
		}
	})
}

// A route names a session only as sessions/<uuid> or
// sessions/<uuid>/revoke, exactly.
func FuzzSessionRoute(f *testing.F) {
	const id = "275c1bbf-53fc-88cd-bc25-b818aba8541d"
	for _, s := range []string{"sessions", "sessions/", "sessions/" + id, "sessions/" + id + "/revoke", "sessions/" + id + "/revoke/revoke",
		"sessions/x/revoke", "sessions/../" + id, "sessions/" + strings.ToUpper(id), "sessions/{" + id + "}", "sessions//revoke", "x/sessions/" + id} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, route string) {
		got, revoke, ok := sessionRoute(route)
		if !ok {
			return
		}
		want := "sessions/" + got
		if revoke {
			want += "/revoke"
		}
		if route != want || len(got) != 36 || strings.Trim(got, "0123456789abcdefABCDEF-") != "" {
			t.Fatalf("sessionRoute(%q) = %q, %v", route, got, revoke)
		}
	})
}
