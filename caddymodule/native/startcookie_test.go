package native

import (
	"crypto/hkdf"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/securecookie"
)

// derived is a key for purpose from each secret, as the module derives
// them (HKDF-SHA256, "passgate <purpose> v1").
func derived(purpose string, secrets ...string) [][]byte {
	out := make([][]byte, len(secrets))
	for i, s := range secrets {
		out[i], _ = hkdf.Key(sha256.New, []byte(s), nil, "passgate "+purpose+" v1", 32)
	}
	return out
}

func testStartCookie(t testing.TB, secrets ...string) startCookie {
	t.Helper()
	return newStartCookie("/auth", false, 10*time.Minute,
		derived("start cookie hash", secrets...), derived("start cookie block", secrets...))
}

const (
	startSecret = "start-secret-0123456789abcdef-0123456789"
	otherSecret = "other-secret-0123456789abcdef-0123456789"
	attemptA    = "AAAAAAAAAAAAAAAAAAAAAAAAAA"
	attemptB    = "BBBBBBBBBBBBBBBBBBBBBBBBBB"
)

// startedIn returns the Set-Cookie of a /start for each id in turn, each
// sent back with the next, as a browser would.
func startedIn(t *testing.T, c startCookie, ids ...string) *http.Cookie {
	t.Helper()
	var ck *http.Cookie
	for _, id := range ids {
		r := httptest.NewRequest("POST", "/auth/start", nil)
		if ck != nil {
			r.AddCookie(ck)
		}
		w := httptest.NewRecorder()
		if err := c.add(w, r, id); err != nil {
			t.Fatal(err)
		}
		cookies := w.Result().Cookies()
		if len(cookies) != 1 {
			t.Fatalf("add set %d cookies", len(cookies))
		}
		ck = cookies[0]
	}
	return ck
}

// The decision of the link page, from the request's headers and cookie
// alone: it may sign in by itself only in the browser that started this
// attempt, or when a person opened the link from outside any site.
func TestAutoSignIn(t *testing.T) {
	p := &Door{startCookie: testStartCookie(t, startSecret)}
	mine := startedIn(t, p.startCookie, attemptA)
	otherAttempt := startedIn(t, p.startCookie, attemptB)
	many := startedIn(t, p.startCookie, attemptA, "CCCCCCCCCCCCCCCCCCCCCCCCCC", "DDDDDDDDDDDDDDDDDDDDDDDDDD", attemptB)
	pushedOut := startedIn(t, p.startCookie, attemptA, "CCCCCCCCCCCCCCCCCCCCCCCCCC", "DDDDDDDDDDDDDDDDDDDDDDDDDD", "EEEEEEEEEEEEEEEEEEEEEEEEEE", attemptB)
	otherServer := startedIn(t, testStartCookie(t, otherSecret), attemptA)
	// A value that the right keys sign but that names too many attempts.
	long, err := securecookie.EncodeMulti(startCookieName, []byte(strings.Repeat(attemptA+".", 4)+attemptA), p.startCookie.codecs...)
	if err != nil {
		t.Fatal(err)
	}
	// The session cookie's keys, under this cookie's name.
	session := securecookie.New(derived("cookie hash", startSecret)[0], derived("cookie block", startSecret)[0])
	session.SetSerializer(securecookie.NopEncoder{})
	sessionValue, err := securecookie.EncodeMulti(startCookieName, []byte(attemptA), session)
	if err != nil {
		t.Fatal(err)
	}
	named := func(v string) *http.Cookie { return &http.Cookie{Name: startCookieName, Value: v} }

	for _, tc := range []struct {
		name    string
		cookie  *http.Cookie
		headers []string
		want    bool
	}{
		{"nothing", nil, nil, false},
		{"mail program", nil, []string{"Sec-Fetch-Site", "none", "Sec-Fetch-User", "?1"}, true},
		{"browser-initiated, no user activation", nil, []string{"Sec-Fetch-Site", "none"}, false},
		{"user activation ?0", nil, []string{"Sec-Fetch-Site", "none", "Sec-Fetch-User", "?0"}, false},
		{"cross-site navigation", nil, []string{"Sec-Fetch-Site", "cross-site"}, false},
		{"cross-site click", nil, []string{"Sec-Fetch-Site", "cross-site", "Sec-Fetch-User", "?1"}, false},
		{"same-site click", nil, []string{"Sec-Fetch-Site", "same-site", "Sec-Fetch-User", "?1"}, false},
		{"same-origin click", nil, []string{"Sec-Fetch-Site", "same-origin", "Sec-Fetch-User", "?1"}, false},
		{"user without site", nil, []string{"Sec-Fetch-User", "?1"}, false},
		{"None", nil, []string{"Sec-Fetch-Site", "None", "Sec-Fetch-User", "?1"}, false},

		{"this browser started it", mine, nil, true},
		{"this browser, from webmail", mine, []string{"Sec-Fetch-Site", "cross-site", "Sec-Fetch-User", "?1"}, true},
		{"this browser, from an attacker's page", mine, []string{"Sec-Fetch-Site", "cross-site"}, true},
		{"two tabs: the first", many, nil, true},
		{"two tabs: the last", startedIn(t, p.startCookie, attemptA, attemptB), nil, true},
		{"pushed out by four newer", pushedOut, nil, false},
		{"another attempt's browser", otherAttempt, nil, false},
		{"another attempt's browser, cross-site", otherAttempt, []string{"Sec-Fetch-Site", "cross-site"}, false},
		{"another attempt's browser, mail program", otherAttempt, []string{"Sec-Fetch-Site", "none", "Sec-Fetch-User", "?1"}, true},
		{"another server's cookie", otherServer, nil, false},
		{"the bare attempt id", named(attemptA), nil, false},
		{"junk", named("MTc5NTMwMzc0M3xPSkNyT1QzZFN5MEhRR1JVaXliLXNNaVlD"), nil, false},
		{"too many attempts", named(long), nil, false},
		{"the session cookie's keys", named(sessionValue), nil, false},
		{"under another name", &http.Cookie{Name: "passgate_session", Value: mine.Value}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/auth/magic?token=x", nil)
			if tc.cookie != nil {
				r.AddCookie(&http.Cookie{Name: tc.cookie.Name, Value: tc.cookie.Value})
			}
			for i := 0; i+1 < len(tc.headers); i += 2 {
				r.Header.Set(tc.headers[i], tc.headers[i+1])
			}
			if got := p.autoSignIn(r, attemptA); got != tc.want {
				t.Fatalf("autoSignIn = %v, want %v", got, tc.want)
			}
		})
	}
}

// The cookie: HttpOnly, Lax, on base_path only, for as long as a code
// lives, Secure unless `cookie { insecure }`; it still decodes after the
// secret is rotated (new first, old kept to verify).
func TestStartCookieAttributes(t *testing.T) {
	ck := startedIn(t, testStartCookie(t, startSecret), attemptA)
	if ck.Name != "passgate_start" || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/auth" ||
		ck.MaxAge != 600 || !ck.Secure || ck.Domain != "" {
		t.Fatalf("cookie %s", ck)
	}
	if len(ck.Value) > 400 {
		t.Fatalf("cookie value of %d bytes for one attempt", len(ck.Value))
	}
	insecure := newStartCookie("/sign-in", true, 90*time.Second,
		derived("start cookie hash", startSecret), derived("start cookie block", startSecret))
	ck2 := startedIn(t, insecure, attemptA)
	if ck2.Secure || ck2.Path != "/sign-in" || ck2.MaxAge != 90 {
		t.Fatalf("insecure cookie %s", ck2)
	}

	rotated := testStartCookie(t, otherSecret, startSecret)
	r := httptest.NewRequest("GET", "/auth/magic", nil)
	r.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	if !rotated.names(r, attemptA) {
		t.Fatal("a cookie made before the secret rotated no longer names its attempt")
	}
}
