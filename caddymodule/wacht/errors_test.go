package wacht_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/internal/clock"
)

// wantError checks an error answer: the status and Wacht's code, in the
// envelope every answer has (status mirrored, data null, errors[0] with a
// code and a message, which is what the client shows).
func wantError(t *testing.T, what string, a answer, status int, code string) {
	t.Helper()
	if a.status != status || a.code() != code {
		t.Fatalf("%s: %d %q, want %d %q: %s", what, a.status, a.code(), status, code, a.body)
	}
	if !strings.HasPrefix(a.header.Get("Content-Type"), "application/json") || a.env.Status != status ||
		a.env.Message == "" || a.env.Errors[0].Message == "" || string(a.env.Data) != "null" {
		t.Fatalf("%s: not Wacht's error envelope: %s", what, a.body)
	}
}

func urlencoded(v url.Values) (string, *strings.Reader) {
	return "application/x-www-form-urlencoded", strings.NewReader(v.Encode())
}

// Every error a client tells apart, in Wacht's envelope and codes: bad
// input in each body form, strategies, unknown and foreign attempts,
// missing and wrong codes, burned, used and expired attempts, rate
// limits, the cross-site rule, routes and methods.
func TestErrors(t *testing.T) {
	s := startSite(t, siteOptions{})
	b := s.browser()
	signin := func(fields ...string) answer { ct, body := form(fields...); return b.post("/auth/signin", ct, body) }

	t.Run("bodies", func(t *testing.T) {
		wantError(t, "no strategy", signin("email", "a@example.com"), 400, "VERIFICATION_STRATEGY_REQUIRED")
		wantError(t, "a password strategy", signin("strategy", "plain_email", "email", "a@example.com", "password", "x"), 400, "BAD_REQUEST_BODY")
		wantError(t, "no email", signin("strategy", "email_otp"), 400, "REQUIRED_FIELD")
		wantError(t, "no phone", signin("strategy", "phone_otp", "email", "a@example.com"), 400, "REQUIRED_FIELD")
		wantError(t, "not an email", signin("strategy", "email_otp", "email", "not an address"), 400, "BAD_REQUEST_BODY")
		wantError(t, "not a phone number", signin("strategy", "phone_otp", "phone", "12345"), 400, "BAD_REQUEST_BODY")
		wantError(t, "text/plain", b.post("/auth/signin", "text/plain", strings.NewReader("strategy=email_otp")), 415, "BAD_REQUEST_BODY")
		wantError(t, "no content type", b.post("/auth/signin", "", strings.NewReader(`{"strategy":"email_otp"}`)), 415, "BAD_REQUEST_BODY")
		ct, body := jsonBody(map[string]string{"strategy": "email_otp", "email": strings.Repeat("a", 20000) + "@example.com"})
		wantError(t, "oversized", b.post("/auth/signin", ct, body), 413, "BAD_REQUEST_BODY")
		ct, body = form("strategy", "email_otp", "email", strings.Repeat("a", 20000)+"@example.com")
		wantError(t, "oversized FormData", b.post("/auth/signin", ct, body), 413, "BAD_REQUEST_BODY")
		wantError(t, "malformed JSON", b.post("/auth/signin", "application/json", strings.NewReader(`{"strategy":`)), 400, "BAD_REQUEST_BODY")
		wantError(t, "JSON array", b.post("/auth/signin", "application/json", strings.NewReader(`["email_otp"]`)), 400, "BAD_REQUEST_BODY")
		wantError(t, "JSON key twice", b.post("/auth/signin", "application/json",
			strings.NewReader(`{"strategy":"email_otp","email":"a@example.com","Email":"b@example.com"}`)), 400, "BAD_REQUEST_BODY")
		wantError(t, "JSON non-string", b.post("/auth/signin", "application/json", strings.NewReader(`{"strategy":true}`)), 400, "BAD_REQUEST_BODY")
		ct, ub := urlencoded(url.Values{"strategy": {"email_otp"}, "email": {"a@example.com", "b@example.com"}})
		wantError(t, "form field twice", b.post("/auth/signin", ct, ub), 400, "BAD_REQUEST_BODY")
		ct, body = form("strategy", "email_otp", "email", "a@example.com", "email", "b@example.com")
		wantError(t, "FormData field twice", b.post("/auth/signin", ct, body), 400, "BAD_REQUEST_BODY")
		wantError(t, "a file", b.post("/auth/signin", "multipart/form-data; boundary=x",
			strings.NewReader("--x\r\nContent-Disposition: form-data; name=\"email\"; filename=\"a.txt\"\r\n\r\na@example.com\r\n--x--\r\n")), 400, "BAD_REQUEST_BODY")
		wantError(t, "not UTF-8", signin("strategy", "email_otp", "email", "a\xff@example.com"), 400, "BAD_REQUEST_BODY")
	})

	t.Run("routes and the cross-site rule", func(t *testing.T) {
		a := b.get("/auth/signin")
		wantError(t, "GET a POST route", a, 405, "METHOD_NOT_ALLOWED")
		if a.header.Get("Allow") != "POST" {
			t.Fatalf("Allow %q", a.header.Get("Allow"))
		}
		wantError(t, "POST a GET route", b.post("/session", "", nil), 405, "METHOD_NOT_ALLOWED")
		wantError(t, "unknown route", b.get("/auth/identify"), 404, "NOT_FOUND")
		ct, body := form("strategy", "email_otp", "email", "a@example.com")
		wantError(t, "another site's page", b.post("/auth/signin", ct, body, "Origin", "https://evil.example"), 403, "FORBIDDEN")
		ct, body = form("strategy", "email_otp", "email", "a@example.com")
		other := s.browser()
		other.origin = ""
		wantError(t, "cross-site by Sec-Fetch-Site", other.post("/auth/signin", ct, body, "Sec-Fetch-Site", "cross-site"), 403, "FORBIDDEN")
		wantError(t, "sign-out from another site", b.post("/session/sign-out", "", nil, "Origin", "https://evil.example"), 403, "FORBIDDEN")
	})

	t.Run("attempts and codes", func(t *testing.T) {
		email := "errors@example.com"
		a := signin("strategy", "email_otp", "email", email)
		if a.status != 200 {
			t.Fatalf("signin: %d %s", a.status, a.body)
		}
		id := lastAttempt(t, a)["id"].(string)
		verify := func(id, code string) answer { return b.verifyCode(id, code) }
		wantError(t, "verified before a code was sent", verify(id, "123456"), 400, "BAD_SIGN_IN_ATTEMPT")
		prep := func(q string) answer { return b.post("/auth/prepare-verification?"+q, "", nil) }
		wantError(t, "prepare without an id", prep("strategy=email_otp"), 400, "REQUIRED_FIELD")
		wantError(t, "prepare an unknown id", prep("attempt_identifier=123&strategy=email_otp"), 400, "BAD_SIGN_IN_ATTEMPT")
		wantError(t, "prepare a malformed id", prep("attempt_identifier=abc&strategy=email_otp"), 400, "BAD_SIGN_IN_ATTEMPT")
		wantError(t, "prepare a sign-in as a sign-up", prep("attempt_identifier="+id+"&identifier_type=signup"), 400, "BAD_SIGN_IN_ATTEMPT")
		wantError(t, "bad identifier_type", prep("attempt_identifier="+id+"&identifier_type=both"), 400, "BAD_REQUEST_BODY")
		wantError(t, "a phone strategy for an email", prep("attempt_identifier="+id+"&strategy=phone_otp"), 400, "VERIFICATION_STRATEGY_REQUIRED")
		wantError(t, "an unknown strategy", prep("attempt_identifier="+id+"&strategy=passkey"), 400, "VERIFICATION_STRATEGY_REQUIRED")
		ct, body := jsonBody(map[string]string{"signin_attempt_id": id, "method": "fax"})
		wantError(t, "an unknown method", b.post("/auth/prepare-verification", ct, body), 400, "BAD_REQUEST_BODY")
		if a := prep("attempt_identifier=" + id + "&strategy=email_otp&identifier_type=signin"); a.status != 200 {
			t.Fatalf("prepare: %d %s", a.status, a.body)
		}
		code := s.message(email, 0)["code"].(string)
		limited := prep("attempt_identifier=" + id + "&strategy=email_otp")
		wantError(t, "a resend within the cooldown", limited, 429, "RATE_LIMITED")
		if ra := limited.header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Fatalf("Retry-After %q", ra)
		}

		wantError(t, "no code", verify(id, ""), 400, "CODE_REQUIRED")
		wantError(t, "an id this browser never saw", s.browser().verifyCode(id, code), 400, "BAD_SIGN_IN_ATTEMPT")
		ct, body = jsonBody(map[string]string{"signin_attempt_id": id, "signup_attempt_id": id, "code": code})
		wantError(t, "both ids", b.post("/auth/attempt-verification", ct, body), 400, "BAD_REQUEST_BODY")
		ct, body = jsonBody(map[string]string{"code": code})
		wantError(t, "no id", b.post("/auth/attempt-verification", ct, body), 400, "REQUIRED_FIELD")
		w := verify(id, wrong(code))
		wantError(t, "a wrong code", w, 400, "INVALID_CODE")
		if !strings.Contains(w.env.Errors[0].Message, "4 tries left") {
			t.Fatalf("wrong code message %q", w.env.Errors[0].Message)
		}
		ok := verify(id, code[:3]+" "+code[3:]) // pasted with a space
		if ok.status != 200 {
			t.Fatalf("the right code: %d %s", ok.status, ok.body)
		}
		wantError(t, "the code again", verify(id, code), 400, "BAD_SIGN_IN_ATTEMPT")
		wantError(t, "signing in again while signed in", signin("strategy", "email_otp", "email", email), 400, "USER_ALREADY_SIGNED_IN")
		wantError(t, "sign out of another sign-in", b.post("/session/sign-out?sign_in_id=123", "", nil), 400, "INVALID_STATE")
		wantError(t, "an unknown token template", b.get("/session/token?template=supabase"), 404, "NOT_FOUND")
		if a := b.post("/session/sign-out", "", nil); a.status != 200 {
			t.Fatalf("sign-out: %d %s", a.status, a.body)
		}
		wantError(t, "/me signed out", b.get("/me"), 401, "INVALID_STATE")
		wantError(t, "/session/token signed out", b.get("/session/token"), 401, "INVALID_STATE")
	})

	t.Run("burned", func(t *testing.T) {
		email := "burned@example.com"
		id := b.signInStart("email_otp", "email", email)
		code := s.message(email, 0)["code"].(string)
		for i := 1; i < 5; i++ {
			wantError(t, "a wrong code", b.verifyCode(id, wrong(code)), 400, "INVALID_CODE")
		}
		wantError(t, "the fifth wrong code", b.verifyCode(id, wrong(code)), 400, "BAD_SIGN_IN_ATTEMPT")
		wantError(t, "the right code after", b.verifyCode(id, code), 400, "BAD_SIGN_IN_ATTEMPT")
	})

	t.Run("expired", func(t *testing.T) {
		email := "expired@example.com"
		id := b.signInStart("email_otp", "email", email)
		code := s.message(email, 0)["code"].(string)
		clock.Advance(10*time.Minute + time.Second)
		wantError(t, "a code past its time", b.verifyCode(id, code), 400, "verification_code_expired")
	})
}

func lastAttempt(t *testing.T, a answer) map[string]any {
	t.Helper()
	list, _ := a.data(t)["signin_attempts"].([]any)
	if len(list) == 0 {
		t.Fatalf("no signin_attempts: %s", a.body)
	}
	return list[len(list)-1].(map[string]any)
}

// wrong is a code of the same length that differs in every digit.
func wrong(code string) string {
	return strings.Map(func(r rune) rune { return '0' + (r-'0'+5)%10 }, code)
}

// A phone strategy without an SMS delivery is refused, and the deployment
// says which factors there are.
func TestChannels(t *testing.T) {
	s := startSite(t, siteOptions{noSMS: true})
	b := s.browser()
	ct, body := form("strategy", "phone_otp", "phone", "+44 20 7946 0958")
	wantError(t, "phone without sms", b.post("/auth/signin", ct, body), 400, "PROVIDER_NOT_CONFIGURED")
	a := b.get("/deployment")
	var dep struct {
		Mode         string
		AuthSettings struct {
			FirstFactor        string          `json:"first_factor"`
			AuthFactorsEnabled map[string]bool `json:"auth_factors_enabled"`
			Alternates         []string        `json:"alternate_first_factors"`
		} `json:"auth_settings"`
		PublishableKey string `json:"publishable_key"`
		BackendHost    string `json:"backend_host"`
	}
	if err := json.Unmarshal(a.env.Data, &dep); err != nil || a.status != 200 {
		t.Fatalf("deployment: %d %s", a.status, a.body)
	}
	f := dep.AuthSettings.AuthFactorsEnabled
	if dep.Mode != "production" || dep.AuthSettings.FirstFactor != "email_otp" || !f["email_otp"] || !f["email_magic_link"] || f["phone_otp"] ||
		len(dep.AuthSettings.Alternates) != 1 || dep.AuthSettings.Alternates[0] != "email_magic_link" {
		t.Fatalf("deployment without sms: %s", a.env.Data)
	}
	if dep.BackendHost != s.api || dep.PublishableKey != "pk_live_"+b64(s.api) {
		t.Fatalf("backend_host %q, publishable_key %q", dep.BackendHost, dep.PublishableKey)
	}

	s2 := startSite(t, siteOptions{})
	a = s2.browser().get("/deployment")
	json.Unmarshal(a.env.Data, &dep)
	if f := dep.AuthSettings.AuthFactorsEnabled; !f["phone_otp"] || !f["email_otp"] {
		t.Fatalf("deployment with sms: %s", a.env.Data)
	}
}

var _ = http.StatusOK
