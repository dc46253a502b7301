package caddymodule

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/passgate/caddy-passgate/verify"
)

func TestSMSAndPageCaddyfile(t *testing.T) {
	p, err := parse(`passgate {
		sms webhook https://sms.internal/send {
			secret {env.SMS_SECRET}
			timeout 3s
			retries 0
		}
		page {
			title "Acme staff"
			logo data:image/png;base64,iVBORw0KGgo=
			color "#0a7"
		}
	}`)
	if err != nil {
		t.Fatal(err)
	}
	if p.SMS.URL != "https://sms.internal/send" || p.SMS.Secret != "{env.SMS_SECRET}" ||
		p.SMS.Timeout != 3_000_000_000 || p.SMS.Retries == nil || *p.SMS.Retries != 0 {
		t.Fatalf("sms %+v", p.SMS)
	}
	if p.Page != (PageConfig{Title: "Acme staff", Logo: "data:image/png;base64,iVBORw0KGgo=", Color: "#0a7"}) {
		t.Fatalf("page %+v", p.Page)
	}
	if p, err = parse("passgate {\n\tsms log\n}"); err != nil || p.SMS.Delivery != "log" {
		t.Fatalf("sms log: %+v %v", p.SMS, err)
	}
}

func TestSMSAndPageCaddyfileErrors(t *testing.T) {
	wantParseErrors(t, []parseErrorCase{
		{"unknown sms delivery", "passgate {\n\tsms pigeon\n}", 2, "unknown delivery"},
		{"sms webhook without url", "passgate {\n\tsms webhook\n}", 2, "URL is required"},
		{"sms webhook bad url", "passgate {\n\tsms webhook ftp://x {\n\t\tsecret 0123456789abcdefgh\n\t}\n}", 2, "http:// or https://"},
		{"sms webhook without secret", "passgate {\n\tsms webhook https://x/y {\n\t\ttimeout 1s\n\t}\n}", 4, "secret is required"},
		{"sms webhook short secret", "passgate {\n\tsms webhook https://x/y {\n\t\tsecret short\n\t}\n}", 3, "at least 16"},
		{"sms webhook bad retries", "passgate {\n\tsms webhook https://x/y {\n\t\tretries many\n\t}\n}", 3, "retries"},
		{"sms webhook unknown option", "passgate {\n\tsms webhook https://x/y {\n\t\tmethod PUT\n\t}\n}", 3, "unknown sms webhook option"},
		{"sms log with options", "passgate {\n\tsms log {\n\t\tsecret x\n\t}\n}", 3, "no options"},
		{"colour breaking out of CSS", "passgate {\n\tpage {\n\t\tcolor \"red;}body{display:none\"\n\t}\n}", 3, "colour"},
		{"colour with url()", "passgate {\n\tpage {\n\t\tcolor url(//evil.example/x)\n\t}\n}", 3, "colour"},
		{"colour with a closing tag", "passgate {\n\tpage {\n\t\tcolor </style>\n\t}\n}", 3, "colour"},
		{"javascript logo", "passgate {\n\tpage {\n\t\tlogo javascript:alert(1)\n\t}\n}", 3, "logo"},
		{"logo on another site", "passgate {\n\tpage {\n\t\tlogo //evil.example/x.png\n\t}\n}", 3, "logo"},
		{"html data logo", "passgate {\n\tpage {\n\t\tlogo data:text/html;base64,PHNjcmlwdD4=\n\t}\n}", 3, "logo"},
		{"logo with a quote", "passgate {\n\tpage {\n\t\tlogo \"/x\\\"onerror=alert(1)\"\n\t}\n}", 3, "logo"},
		{"missing template", "passgate {\n\tpage {\n\t\ttemplate /nonexistent/login.html\n\t}\n}", 3, "page template"},
		{"unquoted hex colour", "passgate {\n\tpage {\n\t\tcolor #0a7\n\t}\n}", 3, "quote hex colours"},
		{"unknown page option", "passgate {\n\tpage {\n\t\tfont Comic\n\t}\n}", 3, "unknown page option"},
		{"blank title", "passgate {\n\tpage {\n\t\ttitle \" \"\n\t}\n}", 3, "page title: 1 to 100 characters"},
		{"long title", "passgate {\n\tpage {\n\t\ttitle " + strings.Repeat("x", 101) + "\n\t}\n}", 3, "page title: 1 to 100 characters"},
	})
}

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
	pg, err := newPages("/auth", PageConfig{}, map[string]verify.Sender{verify.ChannelEmail: verify.LogSender{}}, 6, 10*time.Minute)
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
			pg, err := newPages("/auth", PageConfig{}, tc.senders, 6, 10*time.Minute)
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
	pg, err := newPages("/auth", PageConfig{Title: "Acme <staff>", Logo: "/static/logo.svg", Color: "#0a7"}, nil, 6, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, body := renderPage(t, pg, pageData{State: stateEmail})
	for _, want := range []string{"--accent: #0a7;", `src="/static/logo.svg"`, "<title>Acme &lt;staff&gt;</title>", `<h1 id="heading">Acme &lt;staff&gt;</h1>`} {
		if !strings.Contains(body, want) {
			t.Errorf("themed page lacks %s", want)
		}
	}
	if _, err := newPages("/auth", PageConfig{Color: "red;}*{x:y"}, nil, 6, time.Minute); err == nil {
		t.Error("a colour that breaks out of CSS was accepted from JSON config")
	}

	file := filepath.Join(t.TempDir(), "mine.html")
	os.WriteFile(file, []byte(`<p>{{.State}} {{.Title}} {{.Error}}</p><script nonce="{{.Nonce}}"></script>`), 0o600)
	pg, err = newPages("/auth", PageConfig{Template: file}, nil, 6, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	w, body := renderPage(t, pg, pageData{State: stateCode, Error: "<b>x</b>"})
	if !strings.HasPrefix(body, "<p>code Sign in &lt;b&gt;x&lt;/b&gt;</p>") ||
		!strings.Contains(w.Header().Get("Content-Security-Policy"), "nonce-"+nonceAttr.FindStringSubmatch(body)[2]) {
		t.Fatalf("custom template: %s", body)
	}

	os.WriteFile(file, []byte(`{{.Nope`), 0o600)
	if _, err := newPages("/auth", PageConfig{Template: file}, nil, 6, time.Minute); err == nil || !strings.Contains(err.Error(), "page template") {
		t.Fatalf("broken template: %v", err)
	}
}

// Placeholders in the webhook secret and URL are replaced at provision;
// an unset or short secret stops the start.
func TestSMSWebhookProvision(t *testing.T) {
	t.Setenv("PASSGATE_TEST_SMS_SHORT", "short")
	t.Setenv("PASSGATE_TEST_SMS_OK", "0123456789abcdef0123")
	t.Setenv("PASSGATE_TEST_SMS_URL", "https://sms.internal/x")
	for _, tc := range []struct {
		name, url, secret, wantErr string
	}{
		{"placeholders", "{env.PASSGATE_TEST_SMS_URL}", "{env.PASSGATE_TEST_SMS_OK}", ""},
		{"unset url", "{env.PASSGATE_TEST_SMS_URL_UNSET}", "{env.PASSGATE_TEST_SMS_OK}", "sms webhook URL"},
		{"unset secret", "https://sms.internal/x", "{env.PASSGATE_TEST_SMS_UNSET}", "sms webhook secret"},
		{"short secret", "https://sms.internal/x", "{env.PASSGATE_TEST_SMS_SHORT}", "at least 16"},
		{"bad url after replacement", "{env.PASSGATE_TEST_SMS_SHORT}", "{env.PASSGATE_TEST_SMS_OK}", "http:// or https://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Passgate{SMS: &SMSConfig{Delivery: "webhook", URL: tc.url, Secret: tc.secret}}
			p.logger = zap.NewNop()
			s, err := p.smsSender()
			if tc.wantErr == "" {
				w, ok := s.(*verify.WebhookSender)
				if err != nil || !ok || w.URL != "https://sms.internal/x" || string(w.Secret) != "0123456789abcdef0123" ||
					w.Retries != verify.DefaultWebhookRetries || w.Timeout != verify.DefaultWebhookTimeout {
					t.Fatalf("sender %+v, %v", s, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "0123456789abcdef") {
				t.Fatalf("error %q quotes the secret", err)
			}
		})
	}
}
