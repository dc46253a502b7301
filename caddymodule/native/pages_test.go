package native

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/verify"
)

var nonceAttr = regexp.MustCompile(`<(script|style) nonce="([^"]+)">`)

func renderPage(t *testing.T, pg *pages, d pageData) (*httptest.ResponseRecorder, string) {
	t.Helper()
	w := httptest.NewRecorder()
	pg.render(w, http.StatusOK, d)
	return w, w.Body.String()
}

// Every inline script and style carries the nonce of its response, which
// the CSP names; nothing else inline may run.
func TestPageCSPNonce(t *testing.T) {
	pg, err := newPages(testEnv(t, map[string]verify.Sender{verify.ChannelEmail: verify.LogSender{}}, 10*time.Minute), PageConfig{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for range 2 {
		w, body := renderPage(t, pg, pageData{State: stateCode, Email: "a@example.com", AttemptID: "X"})
		csp := w.Header().Get("Content-Security-Policy")
		tags := nonceAttr.FindAllStringSubmatch(body, -1)
		if len(tags) != 2 || strings.Count(body, "<script") != 1 || strings.Count(body, "<style") != 1 {
			t.Fatalf("want one script and one style, each with a nonce: %v", tags)
		}
		nonce := tags[0][2]
		if tags[1][2] != nonce || seen[nonce] || len(nonce) < 16 {
			t.Fatalf("nonces %q %q: want one fresh nonce per response", tags[0][2], tags[1][2])
		}
		seen[nonce] = true
		want := "script-src 'nonce-" + nonce + "'; style-src 'nonce-" + nonce + "'"
		if !strings.Contains(csp, want) || strings.Contains(csp, "unsafe") || !strings.Contains(csp, "default-src 'none'") {
			t.Fatalf("CSP %q: want %q and nothing unsafe", csp, want)
		}
		// no-referrer would make browsers send "Origin: null" with the
		// page's own posts, which are then refused (TestBrowserSignIn).
		if rp := w.Header().Get("Referrer-Policy"); rp != "same-origin" {
			t.Fatalf("Referrer-Policy %q", rp)
		}
		if strings.Contains(body, " style=") || strings.Contains(body, " onclick=") {
			t.Fatal("inline style or handler attribute, which the CSP blocks")
		}
	}
}

// What each state and error shows.
func TestPageStates(t *testing.T) {
	email := map[string]verify.Sender{verify.ChannelEmail: verify.LogSender{}}
	both := map[string]verify.Sender{verify.ChannelEmail: verify.LogSender{}, verify.ChannelPhone: verify.LogSender{}}
	wrong := newAPIError(400, errInvalidCode, "x")
	wrong.Extra = map[string]any{"attempts_left": 3}
	limited := newAPIError(429, errRateLimited, "x")
	limited.Extra = map[string]any{"retry_after": 42}
	for _, tc := range []struct {
		name    string
		senders map[string]verify.Sender
		data    pageData
		want    []string
		notWant []string
	}{
		{"email only", email, pageData{State: stateEmail, RedirectTo: "/app"},
			[]string{`type="email"`, `autocomplete="email"`, "Email me a code", `<label for="email">`, `name="redirect_to" value="/app"`},
			[]string{`name="phone"`, "data-switch="}},
		{"email and phone", both, pageData{State: stateEmail},
			[]string{`type="email"`, `type="tel"`, `autocomplete="tel"`, `data-switch="email"`, `<label for="phone">`, "Text me a code"}, nil},
		{"phone error keeps the phone form chosen", both, pageData{State: stateEmail, Channel: "phone", Phone: "+44", Error: "bad"},
			[]string{`data-switch="phone"`, `aria-invalid="true"`, `role="alert">bad<`}, nil},
		{"phone only", map[string]verify.Sender{verify.ChannelPhone: verify.LogSender{}}, pageData{State: stateEmail},
			[]string{`type="tel"`, "We will text you"}, []string{`type="email"`}},
		{"no channel still shows a form", nil, pageData{State: stateEmail}, []string{`type="email"`}, nil},
		{"code by email", email, codePage("email", "a@example.com", "ATT", "/app", time.Now().Add(time.Minute).UnixMilli()),
			[]string{"Check your email", "a@example.com", `autocomplete="one-time-code"`, `inputmode="numeric"`, `data-length="6"`,
				"expires in 10 minutes", `id="resend"`, `data-resend-in="60"`, "Use a different address", `aria-live="polite"`,
				"and a sign-in link", "click the link in the email instead"}, nil},
		{"code by email with a link", email, pageData{State: stateCode, Email: "a@example.com", LinkSent: true},
			[]string{"and a sign-in link", "click the link in the email instead"}, nil},
		{"code by phone", both, codePage("phone", "+447946095800", "ATT", "/", 0),
			[]string{"Check your phone", "texted", `name="phone" value="&#43;447946095800"`, "Use a different number", `data-resend-in="0"`}, nil},
		{"wrong code", email, pageData{State: stateCode, Error: pageError(wrong)},
			[]string{"That code is not right. You have 3 tries left.", `aria-describedby="error"`}, nil},
		{"rate limited", email, pageData{State: stateEmail, Error: pageError(limited)}, []string{"Try again in 42 seconds."}, nil},
		{"signed in by phone", both, pageData{State: stateSignedIn, Phone: "+447946095800"}, []string{"Signed in as", "Sign out everywhere"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pg, err := newPages(testEnv(t, tc.senders, 10*time.Minute), PageConfig{})
			if err != nil {
				t.Fatal(err)
			}
			_, body := renderPage(t, pg, tc.data)
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %s", w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(body, w) {
					t.Errorf("page has %s", w)
				}
			}
			if t.Failed() {
				t.Log(body)
			}
		})
	}
}

func TestPageErrorText(t *testing.T) {
	withExtra := func(code, key string, v int) *apiError {
		e := newAPIError(400, code, "raw")
		e.Extra = map[string]any{key: v}
		return e
	}
	for _, tc := range []struct {
		err  *apiError
		want string
	}{
		{withExtra(errInvalidCode, "attempts_left", 1), "That code is not right. You have 1 try left."},
		{withExtra(errInvalidCode, "attempts_left", 4), "That code is not right. You have 4 tries left."},
		{newAPIError(404, errAttemptNotFound, "raw"), "This code has expired or was already used. Ask for a new one."},
		{newAPIError(429, errTooManyAttempts, "raw"), "Too many wrong codes. Ask for a new one."},
		{withExtra(errRateLimited, "retry_after", 1), "Too many requests. Try again in 1 second."},
		{withExtra(errRateLimited, "retry_after", 600), "Too many requests. Try again in 10 minutes."},
		{newAPIError(429, errRateLimited, "raw"), "Too many requests. Try again later."},
		{newAPIError(501, errChannelNotConfigured, "raw"), "Signing in this way is not available here."},
		{newAPIError(502, errDeliveryFailed, "raw"), "We could not send your code. Try again in a moment."},
		{newAPIError(400, errInvalidRequest, "that is not a valid email address"), "That is not a valid email address."},
	} {
		if got := pageError(tc.err); got != tc.want {
			t.Errorf("pageError(%s %v) = %q, want %q", tc.err.Code, tc.err.Extra, got, tc.want)
		}
	}
}

// Theme settings reach the page; a template file replaces it entirely.
func TestPageTheme(t *testing.T) {
	pg, err := newPages(testEnv(t, nil, 10*time.Minute), PageConfig{Title: "Acme <staff>", Logo: "/static/logo.svg", Color: "#0a7"})
	if err != nil {
		t.Fatal(err)
	}
	_, body := renderPage(t, pg, pageData{State: stateEmail})
	for _, want := range []string{"--accent: #0a7;", `src="/static/logo.svg"`, "<title>Acme &lt;staff&gt;</title>", `<h1 id="heading">Acme &lt;staff&gt;</h1>`} {
		if !strings.Contains(body, want) {
			t.Errorf("themed page lacks %s", want)
		}
	}
	if _, err := newPages(testEnv(t, nil, time.Minute), PageConfig{Color: "red;}*{x:y"}); err == nil {
		t.Error("a colour that breaks out of CSS was accepted from JSON config")
	}

	file := filepath.Join(t.TempDir(), "mine.html")
	os.WriteFile(file, []byte(`<p>{{.State}} {{.Title}} {{.Error}}</p><script nonce="{{.Nonce}}"></script>`), 0o600)
	pg, err = newPages(testEnv(t, nil, time.Minute), PageConfig{Template: file})
	if err != nil {
		t.Fatal(err)
	}
	w, body := renderPage(t, pg, pageData{State: stateCode, Error: "<b>x</b>"})
	if !strings.HasPrefix(body, "<p>code Sign in &lt;b&gt;x&lt;/b&gt;</p>") ||
		!strings.Contains(w.Header().Get("Content-Security-Policy"), "nonce-"+nonceAttr.FindStringSubmatch(body)[2]) {
		t.Fatalf("custom template: %s", body)
	}

	os.WriteFile(file, []byte(`{{.Nope`), 0o600)
	if _, err := newPages(testEnv(t, nil, time.Minute), PageConfig{Template: file}); err == nil || !strings.Contains(err.Error(), "page template") {
		t.Fatalf("broken template: %v", err)
	}
}

// Placeholders in the webhook secret and URL are replaced at provision;
// an unset or short secret stops the start.
