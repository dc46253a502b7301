package wacht_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/internal/clock"
	"github.com/passgate/caddy-passgate/internal/testenv"
)

// setCookie returns the Set-Cookie of that name in an answer, or nil.
func setCookie(a answer, name string) *http.Cookie {
	for _, line := range a.header.Values("Set-Cookie") {
		if c, err := http.ParseSetCookie(line); err == nil && c.Name == name {
			return c
		}
	}
	return nil
}

// The seed document's own request, as Wacht's docs show it: JSON bodies,
// {"signin_attempt_id","code"} answered with the envelope and an HttpOnly,
// Secure __session cookie. The request and the answer are logged (go test
// -v) for the closing note.
func TestSeedRequest(t *testing.T) {
	s := startSite(t, siteOptions{secure: true})
	b := s.browser()
	email := "seed@example.com"
	ct, body := jsonBody(map[string]string{"strategy": "email_otp", "email": email})
	a := b.post("/auth/signin", ct, body)
	if a.status != 200 {
		t.Fatalf("signin: %d %s", a.status, a.body)
	}
	id := lastAttempt(t, a)["id"].(string)
	ct, body = jsonBody(map[string]string{"signin_attempt_id": id, "method": "email"})
	if a := b.post("/auth/prepare-verification", ct, body); a.status != 200 || a.data(t)["masked_email"] != "s•••@example.com" {
		t.Fatalf("prepare: %d %s", a.status, a.body)
	}
	code := s.message(email, 0)["code"].(string)

	request := `{"signin_attempt_id":"` + id + `","code":"` + code + `"}`
	a = b.post("/auth/attempt-verification", "application/json", strings.NewReader(request))
	var cookies []string
	for _, line := range a.header.Values("Set-Cookie") {
		name, rest, _ := strings.Cut(line, "=")
		_, attrs, _ := strings.Cut(rest, ";")
		cookies = append(cookies, name+"=<value>;"+attrs) // never a cookie's value in a log
	}
	t.Logf("POST /wacht/auth/attempt-verification %s\n-> %d\nSet-Cookie: %s\n%s", request, a.status,
		strings.Join(cookies, "\nSet-Cookie: "), a.body)
	if a.status != 200 {
		t.Fatalf("the seed's request: %d %s", a.status, a.body)
	}
	var env struct {
		Status  int             `json:"status"`
		Message *string         `json:"message"`
		Data    json.RawMessage `json:"data"`
		Session json.RawMessage `json:"session"`
		Errors  []any           `json:"errors"`
	}
	if err := json.Unmarshal(a.body, &env); err != nil || env.Status != 200 || env.Message == nil || *env.Message != "" ||
		env.Errors == nil || len(env.Errors) != 0 || string(env.Data) != string(env.Session) {
		t.Fatalf("envelope: %s", a.body)
	}
	var sess struct {
		ID           string `json:"id"`
		ActiveSignIn *struct {
			ID     string `json:"id"`
			UserID string `json:"user_id"`
			User   struct {
				ID                  string                 `json:"id"`
				PrimaryEmailAddress struct{ Email string } `json:"primary_email_address"`
			}
		} `json:"active_signin"`
		SignIns        []struct{ ID string } `json:"signins"`
		SignInAttempts []struct {
			ID          string  `json:"id"`
			Completed   bool    `json:"completed"`
			UserID      *string `json:"user_id"`
			Method      string  `json:"method"`
			CurrentStep string  `json:"current_step"`
			CreatedAt   string  `json:"created_at"`
		} `json:"signin_attempts"`
		SignUpAttempts []any `json:"signup_attempts"`
	}
	if err := json.Unmarshal(env.Data, &sess); err != nil {
		t.Fatal(err)
	}
	at := sess.SignInAttempts[len(sess.SignInAttempts)-1]
	as := sess.ActiveSignIn
	if sess.ID == "" || as == nil || as.User.PrimaryEmailAddress.Email != email || as.UserID != as.User.ID ||
		len(sess.SignIns) != 1 || sess.SignIns[0].ID != as.ID || at.ID != id || !at.Completed ||
		at.UserID == nil || *at.UserID != as.UserID || at.Method != "email_otp" || at.CurrentStep != "verify_email_otp" ||
		at.CreatedAt == "" || sess.SignUpAttempts == nil {
		t.Fatalf("session: %s", env.Data)
	}
	c := setCookie(a, "__session")
	if c == nil || !c.HttpOnly || !c.Secure || c.Path != "/" || c.SameSite != http.SameSiteLaxMode || c.MaxAge <= 0 {
		t.Fatalf("__session: %+v", c)
	}
}

// Before completion an attempt names no user (it would say whether the
// address has an account), and every address gets the same answer.
func TestNoEnumeration(t *testing.T) {
	s := startSite(t, siteOptions{})
	known := s.browser()
	known.signIn("known@example.com")
	known.post("/session/sign-out", "", nil)
	clock.Advance(11 * time.Second) // the resend cooldown

	shapes := map[string]string{}
	for _, email := range []string{"known@example.com", "new@example.com", "nobody@elsewhere.example"} {
		b := s.browser()
		ct, body := form("strategy", "email_otp", "email", email)
		a := b.post("/auth/signin", ct, body)
		at := lastAttempt(t, a)
		if a.status != 200 || at["user_id"] != nil {
			t.Fatalf("%s: %d %s", email, a.status, a.body)
		}
		prep := b.post("/auth/prepare-verification?attempt_identifier="+at["id"].(string)+"&strategy=email_otp&identifier_type=signin", "", nil)
		if prep.status != 200 {
			t.Fatalf("%s: prepare %d %s", email, prep.status, prep.body)
		}
		var keys []string
		for k := range at {
			keys = append(keys, k)
		}
		shapes[email] = strings.Join(sortStrings(keys), ",") + " " + at["current_step"].(string) + " " + strings.Join(sortStrings(mapKeys(prep.data(t))), ",")
	}
	if shapes["known@example.com"] != shapes["new@example.com"] || shapes["new@example.com"] != shapes["nobody@elsewhere.example"] {
		t.Fatalf("answers differ: %v", shapes)
	}
	if s.count("nobody@elsewhere.example") != 0 {
		t.Fatal("a code went to an address that may not sign in")
	}
}

// Sign-up by the documented JSON: the attempt is a signup_attempt; an
// address that already has an account is not told apart, and its code
// signs that account in.
func TestSignUp(t *testing.T) {
	s := startSite(t, siteOptions{})
	first := s.browser()
	userID := first.signIn("member@example.com")
	first.post("/session/sign-out", "", nil)
	clock.Advance(11 * time.Second) // the resend cooldown

	b := s.browser()
	ct, body := jsonBody(map[string]string{"email": "member@example.com", "first_name": "Mem", "password": "ignored"})
	a := b.post("/auth/signup", ct, body)
	if a.status != 200 {
		t.Fatalf("signup: %d %s", a.status, a.body)
	}
	ups := a.data(t)["signup_attempts"].([]any)
	at := ups[len(ups)-1].(map[string]any)
	if at["current_step"] != "verify_email" || at["completed"] != false || at["password"] != nil {
		t.Fatalf("signup attempt %v", at)
	}
	id := at["id"].(string)
	ct, body = jsonBody(map[string]string{"signup_attempt_id": id})
	if a := b.post("/auth/prepare-verification", ct, body); a.status != 200 {
		t.Fatalf("prepare: %d %s", a.status, a.body)
	}
	ct, body = jsonBody(map[string]string{"signup_attempt_id": id, "code": s.message("member@example.com", 1)["code"].(string)})
	a = b.post("/auth/attempt-verification", ct, body)
	if a.status != 200 || a.data(t)["active_signin"].(map[string]any)["user_id"] != userID {
		t.Fatalf("verify: %d %s", a.status, a.body)
	}
	ups = a.data(t)["signup_attempts"].([]any)
	if ups[len(ups)-1].(map[string]any)["completed"] != true {
		t.Fatalf("signup attempt not completed: %s", a.body)
	}

	// By phone, in FormData, as the client sends it.
	p := s.browser()
	ct, fb := form("phone_number", "+44 20 7946 0001", "first_name", "Pho")
	a = p.post("/auth/signup", ct, fb)
	ups = a.data(t)["signup_attempts"].([]any)
	at = ups[len(ups)-1].(map[string]any)
	if a.status != 200 || at["current_step"] != "verify_phone" || at["phone_number"] != "+442079460001" {
		t.Fatalf("phone signup: %d %s", a.status, a.body)
	}
}

// The store out of reach: 503 with Retry-After in the envelope, never a
// 500 and never a "no"; back when it is.
func TestStoreDown(t *testing.T) {
	rs := testenv.StartRedis(t)
	s := startSite(t, siteOptions{store: "store redis " + rs.URL() + " {\n prefix wachttest:\n timeout 500ms\n}"})
	b := s.browser()
	b.signIn("down@example.com")
	rs.Stop()
	for name, a := range map[string]answer{
		"session": b.get("/session"),
		"me":      b.get("/me"),
		"token":   b.get("/session/token"),
	} {
		wantError(t, name, a, 503, "INTERNAL")
		if a.header.Get("Retry-After") == "" {
			t.Fatalf("%s: no Retry-After", name)
		}
	}
	// A new attempt needs no store (it is the browser's); sending its code does.
	c := s.browser()
	ct, body := form("strategy", "email_otp", "email", "down2@example.com")
	a := c.post("/auth/signin", ct, body)
	if a.status != 200 {
		t.Fatalf("signin: %d %s", a.status, a.body)
	}
	prep := c.post("/auth/prepare-verification?attempt_identifier="+lastAttempt(t, a)["id"].(string), "", nil)
	wantError(t, "prepare", prep, 503, "INTERNAL")
	wantError(t, "sign-out", b.post("/session/sign-out", "", nil), 503, "INTERNAL")
	rs.Start()
	if a := b.get("/me"); a.status != 200 {
		t.Fatalf("/me with the store back: %d %s", a.status, a.body)
	}
}

func mapKeys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func sortStrings(s []string) []string {
	slices.Sort(s)
	return s
}
