package caddymodule_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/internal/clock"
	"github.com/passgate/caddy-passgate/internal/testenv"
)

// Signing in by phone through Caddy: the code comes from the SMS gateway,
// the upstream gets X-Auth-Phone.
func TestPhoneSignInByWebhook(t *testing.T) {
	sms := testenv.StartSMSGateway(t)
	t.Setenv("PASSGATE_TEST_SMS_SECRET", testenv.SMSSecret) // the secret from a placeholder, as in production
	g := testenv.StartGateway(t, testenv.WithSMSSecret(sms, "{env.PASSGATE_TEST_SMS_SECRET}", ""))
	c := g.NewClient()

	r := c.Do("POST", "/auth/start", map[string]any{"phone": "+44 (7946) 095-800", "redirect_to": "/app/x"})
	if r.Status != 200 || r.JSON(t)["channel"] != "phone" {
		t.Fatalf("start by phone: %d %s", r.Status, r.Body)
	}
	attempt := r.JSON(t)["attempt_id"].(string)
	code := sms.CodeFor("+447946095800")
	msg := sms.Messages()[0]
	if msg["message"] != "Your sign-in code is "+code+". It expires in 10 minutes." || msg["expires_at"] == nil {
		t.Fatalf("SMS body %v", msg)
	}

	// The code is bound to the number it was sent to.
	r = c.Do("POST", "/auth/verify", map[string]any{"attempt_id": attempt, "code": code, "phone": "+447946095801"})
	if r.Status != 400 || r.JSON(t)["error"] != "invalid_code" {
		t.Fatalf("verify with another number: %d %s", r.Status, r.Body)
	}
	r = c.Do("POST", "/auth/verify", map[string]any{"attempt_id": attempt, "code": code, "phone": "+44 7946 095800"})
	if r.Status != 200 {
		t.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	user := r.JSON(t)["user"].(map[string]any)
	if user["phone"] != "+447946095800" || user["email"] != nil || r.JSON(t)["redirect_to"] != "/app/x" {
		t.Fatalf("verify answer %s", r.Body)
	}
	h := testenv.Echoed(t, c.Do("GET", "/app/x", nil))
	if h.Get("X-Auth-Phone") != "+447946095800" || h.Get("X-Auth-Email") != "" || h.Get("X-Auth-Roles") != "texters" {
		t.Fatalf("upstream headers %v", h)
	}
	if r := c.Do("GET", "/auth/login", nil); !strings.Contains(string(r.Body), "&#43;447946095800") {
		t.Fatalf("login page when signed in by phone does not name the number: %s", r.Body)
	}
	if g.LogHas(code) {
		t.Fatal("the code delivered by webhook appears in Caddy's log")
	}
}

// "+44 (0)20 7946 0958", as many people in the UK write it, is the same
// user as "+44 20 7946 0958": the trunk 0 is dropped, and the SMS gateway,
// the rate limits, the allow and role globs and the upstream all see the
// E.164 form.
func TestPhoneTrunkPrefixIsOneUser(t *testing.T) {
	const e164 = "+442079460958"
	sms := testenv.StartSMSGateway(t)
	g := testenv.StartGateway(t, testenv.WithExtra(fmt.Sprintf("sms webhook %s {\n secret %s\n}\nallow phone +4420*\nrole london phone +4420*",
		sms.URL(), testenv.SMSSecret)))

	signIn := func(c *testenv.Client, startAs, verifyAs string) string {
		t.Helper()
		r := c.Do("POST", "/auth/start", map[string]any{"phone": startAs})
		if r.Status != 200 || r.JSON(t)["channel"] != "phone" {
			t.Fatalf("start as %q: %d %s", startAs, r.Status, r.Body)
		}
		attempt := r.JSON(t)["attempt_id"].(string)
		r = c.Do("POST", "/auth/verify", map[string]any{"attempt_id": attempt, "code": sms.CodeFor(e164), "phone": verifyAs})
		if r.Status != 200 {
			t.Fatalf("verify as %q: %d %s", verifyAs, r.Status, r.Body)
		}
		user := r.JSON(t)["user"].(map[string]any)
		if user["phone"] != e164 || fmt.Sprint(user["roles"]) != "[london]" {
			t.Fatalf("signed in as %q: %s", startAs, r.Body)
		}
		h := testenv.Echoed(t, c.Do("GET", "/app/x", nil))
		if h.Get("X-Auth-Phone") != e164 || h.Get("X-Auth-User-Id") != user["id"] || h.Get("X-Auth-Roles") != "london" {
			t.Fatalf("upstream headers after signing in as %q: %v", startAs, h)
		}
		return user["id"].(string)
	}

	first := signIn(g.NewClient(), "+44 (0)20 7946 0958", "+44 (0)20 7946 0958")

	// One number, so one resend cooldown.
	c := g.NewClient()
	if r := c.Do("POST", "/auth/start", map[string]any{"phone": "+44 20 7946 0958"}); r.Status != 429 || r.JSON(t)["error"] != "rate_limited" {
		t.Fatalf("start as +44 20 7946 0958 inside the cooldown of +44 (0)20 7946 0958: %d %s, want 429", r.Status, r.Body)
	}
	clock.Advance(61 * time.Second)

	// The code is bound to the number, not to how it was written.
	if second := signIn(c, "+44 20 7946 0958", "+44 020 7946 0958"); second != first {
		t.Fatalf("+44 20 7946 0958 signed in as user %s, +44 (0)20 7946 0958 as %s", second, first)
	}
	if tries, delivered := sms.Counts(); tries != 2 || delivered != 2 {
		t.Fatalf("gateway saw %d tries and delivered %d, want 2 and 2", tries, delivered)
	}
	for _, m := range sms.Messages() {
		if m["to"] != e164 {
			t.Fatalf("SMS sent to %v, want %s", m["to"], e164)
		}
	}
}

// The HTML forms work by phone too.
func TestPhoneSignInWithForms(t *testing.T) {
	sms := testenv.StartSMSGateway(t)
	g := testenv.StartGateway(t, testenv.WithSMS(sms, ""))
	c := g.NewClient()
	ct := []string{"Content-Type", "application/x-www-form-urlencoded", "Origin", g.Base}

	r := c.Do("GET", "/auth/login", nil)
	for _, want := range []string{`name="email"`, `name="phone"`, `type="tel"`, `data-switch=`} {
		if !strings.Contains(string(r.Body), want) {
			t.Fatalf("login page with sms lacks %s", want)
		}
	}
	r = c.Do("POST", "/auth/start", form("phone", "+447946095800", "redirect_to", "/app/p"), ct...)
	m := hiddenAttempt.FindSubmatch(r.Body)
	if r.Status != 200 || m == nil || !strings.Contains(string(r.Body), "Check your phone") ||
		!strings.Contains(string(r.Body), `name="phone" value="&#43;447946095800"` /* html/template escapes + */) {
		t.Fatalf("start by phone form: %d %s", r.Status, r.Body)
	}
	code := sms.CodeFor("+447946095800")
	r = c.Do("POST", "/auth/verify", form("attempt_id", string(m[1]), "code", code, "phone", "+447946095800", "redirect_to", "/app/p"), ct...)
	if r.Status != 303 || r.Header.Get("Location") != "/app/p" {
		t.Fatalf("verify by phone form: %d %q %s", r.Status, r.Header.Get("Location"), r.Body)
	}
	if h := testenv.Echoed(t, c.Do("GET", "/app/p", nil)); h.Get("X-Auth-Phone") != "+447946095800" {
		t.Fatalf("upstream headers %v", h)
	}
}

// What the gateway's answers do: /start answers 200 at once whatever
// they are; a delivery that fails is reported by the next /verify.
func TestSMSWebhookDelivery(t *testing.T) {
	for _, tc := range []struct {
		name      string
		statuses  []int
		hang      bool
		status    int
		code      string
		tries     int
		delivered int
	}{
		{name: "accepted", statuses: []int{200}, status: 200, tries: 1, delivered: 1},
		{name: "5xx then success is retried", statuses: []int{503, 200}, status: 200, tries: 2, delivered: 1},
		{name: "5xx throughout", statuses: []int{500}, status: 502, code: "delivery_failed", tries: 2},
		{name: "4xx is not retried", statuses: []int{422}, status: 502, code: "delivery_failed", tries: 1},
		{name: "hung gateway times out", hang: true, status: 502, code: "delivery_failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sms := testenv.StartSMSGateway(t, tc.statuses...)
			if tc.hang {
				sms.Hang = make(chan struct{})
				t.Cleanup(func() { close(sms.Hang) }) // before the server closes
			}
			// The timeout bounds the whole delivery, the retry's 250 ms
			// pause included: short for the hung gateway, with room
			// to spare for the others.
			timeout := "2s"
			if tc.hang {
				timeout = "300ms"
			}
			g := testenv.StartGateway(t, testenv.WithSMS(sms, "timeout "+timeout+"\n retries 1"))
			c := g.NewClient()
			r := c.Do("POST", "/auth/start", map[string]any{"phone": "+447946095800"})
			if r.Status != 200 {
				t.Fatalf("start: %d %s, want 200 whatever the delivery does", r.Status, r.Body)
			}
			attempt := r.JSON(t)["attempt_id"].(string)
			code := "000000"
			if tc.status == 200 {
				code = sms.CodeFor("+447946095800")
			} else {
				g.WaitLog("delivery failed", 1)
			}
			if tries, delivered := sms.Counts(); tries != tc.tries || delivered != tc.delivered {
				t.Fatalf("gateway saw %d tries and delivered %d, want %d and %d", tries, delivered, tc.tries, tc.delivered)
			}
			r = c.Do("POST", "/auth/verify", map[string]any{"attempt_id": attempt, "code": code})
			if r.Status != tc.status || (tc.code != "" && r.JSON(t)["error"] != tc.code) {
				t.Fatalf("verify: %d %s, want %d %s", r.Status, r.Body, tc.status, tc.code)
			}
		})
	}
}

// Not allowed, and invalid, numbers.
func TestPhoneStartAnswers(t *testing.T) {
	sms := testenv.StartSMSGateway(t)
	g := testenv.StartGateway(t, testenv.WithSMS(sms, ""))
	c := g.NewClient()
	r := c.Do("POST", "/auth/start", map[string]any{"phone": "+12025550100"}) // not allowed: same answer, nothing sent
	if r.Status != 200 || len(r.JSON(t)) != 4 {
		t.Fatalf("start for a number that may not sign in: %d %s", r.Status, r.Body)
	}
	if tries, _ := sms.Counts(); tries != 0 {
		t.Fatal("an SMS went to a number that may not sign in")
	}
	for _, bad := range []string{"447946095800", "+44 7946 O95800", "+4479", "+44٧٩٤٦٠٩٥٨٠٠",
		"+1 555 010 9999", "+44 20 7946 095" /* of a possible length, but in no range their country has assigned */} {
		r := c.Do("POST", "/auth/start", map[string]any{"phone": bad})
		if r.Status != 400 || r.JSON(t)["error"] != "invalid_request" {
			t.Fatalf("start with %q: %d %s", bad, r.Status, r.Body)
		}
	}
}
