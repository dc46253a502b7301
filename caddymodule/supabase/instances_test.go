package supabase_test

import (
	"testing"
	"time"

	"github.com/passgate/caddy-passgate/internal/clock"
	"github.com/passgate/caddy-passgate/internal/testenv"
)

// eventually polls GET /user with token on c until it answers want: a
// session ended on one instance may stay in another's session cache until
// the invalidation reaches it.
func eventually(t *testing.T, c *client, token string, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := c.call("GET", "/user", nil, bearer(token)...)
		if r.Status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /user on %s: %d %s, want %d", c.G.Base, r.Status, r.Body, want)
		}
		time.Sleep(20 * time.Millisecond) // polling; the invalidation is asynchronous
	}
}

// Two instances on one Redis: a token from one works on the other, and a
// sign-out with each scope on one ends exactly its sessions on both.
func TestSignOutOnEveryInstance(t *testing.T) {
	rs := testenv.StartRedis(t)
	a := testenv.StartGateway(t, testenv.WithRedis(rs), testenv.WithExtra(doorConfig))
	b := testenv.StartTwin(t, a)
	ca := newClient(a)
	cb := &client{Client: &testenv.Client{T: t, G: b, HC: ca.HC}, t: t}
	email := "ned@example.com"
	s1 := ca.signIn(a, email, nil)["access_token"].(string)
	clock.Advance(61 * time.Second)
	s2 := ca.signIn(a, email, nil)["access_token"].(string)
	clock.Advance(61 * time.Second)
	s3 := ca.signIn(a, email, nil)["access_token"].(string)
	for _, tok := range []string{s1, s2, s3} {
		eventually(t, cb, tok, 200) // signed by A, verified by B
	}

	if r := cb.call("POST", "/logout?scope=others", nil, bearer(s2)...); r.Status != 204 {
		t.Fatalf("others on B: %d", r.Status)
	}
	eventually(t, ca, s1, 403)
	eventually(t, ca, s3, 403)
	eventually(t, ca, s2, 200)

	clock.Advance(61 * time.Second)
	s4 := ca.signIn(a, email, nil)["access_token"].(string)
	if r := ca.call("POST", "/logout?scope=local", nil, bearer(s2)...); r.Status != 204 {
		t.Fatalf("local on A: %d", r.Status)
	}
	eventually(t, cb, s2, 403)
	eventually(t, cb, s4, 200)

	if r := cb.call("POST", "/logout", nil, bearer(s4)...); r.Status != 204 {
		t.Fatalf("global on B: %d", r.Status)
	}
	eventually(t, ca, s4, 403)
}
