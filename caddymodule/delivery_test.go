package caddymodule_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"

	"github.com/passgate/caddy-passgate/internal/testenv"
	"github.com/passgate/caddy-passgate/internal/testenv/smtptest"
)

// withSlowSMTP is withSMTP with a timeout long enough that no step of a
// test outlasts it by chance.
func withSlowSMTP(t *testing.T, srv *smtptest.Server) testenv.Option {
	t.Setenv("PASSGATE_TEST_SMTP_PASSWORD", "pw from env")
	return testenv.WithExtra(fmt.Sprintf(`email smtp %s {
			from "Passgate <noreply@example.com>"
			username mailer
			password {env.PASSGATE_TEST_SMTP_PASSWORD}
			tls none
			timeout 10s
		}`, srv.Addr))
}

func auditEvents(t *testing.T, g *testenv.Gateway, event string) int {
	n := 0
	for _, e := range testenv.ReadLog(t, g.LogPath) {
		if e["logger"] == "http.handlers.passgate.audit" && e["msg"] == event {
			n++
		}
	}
	return n
}

// /start answers while the mail server still holds the message, for an
// address that gets it and one that does not alike; "code sent" is
// logged once the server has taken it, and only then.
func TestStartAnswersWhileTheMailIsHeld(t *testing.T) {
	hold := make(chan struct{})
	srv := smtptest.Start(t, smtptest.Options{Users: smtpUsers(), Hold: hold})
	g := testenv.StartGateway(t, withSlowSMTP(t, srv))
	c := g.NewClient()

	id := c.Start("ann@example.com")
	code, _ := codeAndLink(t, srv, "ann@example.com") // reached the server; its answer is held
	c.Start("ann@elsewhere.example")
	if n := auditEvents(t, g, "code sent"); n != 0 {
		t.Fatalf("%d \"code sent\" events while the server holds the message", n)
	}
	close(hold)
	g.WaitLog("code sent", 1)
	if r := c.Do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": code}); r.Status != 200 {
		t.Fatalf("verify: %d %s", r.Status, r.Body)
	}
	if n := auditEvents(t, g, "code sent"); n != 1 || srv.Pending() != 0 {
		t.Fatalf("%d \"code sent\" events and %d more messages, want 1 and none for the decoy", n, srv.Pending())
	}
}

// A message the server refuses after reading it: the code and the link it
// carried sign no one in; /verify says why (502, as often as asked, no try
// counted), the link is dead, and the address may ask again at once.
func TestRefusedMessageIsReportedByVerify(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Users: smtpUsers(), RejectData: true})
	g := testenv.StartGateway(t, withSMTP(t, srv, ""))
	c := g.NewClient()
	id := c.Start("kim@example.com")
	code, link := codeAndLink(t, srv, "kim@example.com")
	failed := g.WaitLog("delivery failed", 1)[0]
	if e, _ := failed["error"].(string); !strings.Contains(e, "554") || strings.Contains(e, code) ||
		strings.Contains(e, link[strings.Index(link, "token=")+6:]) || failed["channel"] != "email" {
		t.Fatalf("failure logged as %v, want the server's 554, without the code or link", failed)
	}
	for range 6 { // more than max_attempts: no try is counted
		r := c.Do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": code})
		if r.Status != 502 || r.JSON(t)["error"] != "delivery_failed" {
			t.Fatalf("verify with the refused message's code: %d %s, want 502 delivery_failed", r.Status, r.Body)
		}
	}
	r := c.Do("GET", strings.TrimPrefix(link, g.Base), nil)
	if r.Status != 404 || !strings.Contains(string(r.Body), "no longer works") {
		t.Fatalf("link of a refused message: %d %s", r.Status, r.Body)
	}
	r = c.Do("POST", "/auth/magic", map[string]any{"token": link[strings.Index(link, "token=")+6:]})
	if r.Status != 404 || r.JSON(t)["error"] != "attempt_not_found" {
		t.Fatalf("POST /magic with a refused message's link: %d %s", r.Status, r.Body)
	}
	c.Start("kim@example.com") // no cooldown to wait out
	if n := auditEvents(t, g, "code sent"); n != 0 {
		t.Fatalf("%d \"code sent\" events for refused messages", n)
	}
}

// A reload or a stop while a message is in flight: neither waits for it,
// and it still ends on the store it began with; then the store is let go.
func TestDeliveryInFlightSurvivesReloadAndStop(t *testing.T) {
	hold := make(chan struct{})
	srv := smtptest.Start(t, smtptest.Options{Users: smtpUsers(), RejectData: true, Hold: hold})
	rs := testenv.StartRedis(t)
	g := testenv.StartGateway(t, testenv.WithRedis(rs), withSlowSMTP(t, srv))
	c := g.NewClient()
	rc := rs.Client()
	defer rc.Close()
	ctx := context.Background()

	// Reload: had it waited for the delivery, the delivery would have
	// ended by its 10 s timeout first, not by the server's 554.
	id := c.Start("ann@example.com")
	srv.Next(t)
	g.Load()
	hold <- struct{}{}
	failed := g.WaitLog("delivery failed", 1)[0]
	if e, _ := failed["error"].(string); !strings.Contains(e, "554") {
		t.Fatalf("delivery across a reload failed with %v, want the server's 554", failed)
	}
	if r := c.Do("POST", "/auth/verify", map[string]any{"attempt_id": id, "code": "123456"}); r.Status != 502 {
		t.Fatalf("verify on the new config: %d %s, want 502", r.Status, r.Body)
	}

	// Stop: the delivery still marks its attempt failed and gives the
	// address's slots back in Redis, then the client is closed.
	id = c.Start("bob@example.com")
	srv.Next(t)
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	// The slots are given back after the attempt is marked failed: only
	// the client's counts are left of the limits.
	if n := len(addressLimits(t, rc)); n == 0 {
		t.Fatal("no limit key of the address while its delivery is held")
	}
	hold <- struct{}{}
	waitFor(t, func() bool { return len(addressLimits(t, rc)) == 0 })
	if f := rc.HGet(ctx, "pgtest:a:"+id, "f").Val(); f != "1" {
		t.Fatalf("attempt whose delivery failed after the stop: f = %q, want it marked failed", f)
	}
	waitFor(t, func() bool { return rs.PassgateConnections() == 0 })
}

// addressLimits lists the limit keys in Redis other than the clients'
// (starts and checks per client).
func addressLimits(t *testing.T, rc *redis.Client) []string {
	t.Helper()
	keys, err := rc.Keys(context.Background(), "pgtest:l:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(keys, func(k string) bool {
		return strings.HasPrefix(k, "pgtest:l:ips:") || strings.HasPrefix(k, "pgtest:l:ipv:")
	})
}
